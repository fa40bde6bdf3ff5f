//! The per-watch window of recent stories and the lookup of a new item's story.
//!
//! Owns [`StoryIndex`]. An item is assigned in four steps:
//!
//! 1. stories last reported before the window (relative to the newest time seen) expire;
//! 2. fast paths: an item whose canonical link or exact folded title (four words or more) is
//!    already in a live story that opened at most a window before it joins that story with
//!    score 1.0;
//! 3. candidates by prefix filtering: the item's heaviest terms (tf × idf, so mostly its rarest),
//!    just enough of them that a story sharing none of them cannot reach the threshold, are
//!    looked up in an inverted index from term to stories (at most [`MAX_POSTING_SCAN`] most
//!    recent stories per term). Each story found gets an upper bound of its score from the
//!    prefix terms it shares and the time since it opened; only those whose bound reaches the
//!    threshold are scored. Below the scan cap the lookup is exact: it finds every story a scan
//!    of the whole window would find at or above the threshold. Its cost follows how many
//!    stories share the item's rare words, not how many stories the window holds;
//! 4. decision: each remaining candidate is scored against the item that opened it as
//!    [`super::score`] does (the item's weights looked up once, [`Weighed`]); the best at or
//!    above the threshold takes the item, else it starts a new story.
//!
//! A story stays open while it is being reported: it expires a window after its *latest* item.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use foldhash::HashMap;

use super::decide::{ENTITY_WEIGHT, Weighed, time_factor};
use super::{Assignment, Signature, StoryConfig, StoryId, StoryItem, Vocabulary};
use crate::store::canonical_link;

/// How long items count towards document frequencies. Longer than the story window: which
/// words are common is learned over weeks of a watch's items, not only over the last two days
/// (a quiet watch sees few items in 48 hours, too few to tell a rare word from a common one).
pub const VOCABULARY_HORIZON: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long after a story opened an item may still join it, by its score (the fast paths
/// stop at the window, which is at most as long). With it a story lives at most twice this
/// (its last item joins by then, and it stays open a window after that), so every live
/// story's first row is among the [`VOCABULARY_HORIZON`] of rows a restart rebuilds from.
/// Without it a story under a tiny threshold could grow for as long as reports kept coming,
/// and a story of a window over 15 days could outlive its first row: rebuilt without it, its
/// alert was gone (its updates had no message to edit). At the default threshold the time
/// factor stops joins after about 3.5 days anyway.
pub const MAX_JOIN_GAP: Duration = Duration::from_secs(15 * 24 * 3600);

/// Most recent stories scanned per looked-up term: a bound on the cost of a term that turns up
/// in hundreds of live stories (rare in the vocabulary's month, common in this window).
pub const MAX_POSTING_SCAN: usize = 1024;
// A story is scored and posted in the candidate index by the item that opened it (the one
// alerted) only. Comparing with later items too lets a story drift from one event to the next
// (on the labelled set, with 8 items per story: precision 0.73, recall 0.88 of the labelled
// pairs; with the first only: precision 0.80, recall 0.68), and precision comes first.

/// An item between [`StoryIndex::prepare`] and [`StoryIndex::commit`].
#[derive(Debug)]
struct Prepared {
    signature: Signature,
    link: Option<String>,
    published: i64,
}

#[derive(Debug)]
struct Story {
    last_seen: i64,
    /// The signature of the item that opened the story: the one it is scored and posted by.
    signature: Signature,
    /// When that item was published.
    opened: i64,
    items: usize,
    title_keys: Vec<u64>,
    links: Vec<String>,
}

/// The stories posted under one term.
#[derive(Debug, Default)]
struct Posting {
    /// (story, when it opened), oldest first (dead ids are dropped lazily). The time lets a
    /// story be ruled out without reading it.
    entries: VecDeque<(StoryId, i64)>,
    /// Whether a story was posted after one with a higher id (only a restore can do that).
    /// While not, the entries are in id order, so the older part of a list cut at the scan cap
    /// holds only ids below the oldest scanned one.
    out_of_order: bool,
}

impl Posting {
    fn push(&mut self, id: StoryId, opened: i64) {
        if self.entries.back().is_some_and(|&(last, _)| last >= id) {
            self.out_of_order = true;
        }
        self.entries.push_back((id, opened));
    }
}

/// Recent stories of one watch and the candidate index over them.
#[derive(Debug)]
pub struct StoryIndex {
    config: StoryConfig,
    vocab: Vocabulary,
    stories: HashMap<StoryId, Story>,
    /// Term id → the stories posted under it.
    postings: HashMap<u64, Posting>,
    titles: HashMap<u64, StoryId>,
    links: HashMap<String, StoryId>,
    /// (last_seen, story) of every live story, for expiry in time order.
    expiry: BTreeSet<(i64, StoryId)>,
    next_id: u64,
    now: i64,
}

impl StoryIndex {
    pub fn new(config: StoryConfig) -> Self {
        Self {
            config,
            vocab: Vocabulary::new(),
            stories: HashMap::default(),
            postings: HashMap::default(),
            titles: HashMap::default(),
            links: HashMap::default(),
            expiry: BTreeSet::new(),
            next_id: 0,
            now: i64::MIN,
        }
    }

    pub fn config(&self) -> &StoryConfig {
        &self.config
    }

    /// The index's time (Unix seconds): the latest item it has seen, `i64::MIN` when none.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Live stories in the window.
    pub fn len(&self) -> usize {
        self.stories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }

    /// How many items a live story has taken, `None` once it has expired.
    pub fn items_in(&self, id: StoryId) -> Option<usize> {
        self.stories.get(&id).map(|s| s.items)
    }

    /// The document frequencies of the window, as the decision weighs terms.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// Puts `item` into the story it reports, or into a new one.
    pub fn assign(&mut self, item: &StoryItem<'_>) -> Assignment {
        let prepared = self.prepare(item);
        let found = self.lookup(&prepared);
        self.commit(prepared, found)
    }

    /// Puts `item` into story `id`, as decided before: rebuilding the index from stored
    /// assignments gives the same window, vocabulary and candidate postings as when they were
    /// made. A story that is not live is opened under `id`; later new stories get higher ids.
    pub fn restore(&mut self, item: &StoryItem<'_>, id: StoryId) {
        let p = self.prepare(item);
        if self.stories.contains_key(&id) {
            self.join(id, p.signature.title_key(), p.link, p.published);
        } else {
            self.open(id, p.signature, p.link, p.published);
        }
        self.next_id = self.next_id.max(id.0.saturating_add(1));
    }

    /// Moves the window to `item`'s time and counts its terms: both the lookup and the scores
    /// weigh the item's own words as part of the window.
    fn prepare(&mut self, item: &StoryItem<'_>) -> Prepared {
        self.now = self.now.max(item.published);
        let cutoff = self.now.saturating_sub(self.config.window_secs());
        self.expire(cutoff);
        let signature = Signature::new(item.title, item.lead);
        self.vocab.add(item.published, signature.term_ids());
        Prepared {
            signature,
            link: item.link.and_then(canonical_link),
            published: item.published,
        }
    }

    /// The story `p` belongs to, if any: a fast path, else the best-scoring candidate at or
    /// above the threshold.
    fn lookup(&self, p: &Prepared) -> Option<(StoryId, f64)> {
        if let Some(id) = self.fast_path(&p.signature, p.link.as_deref(), p.published) {
            return Some((id, 1.0));
        }
        let item = Weighed::new(&p.signature, &self.vocab);
        self.best_of(
            self.candidates(&item, p.published),
            &item,
            p.published,
            true,
        )
    }

    fn commit(&mut self, p: Prepared, found: Option<(StoryId, f64)>) -> Assignment {
        match found {
            Some((id, s)) => {
                self.join(id, p.signature.title_key(), p.link, p.published);
                Assignment::SameStory(id, s)
            }
            None => Assignment::NewStory(self.create(p.signature, p.link, p.published)),
        }
    }

    /// The best of `ids` by score, if it reaches the threshold (and is above zero: a story
    /// sharing nothing is never the same one, whatever the threshold). With `prune` (the
    /// lookup), a story is read only as far as it takes to tell it falls below the threshold;
    /// without (the linear scan the tests compare with), every story is scored in full.
    fn best_of(
        &self,
        ids: impl IntoIterator<Item = StoryId>,
        item: &Weighed<'_>,
        published: i64,
        prune: bool,
    ) -> Option<(StoryId, f64)> {
        let threshold = self.config.threshold();
        let mut best: Option<(StoryId, f64)> = None;
        for id in ids {
            let Some(story) = self.stories.get(&id) else {
                continue;
            };
            let gap = published - story.opened;
            if gap.unsigned_abs() > MAX_JOIN_GAP.as_secs() {
                continue;
            }
            let s = if prune {
                // Below the threshold a story can never be chosen: stop reading it once that is
                // certain.
                match item.score_at_least(&story.signature, gap, &self.vocab, threshold) {
                    Some(s) => s,
                    None => continue,
                }
            } else {
                item.score(&story.signature, gap, &self.vocab)
            };
            // Ties go to the older story (smaller id), whatever order the ids came in.
            if best.is_none_or(|(b_id, b)| s > b || (s == b && id < b_id)) {
                best = Some((id, s));
            }
        }
        best.filter(|&(_, s)| s >= threshold && s > 0.0)
    }

    /// Assigns `item` as [`Self::assign`] does and also returns the best story a scan of the
    /// whole window finds at or above the threshold, for the test that the candidate lookup
    /// misses none.
    #[cfg(test)]
    pub(crate) fn assign_with_linear_scan(
        &mut self,
        item: &StoryItem<'_>,
    ) -> (Assignment, Option<(StoryId, f64)>) {
        let prepared = self.prepare(item);
        let linear = match self.fast_path(
            &prepared.signature,
            prepared.link.as_deref(),
            prepared.published,
        ) {
            Some(id) => Some((id, 1.0)),
            None => self.best_of(
                self.stories.keys().copied(),
                &Weighed::new(&prepared.signature, &self.vocab),
                prepared.published,
                false,
            ),
        };
        let found = self.lookup(&prepared);
        (self.commit(prepared, found), linear)
    }

    /// The live story holding `link` or the exact title, if it opened at most a window before
    /// `published`. Past that the item is scored like any other, so the time since the story
    /// opened counts: a feed reusing one title every day ("Morning briefing") would otherwise
    /// keep a single story open for as long as it publishes, its later items all quiet.
    fn fast_path(
        &self,
        signature: &Signature,
        link: Option<&str>,
        published: i64,
    ) -> Option<StoryId> {
        let by_link = link.and_then(|l| self.links.get(l));
        let by_title = signature.title_key().and_then(|k| self.titles.get(&k));
        let window = self.config.window_secs();
        [by_link, by_title]
            .into_iter()
            .flatten()
            .copied()
            .find(|id| {
                // Either way: an item published long before the story opened (an old item an
                // aggregator lists anew) is no report of it either.
                self.stories
                    .get(id)
                    .is_some_and(|s| published.saturating_sub(s.opened).abs() <= window)
            })
    }

    /// Every live story that can reach the threshold against `item`, published at `published`
    /// (within the posting scan cap), by prefix filtering and a bound per story.
    ///
    /// The item's terms are ordered by weight (tf × idf), heaviest first. A story sharing none
    /// of the first k terms shares at most the rest, so its score is at most
    /// `(|rest| / |all| + ENTITY_WEIGHT × rest entities' idf / all entities' idf) / (1 +
    /// ENTITY_WEIGHT)` (Cauchy-Schwarz for the cosine; the entity overlap's denominator holds all
    /// of the item's entities; the time factor is at most 1). The prefix is the shortest whose
    /// rest bound falls below the threshold; only stories posted under a prefix term can reach
    /// it. Heavy terms are the rare ones, whose postings are short: the cost follows how many
    /// stories share the item's rarest words, not how many stories the window holds.
    ///
    /// A story found shares at most the prefix terms it was found under plus the rest, so the
    /// same bound over those terms, times the time factor of the item that opened it, bounds its
    /// score: stories that share only a common word or two of the prefix are dropped before
    /// scoring.
    fn candidates(&self, item: &Weighed<'_>, published: i64) -> Vec<StoryId> {
        let entities: Vec<(u64, f64)> = item.entities().collect();
        let mut terms: Vec<(f64, u64, f64)> = item
            .terms()
            .map(|(id, w)| {
                let ent = entities
                    .binary_search_by_key(&id, |e| e.0)
                    .map_or(0.0, |at| entities[at].1);
                (w, id, ent)
            })
            .collect();
        terms.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let norm_sq: f64 = terms.iter().map(|t| t.0 * t.0).sum();
        // Over all entities, not only those among the terms: an entity that is no term can never
        // enter the prefix, so it stays in the rest and the bound stays an upper bound.
        let ent_total = item.entity_total();
        let threshold = self.config.threshold();
        let bound = |share_sq: f64, share_ent: f64| {
            let cos = if norm_sq > 0.0 {
                (share_sq.max(0.0) / norm_sq).min(1.0).sqrt()
            } else {
                0.0
            };
            let ent = if ent_total > 0.0 {
                (share_ent.max(0.0) / ent_total).min(1.0)
            } else {
                0.0
            };
            (cos + ENTITY_WEIGHT * ent) / (1.0 + ENTITY_WEIGHT)
        };
        // rest_sq / rest_ent: the terms after the prefix; grow the prefix from the empty one.
        let (mut rest_sq, mut rest_ent) = (norm_sq, ent_total);
        let mut prefix = 0;
        while prefix < terms.len() && bound(rest_sq, rest_ent) >= threshold {
            let (w, _, e) = terms[prefix];
            rest_sq -= w * w;
            rest_ent -= e;
            prefix += 1;
        }

        // What each story found shares of the prefix, and when it opened. A story found under
        // one term may also be among the unscanned older entries of a term whose posting list
        // is longer than the scan cap: for a story below the oldest scanned id (any story, if
        // the list is out of order) that term's share is unknown and counted as shared.
        let scanned = terms[..prefix]
            .iter()
            .filter_map(|t| self.postings.get(&t.1))
            .map(|p| p.entries.len().min(MAX_POSTING_SCAN))
            .sum();
        let mut shared: HashMap<StoryId, (f64, f64, i64)> =
            HashMap::with_capacity_and_hasher(scanned, Default::default());
        // (oldest scanned id, w², entity idf) of each term cut at the cap.
        let mut capped: Vec<(StoryId, f64, f64)> = Vec::new();
        for &(w, term, e) in &terms[..prefix] {
            let Some(posting) = self.postings.get(&term) else {
                continue;
            };
            let skipped = posting.entries.len().saturating_sub(MAX_POSTING_SCAN);
            if skipped > 0 {
                let oldest = match posting.entries.get(skipped) {
                    Some(&(id, _)) if !posting.out_of_order => id,
                    _ => StoryId(u64::MAX),
                };
                capped.push((oldest, w * w, e));
            }
            for &(id, opened) in posting.entries.range(skipped..) {
                let s = shared.entry(id).or_insert((0.0, 0.0, opened));
                s.0 += w * w;
                s.1 += e;
            }
        }
        shared
            .into_iter()
            .filter(|&(id, (mut sq, mut ent, opened))| {
                for &(oldest, w_sq, e) in &capped {
                    if id < oldest {
                        sq += w_sq;
                        ent += e;
                    }
                }
                // The margin covers rounding: the bound sums the weights in another order than
                // the score, and a story exactly at the threshold must not be dropped.
                bound(sq + rest_sq, ent + rest_ent) * time_factor(published - opened) * (1.0 + 1e-9)
                    >= threshold
            })
            .map(|(id, _)| id)
            .collect()
    }

    fn create(&mut self, signature: Signature, link: Option<String>, published: i64) -> StoryId {
        let id = StoryId(self.next_id);
        self.next_id += 1;
        self.open(id, signature, link, published);
        id
    }

    fn open(&mut self, id: StoryId, signature: Signature, link: Option<String>, published: i64) {
        for &(term, _) in signature.terms() {
            self.postings.entry(term).or_default().push(id, published);
        }
        let title_key = signature.title_key();
        self.stories.insert(
            id,
            Story {
                last_seen: published,
                signature,
                opened: published,
                items: 0,
                title_keys: Vec::new(),
                links: Vec::new(),
            },
        );
        self.expiry.insert((published, id));
        self.join(id, title_key, link, published);
    }

    fn join(&mut self, id: StoryId, title_key: Option<u64>, link: Option<String>, published: i64) {
        let Some(story) = self.stories.get_mut(&id) else {
            return;
        };
        story.items += 1;
        if published > story.last_seen {
            self.expiry.remove(&(story.last_seen, id));
            story.last_seen = published;
            self.expiry.insert((published, id));
        }
        if let Some(l) = link {
            self.links.insert(l.clone(), id);
            story.links.push(l);
        }
        if let Some(k) = title_key {
            self.titles.insert(k, id);
            story.title_keys.push(k);
        }
    }

    fn expire(&mut self, cutoff: i64) {
        let horizon = i64::try_from(VOCABULARY_HORIZON.as_secs()).unwrap_or(i64::MAX);
        self.vocab
            .expire(self.now.saturating_sub(horizon).min(cutoff));
        while let Some(&(last_seen, id)) = self.expiry.first() {
            if last_seen >= cutoff {
                break;
            }
            self.expiry.pop_first();
            let Some(story) = self.stories.remove(&id) else {
                continue;
            };
            for k in story.title_keys {
                if self.titles.get(&k) == Some(&id) {
                    self.titles.remove(&k);
                }
            }
            for l in story.links {
                if self.links.get(&l) == Some(&id) {
                    self.links.remove(&l);
                }
            }
            for &(term, _) in story.signature.terms() {
                self.drop_dead_front(term);
            }
        }
    }

    /// Drops expired stories from the front of a posting list (stories mostly expire oldest
    /// first, so dead ids gather there); the rest are skipped at lookup until they reach it.
    fn drop_dead_front(&mut self, term: u64) {
        let Some(posting) = self.postings.get_mut(&term) else {
            return;
        };
        while posting
            .entries
            .front()
            .is_some_and(|(id, _)| !self.stories.contains_key(id))
        {
            posting.entries.pop_front();
        }
        if posting.entries.is_empty() {
            self.postings.remove(&term);
        }
    }
}
