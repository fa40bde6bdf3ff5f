//! The same-story decision for one (new item, earlier item) pair.
//!
//! Owns [`score`] and [`DEFAULT_THRESHOLD`]. The score is, in 0..=1:
//!
//! ```text
//! (cosine(terms) + ENTITY_WEIGHT * entity_overlap) / (1 + ENTITY_WEIGHT) * time_factor
//! ```
//!
//! - `cosine(terms)`: cosine of the two term vectors, each term weighted by its frequency weight
//!   (title words count double) times its inverse document frequency in the window
//!   ([`super::Vocabulary`]), so shared rare words count and shared common ones barely do;
//! - `entity_overlap`: IDF-weighted Jaccard of the entity sets (names, places, numbers);
//! - `time_factor`: exp(-gap / [`TIME_SCALE_SECS`]): reports of one event cluster within hours,
//!   while same-topic events and follow-ups are spread over days.
//!
//! Two items are the same story when the score reaches the watch's `story_threshold`.

use super::{Signature, Vocabulary};

/// The default `story_threshold`, chosen on the tuning half of the labelled story pairs (see
/// tests/story_quality.rs) for precision first.
pub const DEFAULT_THRESHOLD: f64 = 0.18;

/// Weight of the entity overlap against the term cosine.
pub const ENTITY_WEIGHT: f64 = 0.5;

/// Time distance at which the score has dropped to 1/e of its value at the same instant.
pub const TIME_SCALE_SECS: f64 = 48.0 * 3600.0;

/// The similarity of two signatures `gap_secs` apart, with weights from `vocab`.
pub fn score(a: &Signature, b: &Signature, gap_secs: i64, vocab: &Vocabulary) -> f64 {
    let cos = cosine(a, b, vocab);
    let ent = entity_overlap(a.entities(), b.entities(), vocab);
    let gap = gap_secs.unsigned_abs() as f64;
    let time = (-gap / TIME_SCALE_SECS).exp();
    ((cos + ENTITY_WEIGHT * ent) / (1.0 + ENTITY_WEIGHT) * time).clamp(0.0, 1.0)
}

fn cosine(a: &Signature, b: &Signature, vocab: &Vocabulary) -> f64 {
    let weight = |&(id, tf): &(u64, f32)| f64::from(tf) * vocab.idf(id);
    let norm = |s: &Signature| {
        s.terms()
            .iter()
            .map(|t| weight(t).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    // Both term lists are sorted by id: a merge walk.
    let (ta, tb) = (a.terms(), b.terms());
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < ta.len() && j < tb.len() {
        match ta[i].0.cmp(&tb[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += weight(&ta[i]) * weight(&tb[j]);
                i += 1;
                j += 1;
            }
        }
    }
    dot / (na * nb)
}

fn entity_overlap(a: &[u64], b: &[u64], vocab: &Vocabulary) -> f64 {
    let (mut i, mut j, mut both, mut either) = (0, 0, 0.0, 0.0);
    while i < a.len() || j < b.len() {
        let (x, y) = (a.get(i), b.get(j));
        match (x, y) {
            (Some(x), Some(y)) if x == y => {
                let w = vocab.idf(*x);
                both += w;
                either += w;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                either += vocab.idf(*x);
                i += 1;
            }
            (Some(x), None) => {
                either += vocab.idf(*x);
                i += 1;
            }
            (_, Some(y)) => {
                either += vocab.idf(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    if either == 0.0 { 0.0 } else { both / either }
}
