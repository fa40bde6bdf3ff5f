//! A poll's new items judged by meaning: semantic watches add their matches to the keyword
//! matches (`about` alone or `mode = "any"`), or confirm them (`mode = "all"`), and every
//! match by meaning carries its explanation.
//!
//! Owns [`judge`]. Types crossing the boundary: [`Found`] (the poll's matches, edited in
//! place), [`SemanticError`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::config::FeedPlan;
use crate::daemon::stories::Found;
use crate::deliver::Alert;
use crate::feed::FeedItem;
use crate::plan::Plan;
use crate::semantic::runtime::{Semantic, SemanticError, meaning_match};

/// Judges `items` (the poll's alertable new items) against the plan's semantic watches and
/// edits the keyword matches `found` (with `watch_of`, each match's watch index) to match.
pub async fn judge<'a>(
    semantic: &Semantic,
    plan: &'a Plan,
    feed: &FeedPlan,
    items: &[&'a FeedItem],
    found: &mut Vec<Found<'a>>,
    watch_of: &mut Vec<usize>,
    now: DateTime<Utc>,
) -> Result<(), SemanticError> {
    let Some(sp) = &plan.semantic else {
        return Ok(());
    };
    if items.is_empty() {
        return Ok(());
    }
    let specs = plan.watches.specs();
    let index = |name: &str| specs.iter().position(|s| s.name == name);
    let applies =
        |name: &str| index(name).is_some_and(|i| specs[i].feeds.applies(&feed.name, &feed.tags));
    let judged = semantic.judge(sp, items, applies).await?;

    // Keyword matches of semantic watches: kept, confirmed or dropped by the meaning.
    let pos_of = |item: &FeedItem| items.iter().position(|it| std::ptr::eq(*it, item));
    // (item's position in `items`, watch) of every keyword match.
    let mut keyword: HashSet<(usize, usize)> = HashSet::new();
    let mut keep = Vec::with_capacity(found.len());
    for (f, &w) in found.iter().zip(watch_of.iter()) {
        let pos = pos_of(f.item);
        if let Some(p) = pos {
            keyword.insert((p, w));
        }
        let Some(sw) = sp.watches.get(&specs[w].name) else {
            keep.push(true);
            continue;
        };
        let verdict = pos.and_then(|p| judged[p].verdicts.get(&specs[w].name));
        keep.push(sw.mode.alerts(true, verdict.is_some_and(|v| v.matched)));
    }
    let mut k = keep.into_iter();
    let mut w_iter = std::mem::take(watch_of).into_iter();
    found.retain(|_| {
        let kept = k.next().unwrap_or(true);
        if let Some(w) = w_iter.next()
            && kept
        {
            watch_of.push(w);
        }
        kept
    });

    // Explanations for kept keyword matches that the meaning also found, and matches by
    // meaning alone.
    for f in found.iter_mut() {
        if let Some(p) = pos_of(f.item)
            && judged[p].verdicts.get(f.watch).is_some_and(|v| v.matched)
        {
            f.alert.meaning = semantic.explain(sp, f.watch, &judged[p]).await?;
        }
    }
    for (p, (item, j)) in items.iter().zip(&judged).enumerate() {
        for (name, verdict) in &j.verdicts {
            let Some(w) = index(name) else { continue };
            let Some(mode) = sp.watches.get(name).map(|s| s.mode) else {
                continue;
            };
            if keyword.contains(&(p, w)) || !mode.alerts(false, verdict.matched) {
                continue;
            }
            let meaning = semantic.explain(sp, name, j).await?;
            let m = meaning_match(w, meaning.as_ref(), j);
            crate::ops::metrics::record_match(name);
            let mut alert = Alert::new(name, &feed.name, item, &m, now);
            alert.meaning = meaning;
            watch_of.push(w);
            found.push(Found {
                watch: &specs[w].name,
                item,
                alert,
            });
        }
    }
    Ok(())
}
