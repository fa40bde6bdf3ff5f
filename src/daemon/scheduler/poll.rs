//! One poll task: take the feed's permits, refresh it, record the outcome (log line,
//! metrics, a failure with backoff when the task panicked), and report it [`Done`] to the
//! scheduler loop.
//!
//! Owns [`Poll`]; [`PollContext`] and [`Done`] cross in from the scheduler.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::{mpsc, watch};

use super::report::{log_outcome, record_metrics};
use super::{Done, PollContext};
use crate::config::FeedPlan;
use crate::config::FeedSource;
use crate::daemon::refresh::{
    PollResult, Refreshed, Relocated, next_after_failure, poll_source, refresh_feed,
};
use crate::plan::Plan;
use crate::store::{FailureRecord, FeedState, Store, now_millis};

/// One poll task: its feed, the state read for it, and where to report it done.
pub(super) struct Poll<S> {
    pub(super) ctx: Arc<PollContext<S>>,
    pub(super) plan: Arc<Plan>,
    pub(super) current: watch::Receiver<Arc<Plan>>,
    pub(super) feed: FeedPlan,
    /// The host the admission counted it under: the configured URL's, or the host a
    /// permanent redirect moved the feed to (`Scheduler::moved_hosts`).
    pub(super) host: String,
    pub(super) state: Option<FeedState>,
    pub(super) done: mpsc::Sender<Done>,
}

impl<S: Store> Poll<S> {
    /// Take the permits, refresh, record the outcome, report it done.
    pub(super) async fn run(self) {
        // Permits are taken inside the task, so a busy host delays only its own feeds; the
        // refresh drops them once the feed is fetched (its article pages take their own).
        // The poll slot is held until the result is stored: a store slower than the
        // fetches holds the next fetches back instead of letting fetched feeds pile up.
        // The host counted is the one fetched from: a feed moved to another host (a
        // permanent redirect) is polled there, and counted with that host's other feeds.
        let fetched_from = super::hosts::host_key(&poll_source(&self.feed, self.state.as_ref()).0);
        let (permits, slot) = self.ctx.limits.acquire_poll(&fetched_from).await;
        // Where the feed lived before this poll; the poll may move it (or undo its move).
        let lived_on = super::hosts::lives_on(&self.feed, self.state.as_ref());
        let Poll {
            ctx,
            plan,
            current,
            feed,
            host,
            state,
            done,
        } = self;
        // Boxed: the state machine of a poll is large, and allocated only once it runs.
        let (next_in, failed, relocated) =
            Box::pin(poll_and_record(&ctx, plan, &current, &feed, state, permits)).await;
        drop(slot);
        ctx.beat.bump();
        // The admission counts the feed with the host it lives on from now on
        // (`Scheduler::moved_hosts`).
        let lives_on = match relocated {
            Some(Relocated::To(url)) => super::hosts::host_key(&FeedSource::Http(url)),
            Some(Relocated::BackToConfig) => super::hosts::host_key(&feed.source),
            None => lived_on,
        };
        let _ = done
            .send(Done {
                lives_on: Some((feed.source.clone(), lives_on)),
                feed: feed.name,
                host,
                next_in,
                failed,
            })
            .await;
    }
}

/// Refresh the feed, record the outcome; the wait before its next poll (`None` when nothing
/// could be stored), whether the poll failed, and where it stored that the feed lives now
/// when it changed that.
async fn poll_and_record<S: Store>(
    ctx: &PollContext<S>,
    plan: Arc<Plan>,
    current: &watch::Receiver<Arc<Plan>>,
    feed: &FeedPlan,
    state: Option<FeedState>,
    permits: crate::feed::limits::Permits,
) -> (Option<Duration>, bool, Option<Relocated>) {
    let started = std::time::Instant::now();
    // A panic in the refresh (a parser bug on a hostile document) is caught here: the
    // feed is still reported done and rescheduled, never stuck. Caught in this task
    // rather than by a task of its own: a second task per poll is a spawn and a
    // cross-thread wake-up that every 304 paid for.
    let net = crate::daemon::refresh::Net {
        fetcher: &ctx.fetcher,
        pages: &ctx.pages,
    };
    let refresh = refresh_feed(
        ctx.store.as_ref(),
        net,
        crate::daemon::refresh::Judges {
            stories: &ctx.stories,
            semantic: &ctx.semantic,
        },
        &plan,
        feed,
        state.as_ref(),
        permits,
    );
    let result = match std::panic::AssertUnwindSafe(refresh).catch_unwind().await {
        Ok(r) => Some(r),
        Err(_) => {
            tracing::error!(feed = %feed.name, "poll task failed; rescheduling the feed with backoff");
            crate::ops::metrics::record_poll_panic();
            crate::ops::metrics::record_failed_poll();
            None
        }
    };
    let took = started.elapsed();
    let recorded = match result {
        // A panic outside the parser (which poll() already guards): a failed poll with
        // backoff, like any other, not a re-fetch every minute.
        None => (
            Some(failed_by_panic(ctx.store.as_ref(), &plan, feed, state.as_ref()).await),
            true,
            None,
        ),
        Some(Ok(PollResult {
            outcome,
            next_in,
            fetched_in,
            relocated,
        })) => {
            log_outcome(&feed.name, &outcome, took);
            record_metrics(&outcome, fetched_in);
            if matches!(outcome, Refreshed::Ok { enqueued, .. } if enqueued > 0) {
                ctx.wake_dispatch.notify_waiters();
            }
            // The interval runs from the poll's start: article pages (up to
            // `page_timeout`) must not push the feed's next poll back.
            let failed = matches!(outcome, Refreshed::Failed { .. });
            (Some(next_in.saturating_sub(took)), failed, relocated)
        }
        Some(Err(e @ crate::store::StoreError::LeaseLost { .. })) => {
            // Another instance polls it now; its next poll is asked for as usual.
            tracing::warn!(feed = %feed.name, error = %e, "poll outlived its lease");
            (None, false, None)
        }
        Some(Err(e)) => {
            tracing::error!(feed = %feed.name, error = %e, "cannot record poll result");
            crate::ops::metrics::record_failed_poll();
            (None, true, None)
        }
    };
    // Reloaded while this poll ran: what it stored followed the old plan, so the sweep runs
    // again, after everything this poll writes (a crashed poll's failure record too: it
    // clears the feed's removed mark, which a sweep before it would not have set again).
    if !Arc::ptr_eq(&plan, &current.borrow()) {
        ctx.sweep.notify_one();
    }
    recorded
}

/// Record a poll whose task panicked as a failed poll with backoff.
pub(super) async fn failed_by_panic<S: Store>(
    store: &S,
    plan: &crate::plan::Plan,
    feed: &FeedPlan,
    before: Option<&FeedState>,
) -> Duration {
    let now = now_millis();
    let config_url = feed.source.to_string();
    let (failures, html_streak) = FeedState::streaks_at(before, &config_url);
    let failures = failures.saturating_add(1);
    let at = next_after_failure(plan, feed, now, failures, None);
    let error = "the poll crashed on this feed (a bug: please report it); retried with backoff";
    let record = FailureRecord {
        feed: &feed.name,
        config_url: &config_url,
        error,
        failures,
        html_streak,
        now,
        next_poll_at: at,
    };
    if let Err(e) = crate::store::within(store.record_failure(&record)).await {
        tracing::error!(feed = %feed.name, error = %e, "cannot record poll result");
    }
    Duration::from_millis((at - now).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    /// Regression: a poll task that panicked (outside the parser, which guards itself) was
    /// rescheduled a minute later with nothing recorded: no failure count, no backoff, no
    /// error for the operator.
    #[tokio::test]
    async fn a_panicked_poll_is_a_failed_poll_with_backoff() {
        let plan = crate::plan::load_str(
            std::path::Path::new("t.toml"),
            "[daemon]\npoll_interval = \"10m\"\n\n[[feed]]\nname = \"f\"\nurl = \"https://x.example/rss\"\n"
                .to_string(),
        )
        .unwrap();
        let store = SqliteStore::in_memory().await.unwrap();
        let before = FeedState {
            feed: "f".into(),
            config_url: plan.feeds[0].source.to_string(),
            failures: 2,
            ..FeedState::default()
        };
        let wait = failed_by_panic(&store, &plan, &plan.feeds[0], Some(&before)).await;
        // Backoff from the interval (10 min doubled twice, jittered over its upper half).
        assert!(wait >= Duration::from_secs(20 * 60), "{wait:?}");
        let stored = &store.feed_states().await.unwrap()[0];
        assert_eq!(stored.failures, 3);
        assert_eq!(stored.last_result.as_deref(), Some("error"));
        assert!(
            stored
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("crashed")
        );
    }
}
