//! Durable state behind one narrow trait: feeds, seen items, the delivery outbox, and the
//! item archive.
//!
//! Owns [`Store`] and the rows that cross it ([`FeedState`], [`PollCommit`], [`NewDelivery`],
//! [`Delivery`], [`OutboxSummary`], for the daily history and feed health [`FeedDay`],
//! [`WatchDay`], [`FeedHealth`], [`HealthChange`]; the archive's in [`archive`]).
//! [`sqlite::SqliteStore`] is the embedded default, [`postgres::PgStore`] the shared server;
//! the pipeline only sees the trait, and one conformance suite holds both to its contract.
//!
//! The rule that holds the design together lives in [`Store::commit_poll`]: a feed's new items
//! are marked seen and their alerts enqueued in ONE transaction, so a crash at any instant loses
//! nothing and duplicates nothing (the outbox is keyed by idempotency key).

pub mod any;
pub mod archive;
pub mod batch;
#[cfg(test)]
pub(crate) mod conformance;
pub mod lease;
mod links;
pub mod postgres;
mod records;
mod schema;
pub mod sqlite;

/// Every backend runs the [`Store`] contract's tests with this (see [`conformance`]).
#[cfg(test)]
pub(crate) use conformance::store_conformance;

use std::collections::HashSet;
use std::future::Future;

pub use links::{canonical_link, own_link, shared_links};
pub use records::{
    CommitOutcome, Delivery, DeliveryRow, FailureRecord, FeedDay, FeedHealth, FeedState,
    HealthChange, HealthState, MAX_SHARED_IDS, NewDelivery, NewUpdate, OutboxSummary, PollCommit,
    PruneRules, StoryItemRow, WatchDay, shared_ids_of, shared_ids_text,
};

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub type Millis = i64;

/// Days of history kept behind the newest recorded day (the page shows 14).
pub const KEEP_DAYS: i64 = 31;

/// A UTC day in milliseconds: the history's day number is a time divided by it.
pub const DAY_MILLIS: Millis = 86_400_000;

/// A clock step at least this long also moves the times items first arrived (feed health's
/// rhythm and silence are judged on them): a step forward of a day made every feed with a
/// rhythm look a day quiet at once, reported silent, then publishing again. Shorter steps
/// (NTP's first sync moves a few seconds) leave them: silence is judged in hours and days,
/// and the move rewrites every remembered item.
pub const ARRIVALS_STEP: Millis = 3_600_000;

/// No claim of deliveries, and no mark of a send in flight, runs further ahead than this
/// (the dispatcher's claims run 300 s, its marks 130 s): a stored one beyond it was written by
/// a clock that ran ahead, and [`Store::clamp_times`] brings it back.
pub const MAX_CLAIM: Millis = 10 * 60 * 1000;

/// How long a story update waits for its story's alert to the same sink to reach the outbox.
/// The alert is grouped before the update but may be committed after it (by a slower poll of
/// another feed); an alert that never comes (suppressed as a cross-feed repeat, a sink added
/// after it, a poll whose commit failed) leaves the update with nothing to edit.
pub const ALERT_WAIT: Millis = 10 * 60 * 1000;

/// Now, in [`Millis`].
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("state database migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("another newswatch is running with the state file {path} (its .lock file is held)")]
    Locked { path: String },
    #[error("cannot lock {path}: {source}")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the state directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the state file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// A poll's commit found its feed's lease held by another instance (this one's had run
    /// out): the poll commits nothing; the holder polls the feed.
    #[error("feed {feed}: its lease passed to another instance; this poll is not recorded")]
    LeaseLost { feed: String },
    /// A PostgreSQL URL that does not parse; the message never quotes the URL (a password).
    #[error("`[daemon] state`: not a valid PostgreSQL URL: {0}")]
    Url(String),
    #[error(
        "the PostgreSQL database has no newswatch tables yet: start the daemon on it once, or \
         run `newswatch migrate`"
    )]
    NoSchema,
    /// The task that writes queued feed states has stopped (the runtime is shutting down).
    #[error("state database: the feed-state writer has stopped")]
    WriterGone,
    /// Writing a batch of queued feed states panicked (a bug, logged); tried again next poll.
    #[error("state database: writing this poll's state crashed (a bug, logged); retried")]
    WritePanicked,
    /// The database gave no answer within [`NO_ANSWER_LIMIT`]: given up, tried again later.
    #[error("state database: no answer within {secs} s (given up; tried again later)")]
    NoAnswer { secs: u64 },
    /// An operator command that changes rows, on a state a newer release migrated.
    #[error(
        "the state was written by a newer newswatch release (its migration {version} is \
         unknown to this one): run this command with that release's newswatch"
    )]
    NewerSchema { version: i64 },
    /// An operator command that changes rows, on a state this release has not migrated yet.
    #[error(
        "the state is older than this release (migration {version} not applied): restart the \
         daemon, or run `newswatch migrate` while it is stopped, first"
    )]
    OlderSchema { version: i64 },
    /// An operator command that changes rows, on a state whose migration broke off.
    #[error(
        "the state's migration {version} did not finish (the daemon refuses this state too): \
         restore the state from a backup"
    )]
    UnfinishedMigration { version: i64 },
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    /// A migration this release does not know is a state a newer release migrated: said so
    /// (`run` and `migrate` said "migration 99 was previously applied but is missing in the
    /// resolved migrations", and the operator could not tell it was a downgrade).
    fn from(e: sqlx::migrate::MigrateError) -> StoreError {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => {
                StoreError::NewerSchema { version }
            }
            e => StoreError::Migrate(e),
        }
    }
}

impl StoreError {
    /// Whether the message names the state's file itself (so a caller adds no path to it).
    pub fn names_the_state(&self) -> bool {
        matches!(
            self,
            StoreError::Locked { .. }
                | StoreError::LockFile { .. }
                | StoreError::Dir { .. }
                | StoreError::File { .. }
                | StoreError::Url(_)
                | StoreError::NoSchema
        )
    }
}

/// How long a call to the database may take before it is given up: far longer than any
/// statement takes (a first round's baselines included), and a bound on a database that
/// stopped answering (a PostgreSQL host gone with a query in flight never answers, nor resets
/// the connection): the caller waited forever, and polling stopped while the process ran on.
pub const NO_ANSWER_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// `call`'s answer, or [`StoreError::NoAnswer`] when it takes longer than [`NO_ANSWER_LIMIT`]
/// (the call is dropped, and with it its connection).
pub async fn within<T>(call: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(NO_ANSWER_LIMIT, call)
        .await
        .unwrap_or(Err(StoreError::NoAnswer {
            secs: NO_ANSWER_LIMIT.as_secs(),
        }))
}

/// Durable state. Methods are async and `Send` so the pipeline can run on any worker thread.
pub trait Store: Send + Sync + 'static {
    fn feed_states(&self) -> impl Future<Output = Result<Vec<FeedState>, StoreError>> + Send;

    // --- Feed history and health: the status page's daily series, feed health alerts ---

    /// Per feed and UTC day: polls by result and new items, for days `from_day` and later.
    fn feed_days(
        &self,
        from_day: i64,
    ) -> impl Future<Output = Result<Vec<FeedDay>, StoreError>> + Send;

    /// Per watch and UTC day: alerts (one per watch and item), for days `from_day` and later.
    fn watch_days(
        &self,
        from_day: i64,
    ) -> impl Future<Output = Result<Vec<WatchDay>, StoreError>> + Send;

    /// What feed health is judged on, for every feed with a stored row.
    fn feed_health(&self) -> impl Future<Output = Result<Vec<FeedHealth>, StoreError>> + Send;

    /// When the feed's new items arrived since `since`: the distinct first-seen times of items
    /// after its latest baseline, oldest first (items of one poll share one time).
    fn arrivals(
        &self,
        feed: &str,
        since: Millis,
    ) -> impl Future<Output = Result<Vec<Millis>, StoreError>> + Send;

    /// Record a feed's new health state and enqueue its alerts, in one transaction, if the
    /// stored state is still `change.from` (another instance may have recorded it). Returns
    /// whether it was recorded.
    fn record_health(
        &self,
        change: &HealthChange,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    // --- end of feed history and health ---

    /// One feed's stored state, if it has one.
    fn feed_state(
        &self,
        feed: &str,
    ) -> impl Future<Output = Result<Option<FeedState>, StoreError>> + Send;

    /// The stored states of these feeds (those that have one), in one read: the scheduler
    /// reads the states of the polls it starts together at once.
    fn feed_states_of(
        &self,
        feeds: &[String],
    ) -> impl Future<Output = Result<Vec<FeedState>, StoreError>> + Send;

    /// The stored states of the feeds last configured with `config_url`, whatever their
    /// names: the first poll of a feed under a new name goes on from the one it was renamed
    /// from (same URL, a name no longer configured).
    fn feeds_at_url(
        &self,
        config_url: &str,
    ) -> impl Future<Output = Result<Vec<FeedState>, StoreError>> + Send;

    /// Which of `keys` the feed has already seen.
    fn known_items(
        &self,
        feed: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<HashSet<String>, StoreError>> + Send;

    /// Record a successful poll: items seen, deliveries enqueued, feed state, in one transaction.
    fn commit_poll(
        &self,
        c: &PollCommit,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// Record a 304: nothing changed. Resolves once the state is stored; an implementation
    /// may group the 304s of many feeds into one transaction, so that can take a moment
    /// (the SQLite store: up to 200 ms).
    fn record_not_modified(
        &self,
        feed: &str,
        config_url: &str,
        now: Millis,
        next_poll_at: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Record a failed poll with its consecutive-failure count.
    fn record_failure(
        &self,
        f: &FailureRecord<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // --- Several instances on one database (PostgreSQL); a single daemon's store grants all ---

    /// Claim feeds to poll now, one answer per feed in order: granted (leased to this instance
    /// until the poll's commit) or busy until when. At most `per_host` feeds of a host are
    /// leased at once across instances.
    fn claim_feeds(
        &self,
        feeds: &[lease::FeedClaim<'_>],
        now: Millis,
        per_host: usize,
    ) -> impl Future<Output = Result<Vec<lease::Claim>, StoreError>> + Send {
        let _ = (now, per_host);
        let granted = vec![lease::Claim::Granted; feeds.len()];
        async move { Ok(granted) }
    }

    /// Give up this instance's lease on `feed` (gone from its configuration while its lease
    /// was kept: a poll that could not read the feed's state, or store its failure, keeps it
    /// for the retry, and the heartbeat renews it). Nothing for a single daemon.
    fn leave_feed(&self, feed: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = feed;
        async { Ok(()) }
    }

    /// How long after `feed` falls due this instance waits before claiming it: nothing for a
    /// single daemon; on a shared database nothing for the feed's first-choice instance and
    /// [`lease::CLAIM_GRACE`] for the others ([`lease::first_choice`]).
    fn claim_delay(&self, feed: &str) -> std::time::Duration {
        let _ = feed;
        std::time::Duration::ZERO
    }

    /// Take or renew the lease on sending `sink`'s queue. Taking it over from an instance
    /// whose lease ran out releases the deliveries that instance had claimed.
    fn hold_sink(
        &self,
        sink: &str,
        now: Millis,
    ) -> impl Future<Output = Result<lease::SinkHold, StoreError>> + Send {
        let _ = (sink, now);
        async move { Ok(lease::SinkHold::Held { until: Millis::MAX }) }
    }

    /// The instances running on this state (none for a single daemon's store).
    fn instances(
        &self,
    ) -> impl Future<Output = Result<Vec<lease::InstanceRow>, StoreError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Give up every lease this instance holds and leave the instance list (a clean stop),
    /// so the others take its feeds and sinks at once instead of after the lease time.
    fn release_leases(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }

    /// Claim up to `limit` due deliveries of one sink, oldest first, leased until `lease_until`.
    /// A story update whose story's alert to the same sink is not in the outbox waits for it
    /// [`ALERT_WAIT`] (see [`Store::claim_due_orphans`]).
    fn claim_due(
        &self,
        sink: &str,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send {
        self.claim_due_orphans(
            sink,
            now,
            lease_until,
            limit,
            now.saturating_sub(ALERT_WAIT),
        )
    }

    /// [`Store::claim_due`], naming the time up to which a story update created then or before
    /// is claimed although its story's alert to the same sink is not in the outbox (flagged
    /// [`Delivery::orphan`]). A later one waits: the poll that grouped the story's first item
    /// may still be committing it (polls commit in any order). `run --once` passes its own
    /// time: every poll has committed, and an alert missing then never comes.
    fn claim_due_orphans(
        &self,
        sink: &str,
        now: Millis,
        lease_until: Millis,
        limit: i64,
        orphans_until: Millis,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Record, before the first send, the key these deliveries are attempted under (a digest's
    /// key, or a lone delivery's own key), so a retry after a crash or timeout sends the same
    /// group under the same key.
    fn begin_attempt(
        &self,
        ids: &[i64],
        group_key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Just before each send: record the unit's key when it is a first attempt (`key`, as
    /// [`Store::begin_attempt`]) and mark its rows as being sent until `until` (when the send
    /// is surely over), if this instance still holds `sink`'s lease and every row is still
    /// pending and still under the batch's `claim` ([`Delivery::claimed_until`]). False: the
    /// sink passed to another instance, or another instance claimed or recorded the rows;
    /// nothing is written, do not send. The claim is what fences a batch that outlived its
    /// lease and got the lease back: the rows it claimed may have been claimed, and be in
    /// flight, elsewhere meanwhile. Rows being sent are not claimed, not even by a
    /// takeover, until their mark passes, so a send in flight when the lease ran out (the
    /// database stalled past it) is not sent a second time by the taker. A store of one daemon
    /// has no other sender: it records the key and answers true.
    fn begin_send(
        &self,
        sink: &str,
        ids: &[i64],
        key: Option<&str>,
        claim: Millis,
        until: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = (sink, claim, until);
        async move {
            if let Some(key) = key {
                self.begin_attempt(ids, key).await?;
            }
            Ok(true)
        }
    }

    /// Deliveries sent together (one alert, or one digest), marked sent in one transaction.
    fn mark_sent(
        &self,
        ids: &[i64],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Story updates done without a message to the platform (see
    /// [`crate::deliver::sink::SendOk::skipped`]): marked sent like [`Store::mark_sent`], and
    /// left out of [`Store::sends_since`].
    fn mark_quiet(
        &self,
        ids: &[i64],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One alert sent alone, marked sent with the platform's id of its message (what a story
    /// update edits).
    fn mark_sent_ref(
        &self,
        id: i64,
        now: Millis,
        message_ref: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The alerts (JSON) of the updates of the story whose alert is `story_key` that were
    /// sent (or done without a message): the story's message shows the one of them with the
    /// most sources.
    fn sent_updates(
        &self,
        story_key: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// When each message that went to `sink` at or after `since` was sent, oldest first: its
    /// sent alerts and the story updates that edited a message or posted a note, the rows
    /// attempted under one key (a digest, an update of several sources) one message at the
    /// latest row's time. Updates done without a message ([`Store::mark_quiet`]) are left
    /// out. A restarted daemon's rate budget for the sink starts spent by these, not full.
    fn sends_since(
        &self,
        sink: &str,
        since: Millis,
    ) -> impl Future<Output = Result<Vec<Millis>, StoreError>> + Send;

    /// A failed attempt that will be retried at `next_attempt_at`, recorded on the rows of
    /// `ids` still pending and still under the batch's `claim` ([`Delivery::claimed_until`]);
    /// true when every row was. A failure never overwrites a delivery already sent (or dead),
    /// e.g. by an instance that lost the sink while its send was in flight and another
    /// instance sent the row; nor a claim taken since: an old holder's late result must not
    /// clear the claim of a batch that is sending the row elsewhere (the row would be claimed,
    /// and sent, a third time). A result not recorded costs an attempt more, never a loss:
    /// the row is retried by whoever holds it.
    fn mark_retry(
        &self,
        ids: &[i64],
        error: &str,
        next_attempt_at: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deliveries that will not be retried; kept for the operator (see `dead_retention`).
    /// Only rows still pending and under `claim` change (see [`Store::mark_retry`]); true
    /// when every row did.
    fn mark_dead(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// [`Store::mark_dead`] for rows that die apart from the rest of their unit (too old,
    /// while the others are retried): each takes its own key, so that revived it is sent
    /// alone, not under the unit's key, which the platform may know by then with a message
    /// without it (the unit's sent rows, by which `retry_dead` would tell, are pruned after
    /// a week; dead letters are kept 30 days).
    fn mark_dead_apart(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Give claimed deliveries back without an attempt (shutdown, sink paused, the lease
    /// lost): those of `ids` still under `claim`, the batch's ([`Delivery::claimed_until`]).
    /// A row another batch claimed since (another instance's, after a takeover) keeps its
    /// claim: a late release must not cut short a batch that is sending it.
    fn release(
        &self,
        ids: &[i64],
        claim: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Give back every claim of one sink (its worker restarted after a panic).
    fn release_sink(&self, sink: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stop sending `sink` for good (gone from the configuration): give back its claims and,
    /// on a shared database, its lease, so an instance that still has the sink takes it now.
    fn leave_sink(&self, sink: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.release_sink(sink)
    }

    fn outbox_summary(&self) -> impl Future<Output = Result<OutboxSummary, StoreError>> + Send;

    /// Deliveries in `state` ("pending", "sent", "dead"), newest first.
    fn list_deliveries(
        &self,
        state: &str,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<DeliveryRow>, StoreError>> + Send;

    /// Pending deliveries, the longest waiting first: what is stuck, not what is in transit.
    fn oldest_pending(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<DeliveryRow>, StoreError>> + Send;

    /// Alerts per watch (one per watch and item, whatever the sinks) since the state began.
    fn alert_counts(&self) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;

    /// Make every pending delivery due now, skipping the rest of its backoff.
    fn retry_pending_now(
        &self,
        now: Millis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Turn pending deliveries of sinks that are no longer configured into dead letters (they
    /// would otherwise wait forever, unseen). Returns how many. On a shared database, `sinks`
    /// is recorded as this instance's, and the sinks another live instance has are left alone.
    fn dead_letter_unconfigured(
        &self,
        sinks: &[String],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Put dead letters of the configured `sinks` back in the queue (due now, attempts reset);
    /// those of sinks no longer configured stay dead, and so do story updates a newer update
    /// of the same message was sent after. Returns (requeued, left dead).
    fn retry_dead(
        &self,
        now: Millis,
        sinks: &[String],
    ) -> impl Future<Output = Result<(u64, u64), StoreError>> + Send;

    /// Delete dead letters that died before `before`. Returns how many.
    fn purge_dead(&self, before: Millis) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Note which feeds the configuration has: others are stamped as removed (their rows go
    /// after the retention), re-added ones are unstamped.
    fn sync_feeds(
        &self,
        configured: &[String],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Move every stored future time (poll, retry, lease, delivery age) by `step` ms: the wall
    /// clock was stepped, and waits must keep their length. Also the times feed health is
    /// judged on: when a feed began to fail, when its state was reported, and (for a step of
    /// at least [`ARRIVALS_STEP`]) when its items arrived.
    fn shift_times(&self, step: Millis) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// At start: bring pending deliveries' retry times to at most `horizon` ms after `now`,
    /// their claims and send marks to at most [`MAX_CLAIM`] after it, and their creation
    /// times to at most `now` (a database restored from a machine whose clock ran ahead must
    /// not park or kill them).
    fn clamp_times(
        &self,
        now: Millis,
        horizon: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A per-sink fact learnt at run time (e.g. a migrated Telegram chat id).
    fn sink_state(
        &self,
        sink: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    fn set_sink_state(
        &self,
        sink: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forget what `rules` say, then checkpoint the journal. Returns rows removed.
    fn prune(&self, rules: PruneRules) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Items grouped into stories and stored at or after `since`, in the order they were
    /// grouped (the stories' index is rebuilt from them at start).
    fn story_items(
        &self,
        since: Millis,
    ) -> impl Future<Output = Result<Vec<StoryItemRow>, StoreError>> + Send;

    // ---- Item archive (`newswatch backtest`) ----

    /// Archived records first seen at or after `since` with an id above `after_id`, in commit
    /// order, at most `limit`.
    fn archive_page(
        &self,
        since: Millis,
        after_id: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<archive::ArchiveRow>, StoreError>> + Send;

    /// What the archive holds from `since` on.
    fn archive_totals(
        &self,
        since: Millis,
    ) -> impl Future<Output = Result<archive::ArchiveTotals, StoreError>> + Send;

    /// Delete archived records first seen before `before`, in batches. Returns how many.
    fn prune_archive(&self, before: Millis)
    -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a call to a database that stopped answering (a host gone with the query
    /// in flight) was waited for forever: the claim of a batch of feeds left them in flight
    /// for good. It is given up after the limit.
    #[tokio::test(start_paused = true)]
    async fn a_call_that_never_answers_is_given_up() {
        let never = std::future::pending::<Result<(), StoreError>>();
        assert!(matches!(
            within(never).await,
            Err(StoreError::NoAnswer { secs: 600 })
        ));
        assert!(within(async { Ok::<_, StoreError>(7) }).await.is_ok());
    }
}
