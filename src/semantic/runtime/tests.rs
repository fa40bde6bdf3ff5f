//! Unit tests of the embedding runtime: the text an item is judged by, its metrics, work split over threads, sentences.

use super::text::{LEAD_CHARS, TITLE_CHARS};
use super::*;

#[test]
fn an_item_is_judged_by_its_title_and_lead() {
    let mut it = FeedItem {
        title: "Troops reach Kursk".into(),
        summary: "They arrived on Monday.".into(),
        content: "ignored".into(),
        ..FeedItem::default()
    };
    assert_eq!(
        item_text(&it),
        "Troops reach Kursk. They arrived on Monday."
    );
    it.summary.clear();
    it.content = "x".repeat(5_000);
    assert_eq!(
        item_text(&it).len(),
        "Troops reach Kursk. ".len() + LEAD_CHARS
    );
    it.title = "Is it over?".into();
    it.content = "Talks resume.".into();
    assert_eq!(item_text(&it), "Is it over? Talks resume.");
    it.title.clear();
    assert_eq!(item_text(&it), "Talks resume.");
    // Regression: the title was read whole: a 16 MB one took 470 MB and a second to
    // tokenise, on every embedding of the item.
    it.title = "a ".repeat(8_000_000);
    assert_eq!(
        item_text(&it).len(),
        TITLE_CHARS - 1 + ". Talks resume.".len()
    );
}

/// Regression: the time histogram got one sample per job (its count was jobs, not texts),
/// and the queue gauge was set from counts threads read in one order and wrote in another.
#[cfg(feature = "semantic")]
#[test]
fn metrics_count_texts_and_the_queue_moves_by_its_changes() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        imp::queued(5.0);
        imp::queued(3.0);
        // The second job's thread ends first.
        imp::queued(-3.0);
        imp::queued(-5.0);
        imp::embedded_texts(40, std::time::Duration::from_millis(400));
        imp::embedded_texts(1, std::time::Duration::from_millis(10));
        imp::embedded_texts(0, std::time::Duration::from_millis(10));
    });
    let text = recorder.handle().render();
    assert!(
        text.contains("newswatch_semantic_queue_items 0\n"),
        "{text}"
    );
    assert!(
        text.contains("newswatch_semantic_items_total 41\n"),
        "{text}"
    );
    assert!(
        text.contains("newswatch_semantic_item_seconds_count 41\n"),
        "{text}"
    );
}

/// Regression: a poll's texts went to one thread whatever `threads` said, so a burst
/// took as long with four threads as with one.
#[test]
fn a_large_set_is_split_into_one_part_per_thread() {
    assert_eq!(parts(0, 4, 16), [0]);
    assert_eq!(parts(10, 4, 16), [10]);
    assert_eq!(parts(40, 1, 16), [40]);
    assert_eq!(parts(40, 4, 16), [16, 16, 8]);
    assert_eq!(parts(1328, 4, 16), [336, 336, 336, 320]);
    assert_eq!(parts(1328, 2, 16), [672, 656]);
    for (len, threads) in [(1, 3), (17, 2), (100, 7), (1000, 64)] {
        let p = parts(len, threads, 16);
        assert_eq!(p.iter().sum::<usize>(), len);
        assert!(p.len() <= threads && p.iter().all(|&n| n > 0), "{p:?}");
    }
}

#[test]
fn sentences_split_after_their_end_and_drop_fragments() {
    assert_eq!(
        sentences("Troops reach Kursk. U.S. says 3.5 km away! Why? Yes. ..."),
        vec![
            "Troops reach Kursk.",
            "U.S. says 3.5 km away!",
            "Why?",
            "Yes."
        ]
    );
    assert_eq!(sentences("no end"), vec!["no end"]);
    // Regression: a dot after a word that follows a multi-byte space panicked (a slice
    // inside U+202F), failing the poll of every feed carrying such an item.
    assert_eq!(
        sentences("Rendez-vous à 14\u{202F}heures. Puis\u{3000}la suite. Fin"),
        vec![
            "Rendez-vous à 14\u{202F}heures.",
            "Puis\u{3000}la suite.",
            "Fin"
        ]
    );
    assert!(sentences("").is_empty());
}

#[cfg(not(feature = "semantic"))]
#[test]
fn without_the_feature_the_engine_says_how_to_get_it() {
    let plan = SemanticPlan {
        model: "m".into(),
        model_at: String::new(),
        threads: 1,
        watches: BTreeMap::new(),
    };
    let err = Semantic::new().prepare(&plan).unwrap_err().to_string();
    assert!(err.contains("--features semantic"), "{err}");
}
