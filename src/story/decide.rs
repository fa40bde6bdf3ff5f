//! The same-story decision for one (new item, earlier item) pair.
//!
//! Owns [`score`], [`Weighed`] (one side's weights looked up once, for scoring one item against
//! many stories) and [`DEFAULT_THRESHOLD`]. The score is, in 0..=1:
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
    Weighed::new(a, vocab).score(b, gap_secs, vocab)
}

/// One signature with its weights looked up once: the new item, scored against many stories
/// by the index. [`Weighed::score`] gives exactly what [`score`] gives (the same operations in
/// the same order).
#[derive(Debug)]
pub struct Weighed<'a> {
    signature: &'a Signature,
    /// tf × idf of each term, in the order of [`Signature::terms`].
    weights: Vec<f64>,
    norm: f64,
    /// idf of each entity, in the order of [`Signature::entities`].
    entity_idf: Vec<f64>,
    entity_total: f64,
}

impl<'a> Weighed<'a> {
    pub fn new(signature: &'a Signature, vocab: &Vocabulary) -> Self {
        let weights: Vec<f64> = signature
            .terms()
            .iter()
            .map(|t| term_weight(t, vocab))
            .collect();
        let norm = weights.iter().map(|w| w.powi(2)).sum::<f64>().sqrt();
        let entity_idf: Vec<f64> = signature.entities().iter().map(|&e| vocab.idf(e)).collect();
        let entity_total = entity_idf.iter().sum();
        Self {
            signature,
            weights,
            norm,
            entity_idf,
            entity_total,
        }
    }

    /// (term id, tf × idf) of every term, sorted by id.
    pub fn terms(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.signature
            .terms()
            .iter()
            .zip(&self.weights)
            .map(|(&(id, _), &w)| (id, w))
    }

    /// The sum of the entities' idf.
    pub fn entity_total(&self) -> f64 {
        self.entity_total
    }

    /// (entity id, idf), sorted by id.
    pub fn entities(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.signature
            .entities()
            .iter()
            .copied()
            .zip(self.entity_idf.iter().copied())
    }

    /// [`score`] of this signature against `b`, `gap_secs` apart.
    pub fn score(&self, b: &Signature, gap_secs: i64, vocab: &Vocabulary) -> f64 {
        let cos = self.cosine(b, vocab);
        let ent = self.entity_overlap(b.entities(), vocab);
        ((cos + ENTITY_WEIGHT * ent) / (1.0 + ENTITY_WEIGHT) * time_factor(gap_secs))
            .clamp(0.0, 1.0)
    }

    /// [`Self::score`] against `b` if it reaches `floor`, else `None`, reading no more of `b`'s
    /// weights than it takes to tell.
    ///
    /// Most stories the index scores share a word or two with the item and fall far short. The
    /// shared terms give the dot product exactly; `b`'s norm is at least the norm of the weights
    /// read so far, so the cosine is at most the dot product over that. The shared entities'
    /// weight over all of this item's entities bounds the entity overlap (its denominator holds
    /// at least this item's entities) without reading `b`'s. The rest of `b`'s weights are read
    /// only while the bound still reaches `floor`; a story that gets through is scored in full,
    /// as [`score`] does.
    pub fn score_at_least(
        &self,
        b: &Signature,
        gap_secs: i64,
        vocab: &Vocabulary,
        floor: f64,
    ) -> Option<f64> {
        let time = time_factor(gap_secs);
        let ea = self.signature.entities();
        let (mut i, mut both) = (0, 0.0);
        for e in b.entities() {
            while i < ea.len() && ea[i] < *e {
                i += 1;
            }
            if i < ea.len() && ea[i] == *e {
                both += self.entity_idf[i];
            }
        }
        let ent = if self.entity_total > 0.0 {
            (both / self.entity_total).min(1.0)
        } else {
            0.0
        };
        let (ta, tb) = (self.signature.terms(), b.terms());
        let weight = |t: &(u64, f32)| term_weight(t, vocab);
        let (mut i, mut dot, mut read_sq) = (0, 0.0, 0.0);
        for t in tb {
            while i < ta.len() && ta[i].0 < t.0 {
                i += 1;
            }
            if i < ta.len() && ta[i].0 == t.0 {
                let w = weight(t);
                dot += self.weights[i] * w;
                read_sq += w * w;
            }
        }
        // The margin covers rounding: the bound and the score sum in different orders.
        let reaches = |read_sq: f64| {
            let cos = if self.norm > 0.0 && read_sq > 0.0 {
                (dot / (self.norm * read_sq.sqrt())).min(1.0)
            } else {
                0.0
            };
            (cos + ENTITY_WEIGHT * ent) / (1.0 + ENTITY_WEIGHT) * time * (1.0 + 1e-9) >= floor
        };
        if !reaches(read_sq) {
            return None;
        }
        let unshared = tb
            .iter()
            .filter(|t| ta.binary_search_by_key(&t.0, |a| a.0).is_err());
        for (n, t) in unshared.enumerate() {
            read_sq += weight(t).powi(2);
            if n % 4 == 3 && !reaches(read_sq) {
                return None;
            }
        }
        Some(self.score(b, gap_secs, vocab)).filter(|&s| s >= floor)
    }

    fn cosine(&self, b: &Signature, vocab: &Vocabulary) -> f64 {
        let tb = b.terms();
        let weight = |t: &(u64, f32)| term_weight(t, vocab);
        let nb = tb.iter().map(|t| weight(t).powi(2)).sum::<f64>().sqrt();
        if self.norm == 0.0 || nb == 0.0 {
            return 0.0;
        }
        // Both term lists are sorted by id: a merge walk.
        let ta = self.signature.terms();
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < ta.len() && j < tb.len() {
            match ta[i].0.cmp(&tb[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += self.weights[i] * weight(&tb[j]);
                    i += 1;
                    j += 1;
                }
            }
        }
        dot / (self.norm * nb)
    }

    /// IDF-weighted Jaccard of the entity sets.
    fn entity_overlap(&self, b: &[u64], vocab: &Vocabulary) -> f64 {
        let a = self.signature.entities();
        let (mut i, mut j, mut both, mut either) = (0, 0, 0.0, 0.0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    let w = self.entity_idf[i];
                    both += w;
                    either += w;
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    either += self.entity_idf[i];
                    i += 1;
                }
                (Some(_), None) => {
                    either += self.entity_idf[i];
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
}

/// A term's weight: its frequency weight times its idf.
fn term_weight(&(id, tf): &(u64, f32), vocab: &Vocabulary) -> f64 {
    f64::from(tf) * vocab.idf(id)
}

/// exp(-|gap| / [`TIME_SCALE_SECS`]): 1 at the same instant, falling with the distance.
pub fn time_factor(gap_secs: i64) -> f64 {
    let gap = gap_secs.unsigned_abs() as f64;
    (-gap / TIME_SCALE_SECS).exp()
}
