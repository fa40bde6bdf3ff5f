//! Keywords and meaning combined, the one rule the daemon, `try` and `backtest` share: a
//! batch of items judged by meaning, their keyword matches kept, confirmed or dropped and
//! matches by meaning added (per each watch's [`Mode`](crate::semantic::plan::Mode)), each
//! with its explanation when asked, and for `try` each semantic watch's near misses (the
//! best items it did not alert) so a user can tune `similarity`.
//!
//! Owns [`judge`]. Types crossing the boundary: [`Detail`], [`Judged`], [`NearMiss`].

use crate::deliver::alert::Meaning;
use crate::feed::FeedItem;
use crate::matcher::{FeedRef, Match, Snippet, WatchSet};
use std::sync::Arc;

use crate::semantic::plan::SemanticPlan;
use crate::semantic::runtime::{Judgement, Semantic, SemanticError};
use crate::semantic::score::ItemVector;

/// How much explaining a caller wants: each costs embedding the explained items' sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Each match by meaning with its [`Meaning`] (the daemon's alerts, `backtest`).
    Matches,
    /// That and the near misses (`try`).
    NearMisses,
}

/// Characters of an item's text a match by meaning shows when it was not explained.
const UNEXPLAINED_SNIPPET: usize = 200;

/// The match of watch `watch` (an index into the watch set's specs) by meaning alone: no hits,
/// the item's sentence closest to the watch's example as its snippet (without an
/// explanation, the start of `judged`'s text).
fn meaning_match(watch: usize, meaning: Option<&Meaning>, judged: &Judgement) -> Match {
    Match {
        watch,
        hits: Vec::new(),
        snippet: Snippet {
            text: meaning.map_or_else(
                || judged.text.chars().take(UNEXPLAINED_SNIPPET).collect(),
                |m| m.sentence.clone(),
            ),
            field: None,
            marks: Vec::new(),
        },
    }
}

/// How many near misses `try` shows per semantic watch.
pub const NEAR_MISSES: usize = 5;

/// An item that a semantic watch did not match, with how close it came.
pub struct NearMiss {
    pub watch: String,
    /// Index into the source's items.
    pub item: usize,
    pub meaning: Meaning,
    /// The `not_about` example that vetoed it, when one was closer than the best `about`.
    pub vetoed_by: Option<String>,
}

/// Each item's matches (with the meaning of those a semantic watch made or confirmed), the
/// near misses of every semantic watch, best first, and each item's vector (for the archive).
pub struct Judged {
    pub matches: Vec<Vec<(Match, Option<Meaning>)>>,
    pub near_misses: Vec<NearMiss>,
    /// Beside the items; `None` for an item no semantic watch read.
    pub vectors: Vec<Option<ItemVector>>,
}

/// Judges `items` (with `keyword`, each item's keyword matches, made by `watches`) by the
/// semantic watches of `semantic` (the plan's) that are in `watches` (the plan's own, or the few a `backtest
/// --watch` selected: match indexes are into its specs) and apply to `feed` (`None`: every
/// watch), reusing the vectors in `stored` (beside the items, or empty) that the loaded model
/// made. Without semantic watches the keyword matches come back as they are, nothing awaited.
// Eight plain inputs, each from a different place in each of the three callers: a struct
// built once per call would only rename them.
#[allow(clippy::too_many_arguments)]
pub async fn judge(
    engine: &Semantic,
    semantic: Option<&Arc<SemanticPlan>>,
    watches: &WatchSet,
    feed: Option<FeedRef<'_>>,
    items: &[&FeedItem],
    stored: &[Option<&ItemVector>],
    keyword: Vec<Vec<Match>>,
    detail: Detail,
) -> Result<Judged, SemanticError> {
    let Some(sp) = semantic else {
        let matches = keyword
            .into_iter()
            .map(|ms| ms.into_iter().map(|m| (m, None)).collect())
            .collect();
        return Ok(Judged {
            matches,
            near_misses: Vec::new(),
            vectors: vec![None; items.len()],
        });
    };
    let specs = watches.specs();
    let index = |name: &str| specs.iter().position(|s| s.name == name);
    let applies = |name: &str| {
        index(name).is_some_and(|i| feed.is_none_or(|f| specs[i].feeds.applies(f.name, f.tags)))
    };
    let judged = engine.judge(sp, items, stored, applies).await?;
    let mut out = Vec::with_capacity(items.len());
    // (watch, score, item) of every verdict that did not match.
    let mut misses: Vec<(String, f32, usize)> = Vec::new();
    for (i, (ms, j)) in keyword.into_iter().zip(&judged).enumerate() {
        let mut kept = Vec::new();
        let mut by_keyword = Vec::new();
        for m in ms {
            let name = &specs[m.watch].name;
            by_keyword.push(m.watch);
            let Some(sw) = sp.watches.get(name) else {
                kept.push((m, None));
                continue;
            };
            let meant = j.verdicts.get(name).is_some_and(|v| v.matched);
            if !sw.mode.alerts(true, meant) {
                continue;
            }
            let meaning = if meant {
                engine.explain(sp, name, j).await?
            } else {
                None
            };
            kept.push((m, meaning));
        }
        for (name, verdict) in &j.verdicts {
            let (Some(w), Some(sw)) = (index(name), sp.watches.get(name)) else {
                continue;
            };
            if !verdict.matched {
                // An item its keywords alert anyway (`mode = "any"`) is no miss.
                let alerted = by_keyword.contains(&w) && sw.mode.alerts(true, false);
                if detail == Detail::NearMisses && !alerted {
                    misses.push((name.clone(), verdict.score, i));
                }
                continue;
            }
            if by_keyword.contains(&w) || !sw.mode.alerts(false, true) {
                continue;
            }
            let meaning = engine.explain(sp, name, j).await?;
            let m = meaning_match(w, meaning.as_ref(), j);
            kept.push((m, meaning));
        }
        out.push(kept);
    }
    misses.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    let mut near_misses = Vec::new();
    let mut last: Option<(String, usize)> = None;
    for (watch, _, item) in misses {
        let n = match &last {
            Some((w, n)) if *w == watch => n + 1,
            _ => 1,
        };
        last = Some((watch.clone(), n));
        if n > NEAR_MISSES {
            continue;
        }
        // Named only when it is what stopped the item: its score reached the threshold.
        let vetoed_by = sp.watches.get(&watch).and_then(|w| {
            let v = judged[item].verdicts.get(&watch)?;
            let (i, _) = v.vetoed_by.filter(|_| v.score >= w.similarity)?;
            w.not_about.get(i).cloned()
        });
        if let Some(meaning) = engine.explain(sp, &watch, &judged[item]).await? {
            near_misses.push(NearMiss {
                watch,
                item,
                meaning,
                vetoed_by,
            });
        }
    }
    Ok(Judged {
        matches: out,
        near_misses,
        vectors: judged.into_iter().map(|j| j.vector).collect(),
    })
}
