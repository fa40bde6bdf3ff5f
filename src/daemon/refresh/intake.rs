//! Which of a poll's new items may alert: all of them on a feed's usual address; on a new
//! address (a new feed, a changed `url`, a permanent redirect, a page's feed link, the
//! configured URL again after a move), what the document's overlap with the items seen and
//! the items' dates say.
//!
//! Owns [`Intake`]: built once per poll by [`Intake::judge`] from the document's keys, the
//! items of them the feed has seen and the feed's stored state; asked [`Intake::alertable`]
//! for each new item. And [`renamed_from`]: a feed renamed in the configuration is the same
//! feed at a new name, whose first poll goes on from what it had seen under the old one.

use super::ms;
use crate::config::FeedPlan;
use crate::config::OnNewFeed;
use crate::feed::FeedItem;
use crate::plan::Plan;
use crate::store::{FeedState, Millis, Store, StoreError};

/// The feed `feed` was renamed from, for a poll of a feed that has never polled successfully
/// under its name (`state`): a stored feed last configured with the same URL (`config_url`),
/// under a name the plan no longer has, that has polled successfully; the latest of them if
/// several. Its seen items and last success are what this poll judges the document by, as for
/// the same feed at a new address ([`Intake::judge`]): renamed, a feed was a new one, and its
/// first poll took everything published since the last poll under the old name as backlog.
pub(super) async fn renamed_from<S: Store>(
    store: &S,
    plan: &Plan,
    feed: &FeedPlan,
    state: Option<&FeedState>,
    config_url: &str,
) -> Result<Option<FeedState>, StoreError> {
    if state.is_some_and(|s| s.last_success_at.is_some()) {
        return Ok(None);
    }
    let states = crate::store::within(store.feeds_at_url(config_url)).await?;
    Ok(states
        .into_iter()
        .filter(|s| {
            s.feed != feed.name
                && s.last_success_at.is_some()
                && !plan.feeds.iter().any(|f| f.name == s.feed)
        })
        .max_by_key(|s| s.last_success_at))
}

/// What a poll found about its document's address, for [`Intake::judge`].
pub(super) struct Address<'a> {
    /// The feed's stored state (`None`: a new feed), or the state of the feed it was
    /// renamed from ([`renamed_from`]).
    pub state: Option<&'a FeedState>,
    /// The feed was baselined at the URL it is configured with now.
    pub baselined: bool,
    /// The document came through an HTML page's feed link.
    pub discovered: bool,
    /// Where a permanent redirect led this poll, if it did.
    pub moved_to: Option<&'a str>,
    /// The configured URL was polled as a fallback after the moved one kept failing.
    pub fallback: bool,
}

/// How a poll's new items are taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Intake {
    /// The poll is a baseline: its items are marked seen unless [`Self::alertable`] says.
    pub baseline: bool,
    /// The same feed at another address: its unseen items dated before this are backlog.
    backlog_before: Option<Millis>,
    /// A baselined document sharing some items with the feed: its items dated after this
    /// (and not ahead of now) alert.
    read_since: Option<Millis>,
    recent_from: Millis,
    on_new_feed: OnNewFeed,
    now: Millis,
}

impl Intake {
    /// `keys`: the document's distinct item keys; `known`: how many of them the feed has seen.
    pub(super) fn judge(
        plan: &Plan,
        at: &Address<'_>,
        keys: usize,
        known: usize,
        now: Millis,
    ) -> Intake {
        // A changed URL, or a feed found through an HTML page's link, may be a different
        // document: baselined like a new feed, so its backlog does not alert. Unless most of
        // its items are ones this feed has seen: then it is the same feed at another address
        // (http to https, a new domain, the old URL again after a reload or during a rolling
        // change of instances sharing a database), and what it published meanwhile alerts as
        // usual (baselined, it was lost). One item in common is not enough: a category feed
        // and the site-wide feed share a few. A new feed has seen nothing, so its first poll
        // is always a baseline.
        let same_feed = known.saturating_mul(2) >= keys && known > 0;
        // So is a document a permanent redirect led to, or the configured URL polled again
        // after the moved one kept failing: a retired section feed redirected to the
        // site-wide one was taken as the same feed, and every item of the site-wide feed
        // alerted, weeks-old ones too. (A redirect to the address the feed already lives at
        // is no new address: the configured URL polled as a fallback may still lead there.)
        let stored_move = at.state.and_then(|s| s.moved_url.as_deref());
        let redirected = at.moved_to.is_some_and(|u| Some(u) != stored_move);
        let back_home = at.fallback && at.moved_to.is_none() && !at.discovered;
        let new_address = !at.baselined || at.discovered || redirected || back_home;
        let baseline = new_address && !same_feed;
        let recent_window = ms(plan.daemon.recent_window);
        // At another address the same feed may list more than it did (a longer or broader
        // document): of its items not seen, those published before the feed's last successful
        // poll (less `recent_window`, for items that show up late) are its backlog, not news.
        let last_success = at.state.and_then(|s| s.last_success_at);
        let backlog_before =
            (new_address && same_feed).then(|| last_success.unwrap_or(now) - recent_window);
        // A document at another address that shares some items with the feed, but not half
        // (a feed that turned over more than half while the daemon was stopped or the feed
        // failing, the site-wide feed for one of its sections): baselined, but its items
        // dated after the feed's last successful poll were published since the feed was last
        // read, and alert (baselined, they were lost). Undated ones cannot tell, and those
        // dated ahead of now (an events feed dating items by the event) tell nothing of when
        // they were published: they stay quiet.
        let read_since = last_success.filter(|_| baseline && known > 0);
        Intake {
            baseline,
            backlog_before,
            read_since,
            recent_from: now - recent_window,
            on_new_feed: plan.daemon.on_new_feed,
            now,
        }
    }

    /// Whether a new item may alert (it is matched) or is only marked seen.
    pub(super) fn alertable(&self, it: &FeedItem) -> bool {
        // A missing date falls back to first-seen time, which is now.
        let published = it.published.map_or(self.now, |p| p.timestamp_millis());
        if !self.baseline {
            return self.backlog_before.is_none_or(|from| published >= from);
        }
        let since_last_read = self
            .read_since
            .is_some_and(|t| it.published.is_some() && published > t && published <= self.now);
        since_last_read
            || match self.on_new_feed {
                OnNewFeed::Baseline => false,
                OnNewFeed::All => true,
                // Dated further ahead than the window reaches back: an events feed dating
                // items by the event (a new one alerted its whole backlog). Nearer ahead is a
                // publisher's clock or zone a few hours off, and recent.
                OnNewFeed::Recent => {
                    published >= self.recent_from
                        && published <= self.now.saturating_add(self.now - self.recent_from)
                }
            }
    }
}
