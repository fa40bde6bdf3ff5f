//! Keyword matching of a poll's new items, aside from the runtime when the batch is large.
//!
//! Owns [`match_new`]; takes the poll's items and the indices of those to match, gives back
//! their [`Match`]es in that order. 10,000 long items (a feed at the item cap carrying whole
//! articles) against a 10,000-term watchlist take about a second: on a worker thread of the
//! runtime that would hold up the polls, sends and lease renewals scheduled there.

use crate::config::FeedPlan;
use crate::feed::FeedItem;
use crate::matcher::{FeedRef, Match, Scratch, WatchSet};
use crate::plan::Plan;

/// New items whose text adds up to this many bytes or more are matched aside
/// ([`crate::aside`]): about a millisecond of matching with a large watchlist, well above the
/// hand-off's cost. Most polls bring a few short items and match in place.
pub const MATCH_ASIDE: usize = 64 * 1024;

/// The keyword matches of `items[i]` for each `i` in `picked`, in that order. A panic while
/// matching aside goes on in the caller, as it would have in place: a panicked poll.
pub async fn match_new(
    plan: &Plan,
    feed: &FeedPlan,
    items: &mut Vec<FeedItem>,
    picked: Vec<usize>,
) -> Vec<Vec<Match>> {
    let size: usize = picked.iter().map(|&i| text_len(&items[i])).sum();
    let feed = FeedRef {
        name: &feed.name,
        tags: &feed.tags,
    };
    if !goes_aside(size) {
        return match_all(&plan.watches, feed, items, &picked);
    }
    let owned = std::mem::take(items);
    let watches = plan.watches.clone();
    // Only what matching reads of the feed goes along, not its whole plan.
    let (name, tags) = (feed.name.to_owned(), feed.tags.to_vec());
    let (back, matches) = crate::aside::run(move || {
        let feed = FeedRef {
            name: &name,
            tags: &tags,
        };
        let matches = match_all(&watches, feed, &owned, &picked);
        (owned, matches)
    })
    .await
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    *items = back;
    matches
}

/// Whether new items whose text adds up to `size` bytes are matched aside.
fn goes_aside(size: usize) -> bool {
    size >= MATCH_ASIDE
}

fn match_all(
    watches: &WatchSet,
    feed: FeedRef<'_>,
    items: &[FeedItem],
    picked: &[usize],
) -> Vec<Vec<Match>> {
    let mut scratch = Scratch::default();
    picked
        .iter()
        .map(|&i| watches.matches_with(&items[i], Some(feed), &mut scratch))
        .collect()
}

/// The bytes of an item's text that matching reads.
fn text_len(it: &FeedItem) -> usize {
    it.title.len() + it.summary.len() + it.content.len() + it.body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One feed, and a watch of 2,000 terms (one of them "troops"), plus a second watch.
    fn plan() -> Plan {
        let terms: Vec<String> = (0..2_000)
            .map(|i| format!("\"word{i} term{i}\""))
            .chain(["\"troops\"".to_string()])
            .collect();
        let toml = format!(
            "[[feed]]\nname = \"f\"\nurl = \"https://x.example/rss\"\n\n\
             [[watch]]\nname = \"big\"\nterms = [{}]\n\n\
             [[watch]]\nname = \"plan\"\nterms = [\"Victory Plan\"]\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n",
            terms.join(", ")
        );
        crate::plan::load_str(std::path::Path::new("t.toml"), toml).unwrap()
    }

    fn items(n: usize, words: usize) -> Vec<FeedItem> {
        (0..n)
            .map(|i| {
                let mut it = FeedItem::titled(&format!("k{i}"), &format!("Report {i}"));
                it.content = "Reports of North Korean troops near the front line and of the \
                              Victory Plan. "
                    .repeat(words / 16);
                it
            })
            .collect()
    }

    fn feed_ref(feed: &FeedPlan) -> FeedRef<'_> {
        FeedRef {
            name: &feed.name,
            tags: &feed.tags,
        }
    }

    /// The threshold the README names: 64 KiB of new text or more goes aside, less stays.
    #[test]
    fn new_text_of_64_kib_or_more_goes_aside_and_less_stays() {
        assert!(!goes_aside(0));
        assert!(!goes_aside(64 * 1024 - 1));
        assert!(goes_aside(64 * 1024));
        assert!(goes_aside(10 << 20));
    }

    fn summary(m: &[Vec<Match>]) -> Vec<Vec<(usize, usize)>> {
        m.iter()
            .map(|ms| ms.iter().map(|m| (m.watch, m.hits.len())).collect())
            .collect()
    }

    /// A large batch is matched on the blocking pool, and gives the same matches as in place,
    /// for the picked items only, in their order, with the items given back.
    #[tokio::test(flavor = "current_thread")]
    async fn a_large_batch_is_matched_without_holding_up_the_runtime() {
        let plan = plan();
        let feed = &plan.feeds[0];
        let mut batch = items(300, 640);
        let picked: Vec<usize> = (0..300).rev().step_by(2).collect();
        let size: usize = picked.iter().map(|&i| text_len(&batch[i])).sum();
        assert!(size >= MATCH_ASIDE);
        let matched = crate::aside::assert_runtime_kept_running(match_new(
            &plan,
            feed,
            &mut batch,
            picked.clone(),
        ))
        .await;
        assert_eq!(batch.len(), 300, "the items are given back");
        let in_place = match_all(&plan.watches, feed_ref(feed), &batch, &picked);
        assert_eq!(summary(&matched), summary(&in_place));
        assert_eq!(matched.len(), 150);
        assert!(matched.iter().all(|ms| ms.len() == 2), "both watches match");
    }

    #[tokio::test]
    async fn a_small_batch_is_matched_in_place_the_same() {
        let plan = plan();
        let feed = &plan.feeds[0];
        let mut batch = items(3, 32);
        let matched = match_new(&plan, feed, &mut batch, vec![2, 0]).await;
        assert_eq!(
            summary(&matched),
            summary(&match_all(&plan.watches, feed_ref(feed), &batch, &[2, 0]))
        );
        assert_eq!(matched.len(), 2);
        assert_eq!(matched[0].len(), 2);
    }
}
