//! Article extraction quality on real pages (issue 15 item 6): every page of
//! `tests/fixtures/articles/` (52 pages from 50 publishers; sources, licences and how the
//! expected texts were made are in that folder's README) goes through
//! `newswatch::text::article::extract_article`, and its text is compared with the expected
//! main text.
//!
//! Figures (defined precisely in `article_quality/metric.rs`):
//! - **kept**: share of the expected text's sentences found in the extracted text (normalized:
//!   lowercased alphanumeric words; a sentence counts when it has at least 8 alphanumeric
//!   characters; found = occurs on word boundaries);
//! - **boilerplate**: share of the extracted text (alphanumeric characters of its sentences)
//!   whose sentences do not occur in the expected text.
//!
//! Overall figures pool every page's sentences and characters. The test asserts them against
//! floors set at the measured values; the goals are kept >= 95 % and boilerplate <= 5 %.
//! Run `cargo test --release --test article_quality -- --nocapture` to see the per-page table
//! (its `ms` column is the extraction time of each page, meaningful in a release build)
//! (with `SHOW_BOILERPLATE=1`, also every sentence counted as boilerplate; with
//! `SHOW_MISSING=1`, every expected sentence not found).

#[path = "article_quality/corpus.rs"]
mod corpus;
#[path = "article_quality/metric.rs"]
mod metric;

use newswatch::text::article::extract_article;

/// Floor for the pooled kept share, set at the measured 0.9989 (the goal is 0.95).
const MIN_KEPT: f64 = 0.998;
/// Ceiling for the pooled boilerplate share, set at the measured 0.0097 (goal: 0.05).
const MAX_BOILERPLATE: f64 = 0.010;
/// The same two bounds for the 18 pages whose expected text does not come from Readability.js
/// (newspaper4k's), the reference a Readability port cannot match by construction: measured
/// 0.9962 kept and 0.0260 boilerplate.
const MIN_KEPT_INDEPENDENT: f64 = 0.996;
const MAX_BOILERPLATE_INDEPENDENT: f64 = 0.027;

#[test]
fn article_text_keeps_the_story_and_drops_the_boilerplate() {
    let pages = corpus::pages();
    assert!(pages.len() >= 30, "the set has {} pages", pages.len());
    let publishers: std::collections::BTreeSet<&str> =
        pages.iter().map(|p| p.publisher.as_str()).collect();
    assert!(publishers.len() >= 30, "{} publishers", publishers.len());

    let mut total = metric::Score::default();
    let mut by_suite = std::collections::BTreeMap::<&str, metric::Score>::new();
    let mut failures = Vec::new();
    println!(
        "{:<18} {:>8} {:>8} {:>7} {:>7}",
        "page", "html KB", "text KB", "kept", "boiler"
    );
    for page in &pages {
        let started = std::time::Instant::now();
        let extracted = extract_article(&page.html);
        let elapsed = started.elapsed();
        let text = match extracted {
            Ok(article) => article.text,
            Err(e) => {
                failures.push(format!("{}: {e}", page.name));
                String::new()
            }
        };
        let score = metric::score(&text, &page.expected);
        println!(
            "{:<18} {:>8.1} {:>8.1} {:>6.1}% {:>6.1}% {:>8.1}",
            page.name,
            page.html.len() as f64 / 1024.0,
            text.len() as f64 / 1024.0,
            100.0 * score.kept_share(),
            100.0 * score.boilerplate_share(),
            elapsed.as_secs_f64() * 1e3
        );
        if std::env::var_os("SHOW_MISSING").is_some() {
            for sentence in metric::missing_sentences(&text, &page.expected) {
                println!("    missing: {sentence}");
            }
        }
        if std::env::var_os("SHOW_BOILERPLATE").is_some() {
            for sentence in metric::boilerplate_sentences(&text, &page.expected) {
                println!("    boilerplate: {sentence}");
            }
        }
        total.add(&score);
        by_suite.entry(&page.suite).or_default().add(&score);
    }
    for (suite, score) in &by_suite {
        println!(
            "{:<18} {:>8} {:>8} {:>6.2}% {:>6.2}%   (pages whose expected text comes from {suite})",
            suite,
            "",
            "",
            100.0 * score.kept_share(),
            100.0 * score.boilerplate_share()
        );
    }
    println!(
        "{:<18} {:>8} {:>8} {:>6.2}% {:>6.2}%   ({} pages, {} publishers; {} expected sentences, {} extracted characters)",
        "overall",
        "",
        "",
        100.0 * total.kept_share(),
        100.0 * total.boilerplate_share(),
        pages.len(),
        publishers.len(),
        total.expected_sentences,
        total.extracted_chars
    );
    assert!(
        failures.is_empty(),
        "pages without article text: {failures:?}"
    );
    let independent = by_suite["newspaper4k"];
    assert!(
        independent.kept_share() >= MIN_KEPT_INDEPENDENT,
        "newspaper4k pages: kept {:.4} < {MIN_KEPT_INDEPENDENT}",
        independent.kept_share()
    );
    assert!(
        independent.boilerplate_share() <= MAX_BOILERPLATE_INDEPENDENT,
        "newspaper4k pages: boilerplate {:.4} > {MAX_BOILERPLATE_INDEPENDENT}",
        independent.boilerplate_share()
    );
    assert!(
        total.kept_share() >= MIN_KEPT,
        "kept {:.4} < {MIN_KEPT}",
        total.kept_share()
    );
    assert!(
        total.boilerplate_share() <= MAX_BOILERPLATE,
        "boilerplate {:.4} > {MAX_BOILERPLATE}",
        total.boilerplate_share()
    );
}
