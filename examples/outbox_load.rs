//! Load checks of the outbox, against the real daemon binary on loopback.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example outbox_load -- metrics   # /metrics on 1,000,000 sent + 100,000 dead
//! cargo run --release --example outbox_load -- webhook   # alerts/s to a receiver that takes 200 ms
//! cargo run --release --example outbox_load -- webhook --delay 0 --state postgres://…/empty_db
//! ```
//!
//! `metrics` builds a state file whose outbox holds 1,000,000 sent and 100,000 dead deliveries
//! (plus 1,000 pending), starts the daemon on it with its listener, and times 200 requests to
//! `/metrics` and 20 to `/api/status`.
//!
//! `webhook` serves one feed that gains 600 matching items at once and a webhook receiver that
//! answers every request after 200 ms, and reports how many alerts per second arrive (the
//! daemon's default webhook `concurrency` is 8), how many distinct, and how many repeats.
//! `--delay MS` sets the receiver's answer time (0: the store and the daemon set the pace),
//! `--state URL` puts the daemon's state in PostgreSQL (an empty database) instead of a
//! SQLite file in a temp dir.
//!
//! Every server binds 127.0.0.1; every loop is bounded in time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use newswatch::store::sqlite::SqliteStore;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("release/newswatch")
}

fn start_daemon(dir: &Path, config: &str) -> Child {
    let cfg = dir.join("newswatch.toml");
    std::fs::write(&cfg, config).expect("write config");
    let log = std::fs::File::create(dir.join("daemon.log")).expect("log file");
    Command::new(binary())
        .args(["run", "-c"])
        .arg(&cfg)
        .env("RUST_LOG", "newswatch=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the daemon (cargo build --release first)")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn fill_outbox(path: &Path) {
    // Migrations (and the triggers that keep the counts) come from the store itself.
    drop(SqliteStore::open(path).await.expect("state file"));
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .expect("open state file");
    let started = Instant::now();
    // Recent rows (the last ~day), so the daemon's prune keeps them: this is the steady state
    // of a busy outbox, not a backlog waiting to be pruned.
    let base = newswatch::store::now_millis() - 86_400_000;
    let mut tx = conn.begin().await.expect("begin");
    for (state, n, offset) in [
        ("sent", 1_000_000, 0),
        ("dead", 100_000, 1_000_000),
        ("pending", 1_000, 1_100_000),
    ] {
        sqlx::query(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
             INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, state,
                                     attempts, created_at, next_attempt_at, sent_at, group_key)
             SELECT 'nw_' || (i + ?2), 'hook', 'w' || (i % 50), 'f' || (i % 1000), 'k' || (i + ?2),
                    '{}', ?3, 1, ?4 + i / 20, ?4 + i / 20,
                    CASE WHEN ?3 = 'pending' THEN NULL ELSE ?4 + i / 20 END, 'nw_' || (i + ?2)
             FROM k",
        )
        .bind(n)
        .bind(offset)
        .bind(state)
        .bind(base)
        .execute(&mut *tx)
        .await
        .expect("fill");
    }
    tx.commit().await.expect("commit");
    println!(
        "outbox filled: 1,000,000 sent + 100,000 dead + 1,000 pending in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn time_get(client: &reqwest::Client, url: &str, n: usize) -> Vec<Duration> {
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = client.get(url).send().await.expect("request");
        let ok = r.status().is_success();
        let _ = r.bytes().await;
        assert!(ok, "{url} answered an error");
        took.push(t.elapsed());
    }
    took.sort();
    took
}

async fn metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.db");
    fill_outbox(&state).await;
    let port = free_port();
    let child = start_daemon(
        dir.path(),
        &format!(
            "[daemon]\nstate = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[sink]]\nname = \"hook\"\ntype = \"stdout\"\n",
            state.display()
        ),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (path, n) in [("/metrics", 200), ("/api/status", 20)] {
        let took = time_get(&client, &format!("{base}{path}"), n).await;
        println!(
            "{path}: {n} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&took, 0.5).as_secs_f64() * 1e3,
            percentile(&took, 0.99).as_secs_f64() * 1e3,
            took[took.len() - 1].as_secs_f64() * 1e3,
        );
    }
    stop(child);
}

#[derive(Default)]
struct Farm {
    feed: String,
    delay: Duration,
    got: Vec<(String, Instant)>,
}

async fn serve_feed(State(f): State<Arc<Mutex<Farm>>>) -> impl IntoResponse {
    let xml = f.lock().map(|f| f.feed.clone()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/rss+xml")], xml)
}

async fn hook(State(f): State<Arc<Mutex<Farm>>>, h: HeaderMap, _body: Bytes) -> &'static str {
    let delay = f.lock().map(|f| f.delay).unwrap_or_default();
    tokio::time::sleep(delay).await;
    let id = h
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Ok(mut f) = f.lock() {
        f.got.push((id, Instant::now()));
    }
    "ok"
}

fn rss(items: usize) -> String {
    let mut xml = String::from("<rss version=\"2.0\"><channel><title>farm</title>");
    for i in 0..items {
        xml.push_str(&format!(
            "<item><guid>i{i}</guid><title>North Korean troops, report {i}</title></item>"
        ));
    }
    xml + "</channel></rss>"
}

/// `webhook`'s options: the receiver's answer time and the daemon's `[daemon] state`.
struct HookRun {
    delay: Duration,
    state: String,
}

impl HookRun {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<HookRun, String> {
        let mut run = HookRun {
            delay: Duration::from_millis(200),
            state: "state.db".into(),
        };
        while let Some(a) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{a}: a value is missing"))?;
            match a.as_str() {
                "--delay" => {
                    let ms: u64 = value.parse().map_err(|e| format!("--delay {value}: {e}"))?;
                    run.delay = Duration::from_millis(ms);
                }
                "--state" => run.state = value,
                _ => return Err(format!("unknown option {a}")),
            }
        }
        Ok(run)
    }
}

async fn webhook(run: HookRun) {
    const ALERTS: usize = 600;
    let farm = Arc::new(Mutex::new(Farm {
        feed: rss(0),
        delay: run.delay,
        ..Farm::default()
    }));
    let app = Router::new()
        .route("/feed.xml", get(serve_feed))
        .route("/hook", post(hook))
        .with_state(farm.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let child = start_daemon(
        dir.path(),
        &format!(
            "[daemon]\nstate = \"{state}\"\nlisten = \"off\"\npoll_interval = \"1s\"\nmin_poll_interval = \"1s\"\n\n\
             [[feed]]\nname = \"farm\"\nurl = \"http://{addr}/feed.xml\"\n\n\
             [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://{addr}/hook\"\n\n\
             [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\nsinks = [\"hook\"]\n",
            state = run.state
        ),
    );
    // Let the first poll baseline the empty feed, then publish the burst.
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Ok(mut f) = farm.lock() {
        f.feed = rss(ALERTS);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while farm.lock().map(|f| f.got.len()).unwrap_or(0) < ALERTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(child);
    let got = farm.lock().map(|f| f.got.clone()).unwrap_or_default();
    let mut ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort();
    ids.dedup();
    let span = match (got.first(), got.last()) {
        (Some(a), Some(b)) => b.1 - a.1,
        _ => Duration::ZERO,
    };
    println!(
        "webhook, {} ms per request, state {}: {} alerts received ({} distinct, {} repeats) in {:.2} s: {:.1} alerts/s",
        run.delay.as_millis(),
        if run.state.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        got.len(),
        ids.len(),
        got.len() - ids.len(),
        span.as_secs_f64(),
        got.len().saturating_sub(1) as f64 / span.as_secs_f64().max(1e-9)
    );
}

#[tokio::main]
async fn main() {
    if !binary().exists() {
        eprintln!(
            "outbox_load: {} not found; run `cargo build --release` first",
            binary().display()
        );
        std::process::exit(2);
    }
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("metrics") => metrics().await,
        Some("webhook") => match HookRun::parse(args) {
            Ok(run) => webhook(run).await,
            Err(e) => {
                eprintln!("outbox_load webhook: {e}");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: outbox_load metrics | webhook [--delay MS] [--state URL]");
            std::process::exit(2);
        }
    }
}
