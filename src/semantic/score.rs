//! How close an item is to a semantic watch: the best cosine between the item's vector and the
//! watch's example sentences (`about`), checked against its negative examples (`not_about`).
//!
//! The rule: an item matches when its best `about` score reaches the watch's threshold and no
//! `not_about` example is closer to it than that best `about` example. Vectors are unit length
//! (the model normalises them), so the cosine is the dot product.
//! Types crossing the boundary: [`Examples`], [`Verdict`], [`ItemVector`].

use std::sync::Arc;

/// An item's vector and the model that made it (its
/// [fingerprint](crate::semantic::model::Model::fingerprint)). The daemon keeps it with the
/// item in the archive, so a backtest compares against it instead of embedding the item
/// again; a vector another model made is not used.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemVector {
    pub model: Arc<str>,
    pub values: Vec<f32>,
}

/// A watch's example sentences as vectors.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub about: Vec<Vec<f32>>,
    pub not_about: Vec<Vec<f32>>,
}

/// One item judged against one watch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The best `about` score, in −1..=1.
    pub score: f32,
    /// Which `about` example gave it.
    pub closest: usize,
    /// The closest `not_about` example and its score, when it is closer than `closest`.
    pub vetoed_by: Option<(usize, f32)>,
    pub matched: bool,
}

/// The dot product of two vectors of the same length (the cosine for unit vectors).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The best score of `item` among `examples` and its index; `None` when there are none.
pub fn best(item: &[f32], examples: &[Vec<f32>]) -> Option<(usize, f32)> {
    examples
        .iter()
        .map(|e| cosine(item, e))
        .enumerate()
        .fold(None, |acc, (i, s)| match acc {
            Some((_, b)) if b >= s => acc,
            _ => Some((i, s)),
        })
}

impl Examples {
    /// Judges `item` at `threshold`.
    pub fn judge(&self, item: &[f32], threshold: f32) -> Verdict {
        let (closest, score) = best(item, &self.about).unwrap_or((0, -1.0));
        let vetoed_by = best(item, &self.not_about).filter(|&(_, s)| s > score);
        Verdict {
            score,
            closest,
            vetoed_by,
            matched: score >= threshold && vetoed_by.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_closest_example_decides_and_a_closer_negative_vetoes() {
        let ex = Examples {
            about: vec![unit(&[1.0, 0.0, 0.0]), unit(&[0.0, 1.0, 0.0])],
            not_about: vec![unit(&[0.0, 0.0, 1.0])],
        };
        let near_second = unit(&[0.2, 1.0, 0.1]);
        let v = ex.judge(&near_second, 0.5);
        assert_eq!(v.closest, 1);
        assert!(v.matched && v.vetoed_by.is_none() && v.score > 0.9);
        // Close enough to an `about` example, but closer still to the negative one.
        let near_negative = unit(&[0.6, 0.0, 0.8]);
        let v = ex.judge(&near_negative, 0.5);
        assert!(!v.matched, "{v:?}");
        assert_eq!(v.vetoed_by.map(|(i, _)| i), Some(0));
        // Below the threshold.
        let far = unit(&[0.3, 0.3, -1.0]);
        assert!(!ex.judge(&far, 0.5).matched);
    }

    #[test]
    fn a_watch_without_examples_never_matches() {
        let v = Examples::default().judge(&[1.0, 0.0], 0.0);
        assert!(!v.matched && v.score == -1.0, "{v:?}");
    }
}
