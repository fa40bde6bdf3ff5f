//! Claiming a batch of due feeds before their polls (several instances share a PostgreSQL
//! database; a single daemon's store grants every claim), and reading their states.
//!
//! Owns [`claim`], [`Claimed`] and [`read_states`]; used by the scheduler's `start_batch`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Done;
use crate::config::FeedPlan;
use crate::plan::Plan;
use crate::store::lease::{Claim, FeedClaim};
use crate::store::{FeedState, Store, now_millis};

/// A claim answered "busy" for at most this long (ms) is a moment's wait: the feed's host is
/// at its limit across instances, or another instance is writing its row. `run --once` asks
/// again after it, since no instance polls the feed meanwhile.
const A_MOMENT: i64 = 1_000;

/// How often `run --once` asks again for a feed busy for a moment before it reports the feed
/// not polled: two minutes of one-second waits, four times the default lease (a crashed
/// instance's leases run out within one).
pub(super) const PATIENCE: u32 = 120;

/// The answer for a batch: the feeds to poll now, and those to ask for again after `wait`
/// (only when the caller is patient: `run --once`).
pub(super) struct Claimed {
    pub(super) granted: Vec<(FeedPlan, String)>,
    pub(super) again: Vec<(FeedPlan, String)>,
    pub(super) wait: Duration,
}

/// Claim the batch's feeds: returns those to poll now; the others are reported done, to be
/// asked for again when the store says (within the wait a restored schedule may have), or in
/// a minute when the claim failed. With `patient` (`run --once`, which has no later round), a
/// feed busy for only a moment is not reported done but returned in `again`; once the
/// patience is spent it is reported done and not polled (failed).
pub(super) async fn claim<S: Store>(
    store: &S,
    plan: &Plan,
    batch: Vec<(FeedPlan, String)>,
    done: &mpsc::Sender<Done>,
    patience: Option<u32>,
) -> Claimed {
    let urls: Vec<String> = batch.iter().map(|(f, _)| f.source.to_string()).collect();
    let claims: Vec<FeedClaim<'_>> = batch
        .iter()
        .zip(&urls)
        .map(|((f, host), url)| FeedClaim {
            feed: &f.name,
            config_url: url,
            host,
        })
        .collect();
    let now = now_millis();
    // A claim the store could not answer is a poll that did not happen (`run --once` says so),
    // unlike a feed another instance polls.
    let mut unanswered = false;
    let answers = match crate::store::within(store.claim_feeds(
        &claims,
        now,
        plan.daemon.per_host_concurrency,
    ))
    .await
    {
        Ok(a) if a.len() == batch.len() => a,
        answer => {
            unanswered = true;
            let error = match answer {
                Err(e) => e.to_string(),
                Ok(_) => "the store answered for another number of feeds".into(),
            };
            tracing::error!(feeds = batch.len(), %error, "cannot claim feeds to poll; retrying in a minute");
            vec![
                Claim::Busy {
                    until: now + 60_000
                };
                batch.len()
            ]
        }
    };
    let mut granted = Vec::with_capacity(batch.len());
    let (mut again, mut wait) = (Vec::new(), 0);
    for ((feed, host), answer) in batch.into_iter().zip(answers) {
        match answer {
            Claim::Granted => granted.push((feed, host)),
            Claim::Busy { until }
                if !unanswered
                    && until - now <= A_MOMENT
                    && patience.is_some_and(|left| left > 0) =>
            {
                wait = wait.max(until - now);
                again.push((feed, host));
            }
            Claim::Busy { until } => {
                // Not polled by anyone this round: said by `run --once`.
                let missed = unanswered || (until - now <= A_MOMENT && patience == Some(0));
                let every = crate::daemon::refresh::interval(plan, &feed);
                let horizon = every.max(plan.daemon.backoff_cap).as_millis() as i64;
                let wait = Duration::from_millis((until - now).clamp(0, horizon) as u64);
                let _ = done
                    .send(Done {
                        feed: feed.name,
                        host,
                        lives_on: None,
                        next_in: Some(wait),
                        failed: missed,
                    })
                    .await;
            }
        }
    }
    Claimed {
        granted,
        again,
        wait: Duration::from_millis(wait.clamp(1, A_MOMENT) as u64),
    }
}

/// The stored state of each of `feeds`, in order: one query for all, and when it fails (the
/// store is down, or one row cannot be read, which fails the whole query), one per feed, so
/// a bad row keeps only its own feed from polling, not every feed started with it.
pub(super) async fn read_states<S: Store>(
    store: &S,
    feeds: &[String],
) -> Vec<Result<Option<FeedState>, crate::store::StoreError>> {
    match crate::store::within(store.feed_states_of(feeds)).await {
        Ok(states) => {
            let mut states: HashMap<String, FeedState> =
                states.into_iter().map(|s| (s.feed.clone(), s)).collect();
            feeds.iter().map(|f| Ok(states.remove(f))).collect()
        }
        // A database that gave no answer is not asked again once per feed.
        Err(e @ crate::store::StoreError::NoAnswer { .. }) => {
            tracing::warn!(feeds = feeds.len(), error = %e, "cannot read the feeds' states");
            feeds
                .iter()
                .map(|_| {
                    Err(crate::store::StoreError::NoAnswer {
                        secs: crate::store::NO_ANSWER_LIMIT.as_secs(),
                    })
                })
                .collect()
        }
        Err(e) => {
            tracing::warn!(feeds = feeds.len(), error = %e, "cannot read the feeds' states together; reading each alone");
            let mut each = Vec::with_capacity(feeds.len());
            for f in feeds {
                each.push(crate::store::within(store.feed_state(f)).await);
            }
            each
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::PgStore;
    use crate::store::postgres::testing::{fresh_options, skip};

    /// What `run --once` does with a feed whose host is at its limit across instances (another
    /// instance holds the host's one place): asks again while its patience lasts, then reports
    /// the feed not polled; the daemon, with later rounds, reports it done for now.
    #[tokio::test]
    async fn a_feed_busy_for_a_moment_is_asked_for_again_while_patience_lasts() {
        let opts = match fresh_options().await {
            Ok(o) => o,
            Err(why) => return skip(why).unwrap_or(()),
        };
        let lease = Duration::from_secs(60);
        let us = PgStore::open_instance_with(opts.clone(), lease)
            .await
            .unwrap();
        let other = PgStore::open_instance_with(opts, lease).await.unwrap();
        let taken = FeedClaim {
            feed: "elsewhere",
            config_url: "https://h.example/elsewhere",
            host: "h.example",
        };
        let answer = other.claim_feeds(&[taken], now_millis(), 1).await.unwrap();
        assert_eq!(answer, [Claim::Granted]);
        let plan = crate::plan::load_str(
            std::path::Path::new("t.toml"),
            "[daemon]\nper_host_concurrency = 1\n\n[[feed]]\nname = \"f\"\nurl = \"https://h.example/f\"\n"
                .to_string(),
        )
        .unwrap();
        let batch = || vec![(plan.feeds[0].clone(), "h.example".to_string())];
        let (done, mut reported) = mpsc::channel(4);

        let claimed = claim(&us, &plan, batch(), &done, Some(1)).await;
        assert!(claimed.granted.is_empty());
        assert_eq!(claimed.again.len(), 1, "asked for again");
        assert!(claimed.wait <= Duration::from_millis(A_MOMENT as u64));
        assert!(reported.try_recv().is_err(), "not reported done");

        let claimed = claim(&us, &plan, batch(), &done, Some(0)).await;
        assert!(claimed.granted.is_empty() && claimed.again.is_empty());
        let d = reported.try_recv().unwrap();
        assert!(d.failed, "patience spent: not polled, and said");

        let claimed = claim(&us, &plan, batch(), &done, None).await;
        assert!(claimed.granted.is_empty() && claimed.again.is_empty());
        let d = reported.try_recv().unwrap();
        assert!(!d.failed, "the daemon asks again at its next round");
    }
}
