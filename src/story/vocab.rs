//! Document frequencies of terms over the items of a sliding time window.
//!
//! Owns [`Vocabulary`]: items enter with [`Vocabulary::add`] and leave in arrival order with
//! [`Vocabulary::expire`]. A term's weight is its inverse document frequency, so the words every
//! outlet uses this week ("troops", "Russia" in a week about the war) weigh little and the words
//! that pin one event (a village, a ship's name, a death toll) weigh much.

use std::collections::{HashMap, VecDeque};

/// Document frequencies over a window of items.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    df: HashMap<u64, u32>,
    /// (time, distinct terms) of every counted item, in arrival order.
    items: VecDeque<(i64, Vec<u64>)>,
}

/// Documents assumed to be in the window besides the counted ones. Without it the first items
/// of a fresh window have every term at df = N and weigh nothing; with it a term seen once is
/// rare, as it would be in any real week of news.
const PRIOR_DOCS: f64 = 50.0;

impl Vocabulary {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one item's distinct terms (`terms` must be deduplicated, as
    /// [`super::Signature::term_ids`] is).
    pub fn add(&mut self, time: i64, terms: Vec<u64>) {
        for &t in &terms {
            *self.df.entry(t).or_insert(0) += 1;
        }
        self.items.push_back((time, terms));
    }

    /// Forgets the items counted before `cutoff`, oldest arrival first (an item that arrived
    /// late with an old time leaves when the ones before it have).
    pub fn expire(&mut self, cutoff: i64) {
        while let Some((time, _)) = self.items.front() {
            if *time >= cutoff {
                break;
            }
            let Some((_, terms)) = self.items.pop_front() else {
                break;
            };
            for t in terms {
                if let Some(n) = self.df.get_mut(&t) {
                    *n -= 1;
                    if *n == 0 {
                        self.df.remove(&t);
                    }
                }
            }
        }
    }

    /// Items counted.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many counted items contain `term`.
    pub fn df(&self, term: u64) -> u32 {
        self.df.get(&term).copied().unwrap_or(0)
    }

    /// Inverse document frequency, always positive: ln((N + prior + 1) / (df + 1)).
    pub fn idf(&self, term: u64) -> f64 {
        let n = self.items.len() as f64 + PRIOR_DOCS;
        ((n + 1.0) / (f64::from(self.df(term)) + 1.0)).ln()
    }
}
