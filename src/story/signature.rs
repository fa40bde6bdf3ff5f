//! An item's story signature: what of its title and lead says *which event* it reports.
//!
//! Owns [`Signature`] and the term rules. Title and lead are folded with
//! [`crate::text::fold::fold_words`] (the matching fold, keeping the spaces publishers put
//! between words of unspaced scripts: each is a word here) (so casing, diacritics, typographic quotes and punctuation never make
//! two reports differ), split into words, stripped of English function words and reporting verbs
//! ("says", "after"), and crudely de-pluralised ("troops" and "troop" are one term). What is
//! left becomes:
//!
//! - weighted terms: a title word counts [`TITLE_WEIGHT`] times, a lead word once (titles name
//!   the event, leads add context);
//! - entities: capitalised words of the lead and of sentence-case titles, and every number:
//!   names, places and tolls carry most of the "which event" signal;
//! - the exact-title key: the folded title, hashed, when it has at least four words (shorter
//!   titles such as "Live updates" are shared by unrelated items).
//!
//! Terms are kept as stable 64-bit hashes (FNV-1a of the folded, stemmed word), so a signature
//! is small, independent of the process, and the same text always gives the same signature.

use crate::text::fold::{fold_words, fold_words_keep_case};

/// How many times a title word counts against a lead word.
pub const TITLE_WEIGHT: f32 = 2.0;

/// Fewest words for a title to be used as an exact-title key.
const MIN_TITLE_KEY_WORDS: usize = 4;

/// The story signature of one item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signature {
    /// (term id, term frequency weight), sorted by id, ids distinct.
    terms: Vec<(u64, f32)>,
    /// Entity term ids (same ids as `terms`), sorted, distinct.
    entities: Vec<u64>,
    title_key: Option<u64>,
}

impl Signature {
    /// The signature of an item's title and lead (plain text; HTML already removed).
    pub fn new(title: &str, lead: &str) -> Self {
        let mut terms: Vec<(u64, f32)> = Vec::new();
        let title_folded = fold_words(title);
        let title_words: Vec<&str> = title_folded
            .as_str()
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect();
        for w in &title_words {
            if let Some(id) = term_id(w) {
                terms.push((id, TITLE_WEIGHT));
            }
        }
        let lead_folded = fold_words(lead);
        for w in lead_folded.as_str().split(' ') {
            if let Some(id) = term_id(w) {
                terms.push((id, 1.0));
            }
        }
        terms.sort_unstable_by_key(|&(id, _)| id);
        terms.dedup_by(|later, first| {
            if later.0 == first.0 {
                first.1 += later.1;
                true
            } else {
                false
            }
        });

        let mut entities = Vec::new();
        // Title Case headlines capitalise every word, so their capitals say nothing.
        if !is_title_case(title) {
            collect_entities(title, &mut entities);
        }
        collect_entities(lead, &mut entities);
        for w in title_words
            .iter()
            .chain(lead_folded.as_str().split(' ').collect::<Vec<_>>().iter())
        {
            if is_number(w) {
                entities.push(hash(w));
            }
        }
        entities.sort_unstable();
        entities.dedup();

        let title_key =
            (title_words.len() >= MIN_TITLE_KEY_WORDS).then(|| hash(title_folded.as_str()));
        Self {
            terms,
            entities,
            title_key,
        }
    }

    /// (term id, weight) pairs, sorted by id.
    pub fn terms(&self) -> &[(u64, f32)] {
        &self.terms
    }

    /// Distinct term ids, sorted.
    pub fn term_ids(&self) -> Vec<u64> {
        self.terms.iter().map(|&(id, _)| id).collect()
    }

    /// Entity ids, sorted (a subset of the term ids, plus numbers kept as they are).
    pub fn entities(&self) -> &[u64] {
        &self.entities
    }

    /// The exact folded title's key, if the title is long enough to be one.
    pub fn title_key(&self) -> Option<u64> {
        self.title_key
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The id of a folded word, or `None` for words that say nothing about the event.
fn term_id(word: &str) -> Option<u64> {
    let stem = stem(word)?;
    Some(hash(stem))
}

/// The folded word reduced to its term: `None` for stop words and single letters.
fn stem(word: &str) -> Option<&str> {
    if word.is_empty() || STOP_WORDS.binary_search(&word).is_ok() {
        return None;
    }
    let mut chars = word.chars();
    if chars.next().is_some() && chars.next().is_none() && !is_number(word) {
        return None;
    }
    // Plurals: "troops" → "troop", "casualties" → "casualti" (both sides alike, so the odd
    // stem does not matter); "us", "ss" and short words are left alone.
    let stemmed = if word.len() > 4 && word.ends_with("ies") {
        &word[..word.len() - 2]
    } else if word.len() > 3
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        &word[..word.len() - 1]
    } else {
        word
    };
    Some(stemmed)
}

fn is_number(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_numeric())
}

/// More than half of a title's letter-initial words (of four or more letters) are capitalised.
fn is_title_case(title: &str) -> bool {
    let kept = fold_words_keep_case(title);
    let (mut caps, mut long) = (0, 0);
    for w in kept.split(' ') {
        if w.chars().count() >= 4 && w.chars().next().is_some_and(char::is_alphabetic) {
            long += 1;
            if w.chars().next().is_some_and(char::is_uppercase) {
                caps += 1;
            }
        }
    }
    long > 0 && caps * 2 > long
}

/// Capitalised words after the first of `text` (the first is capitalised by grammar), as term ids.
fn collect_entities(text: &str, out: &mut Vec<u64>) {
    let kept = fold_words_keep_case(text);
    for w in kept.split(' ').skip(1) {
        if !w.chars().next().is_some_and(char::is_uppercase) {
            continue;
        }
        // One capitalised word may fold to several ("Yoon's" → "yoon s"): each is a term, so
        // every entity is also a term (the index's candidate bound relies on it).
        let folded = fold_words(w);
        out.extend(folded.as_str().split(' ').filter_map(term_id));
    }
}

/// FNV-1a, 64 bits: stable across processes and versions, unlike the std hasher.
pub(crate) fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// English function words and reporting verbs, folded, sorted (binary search).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "against", "all", "also", "amid", "an", "and", "any", "are",
    "as", "at", "be", "been", "before", "being", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "during", "each", "for", "from", "had", "has", "have", "he", "her",
    "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "last",
    "latest", "live", "may", "more", "most", "new", "news", "no", "not", "now", "of", "off", "on",
    "one", "only", "or", "other", "our", "out", "over", "report", "reported", "reports", "s",
    "said", "say", "says", "she", "should", "since", "so", "some", "such", "t", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "told", "under", "until", "up", "updates", "us", "video", "was", "watch", "we", "were", "what",
    "when", "where", "which", "while", "who", "why", "will", "with", "would", "year", "years",
    "you",
];
