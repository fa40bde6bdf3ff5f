//! Would the semantic model's vectors group stories better than words? A measurement on the
//! labelled story pairs of `tests/fixtures/stories/`, not used by the daemon.
//!
//! `cargo run --release --features semantic --example story_meaning -- MODEL_DIR` scores every
//! pair three ways: the story decision (`story::score`, words), the cosine of the two items'
//! vectors (title + lead), and a blend (0.3 × 2 × words + 0.7 × cosine). For each it picks, on
//! the tuning half (the split of `tests/story_quality.rs`), the highest threshold that keeps
//! recall ≥ 0.78, and prints precision and recall on the held-out half at that threshold, with
//! and without the follow-up pairs.

use std::collections::HashMap;
use std::path::Path;

use newswatch::semantic::model::Model;
use newswatch::story::{DEFAULT_WINDOW, Signature, Vocabulary, score};

const DIR: &str = "tests/fixtures/stories";

struct Pair {
    same: bool,
    followup: bool,
    tuning: bool,
    /// Words, meaning, blend; 0 when the two items are more than a window apart.
    scores: [f64; 3],
}

/// The split of `tests/story_quality.rs` (FNV-1a of the pair's smaller event id).
fn tuning(key: &str) -> bool {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    h.is_multiple_of(2)
}

/// Precision and recall of "same story when score ≥ threshold" over the kept pairs.
fn figures(pairs: &[&Pair], which: usize, threshold: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for p in pairs {
        match (p.same, p.scores[which] >= threshold) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fn_ += 1.0,
            (false, false) => {}
        }
    }
    let ratio = |a: f64, b: f64| if a + b == 0.0 { 1.0 } else { a / (a + b) };
    (ratio(tp, fp), ratio(tp, fn_))
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: story_meaning MODEL_DIR"))?;
    let model = Model::load(Path::new(&dir))?;
    let mut items = HashMap::new();
    let mut vocab = Vocabulary::new();
    for line in std::fs::read_to_string(format!("{DIR}/items.jsonl"))?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let published = chrono::DateTime::parse_from_rfc3339(&field("published"))?.timestamp();
        let signature = Signature::new(&field("title"), &field("lead"));
        vocab.add(published, signature.term_ids());
        let text = format!("{}. {}", field("title"), field("lead"));
        let vector = model.embed(&[text.as_str()]).remove(0);
        items.insert(field("id"), (published, signature, vector));
    }
    let window = i64::try_from(DEFAULT_WINDOW.as_secs())?;
    let mut pairs = Vec::new();
    for line in std::fs::read_to_string(format!("{DIR}/pairs.tsv"))?
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(a), Some(b)) = (items.get(f[1]), items.get(f[2])) else {
            anyhow::bail!("pairs.tsv: unknown item in {line}");
        };
        let gap = b.0 - a.0;
        let scores = if gap.abs() > window {
            [0.0; 3]
        } else {
            let words = score(&a.1, &b.1, gap, &vocab);
            let meaning: f32 = a.2.iter().zip(&b.2).map(|(x, y)| x * y).sum();
            let meaning = f64::from(meaning);
            [words, meaning, 0.3 * 2.0 * words + 0.7 * meaning]
        };
        pairs.push(Pair {
            same: f[3] == "same_story",
            followup: f[4] == "hard_followup",
            tuning: tuning(f[6].min(f[7])),
            scores,
        });
    }
    let tune: Vec<&Pair> = pairs.iter().filter(|p| p.tuning).collect();
    let held: Vec<&Pair> = pairs.iter().filter(|p| !p.tuning).collect();
    let held_nf: Vec<&Pair> = held.iter().copied().filter(|p| !p.followup).collect();
    println!(
        "{} pairs; held-out half at the tuning half's threshold for recall ≥ 0.78",
        pairs.len()
    );
    println!("| score | threshold | precision | recall | without follow-ups: precision | recall |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (which, name) in ["words (story::score)", "meaning (cosine)", "blend"]
        .iter()
        .enumerate()
    {
        let threshold = (0..=400)
            .map(|t| f64::from(t) / 400.0)
            .rfind(|&t| figures(&tune, which, t).1 >= 0.78)
            .unwrap_or(0.0);
        let (p, r) = figures(&held, which, threshold);
        let (pn, rn) = figures(&held_nf, which, threshold);
        println!("| {name} | {threshold:.3} | {p:.3} | {r:.3} | {pn:.3} | {rn:.3} |");
    }
    Ok(())
}
