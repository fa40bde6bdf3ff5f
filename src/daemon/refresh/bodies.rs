//! Full text for a poll: the article pages of the new items that will be matched.
//!
//! Owns [`fill_bodies`], called by [`super::refresh_feed`] between judging a document's new
//! items and matching them; the pages themselves are `crate::feed::page`'s.

use crate::config::{FeedPlan, FeedSource};
use crate::feed::FeedItem;
use crate::feed::page::{FullTextMode, PageFeed, Pages};
use crate::plan::Plan;

/// Full text: the article pages of the new items that will be matched, for a feed with
/// `full_text` that some watch reads. Never the baselined backlog of a new feed, never an item
/// seen before. The items keep their feed text where a page gives nothing.
pub(super) async fn fill_bodies(
    pages: &Pages,
    plan: &Plan,
    feed: &FeedPlan,
    source: &FeedSource,
    body: &crate::feed::poll::BodyMeta,
    items: &mut [FeedItem],
    fresh: &[(usize, bool)],
) {
    if feed.full_text.mode == FullTextMode::Off
        || !plan
            .watches
            .specs()
            .iter()
            .any(|w| w.feeds.applies(&feed.name, &feed.tags))
    {
        return;
    }
    let wanting: Vec<usize> = fresh
        .iter()
        .filter(|&&(i, alertable)| alertable && feed.full_text.wants(&items[i]))
        .map(|&(i, _)| i)
        .collect();
    if wanting.is_empty() {
        return;
    }
    let feed_url = match source {
        FeedSource::File(_) => None,
        FeedSource::Http(u) => Some(body.final_url.as_ref().unwrap_or(u)),
    };
    let remote = body.remote_addr.map(|a| a.ip());
    let private = crate::feed::page::address::feed_is_private(feed_url, remote).await;
    let page_feed = PageFeed {
        name: &feed.name,
        full_text: feed.full_text,
        private,
    };
    // Moved out and back: the pages run concurrently over items of one slice.
    let mut taken: Vec<FeedItem> = wanting
        .iter()
        .map(|&i| std::mem::take(&mut items[i]))
        .collect();
    let report = pages.fill(&plan.daemon.pages, &page_feed, &mut taken).await;
    tracing::debug!(feed = %feed.name, ?report, "article pages");
    for (i, it) in wanting.into_iter().zip(taken) {
        items[i] = it;
    }
}
