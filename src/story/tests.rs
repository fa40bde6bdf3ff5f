//! Unit tests of story grouping: signatures, the decision, the index.

use std::time::Duration;

use proptest::prelude::*;

use super::decide::time_factor;
use super::*;

const HOUR: i64 = 3600;

fn item<'a>(title: &'a str, lead: &'a str, link: Option<&'a str>, published: i64) -> StoryItem<'a> {
    StoryItem {
        title,
        lead,
        link,
        published,
    }
}

#[test]
fn config_rejects_bad_threshold_and_window() {
    assert_eq!(
        StoryConfig::new(DEFAULT_WINDOW, 1.5),
        Err(StoryError::Threshold(1.5))
    );
    assert!(matches!(
        StoryConfig::new(DEFAULT_WINDOW, f64::NAN),
        Err(StoryError::Threshold(_))
    ));
    assert_eq!(
        StoryConfig::new(Duration::ZERO, 0.5),
        Err(StoryError::Window(Duration::ZERO))
    );
    let ok = StoryConfig::new(Duration::from_secs(60), 0.4);
    assert_eq!(ok.map(|c| c.threshold()), Ok(0.4));
}

#[test]
fn signature_drops_stop_words_and_plurals() {
    let a = Signature::new("Troops say the attack", "");
    let b = Signature::new("troop attacks", "");
    assert_eq!(a.term_ids(), b.term_ids());
    assert!(Signature::new("the of and says", "").is_empty());
}

/// Regression (review of the matching fold's rule 6): the fold joins Chinese, Japanese and Thai
/// chars across the spaces between them, and a Japanese headline became one word: two reports
/// of one event shared no term. Signatures keep the publisher's spaces as word boundaries.
#[test]
fn unspaced_scripts_keep_their_spaces_as_words_in_a_signature() {
    let a = Signature::new("北朝鮮 ミサイル発射 日本海に落下", "");
    let b = Signature::new("北朝鮮 ミサイル発射 政府が発表", "");
    assert_eq!(a.term_ids().len(), 3, "{:?}", a.term_ids());
    let shared = a
        .term_ids()
        .iter()
        .filter(|t| b.term_ids().contains(t))
        .count();
    assert_eq!(shared, 2, "北朝鮮 and ミサイル発射");
}

#[test]
fn entities_come_from_sentence_case_not_title_case() {
    // Sentence case: "Kursk" is a name.
    let sentence = Signature::new("Troops reach Kursk region", "");
    assert_eq!(sentence.entities().len(), 1);
    // Title Case capitalises every word: no entities from it, but numbers always count.
    let title_case = Signature::new("Troops Reach Kursk Region With 1500 Men", "");
    assert_eq!(title_case.entities().len(), 1);
}

#[test]
fn short_titles_give_no_title_key() {
    assert!(Signature::new("Live updates", "").title_key().is_none());
    assert!(
        Signature::new("Russian general killed in Moscow", "")
            .title_key()
            .is_some()
    );
}

#[test]
fn same_event_scores_above_different_event() {
    let mut vocab = Vocabulary::new();
    let a = Signature::new(
        "Russian general killed in explosion in Moscow",
        "Igor Kirillov, head of nuclear defence forces, died when a scooter bomb exploded.",
    );
    let b = Signature::new(
        "Head of Russia's nuclear defense forces killed in Moscow blast",
        "Lt. Gen. Igor Kirillov was killed by a bomb hidden in a scooter, officials say.",
    );
    let c = Signature::new(
        "Earthquake hits Vanuatu capital",
        "A magnitude 7.3 earthquake struck off Port Vila, damaging buildings.",
    );
    for s in [&a, &b, &c] {
        vocab.add(0, s.term_ids());
    }
    let same = score(&a, &b, 2 * HOUR, &vocab);
    let other = score(&a, &c, 2 * HOUR, &vocab);
    assert!(same > DEFAULT_THRESHOLD, "same event scored {same}");
    assert!(other < 0.05, "unrelated event scored {other}");
    // Time distance lowers the score.
    assert!(score(&a, &b, 40 * HOUR, &vocab) < same);
}

#[test]
fn empty_signatures_score_zero() {
    let vocab = Vocabulary::new();
    let e = Signature::new("", "");
    assert_eq!(score(&e, &e, 0, &vocab), 0.0);
}

#[test]
fn index_groups_reports_and_separates_events() {
    let mut index = StoryIndex::new(StoryConfig::default());
    let first = index.assign(&item(
        "Russian general killed in explosion in Moscow",
        "Igor Kirillov, head of nuclear defence forces, died when a scooter bomb exploded.",
        Some("https://bbc.example/1"),
        0,
    ));
    let Assignment::NewStory(id) = first else {
        panic!("first item must open a story: {first:?}");
    };
    let other = index.assign(&item(
        "Earthquake hits Vanuatu capital",
        "A magnitude 7.3 earthquake struck off Port Vila, damaging buildings.",
        None,
        HOUR,
    ));
    assert!(
        matches!(other, Assignment::NewStory(o) if o != id),
        "{other:?}"
    );
    let second = index.assign(&item(
        "Head of Russia's nuclear defense forces killed in Moscow blast",
        "Lt. Gen. Igor Kirillov was killed by a bomb hidden in a scooter, officials say.",
        None,
        2 * HOUR,
    ));
    assert!(
        matches!(second, Assignment::SameStory(s, _) if s == id),
        "{second:?}"
    );
    assert_eq!(index.items_in(id), Some(2));
}

#[test]
fn index_fast_paths_link_and_exact_title() {
    let mut index = StoryIndex::new(StoryConfig::default());
    let id = index
        .assign(&item(
            "Ceasefire agreed in Gaza talks",
            "",
            Some("https://x.example/a?utm_source=rss"),
            0,
        ))
        .story();
    // Same canonical link, unrelated text.
    let by_link = index.assign(&item(
        "Something else entirely",
        "",
        Some("HTTPS://X.example/a/"),
        10,
    ));
    assert_eq!(by_link, Assignment::SameStory(id, 1.0));
    // Same title after folding, other link.
    let by_title = index.assign(&item(
        "CEASEFIRE agreed in Gaza talks!",
        "",
        Some("https://y.example/b"),
        20,
    ));
    assert_eq!(by_title, Assignment::SameStory(id, 1.0));
}

/// Regression: the exact-title fast path ignored how long ago the story opened, so a feed
/// reusing one title every day kept a single story open (each item renewing it) and every
/// later item was quiet, for as long as the feed kept the title.
#[test]
fn a_title_reused_every_day_does_not_hold_one_story_open_for_good() {
    let mut index = StoryIndex::new(StoryConfig::default());
    let title = "Morning briefing: the news you need today";
    let leads = [
        "Parliament votes on the budget; storms close schools in the north.",
        "Rail strike talks resume; a museum returns looted bronzes.",
        "Central bank holds rates; wildfire forces evacuations near the coast.",
        "Election results contested in court; a new vaccine is approved.",
        "Drought hits farmers; the football final goes to penalties.",
        "Ceasefire talks stall; a heatwave breaks records in the south.",
    ];
    let first = index.assign(&item(title, leads[0], None, 0)).story();
    let stories: Vec<StoryId> = leads[1..]
        .iter()
        .zip(1..)
        .map(|(lead, day)| {
            index
                .assign(&item(title, lead, None, day * 24 * HOUR))
                .story()
        })
        .collect();
    // Within the 48 h window of its opening the title joins the story; later days do not.
    assert_eq!(stories[..2], [first, first]);
    assert!(
        stories[2..].iter().all(|&s| s != first),
        "{first:?} held every day: {stories:?}"
    );
}

/// Regression: the fast path bounded the time only forward: last week's item, listed anew
/// under the same title as a story that opened today, joined it with score 1.
#[test]
fn an_old_item_under_a_storys_title_does_not_take_the_fast_path() {
    let mut index = StoryIndex::new(StoryConfig::default());
    let title = "Ukraine war latest: key developments";
    let today = 10 * 24 * HOUR;
    let id = index
        .assign(&item(title, "Talks resume", None, today))
        .story();
    let old = index.assign(&item(title, "A dam is hit", None, today - 7 * 24 * HOUR));
    assert!(matches!(old, Assignment::NewStory(n) if n != id), "{old:?}");
}

#[test]
fn stories_expire_after_the_window() {
    let config = StoryConfig::new(Duration::from_secs(10 * HOUR as u64), DEFAULT_THRESHOLD);
    let mut index = StoryIndex::new(config.unwrap_or_default());
    let title = "Ceasefire agreed in Gaza talks";
    let id = index.assign(&item(title, "", None, 0)).story();
    assert_eq!(
        index.assign(&item(title, "", None, 5 * HOUR)),
        Assignment::SameStory(id, 1.0)
    );
    // 10 h after the latest report, not after the first: still open at 14 h. Past a window
    // from its opening the exact title no longer takes the fast path: the item is scored, and
    // the same words 14 h apart score the time factor.
    assert_eq!(
        index.assign(&item(title, "", None, 14 * HOUR)),
        Assignment::SameStory(id, time_factor(14 * HOUR))
    );
    let later = index.assign(&item(title, "", None, 40 * HOUR));
    assert!(
        matches!(later, Assignment::NewStory(n) if n != id),
        "{later:?}"
    );
    assert_eq!(index.items_in(id), None);
    assert_eq!(index.len(), 1);
}

/// Regression: under a tiny threshold the time factor never stopped an item joining, so a
/// story fed by reports kept growing, and a story of a long window could outlive the 30 days
/// of rows a restart rebuilds it from (rebuilt without its first row, it lost its alert). An
/// item joins by its score at most [`index::MAX_JOIN_GAP`] after the story opened.
#[test]
fn no_item_joins_a_story_more_than_fifteen_days_after_it_opened() {
    const DAY: i64 = 24 * HOUR;
    let config = StoryConfig::new(index::MAX_JOIN_GAP, 1e-6).unwrap();
    let mut index = StoryIndex::new(config);
    let title = "North Korean troops reach the Kursk region";
    let id = index.assign(&item(title, "", None, 0)).story();
    for day in [7, 14] {
        assert_eq!(
            index.assign(&item(title, "", None, day * DAY)),
            Assignment::SameStory(id, 1.0)
        );
    }
    // Still live (its latest item is a day old), and the same words score above 1e-6 at 15
    // days and 1 hour (the time factor is about 5e-4): only the gap since it opened refuses it.
    assert!(time_factor(15 * DAY + HOUR) > 1e-6);
    let within = index.assign(&item(title, "", None, 15 * DAY - HOUR));
    assert!(
        matches!(within, Assignment::SameStory(s, _) if s == id),
        "{within:?}"
    );
    let past = index.assign(&item(title, "", None, 15 * DAY + HOUR));
    assert!(
        matches!(past, Assignment::NewStory(n) if n != id),
        "{past:?}"
    );
}

/// Case, diacritics, typographic punctuation and spacing variants of a text.
fn variant(s: &str, mode: u8) -> String {
    match mode % 4 {
        0 => s.to_uppercase(),
        1 => s.replace('e', "é").replace('a', "à"),
        2 => s.replace(' ', " \u{2014} ").replace('\'', "\u{2019}"),
        _ => format!("  {}!!", s.replace(' ', ",  ")),
    }
}

proptest! {
    #[test]
    fn signature_is_stable(title in "[a-zA-Z0-9 ]{0,60}", lead in "[a-zA-Z0-9 ,.']{0,120}") {
        prop_assert_eq!(Signature::new(&title, &lead), Signature::new(&title, &lead));
    }

    #[test]
    // Terms and the title key fold alike; entities depend on capitals by design ("Kursk").
    fn signature_terms_fold_variants_alike(
        words in proptest::collection::vec("[a-z]{2,9}", 1..12),
        mode in 0u8..4,
    ) {
        let text = words.join(" ");
        let plain = Signature::new(&text, &text);
        let varied = Signature::new(&variant(&text, mode), &variant(&text, mode));
        prop_assert_eq!(plain.terms(), varied.terms());
        prop_assert_eq!(plain.title_key(), varied.title_key());
    }

    #[test]
    fn index_never_panics_and_ids_are_consistent(
        items in proptest::collection::vec(("[a-zA-Z ]{0,40}", "[a-zA-Z0-9 ]{0,60}", -1_000_000i64..1_000_000), 0..40),
    ) {
        let mut index = StoryIndex::new(StoryConfig::default());
        for (title, lead, t) in &items {
            let a = index.assign(&item(title, lead, Some(title), *t));
            if let Assignment::SameStory(_, s) = a {
                prop_assert!((0.0..=1.0).contains(&s));
            }
        }
    }
}

/// Words of the generated items: few enough that items share many of them, some capitalised
/// (entities) and some numbers.
const WORDS: &[&str] = &[
    "troops",
    "Kursk",
    "missile",
    "ceasefire",
    "Gaza",
    "vote",
    "president",
    "Yoon",
    "crash",
    "plane",
    "Jeju",
    "sanctions",
    "fleet",
    "killed",
    "blast",
    "Moscow",
    "general",
    "179",
    "28",
    "impeach",
    "parliament",
    "Seoul",
    "hospital",
    "director",
];

fn text_of(picks: &[usize]) -> String {
    picks
        .iter()
        .map(|&i| WORDS[i % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // The prefix-filtered candidate lookup is exact below the posting scan cap: whatever story
    // a scan of every live story finds at or above the threshold, the index finds one as good.
    #[test]
    fn index_lookup_finds_what_a_linear_scan_finds(
        items in proptest::collection::vec(
            (
                proptest::collection::vec(0usize..64, 1..7),
                proptest::collection::vec(0usize..64, 0..14),
                0i64..(72 * HOUR),
            ),
            1..60,
        ),
        threshold in 0.05f64..0.6,
    ) {
        let config = StoryConfig::new(DEFAULT_WINDOW, threshold);
        prop_assert!(config.is_ok());
        let mut index = StoryIndex::new(config.unwrap_or_default());
        let mut items = items;
        items.sort_by_key(|i| i.2);
        for (title, lead, t) in &items {
            let (title, lead) = (text_of(title), text_of(lead));
            let (got, linear) = index.assign_with_linear_scan(&item(&title, &lead, None, *t));
            match (got, linear) {
                (Assignment::NewStory(_), None) => {}
                (Assignment::SameStory(id, s), Some((lid, ls))) => {
                    prop_assert!((s - ls).abs() < 1e-12, "index {id:?} {s}, scan {lid:?} {ls}");
                }
                (got, linear) => prop_assert!(false, "index {got:?}, scan {linear:?}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // An index rebuilt from stored assignments (a restart) decides every later item exactly
    // as the index that made them would have.
    #[test]
    fn an_index_restored_from_its_assignments_decides_alike(
        items in proptest::collection::vec(
            (
                proptest::collection::vec(0usize..64, 1..7),
                proptest::collection::vec(0usize..64, 0..14),
                0i64..(72 * HOUR),
            ),
            2..40,
        ),
        cut in 0usize..40,
    ) {
        let mut items = items;
        items.sort_by_key(|i| i.2);
        let texts: Vec<(String, String, i64)> =
            items.iter().map(|(t, l, at)| (text_of(t), text_of(l), *at)).collect();
        let cut = cut.min(texts.len());
        let mut original = StoryIndex::new(StoryConfig::default());
        let mut restored = StoryIndex::new(StoryConfig::default());
        for (i, (title, lead, at)) in texts.iter().enumerate() {
            let it = item(title, lead, None, *at);
            let a = original.assign(&it);
            if i < cut {
                restored.restore(&it, a.story());
            } else {
                prop_assert_eq!(restored.assign(&it), a, "item {}", i);
            }
        }
        prop_assert_eq!(restored.len(), original.len());
    }
}

/// A made-up word for `n`, distinct per `n` and after stemming ("qbo", "qco", …).
fn made_up_word(mut n: usize) -> String {
    const LETTERS: &[u8] = b"bcdfghjklmnpqrtvwxyz";
    let mut w = String::from("q");
    loop {
        w.push(char::from(LETTERS[n % LETTERS.len()]));
        n /= LETTERS.len();
        if n == 0 {
            w.push('o');
            return w;
        }
    }
}

// Regression: the score bound per candidate must still hold for a story found under one term
// that sits beyond the scan cap of another term it shares (its share of that term is unseen).
#[test]
fn a_story_beyond_a_capped_posting_is_still_found_through_its_rare_word() {
    let mut index = StoryIndex::new(StoryConfig::default());
    // A month of older items, out of the story window but in the vocabulary: they make the
    // filler's "bravo charlie" rare enough that one of the two enters the lookup's prefix.
    for i in 0..20_000 {
        let title = format!(
            "{} {}",
            made_up_word(1_000_000 + 2 * i),
            made_up_word(2_000_000 + 2 * i)
        );
        index.assign(&item(&title, "", None, -(20 * 24 * HOUR)));
    }
    let first = index.assign(&item("alpha bravo charlie delta", "", None, 0));
    for i in 0..(index::MAX_POSTING_SCAN + 80) {
        // Enough words of its own that sharing "bravo charlie" groups it with nothing.
        let own: Vec<String> = (0..14).map(|k| made_up_word(14 * i + k)).collect();
        let title = format!("bravo charlie {}", own.join(" "));
        let a = index.assign(&item(&title, "", None, 60));
        assert!(matches!(a, Assignment::NewStory(_)), "{title}: {a:?}");
    }
    assert_eq!(index.len(), index::MAX_POSTING_SCAN + 81);
    let (got, linear) =
        index.assign_with_linear_scan(&item("alpha bravo charlie echo", "", None, 120));
    assert_eq!(got.story(), first.story());
    match (got, linear) {
        (Assignment::SameStory(_, s), Some((id, ls))) => {
            assert_eq!(id, first.story());
            assert!((s - ls).abs() < 1e-12, "index {s}, scan {ls}");
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    // The decision does not depend on which item came first, and stays in 0..=1.
    #[test]
    fn score_is_symmetric_and_bounded(
        a in proptest::collection::vec(0usize..64, 0..14),
        b in proptest::collection::vec(0usize..64, 0..14),
        gap in -(72 * HOUR)..(72 * HOUR),
    ) {
        let (a, b) = (Signature::new(&text_of(&a), ""), Signature::new("", &text_of(&b)));
        let mut vocab = Vocabulary::new();
        vocab.add(0, a.term_ids());
        vocab.add(0, b.term_ids());
        let (ab, ba) = (score(&a, &b, gap, &vocab), score(&b, &a, -gap, &vocab));
        prop_assert!((ab - ba).abs() < 1e-12, "{ab} vs {ba}");
        prop_assert!((0.0..=1.0).contains(&ab));
        let itself = Weighed::new(&a, &vocab);
        prop_assert_eq!(itself.score(&b, gap, &vocab), ab);
    }

    // The early exit never drops a pair that reaches the floor, and gives its exact score.
    #[test]
    fn score_at_least_is_the_score_when_it_reaches_the_floor(
        a in proptest::collection::vec(0usize..64, 0..14),
        b in proptest::collection::vec(0usize..64, 0..20),
        gap in -(72 * HOUR)..(72 * HOUR),
        floor in 0.0f64..0.8,
    ) {
        let (a, b) = (Signature::new(&text_of(&a), ""), Signature::new(&text_of(&b), ""));
        let mut vocab = Vocabulary::new();
        vocab.add(0, a.term_ids());
        vocab.add(0, b.term_ids());
        let item = Weighed::new(&a, &vocab);
        let full = item.score(&b, gap, &vocab);
        let pruned = item.score_at_least(&b, gap, &vocab, floor);
        prop_assert_eq!(pruned, (full >= floor).then_some(full), "full {}", full);
    }
}
