//! A poll that failed, before or after its fetch: counted, its error kept (redacted) for the
//! operator, rescheduled with backoff (and the server's `Retry-After`).
//!
//! Owns [`Failed`], built by [`super::refresh_feed`] wherever a poll ends in failure.

use super::*;

/// A poll that failed, before or after its fetch: counted, logged, rescheduled with backoff.
pub(super) struct Failed<'a> {
    pub(super) config_url: &'a str,
    /// Failures before this one.
    pub(super) failures: u32,
    pub(super) html_streak: u32,
    pub(super) now: Millis,
    pub(super) fetched_in: Duration,
}

impl Failed<'_> {
    /// A poll the store failed (`what` it could not do): a lost lease is the caller's to
    /// handle. Any other failure is a failed poll, with backoff and its error kept for the
    /// operator: one that repeats (a row the database refuses, such as a key PostgreSQL
    /// cannot hold) must not mean a full fetch every minute with nothing recorded. If even
    /// that cannot be stored, the database itself is failing: the error goes up.
    pub(super) async fn store_failed<S: Store>(
        &self,
        store: &S,
        plan: &Plan,
        feed: &FeedPlan,
        what: &str,
        e: StoreError,
    ) -> Result<PollResult, StoreError> {
        if matches!(e, StoreError::LeaseLost { .. }) {
            return Err(e);
        }
        let error = format!("{what}: {e}");
        self.record(store, plan, feed, &error, None)
            .await
            .map_err(|_| e)
    }

    pub(super) async fn record<S: Store>(
        &self,
        store: &S,
        plan: &Plan,
        feed: &FeedPlan,
        error: &str,
        retry_after: Option<Duration>,
    ) -> Result<PollResult, StoreError> {
        let failures = self.failures.saturating_add(1);
        // `Retry-After` counts from the answer, which came a fetch after the poll's start (up
        // to the whole timeout): from the start, the retry would come that much too soon.
        let retry_after = retry_after.map(|ra| ra.saturating_add(self.fetched_in));
        let at = next_after_failure(plan, feed, self.now, failures, retry_after);
        // Kept in last_error and logged: a feed URL quoted in it may carry credentials.
        let error = shown_error(error);
        crate::store::within(store.record_failure(&FailureRecord {
            feed: &feed.name,
            config_url: self.config_url,
            error: &error,
            failures,
            html_streak: self.html_streak,
            now: self.now,
            next_poll_at: at,
        }))
        .await?;
        Ok(PollResult {
            outcome: Refreshed::Failed { error },
            next_in: Duration::from_millis((at - self.now).max(0) as u64),
            fetched_in: self.fetched_in,
            relocated: None,
        })
    }
}
