//! The HTTP listener: `/metrics`, `/healthz`, `/readyz`, `/api/status` and the HTML status page.
//!
//! Owns [`HttpState`], [`router`] and [`serve`]. Read-only: nothing here changes state. The page
//! at `/` is one self-contained HTML document (no scripts, no external assets; 14-day charts as
//! inline SVG from [`crate::ops::charts`]), with every piece of feed text escaped. With `[daemon] listen_token`, `/api/*` and `/` answer 401 unless the
//! request carries the token (`Authorization: Bearer TOKEN`, or Basic with the token as
//! password, which lets a browser ask for it); `/metrics`, `/healthz` and `/readyz` stay open
//! for monitoring (counts only, no feed URLs, errors or item text).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ops::charts;
use crate::ops::status::{DeliveryStatus, StatusReport, collect, listed_count, summarize};
use crate::plan::Plan;
use crate::store::{Millis, Store};

/// What the handlers read.
pub struct HttpState<S> {
    pub store: Arc<S>,
    pub plan: watch::Receiver<Arc<Plan>>,
    pub metrics: Option<PrometheusHandle>,
    /// Set once the configuration is loaded and the scheduler runs.
    pub ready: Arc<AtomicBool>,
    /// Set once a stop began: the listener answers until the daemon exits (a stop may wait
    /// minutes for a send in flight), `/readyz` with 503 "stopping".
    pub stopping: Arc<AtomicBool>,
}

impl<S> Clone for HttpState<S> {
    fn clone(&self) -> Self {
        HttpState {
            store: self.store.clone(),
            plan: self.plan.clone(),
            metrics: self.metrics.clone(),
            ready: self.ready.clone(),
            stopping: self.stopping.clone(),
        }
    }
}

pub fn router<S: Store>(state: HttpState<S>) -> Router {
    let guarded = Router::new()
        .route("/", get(page::<S>))
        .route("/api/status", get(api_status::<S>))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token::<S>,
        ));
    Router::new()
        .merge(guarded)
        .route("/metrics", get(metrics::<S>))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz::<S>))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ops::guard::loopback_names_only::<S>,
        ))
        .layer(axum::middleware::from_fn(crate::ops::guard::headers))
        .with_state(state)
}

/// Serve until `token` is cancelled.
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    state: HttpState<S>,
    token: CancellationToken,
) {
    let capped = crate::ops::listen::Capped::new(listener);
    let app = router(state).layer(axum::middleware::from_fn_with_state(
        capped.load(),
        crate::ops::listen::close_when_full,
    ));
    let r = axum::serve(capped, app)
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "status listener failed");
    }
}

/// Lets a request through when no `listen_token` is set or when it carries the token; the token
/// is read from the current plan, so a reload that changes it applies at once.
async fn require_token<S: Store>(
    State(st): State<HttpState<S>>,
    req: Request,
    next: Next,
) -> Response {
    let expected = st.plan.borrow().daemon.listen_token.clone();
    match expected {
        // Two challenges, Basic first: a browser reads the first challenge of a header only,
        // and with Bearer first (one header, "Bearer …, Basic …") it offered no login at all,
        // so the status page could not be opened in one once a token was set.
        Some(token) if !carries_token(req.headers(), token.expose()) => (
            StatusCode::UNAUTHORIZED,
            axum::response::AppendHeaders([
                (header::WWW_AUTHENTICATE, "Basic realm=\"newswatch\""),
                (header::WWW_AUTHENTICATE, "Bearer realm=\"newswatch\""),
            ]),
            "a token is required (Authorization: Bearer <listen_token>, or Basic with the \
             token as the password)\n",
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

/// Does the request's `Authorization` carry `token` (Bearer, or Basic with it as password)?
fn carries_token(headers: &HeaderMap, token: &str) -> bool {
    use base64::Engine as _;
    let Some((scheme, value)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return same_secret(value.as_bytes(), token.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
            return false;
        };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(i) => &decoded[i + 1..],
            None => &decoded[..],
        };
        return same_secret(password, token.as_bytes());
    }
    false
}

/// Compares in time that depends on neither the contents nor the lengths: both sides are
/// hashed, and the digests compared without an early exit.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// How long the page and `/api/status` wait for the state: less than the listener's 30 s
/// silence limit, so a database that does not answer (a failover, a firewall dropping
/// packets; on SQLite, its one connection held by a long write) is said (503) rather than the
/// connection closed with no answer.
const STATE_READ_LIMIT: Duration = Duration::from_secs(10);

/// How long a scrape waits for the state's gauges: under Prometheus's default scrape timeout
/// (10 s), so `newswatch_state_up 0` and every other series reach it rather than the scrape
/// being given up with all of them.
const SCRAPE_STATE_LIMIT: Duration = Duration::from_secs(5);

/// `read` within `limit`; its error, or the wait's, in words.
async fn within<T, E: std::fmt::Display>(
    limit: Duration,
    read: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, read).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
    }
}

/// The status report, within [`STATE_READ_LIMIT`].
async fn read_report<S: Store>(store: &S, plan: &Plan) -> Result<StatusReport, String> {
    within(STATE_READ_LIMIT, collect(store, plan, "daemon")).await
}

async fn report<S: Store>(st: &HttpState<S>) -> Result<StatusReport, Response> {
    let plan = st.plan.borrow().clone();
    read_report(st.store.as_ref(), &plan).await.map_err(|e| {
        tracing::error!(error = %e, "cannot build status");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("state unavailable: {e}\n"),
        )
            .into_response()
    })
}

async fn api_status<S: Store>(State(st): State<HttpState<S>>) -> Response {
    match report(&st).await {
        Ok(r) => axum::Json(r).into_response(),
        Err(resp) => resp,
    }
}

async fn readyz<S: Store>(State(st): State<HttpState<S>>) -> Response {
    if st.stopping.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    } else if st.ready.load(Ordering::Relaxed) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

/// The gauges read from the state, before a scrape renders. A state that cannot be read (the
/// database down) is said by `newswatch_state_up` 0 and a warning: the gauges keep their last
/// values, which read alone showed a failing outbox as healthy.
async fn state_gauges<S: Store>(store: &S, plan: &Plan) {
    match within(SCRAPE_STATE_LIMIT, summarize(store, plan)).await {
        Ok(s) => {
            let now = crate::store::now_millis();
            crate::ops::metrics::set_state_gauges(
                s.pending,
                s.oldest_pending_at
                    .map(|t| std::time::Duration::from_millis((now - t).max(0) as u64)),
                s.dead,
                s.feeds,
                s.failing,
            );
            crate::ops::metrics::set_state_up(true);
        }
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: cannot read the state; its gauges keep their last values");
            crate::ops::metrics::set_state_up(false);
        }
    }
}

async fn metrics<S: Store>(State(st): State<HttpState<S>>) -> Response {
    let Some(handle) = &st.metrics else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are recorded by another instance in this process\n",
        )
            .into_response();
    };
    let plan = st.plan.borrow().clone();
    state_gauges(st.store.as_ref(), &plan).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

async fn page<S: Store>(State(st): State<HttpState<S>>) -> Response {
    match report(&st).await {
        Ok(r) => Html(render_page(&r)).into_response(),
        Err(resp) => resp,
    }
}

/// HTML-escape text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn time(t: Option<Millis>) -> String {
    t.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".to_string())
}

fn link(title: &str, link: Option<&str>) -> String {
    let title = if title.is_empty() {
        "(untitled)"
    } else {
        title
    };
    match link.filter(|l| l.starts_with("http://") || l.starts_with("https://")) {
        Some(l) => format!(
            "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
            esc(l),
            esc(title)
        ),
        None => esc(title),
    }
}

fn deliveries_table(rows: &[DeliveryStatus], when: &str) -> String {
    if rows.is_empty() {
        return "<p class=muted>none</p>".to_string();
    }
    let mut h = format!(
        "<table><tr><th>{when}</th><th>watch</th><th>sink</th><th>item</th><th>attempts</th><th>last error</th></tr>"
    );
    for d in rows {
        let t = match when {
            "sent" => time(d.sent_at),
            "next attempt" => time(Some(d.next_attempt_at)),
            _ => time(Some(d.created_at)),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t),
            esc(&d.watch),
            esc(&d.sink),
            link(&d.title, d.link.as_deref()),
            if d.state == "skipped" {
                "skipped".to_string()
            } else {
                d.attempts.to_string()
            },
            esc(d.last_error.as_deref().unwrap_or(""))
        ));
    }
    h.push_str("</table>");
    h
}

/// The status page.
pub fn render_page(r: &StatusReport) -> String {
    let mut h = String::from(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>newswatch</title>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
         table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}\
         th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}\
         th{background:#f4f4f4}.err{color:#b00020}.ok{color:#137333}.muted{color:#777}\
         h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}svg.chart{display:block}</style></head><body>",
    );
    h.push_str(&format!(
        "<h1>newswatch {}</h1><p>{} · {} · generated {}</p>",
        esc(&r.version),
        esc(&r.summary()),
        esc(&r.source),
        esc(&time(Some(r.generated_at)))
    ));
    h.push_str("<h2>Feeds</h2><table><tr><th>feed</th><th>last poll</th><th>result</th><th>next poll</th><th>items seen</th><th>polls, 14 days</th><th>new items, 14 days</th><th>error</th></tr>");
    for f in &r.feeds {
        let (class, result) = match f.last_result.as_deref() {
            Some("error") => ("err", format!("error ×{}", f.failures)),
            Some(x) => ("ok", x.to_string()),
            None => ("muted", "not polled yet".to_string()),
        };
        h.push_str(&format!(
            "<tr><td title=\"{}\">{}</td><td>{}</td><td class={class}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=err>{}</td></tr>",
            esc(&f.url),
            esc(&f.name),
            esc(&time(f.last_poll_at)),
            esc(&result),
            esc(&time(f.next_poll_at)),
            f.items_seen,
            charts::polls_strip(&f.name, &f.history),
            charts::items_chart(&f.name, &f.history),
            esc(f.last_error.as_deref().unwrap_or(""))
        ));
    }
    h.push_str("</table><h2>Watches</h2><table><tr><th>watch</th><th>sinks</th><th>alerts (all time)</th><th>alerts per day, 14 days</th></tr>");
    for w in &r.watches {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&w.name),
            esc(&w.sinks.join(", ")),
            w.alerts,
            charts::alerts_chart(&w.name, &w.history)
        ));
    }
    h.push_str("</table>");
    if !r.stories.is_empty() {
        h.push_str("<h2>Open stories</h2><table><tr><th>watch</th><th>story</th><th>sources</th><th>items</th></tr>");
        for s in &r.stories {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.watch),
                esc(&s.title),
                esc(&s.sources.join(", ")),
                s.items
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Recent alerts</h2>");
    h.push_str(&deliveries_table(&r.recent_alerts, "sent"));
    h.push_str(&format!(
        "<h2>Pending deliveries ({})</h2>",
        listed_count(r.pending, r.pending_deliveries.len(), "oldest")
    ));
    h.push_str(&deliveries_table(&r.pending_deliveries, "next attempt"));
    h.push_str(&format!(
        "<h2>Dead letters ({})</h2>",
        listed_count(r.dead, r.dead_letters.len(), "newest")
    ));
    h.push_str(&deliveries_table(&r.dead_letters, "queued"));
    h.push_str(
        "<p class=muted>Dead letters go back in the queue with <code>newswatch deliveries retry --dead</code>.</p></body></html>",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listen_token_opens_the_api() {
        use base64::Engine as _;
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(carries_token(&with("Bearer s3cret-token"), "s3cret-token"));
        assert!(carries_token(
            &with("bearer  s3cret-token "),
            "s3cret-token"
        ));
        assert!(carries_token(
            &with(&basic("ops:s3cret-token")),
            "s3cret-token"
        ));
        assert!(!carries_token(&HeaderMap::new(), "s3cret-token"));
        assert!(!carries_token(&with("Bearer s3cret-toke"), "s3cret-token"));
        assert!(!carries_token(
            &with("Bearer s3cret-token2"),
            "s3cret-token"
        ));
        assert!(!carries_token(&with("Bearer "), "s3cret-token"));
        assert!(!carries_token(&with("Token s3cret-token"), "s3cret-token"));
        assert!(!carries_token(
            &with(&basic("s3cret-token:x")),
            "s3cret-token"
        ));
        assert!(!carries_token(&with("Basic !!!"), "s3cret-token"));
    }

    /// A recorder, a plan of one feed and an empty state.
    fn one_feed() -> (
        crate::ops::metrics::Recorded,
        Plan,
        crate::store::sqlite::SqliteStore,
    ) {
        let recorded = crate::ops::metrics::Recorded::new();
        let plan = crate::plan::load_str(
            std::path::Path::new("t.toml"),
            "[[feed]]\nname = \"f\"\nurl = \"https://news.example/rss\"\n".to_string(),
        )
        .unwrap();
        let store = recorded
            .unrecorded(crate::store::sqlite::SqliteStore::in_memory())
            .unwrap();
        (recorded, plan, store)
    }

    /// Regression (review of the metrics): a scrape that could not read the state (the
    /// database down) left the state's gauges at their last values with nothing to say so:
    /// a failing outbox looked healthy. `newswatch_state_up` says whether they are current;
    /// systemd's status line says the state cannot be read.
    #[test]
    fn a_state_that_cannot_be_read_is_said_by_the_gauge_and_the_status_line() {
        let (recorded, plan, store) = one_feed();
        let line = || recorded.unrecorded(crate::ops::status::status_line(&store, &plan));
        recorded.run(state_gauges(&store, &plan));
        assert_eq!(recorded.value("newswatch_state_up"), Some(1.0));
        assert_eq!(line(), "1 feeds (0 failing), 0 pending, 0 dead");
        recorded
            .unrecorded(sqlx::query("DROP TABLE feeds").execute(store.pool()))
            .unwrap();
        recorded.run(state_gauges(&store, &plan));
        assert_eq!(recorded.value("newswatch_state_up"), Some(0.0));
        assert!(line().starts_with("cannot read the state: "), "{}", line());
    }

    /// Regression (review): a state that did not answer (its one connection held, a database
    /// dropping packets) held a scrape past the listener's silence limit, which closed it
    /// with no answer: Prometheus lost every series, `newswatch_state_up 0` included.
    #[test]
    fn a_scrape_answers_when_the_state_does_not() {
        let (recorded, plan, store) = one_feed();
        let held = recorded.unrecorded(store.pool().acquire()).unwrap();
        let (scraped, waited, report) = recorded.run(async {
            tokio::time::pause();
            let started = tokio::time::Instant::now();
            state_gauges(&store, &plan).await;
            let scraped = started.elapsed();
            let report = read_report(&store, &plan).await;
            (scraped, started.elapsed(), report.map(|_| ()))
        });
        assert_eq!(recorded.value("newswatch_state_up"), Some(0.0));
        assert_eq!(report, Err("no answer within 10 s".to_string()));
        // Within Prometheus's default scrape timeout (10 s), and the page's read within
        // the listener's silence limit (30 s).
        assert!(scraped < Duration::from_secs(6), "{scraped:?}");
        assert!(waited < Duration::from_secs(16), "{waited:?}");
        // (Given back inside the runtime: the pool spawns the return.)
        recorded.unrecorded(async move { drop(held) });
    }

    #[test]
    fn the_page_escapes_feed_text() {
        let r = StatusReport {
            version: "0".into(),
            source: "daemon".into(),
            generated_at: 0,
            feeds: vec![crate::ops::status::FeedStatus {
                name: "<script>alert(1)</script>".into(),
                url: "https://x.example/\"onmouseover".into(),
                last_poll_at: None,
                last_result: Some("error".into()),
                last_error: Some("HTTP 500 <b>".into()),
                failures: 2,
                next_poll_at: None,
                items_seen: 0,
                suppressed: 0,
                history: vec![],
            }],
            watches: vec![],
            instances: vec![],
            pending: 0,
            dead: 0,
            oldest_pending_at: None,
            recent_alerts: vec![DeliveryStatus {
                id: 1,
                sink: "s".into(),
                watch: "w".into(),
                feed: "f".into(),
                title: "<img src=x>".into(),
                link: Some("javascript:alert(1)".into()),
                state: "sent".into(),
                attempts: 1,
                created_at: 0,
                next_attempt_at: 0,
                sent_at: Some(0),
                last_error: None,
            }],
            pending_deliveries: vec![],
            dead_letters: vec![],
            stories: vec![crate::ops::status::StoryStatus {
                watch: "w".into(),
                title: "<b>story</b>".into(),
                sources: vec!["f".into(), "<i>g</i>".into()],
                items: 2,
                last_seen: 0,
            }],
        };
        let h = render_page(&r);
        assert!(h.contains("&lt;b&gt;story&lt;/b&gt;"), "{h}");
        assert!(h.contains("f, &lt;i&gt;g&lt;/i&gt;"), "{h}");
        assert!(!h.contains("<script>alert"));
        assert!(!h.contains("<img"));
        assert!(!h.contains("href=\"javascript"));
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("error ×2"));
        assert!(!h.contains("src=\"http"), "no external assets");
    }
}
