//! Feed health: one alert when a feed has failed for `health_after`, one when it recovers, one
//! when a feed that usually publishes goes silent (and one when it publishes again).
//!
//! Owns [`HealthSettings`] (`[daemon] health_sinks`, `health_after`), the pure judgement
//! [`judge`] over a feed's stored [`FeedHealth`] facts, [`evaluate`] (one pass over the
//! configured feeds) and [`health_loop`]. Alerts are ordinary [`Alert`]s under the synthetic
//! watch [`HEALTH_WATCH`], written to the outbox in the same transaction as the new state
//! ([`Store::record_health`]): each change alerts once, across restarts and instances, and
//! sinks, templates, digests, rate limits and retries treat them like any alert.
//!
//! Time comes in as `now` everywhere but the loop, so the rules are tested with any clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{FeedPlan, FeedSource};
use crate::deliver::{Alert, AlertSnippet, idempotency_key};
use crate::plan::Plan;
use crate::store::{FeedHealth, HealthChange, HealthState, Millis, NewDelivery, Store, StoreError};

/// The watch name health alerts are sent under (reserved: no configured watch may use it).
pub const HEALTH_WATCH: &str = "feed health";
/// A feed is silent after no new item for max(this, [`SILENCE_FACTOR`] × its median gap).
pub const SILENCE_FLOOR: Duration = Duration::from_secs(24 * 3600);
pub const SILENCE_FACTOR: i64 = 3;
/// The rhythm is the median gap between arrivals over this window before the latest one...
pub const RHYTHM_WINDOW: Duration = Duration::from_secs(14 * 24 * 3600);
/// ...judged only with at least this many arrivals in it: a new or rare feed never alarms.
pub const MIN_ARRIVALS: usize = 5;
/// Arrivals are read this far back: the rhythm window before the latest arrival, and as much
/// silence after it again. Read over the rhythm window before *now*, a feed publishing every
/// 3 days (silent after 9) had two arrivals left in it when its silence was due, no rhythm,
/// and was never reported; every rhythm of [`MIN_ARRIVALS`] in the window (gaps up to 3.5
/// days, silent after 10.5) now fits.
pub const ARRIVALS_LOOKBACK: Duration = Duration::from_secs(2 * 14 * 24 * 3600);

const DAY_MS: Millis = 86_400_000;

/// `[daemon] health_sinks` and `health_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSettings {
    /// Sinks that receive feed health alerts; none means no health alerts.
    pub sinks: Vec<String>,
    /// How long a feed fails, without a success in between, before it is reported.
    pub after: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            sinks: Vec::new(),
            after: Duration::from_secs(6 * 3600),
        }
    }
}

/// What kind of change an alert reports (the `kind` label of the metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Failing,
    Recovered,
    Silent,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Failing => "failing",
            Kind::Recovered => "recovered",
            Kind::Silent => "silent",
        }
    }
}

/// A change decided for one feed: its new state and what the alert says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: Kind,
    pub to: HealthState,
    /// Names the change uniquely (with the feed) for the idempotency key.
    pub key: String,
    pub title: String,
    pub detail: String,
}

fn ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `2d 3h`, `5h 12m`, `40m`, `12s`: two units at most.
pub fn span(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn when(t: Millis) -> String {
    crate::ops::http::time(Some(t))
}

/// The median gap between these arrival times; `None` with fewer than [`MIN_ARRIVALS`]
/// arrivals (no rhythm to judge by).
pub fn median_gap(arrivals: &[Millis]) -> Option<Millis> {
    if arrivals.len() < MIN_ARRIVALS {
        return None;
    }
    let mut gaps: Vec<Millis> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2])
}

/// How long a feed publishing at these arrival times may stay quiet before it is silent:
/// max([`SILENCE_FLOOR`], [`SILENCE_FACTOR`] × the median gap), if it has a rhythm.
pub fn silence_after(arrivals: &[Millis]) -> Option<Millis> {
    median_gap(arrivals).map(|m| ms(SILENCE_FLOOR).max(m.saturating_mul(SILENCE_FACTOR)))
}

fn succeeded(h: &FeedHealth) -> bool {
    matches!(h.last_result.as_deref(), Some("ok" | "not_modified"))
}

/// Is the feed worth the arrivals query? Only when it is reported ok, polls fine, and its
/// latest day with new items is no later than the day [`SILENCE_FLOOR`] ago: a feed with an
/// item within the floor cannot be silent, and the day table says so without reading items.
pub fn may_be_silent(h: &FeedHealth, now: Millis) -> bool {
    let floor = ms(SILENCE_FLOOR);
    h.reported == HealthState::Ok
        && succeeded(h)
        && h.reported_at.is_none_or(|t| now - t > floor)
        && h.last_item_day
            .is_some_and(|d| d <= (now - floor).div_euclid(DAY_MS))
}

/// The change, if any, for a feed with these stored facts at `now`. `arrivals`: its arrival
/// times, in order, over [`ARRIVALS_LOOKBACK`] (for a feed reported silent: those since it
/// was), or `None` when not looked up.
pub fn judge(
    feed: &str,
    h: &FeedHealth,
    arrivals: Option<&[Millis]>,
    now: Millis,
    after: Duration,
) -> Option<Verdict> {
    let failing_since = h
        .failing_since
        .filter(|_| h.last_result.as_deref() == Some("error"));
    // What the feed's last poll saw holds until its poll: failure and silence are measured to
    // it, not to now. After the daemon was down (or its machine suspended) for a day, every
    // feed with a rhythm was reported silent at start, and every feed whose last poll before
    // the stop had failed was reported failing, each followed by its recovery at its first
    // poll: two alerts a feed, about nothing.
    let seen = h.last_poll_at.map_or(now, |p| p.min(now));
    match h.reported {
        HealthState::Failing if succeeded(h) => Some(Verdict {
            kind: Kind::Recovered,
            to: HealthState::Ok,
            key: format!("recovered:{now}"),
            title: format!("Feed recovered: {feed}"),
            detail: format!(
                "Polled successfully again ({} after it was reported failing at {}).",
                h.reported_at.map_or_else(|| "—".into(), |t| span(now - t)),
                h.reported_at.map_or_else(|| "—".into(), when)
            ),
        }),
        HealthState::Failing => None,
        _ if failing_since.is_some_and(|s| seen - s >= ms(after)) => {
            let since = failing_since.unwrap_or(seen);
            Some(Verdict {
                kind: Kind::Failing,
                to: HealthState::Failing,
                key: format!("failing:{since}"),
                title: format!("Feed failing for {}: {feed}", span(seen - since)),
                detail: format!(
                    "No successful poll since {}. Last error: {}",
                    when(since),
                    // As the status page shows it: an error stored by an earlier release
                    // may hold a URL's token, a control character, a page of text.
                    h.last_error
                        .as_deref()
                        .map_or_else(|| "unknown".into(), crate::config::secret::shown_error)
                ),
            })
        }
        HealthState::Silent => {
            let again = arrivals?
                .iter()
                .copied()
                .filter(|&t| h.reported_at.is_none_or(|r| t > r))
                .max()?;
            Some(Verdict {
                kind: Kind::Recovered,
                to: HealthState::Ok,
                key: format!("publishing:{again}"),
                title: format!("Feed publishing again: {feed}"),
                detail: format!(
                    "New items again at {}, after it was reported silent at {}.",
                    when(again),
                    h.reported_at.map_or_else(|| "—".into(), when)
                ),
            })
        }
        HealthState::Ok => {
            let arrivals = arrivals.filter(|_| succeeded(h))?;
            let last = arrivals.last().copied()?;
            // The rhythm of the window before the latest item, however long ago that was.
            let from = arrivals.partition_point(|&t| t < last.saturating_sub(ms(RHYTHM_WINDOW)));
            let rhythm = &arrivals[from..];
            let gap = median_gap(rhythm)?;
            let quiet_for = silence_after(rhythm)?;
            // Quiet since the last item, or since the feed came back from failing.
            let quiet_since = h.reported_at.map_or(last, |r| r.max(last));
            (seen - quiet_since > quiet_for).then(|| Verdict {
                kind: Kind::Silent,
                to: HealthState::Silent,
                key: format!("silent:{quiet_since}"),
                title: format!("Feed silent for {}: {feed}", span(seen - quiet_since)),
                detail: format!(
                    "No new item since {}; it usually publishes every {} or so (median gap \
                     over the {} days before that), so anything over {} is unusual.",
                    when(last),
                    span(gap),
                    RHYTHM_WINDOW.as_secs() / 86_400,
                    span(quiet_for)
                ),
            })
        }
    }
}

/// The alert for a verdict: an ordinary [`Alert`] under [`HEALTH_WATCH`], the feed as its
/// feed, no hits, the detail as its snippet.
pub fn alert(feed: &FeedPlan, v: &Verdict, now: Millis) -> Alert {
    let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_else(chrono::Utc::now);
    Alert {
        watch: HEALTH_WATCH.to_string(),
        feed: feed.name.clone(),
        item_key: format!("health:{}", v.key),
        title: v.title.clone(),
        // Credentials in a feed URL stay out of every channel.
        link: matches!(feed.source, FeedSource::Http(_)).then(|| feed.source.redacted()),
        published: Some(at),
        hits: Vec::new(),
        snippet: AlertSnippet {
            text: v.detail.clone(),
            marks: Vec::new(),
        },
        matched_at: at,
        story: None,
        meaning: None,
    }
}

/// One pass over the configured feeds at `now`: record each change and enqueue its alerts.
/// Returns the changes recorded (by this instance).
pub async fn evaluate<S: Store>(
    store: &S,
    plan: &Plan,
    now: Millis,
) -> Result<Vec<Kind>, StoreError> {
    let settings = &plan.daemon.health;
    let mut recorded = Vec::new();
    if settings.sinks.is_empty() {
        return Ok(recorded);
    }
    // By name once per pass: a search of the list per feed was 450 million comparisons a
    // pass at 30,000 feeds.
    let feeds: std::collections::HashMap<&str, &crate::config::FeedPlan> =
        plan.feeds.iter().map(|f| (f.name.as_str(), f)).collect();
    for h in store.feed_health().await? {
        let Some(&feed) = feeds.get(h.feed.as_str()) else {
            continue;
        };
        let since = match h.reported {
            HealthState::Silent => Some(h.reported_at.map_or(0, |t| t + 1)),
            HealthState::Ok if may_be_silent(&h, now) => Some(now - ms(ARRIVALS_LOOKBACK)),
            _ => None,
        };
        // A store error on one feed's rows is that feed's: the feeds after it are judged all
        // the same (the pass stopped at it, and the log did not say which feed).
        let arrivals = match since {
            None => None,
            Some(since) => match store.arrivals(&h.feed, since).await {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(feed = %h.feed, error = %e, "cannot judge this feed's health");
                    continue;
                }
            },
        };
        let Some(v) = judge(&h.feed, &h, arrivals.as_deref(), now, settings.after) else {
            continue;
        };
        let alert = alert(feed, &v, now);
        let alert_json = alert.to_json();
        let deliveries = settings
            .sinks
            .iter()
            .map(|sink| NewDelivery {
                idem_key: idempotency_key(HEALTH_WATCH, sink, &h.feed, &alert.item_key),
                sink: sink.clone(),
                watch: HEALTH_WATCH.to_string(),
                item_key: alert.item_key.clone(),
                alert_json: alert_json.clone(),
                canonical_link: None,
            })
            .collect();
        let change = HealthChange {
            feed: h.feed.clone(),
            from: h.reported,
            to: v.to,
            at: now,
            deliveries,
        };
        match store.record_health(&change).await {
            Ok(true) => {
                tracing::warn!(feed = %h.feed, kind = v.kind.label(), "{}", v.title);
                crate::ops::metrics::record_health_alert(v.kind.label());
                recorded.push(v.kind);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(feed = %h.feed, error = %e, "cannot record this feed's health change");
            }
        }
    }
    Ok(recorded)
}

/// How often feeds are judged: a quarter of `health_after`, between 1 s and a minute.
pub fn period(after: Duration) -> Duration {
    (after / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Judge feed health now and then until `token` is cancelled; wake the dispatcher when an
/// alert was enqueued. Uses the configuration current at each pass; a pass that outlived a
/// reload asks for the sweep again (`sweep`), as a poll does: it may have queued alerts for a
/// health sink the reload removed, after the reload's sweep made its queue dead letters.
pub async fn health_loop<S: Store>(
    store: Arc<S>,
    plan: watch::Receiver<Arc<Plan>>,
    wake: Arc<Notify>,
    sweep: Arc<Notify>,
    token: CancellationToken,
) {
    loop {
        let p = plan.borrow().clone();
        match evaluate(store.as_ref(), &p, crate::store::now_millis()).await {
            Ok(changes) if !changes.is_empty() => wake.notify_waiters(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot judge feed health"),
        }
        if !Arc::ptr_eq(&p, &plan.borrow()) {
            sweep.notify_one();
        }
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(period(p.daemon.health.after)) => {}
        }
    }
}

#[cfg(test)]
mod tests;
