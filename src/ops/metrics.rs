//! Prometheus metrics: names, labels and buckets in one place.
//!
//! Owns [`install`] and the `record_*` functions the pipeline calls. Counters and the fetch
//! histogram are recorded as things happen; gauges that describe stored state (outbox, dead
//! letters, failing feeds) are set from the store when `/metrics` is scraped, so they are
//! exact rather than maintained incrementally.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Fetch durations span a fast 304 on a LAN to a slow server near the timeout.
const FETCH_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Delivery latency, item first seen → sent.
const DELIVERY_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0];

/// Install the global recorder. `None` when one is installed already (a second daemon in one
/// process, tests): metrics are then recorded by the first.
pub fn install(instance: Option<&str>) -> Option<PrometheusHandle> {
    let recorder = builder(instance)?.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).ok()?;
    describe();
    Some(handle)
}

/// The label naming the instance a series is from (several on one database). Not
/// `instance`: Prometheus sets that one on every target it scrapes, and renames one the target
/// exports to `exported_instance` (with `honor_labels` off, its default).
pub const INSTANCE_LABEL: &str = "newswatch_instance";

/// The exporter's settings: the buckets, and the instance's label.
fn builder(instance: Option<&str>) -> Option<PrometheusBuilder> {
    let mut builder = PrometheusBuilder::new();
    if let Some(id) = instance {
        builder = builder.add_global_label(INSTANCE_LABEL, id);
    }
    builder
        .set_buckets_for_metric(
            Matcher::Full("newswatch_fetch_duration_seconds".into()),
            FETCH_BUCKETS,
        )
        .ok()?
        .set_buckets_for_metric(
            Matcher::Full("newswatch_page_seconds".into()),
            FETCH_BUCKETS,
        )
        .ok()?
        .set_buckets_for_metric(
            Matcher::Full("newswatch_delivery_latency_seconds".into()),
            DELIVERY_BUCKETS,
        )
        .ok()
}

/// How often histogram samples are folded into their buckets without a scrape.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Fold recorded histogram samples into their buckets every few seconds until `token` is
/// cancelled. The recorder keeps every raw sample until a scrape renders it or this runs, and
/// nothing need scrape `/metrics`: without it, each poll and send would grow memory for good
/// (some 70 MB a day at 10,000 feeds every 5 minutes).
pub async fn upkeep(handle: PrometheusHandle, token: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "newswatch_polls_total",
        "Feed polls by result (ok, not_modified, error)."
    );
    describe_histogram!(
        "newswatch_fetch_duration_seconds",
        "Time to fetch and parse one feed."
    );
    describe_counter!(
        "newswatch_items_parsed_total",
        "Items read from fetched feeds."
    );
    describe_counter!(
        "newswatch_new_items_total",
        "Items seen for the first time."
    );
    describe_counter!("newswatch_matches_total", "New items matched, by watch.");
    describe_counter!(
        "newswatch_story_items_total",
        "Matches of watches with stories, by watch and what they did: opened a story (alerted), updated one, or repeated a source it names."
    );
    describe_counter!(
        "newswatch_repeats_suppressed_total",
        "Alerts (one per watch and item, whatever its sinks) dropped as cross-feed repeats."
    );
    describe_counter!(
        "newswatch_deliveries_total",
        "Delivery attempts by sink and result (sent, skipped, retry, dead)."
    );
    describe_counter!(
        "newswatch_worker_restarts_total",
        "Delivery workers restarted after a panic, by sink."
    );
    describe_counter!(
        "newswatch_poll_panics_total",
        "Poll tasks that panicked (recorded as failed polls with backoff)."
    );
    describe_counter!(
        "newswatch_feed_health_alerts_total",
        "Feed health changes alerted, by kind (failing, recovered, silent)."
    );
    describe_histogram!(
        "newswatch_delivery_latency_seconds",
        "From match to delivery."
    );
    describe_counter!(
        "newswatch_pages_total",
        "Article pages for full text by result (ok, cached, empty, failed, refused, timeout, skipped)."
    );
    describe_histogram!(
        "newswatch_page_seconds",
        "Time to fetch and extract one article page (pages that gave text)."
    );
    describe_gauge!("newswatch_outbox_pending", "Deliveries waiting to be sent.");
    describe_gauge!(
        "newswatch_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending delivery."
    );
    describe_gauge!(
        "newswatch_dead_letters",
        "Deliveries that failed for good, kept for the operator."
    );
    describe_gauge!("newswatch_feeds", "Configured feeds.");
    describe_gauge!("newswatch_feeds_failing", "Feeds whose last poll failed.");
    describe_gauge!(
        "newswatch_state_up",
        "1 when this scrape read the state; 0 when it could not (the state's gauges then keep their last values)."
    );
    describe_gauge!(
        "newswatch_polls_running",
        "Poll tasks started and not finished (waiting for permits, fetching or storing)."
    );
    describe_gauge!(
        "newswatch_polls_queued",
        "Feeds due and waiting for a poll task: above zero for long, the daemon is behind."
    );
}

/// The scheduler's poll tasks and the due feeds waiting for one.
pub fn set_poll_gauges(running: usize, queued: usize) {
    metrics::gauge!("newswatch_polls_running").set(running as f64);
    metrics::gauge!("newswatch_polls_queued").set(queued as f64);
}

/// The handles of the per-poll metrics, looked up once: a poll (most are 304s) must not
/// pay for building a labelled key and finding it in the registry every time.
struct PollMetrics {
    ok: metrics::Counter,
    not_modified: metrics::Counter,
    error: metrics::Counter,
    took: metrics::Histogram,
}

/// Set on the first poll, which comes after [`install`] in the daemon (a handle taken before
/// a recorder is installed records nothing).
static POLL_METRICS: std::sync::OnceLock<PollMetrics> = std::sync::OnceLock::new();

/// One poll's result (`ok`, `not_modified` or `error`) and how long it took.
pub fn record_poll(result: &'static str, took: Duration) {
    let m = POLL_METRICS.get_or_init(|| PollMetrics {
        ok: metrics::counter!("newswatch_polls_total", "result" => "ok"),
        not_modified: metrics::counter!("newswatch_polls_total", "result" => "not_modified"),
        error: metrics::counter!("newswatch_polls_total", "result" => "error"),
        took: metrics::histogram!("newswatch_fetch_duration_seconds"),
    });
    match result {
        "ok" => m.ok.increment(1),
        "not_modified" => m.not_modified.increment(1),
        "error" => m.error.increment(1),
        other => metrics::counter!("newswatch_polls_total", "result" => other).increment(1),
    }
    m.took.record(took.as_secs_f64());
}

/// One article page's outcome; `took` (fetch and extraction) for pages that gave text.
pub fn record_page(result: &'static str, took: Option<Duration>) {
    metrics::counter!("newswatch_pages_total", "result" => result).increment(1);
    if let Some(t) = took {
        metrics::histogram!("newswatch_page_seconds").record(t.as_secs_f64());
    }
}

pub fn record_items(parsed: usize, new: usize, suppressed: usize) {
    metrics::counter!("newswatch_items_parsed_total").increment(parsed as u64);
    metrics::counter!("newswatch_new_items_total").increment(new as u64);
    metrics::counter!("newswatch_repeats_suppressed_total").increment(suppressed as u64);
}

/// A watch's or sink's name as a label value. The exporter reads a backslash before `"` or
/// `\` as an escape already made and keeps it as it is: the sinks `a"` and `a\"` were both
/// written `a\"`, one series for two sinks. Doubling every backslash first makes its escaping
/// exact (`a\"` is written `a\\\"`).
fn label(name: &str) -> String {
    name.replace('\\', "\\\\")
}

pub fn record_match(watch: &str) {
    metrics::counter!("newswatch_matches_total", "watch" => label(watch)).increment(1);
}

/// A match of a watch with stories: `outcome` is "opened", "updated" or "quiet".
pub fn record_story_item(watch: &str, outcome: &'static str) {
    metrics::counter!("newswatch_story_items_total", "watch" => label(watch), "outcome" => outcome)
        .increment(1);
}

pub fn record_delivery(sink: &str, result: &'static str, latency: Option<Duration>) {
    metrics::counter!("newswatch_deliveries_total", "sink" => label(sink), "result" => result)
        .increment(1);
    if let Some(l) = latency {
        metrics::histogram!("newswatch_delivery_latency_seconds").record(l.as_secs_f64());
    }
}

pub fn record_worker_restart(sink: &str) {
    metrics::counter!("newswatch_worker_restarts_total", "sink" => label(sink)).increment(1);
}

pub fn record_health_alert(kind: &'static str) {
    metrics::counter!("newswatch_feed_health_alerts_total", "kind" => kind).increment(1);
}

pub fn record_poll_panic() {
    metrics::counter!("newswatch_poll_panics_total").increment(1);
}

/// A poll that ended with no outcome of its own to record (its task panicked, or even its
/// failure could not be stored): a failed poll all the same, with no fetch time to give.
/// Rare, so its handle is not kept (a kept one is [`record_poll`]'s first recorder's).
pub fn record_failed_poll() {
    metrics::counter!("newswatch_polls_total", "result" => "error").increment(1);
}

/// Whether the scrape could read the state its gauges come from.
pub fn set_state_up(up: bool) {
    metrics::gauge!("newswatch_state_up").set(if up { 1.0 } else { 0.0 });
}

/// Gauges from stored state, set just before a scrape renders.
pub fn set_state_gauges(
    pending: i64,
    oldest_pending_age: Option<Duration>,
    dead: i64,
    feeds: usize,
    failing: usize,
) {
    metrics::gauge!("newswatch_outbox_pending").set(pending as f64);
    metrics::gauge!("newswatch_outbox_oldest_pending_age_seconds")
        .set(oldest_pending_age.map_or(0.0, |d| d.as_secs_f64()));
    metrics::gauge!("newswatch_dead_letters").set(dead as f64);
    metrics::gauge!("newswatch_feeds").set(feeds as f64);
    metrics::gauge!("newswatch_feeds_failing").set(failing as f64);
}

/// Metrics a test records alone: a recorder of its own and a runtime of one thread, whose
/// spawned tasks run under that recorder too (a global recorder would mix every test's).
#[cfg(test)]
pub(crate) struct Recorded {
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
    rt: tokio::runtime::Runtime,
}

#[cfg(test)]
impl Recorded {
    pub(crate) fn new() -> Recorded {
        Recorded::with(PrometheusBuilder::new())
    }

    pub(crate) fn with(builder: PrometheusBuilder) -> Recorded {
        Recorded {
            recorder: builder.build_recorder(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// Runs `f` to its end, recording what it records.
    pub(crate) fn run<T>(&self, f: impl Future<Output = T>) -> T {
        metrics::with_local_recorder(&self.recorder, || self.rt.block_on(f))
    }

    /// Runs `f` to its end, recording nothing (a test's setup).
    pub(crate) fn unrecorded<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// The text a scrape would get.
    pub(crate) fn text(&self) -> String {
        self.recorder.handle().render()
    }

    /// The value of `series` (its name and labels as rendered), if it was recorded.
    pub(crate) fn value(&self, series: &str) -> Option<f64> {
        self.text()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the sinks `a"` and `a\"` were one series (`sink="a\""`): the exporter
    /// took the backslash for an escape already made. Each name is now escaped as the text
    /// format says: `\` as `\\`, `"` as `\"`, a line feed as `\n`.
    #[test]
    fn names_with_quotes_and_backslashes_are_escaped_apart() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for sink in ["a\"", "a\\\"", "b\\", "c\\n", "d\ne"] {
                record_worker_restart(sink);
            }
        });
        let text = handle.render();
        for series in [
            r#"sink="a\"""#,
            r#"sink="a\\\"""#,
            r#"sink="b\\""#,
            r#"sink="c\\n""#,
            r#"sink="d\ne""#,
        ] {
            assert!(
                text.contains(&format!("newswatch_worker_restarts_total{{{series}}} 1")),
                "{series} in {text}"
            );
        }
    }

    /// Regression (review of the metrics): the instance's id was exported as `instance`, the
    /// label Prometheus gives every target; scraped, it became `exported_instance`, not the
    /// label the README named. It has a name of its own.
    #[test]
    fn an_instances_series_carry_its_id_under_a_label_prometheus_does_not_set() {
        let recorded = Recorded::with(builder(Some("host-1-abc")).unwrap());
        recorded.run(async { record_worker_restart("s") });
        let text = recorded.text();
        assert!(
            text.contains(
                r#"newswatch_worker_restarts_total{newswatch_instance="host-1-abc",sink="s"} 1"#
            ),
            "{text}"
        );
        assert!(
            !text.contains("{instance=") && !text.contains(",instance="),
            "{text}"
        );
    }

    /// Regression: histogram samples piled up in memory until something scraped `/metrics`.
    /// The upkeep runs on its own and stops with the daemon.
    #[tokio::test(start_paused = true)]
    async fn upkeep_runs_without_a_scrape_and_stops_when_cancelled() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..1000 {
                metrics::histogram!("newswatch_test_seconds").record(0.5);
            }
        });
        let token = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(upkeep(handle.clone(), token.clone()));
        tokio::time::sleep(UPKEEP_EVERY * 3).await;
        // The samples were folded in, not lost: a scrape still counts all of them.
        let text = handle.render();
        assert!(text.contains("newswatch_test_seconds_count 1000"), "{text}");
        token.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("the upkeep stops when cancelled")
            .expect("the upkeep does not panic");
    }
}
