//! The status report: feeds, watches, outbox and dead letters, as one serializable value.
//!
//! Owns [`StatusReport`] and [`collect`]. Served as JSON at `/api/status`, rendered as HTML at
//! `/`, and printed by `newswatch status` (from the daemon, or read-only from the state file).
//! Feed URLs and errors in it are redacted ([`crate::config::secret::redact_url`]).

use serde::{Deserialize, Serialize};

use crate::config::secret::{redact_url, redact_urls_in};
use crate::deliver::Alert;
use crate::plan::Plan;
use crate::store::{DeliveryRow, Millis, Store, StoreError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FeedStatus {
    pub name: String,
    pub url: String,
    pub last_poll_at: Option<Millis>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub next_poll_at: Option<Millis>,
    pub items_seen: i64,
    pub suppressed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WatchStatus {
    pub name: String,
    pub sinks: Vec<String>,
    /// Items alerted, over the outbox's memory (sent deliveries are kept a week).
    pub alerts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub id: i64,
    pub sink: String,
    pub watch: String,
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub created_at: Millis,
    pub next_attempt_at: Millis,
    pub sent_at: Option<Millis>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusReport {
    pub version: String,
    /// "daemon" when served by a running daemon, "state file" when read offline.
    pub source: String,
    pub generated_at: Millis,
    pub feeds: Vec<FeedStatus>,
    pub watches: Vec<WatchStatus>,
    pub pending: i64,
    pub dead: i64,
    pub oldest_pending_at: Option<Millis>,
    pub recent_alerts: Vec<DeliveryStatus>,
    pub pending_deliveries: Vec<DeliveryStatus>,
    pub dead_letters: Vec<DeliveryStatus>,
}

impl StatusReport {
    pub fn feeds_failing(&self) -> usize {
        self.feeds
            .iter()
            .filter(|f| f.last_result.as_deref() == Some("error"))
            .count()
    }

    /// One line for systemd's STATUS=.
    pub fn summary(&self) -> String {
        Summary {
            feeds: self.feeds.len(),
            failing: self.feeds_failing(),
            pending: self.pending,
            dead: self.dead,
            oldest_pending_at: self.oldest_pending_at,
        }
        .line()
    }
}

/// The counts behind systemd's STATUS= line and the state gauges of `/metrics`: two cheap
/// queries, where the full [`StatusReport`] also lists deliveries and counts alerts per watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub feeds: usize,
    pub failing: usize,
    pub pending: i64,
    pub dead: i64,
    pub oldest_pending_at: Option<Millis>,
}

impl Summary {
    pub fn line(&self) -> String {
        format!(
            "{} feeds ({} failing), {} pending, {} dead",
            self.feeds, self.failing, self.pending, self.dead
        )
    }
}

/// The [`Summary`] of the configured feeds and the outbox.
pub async fn summarize<S: Store>(store: &S, plan: &Plan) -> Result<Summary, StoreError> {
    let states = store.feed_states().await?;
    let failing = plan
        .feeds
        .iter()
        .filter(|f| {
            states
                .iter()
                .any(|s| s.feed == f.name && s.last_result.as_deref() == Some("error"))
        })
        .count();
    let outbox = store.outbox_summary().await?;
    Ok(Summary {
        feeds: plan.feeds.len(),
        failing,
        pending: outbox.pending,
        dead: outbox.dead,
        oldest_pending_at: outbox.oldest_pending,
    })
}

fn delivery(d: DeliveryRow) -> DeliveryStatus {
    let alert: Option<Alert> = serde_json::from_str(&d.alert_json).ok();
    DeliveryStatus {
        id: d.id,
        sink: d.sink,
        watch: d.watch,
        feed: d.feed,
        title: alert.as_ref().map(|a| a.title.clone()).unwrap_or_default(),
        link: alert.and_then(|a| a.link),
        state: d.state,
        attempts: d.attempts,
        created_at: d.created_at,
        next_attempt_at: d.next_attempt_at,
        sent_at: d.sent_at,
        last_error: d.last_error,
    }
}

/// Build the report from the store and the configuration.
pub async fn collect<S: Store>(
    store: &S,
    plan: &Plan,
    source: &str,
) -> Result<StatusReport, StoreError> {
    let states = store.feed_states().await?;
    let feeds = plan
        .feeds
        .iter()
        .map(|f| {
            let st = states.iter().find(|s| s.feed == f.name);
            FeedStatus {
                name: f.name.clone(),
                // Feed URLs may carry credentials; so may errors that quote them (also
                // those stored by a release that did not redact).
                url: st
                    .and_then(|s| s.moved_url.as_deref())
                    .map_or_else(|| f.source.redacted(), redact_url),
                last_poll_at: st.and_then(|s| s.last_poll_at),
                last_result: st.and_then(|s| s.last_result.clone()),
                last_error: st.and_then(|s| s.last_error.as_deref().map(redact_urls_in)),
                failures: st.map_or(0, |s| s.failures),
                next_poll_at: st.and_then(|s| s.next_poll_at),
                items_seen: st.map_or(0, |s| s.items_seen),
                suppressed: st.map_or(0, |s| s.suppressed),
            }
        })
        .collect();
    let counts = store.alert_counts().await?;
    let watches = plan
        .watches
        .specs()
        .iter()
        .map(|w| WatchStatus {
            name: w.name.clone(),
            sinks: w.sinks.clone(),
            alerts: counts
                .iter()
                .find(|(n, _)| *n == w.name)
                .map_or(0, |(_, c)| *c),
        })
        .collect();
    let summary = store.outbox_summary().await?;
    let list = |v: Vec<DeliveryRow>| v.into_iter().map(delivery).collect::<Vec<_>>();
    Ok(StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        source: source.to_string(),
        generated_at: crate::store::now_millis(),
        feeds,
        watches,
        pending: summary.pending,
        dead: summary.dead,
        oldest_pending_at: summary.oldest_pending,
        recent_alerts: list(store.list_deliveries("sent", 20).await?),
        pending_deliveries: list(store.list_deliveries("pending", 50).await?),
        dead_letters: list(store.list_deliveries("dead", 50).await?),
    })
}
