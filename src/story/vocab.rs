//! Document frequencies of terms over the items of a sliding time window.
//!
//! Owns [`Vocabulary`]: items enter with [`Vocabulary::add`] and leave in arrival order with
//! [`Vocabulary::expire`]. A term's weight is its inverse document frequency, so the words every
//! outlet uses this week ("troops", "Russia" in a week about the war) weigh little and the words
//! that pin one event (a village, a ship's name, a death toll) weigh much.

use std::collections::VecDeque;

use foldhash::HashMap;

/// Document frequencies over a window of items.
///
/// The index looks up an idf for every term of every candidate story, so lookups are cheap: a
/// seeded fast hash (term ids are unkeyed FNV hashes of feed text, so the table's own hash is
/// seeded against crafted collisions) and the logarithms kept beside the counts.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// term → (document frequency, ln(df + 1)).
    df: HashMap<u64, (u32, f64)>,
    /// (time, distinct terms) of every counted item, in arrival order.
    items: VecDeque<(i64, Vec<u64>)>,
    /// ln(N + prior + 1) for the current N.
    ln_docs: f64,
}

impl Default for Vocabulary {
    fn default() -> Self {
        Self {
            df: HashMap::default(),
            items: VecDeque::new(),
            ln_docs: (PRIOR_DOCS + 1.0).ln(),
        }
    }
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
            let e = self.df.entry(t).or_insert((0, 0.0));
            e.0 += 1;
            e.1 = (f64::from(e.0) + 1.0).ln();
        }
        self.items.push_back((time, terms));
        self.count_docs();
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
                if let Some(e) = self.df.get_mut(&t) {
                    e.0 -= 1;
                    if e.0 == 0 {
                        self.df.remove(&t);
                    } else {
                        e.1 = (f64::from(e.0) + 1.0).ln();
                    }
                }
            }
        }
        self.count_docs();
    }

    fn count_docs(&mut self) {
        self.ln_docs = (self.items.len() as f64 + PRIOR_DOCS + 1.0).ln();
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
        self.df.get(&term).map_or(0, |e| e.0)
    }

    /// Inverse document frequency, always positive: ln((N + prior + 1) / (df + 1)), computed as
    /// a difference of the two logarithms kept up to date.
    pub fn idf(&self, term: u64) -> f64 {
        self.ln_docs - self.df.get(&term).map_or(0.0, |e| e.1)
    }
}
