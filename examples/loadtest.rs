//! Load benchmark for the `newswatch` daemon.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example loadtest -- --feeds 10000 --interval 60 --duration 200
//! ```
//!
//! One process plays the whole internet on 127.0.0.1: an HTTP server with N synthetic RSS feeds
//! (`/feed/{i}.xml`, ~20 items each, ETag + `304 Not Modified`), a generator that adds new items
//! to random feeds at a fixed rate (a fraction of them containing a watched phrase), and a
//! webhook receiver (`/hook`). The real daemon binary runs as a child process against a generated
//! configuration. The benchmark measures poll rate (200 vs 304), the daemon's CPU time and peak
//! RSS from `/proc`, and the latency from an item's appearance in its feed to its alert at the
//! webhook, then stops the daemon with SIGTERM and checks that it exits 0.
//!
//! Everything binds loopback addresses, and every loop ends by `--duration` (plus a bounded
//! shutdown wait).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "loadtest/fleet.rs"]
mod fleet;
#[path = "loadtest/io.rs"]
mod io;
#[path = "loadtest/steady.rs"]
mod steady;
#[path = "loadtest/teasers.rs"]
mod teasers;

/// The phrases of the watch; matching items contain one of them.
const WATCH_TERMS: [&str; 2] = ["North Korean troops", "Victory Plan"];
/// How long the daemon gets to exit after SIGTERM before it is killed.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(30);
/// Samples of counters, CPU and RSS are taken this often.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone)]
struct Opts {
    feeds: usize,
    interval: u64,
    duration: u64,
    rate: f64,
    match_fraction: f64,
    bin: Option<PathBuf>,
    warmup: u64,
    items_per_feed: usize,
    seed: u64,
    report_every: u64,
    keep_dir: bool,
    /// Feeds carry teasers; the story is on article pages the daemon must fetch.
    teasers: bool,
    /// Run without and then with `--teasers`, and report the CPU the pages added.
    compare: bool,
    page_hosts: usize,
    page_delay_ms: u64,
    page_kb: usize,
    page_rate: Option<String>,
    page_timeout: Option<String>,
    /// `[daemon] state`: a PostgreSQL URL instead of the temp dir's SQLite file.
    state: Option<String>,
    /// Daemons sharing the PostgreSQL database.
    instances: usize,
    /// SIGKILL one instance (in turn) every this many seconds, and start it again; 0: never.
    kill_every: u64,
}

const USAGE: &str = "\
usage: cargo run --release --example loadtest -- [options]

  --feeds N               synthetic feeds (default 10000)
  --interval SECS         poll_interval of the daemon (default 60)
  --duration SECS         how long the daemon runs (default 180)
  --new-items-per-sec R   new items added to random feeds per second (default 5)
  --match-fraction F      fraction of items containing a watched phrase (default 0.5)
  --bin PATH              daemon binary (default $CARGO_TARGET_DIR/release/newswatch,
                          else target/release/newswatch)
  --warmup SECS           minimum warm-up excluded from steady state (default 15)
  --items-per-feed N      items per feed (default 20)
  --seed N                random seed (default 1)
  --report-every SECS     progress line period (default 30)
  --keep-dir              keep the temp dir (config, state.db, daemon.log)

full text (teaser farm):
  --teasers               feed items carry a title and one sentence; the story (and the
                          watched phrase) is on the item's article page, /article/{feed}/{n};
                          every feed gets full_text = \"auto\"
  --compare               run twice with the same options, without and with --teasers, and
                          report the daemon CPU added per page
  --page-hosts H          loopback hosts serving pages, 127.0.1.1 … (default 32); feed i's
                          pages are on host i % H, the feeds stay on 127.0.0.1
  --page-delay-ms MS      how long each page takes to answer (default 100)
  --page-kb N             article page size: ~6 KB of page, padded half with a comment
                          thread and half with scripts (default 40)
  --page-rate R           [daemon] page_rate (default: the daemon's, 1/s per host)
  --page-timeout D        [daemon] page_timeout (default: the daemon's, 10s)
  --state URL             [daemon] state: a postgres:// URL of an empty database (default: a
                          SQLite file in the temp dir); the report adds the CPU of the
                          machine's PostgreSQL server processes
  --instances N           N daemons share the --state database (default 1)
  --kill-every SECS       SIGKILL one instance in turn every SECS and start it again; the
                          report shows how long deliveries paused after each kill";

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        feeds: 10_000,
        interval: 60,
        duration: 180,
        rate: 5.0,
        match_fraction: 0.5,
        bin: None,
        warmup: 15,
        items_per_feed: 20,
        seed: 1,
        report_every: 30,
        keep_dir: false,
        teasers: false,
        compare: false,
        page_hosts: 32,
        page_delay_ms: 100,
        page_kb: 40,
        page_rate: None,
        page_timeout: None,
        state: None,
        instances: 1,
        kill_every: 0,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        if matches!(key, "-h" | "--help") {
            return Err(String::new());
        }
        if key == "--keep-dir" {
            o.keep_dir = true;
            continue;
        }
        if key == "--teasers" {
            o.teasers = true;
            continue;
        }
        if key == "--compare" {
            o.compare = true;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{key} needs a value"))?,
        };
        fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{key}: `{v}` is not a valid number"))
        }
        match key {
            "--feeds" => o.feeds = num(key, &value)?,
            "--interval" => o.interval = num(key, &value)?,
            "--duration" => o.duration = num(key, &value)?,
            "--new-items-per-sec" => o.rate = num(key, &value)?,
            "--match-fraction" => o.match_fraction = num(key, &value)?,
            "--bin" => o.bin = Some(PathBuf::from(value)),
            "--warmup" => o.warmup = num(key, &value)?,
            "--items-per-feed" => o.items_per_feed = num(key, &value)?,
            "--seed" => o.seed = num(key, &value)?,
            "--report-every" => o.report_every = num(key, &value)?,
            "--page-hosts" => o.page_hosts = num(key, &value)?,
            "--page-delay-ms" => o.page_delay_ms = num(key, &value)?,
            "--page-kb" => o.page_kb = num(key, &value)?,
            "--page-rate" => o.page_rate = Some(value),
            "--page-timeout" => o.page_timeout = Some(value),
            "--state" => o.state = Some(value),
            "--instances" => o.instances = num(key, &value)?,
            "--kill-every" => o.kill_every = num(key, &value)?,
            _ => return Err(format!("unknown option `{key}`")),
        }
    }
    if o.feeds == 0 {
        return Err("--feeds must be at least 1".into());
    }
    if o.instances == 0 || (o.instances > 1 && o.state.is_none()) {
        return Err("--instances: at least 1, and more than 1 needs --state postgres://…".into());
    }
    if o.interval == 0 {
        return Err("--interval must be at least 1 (min_poll_interval is 1s)".into());
    }
    if o.duration < 5 {
        return Err("--duration must be at least 5".into());
    }
    if !(0.0..=10_000.0).contains(&o.rate) {
        return Err("--new-items-per-sec must be between 0 and 10000".into());
    }
    if !(0.0..=1.0).contains(&o.match_fraction) {
        return Err("--match-fraction must be between 0 and 1".into());
    }
    if o.items_per_feed == 0 {
        return Err("--items-per-feed must be at least 1".into());
    }
    if !(1..=64_000).contains(&o.page_hosts) {
        return Err("--page-hosts must be between 1 and 64000".into());
    }
    for v in [&o.page_rate, &o.page_timeout].into_iter().flatten() {
        if v.contains(['"', '\\', '\n']) {
            return Err(format!(
                "`{v}`: quotes, backslashes and newlines are not allowed"
            ));
        }
    }
    o.report_every = o.report_every.max(1);
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Synthetic news

/// One item of a feed; its text is derived from (feed, n), so only these few fields are stored.
struct Item {
    n: u64,
    matching: bool,
    served: bool,
    /// Seconds since the epoch, for `<pubDate>`.
    published: i64,
}

#[derive(Default)]
struct Feed {
    /// Newest first.
    items: VecDeque<Item>,
    next_n: u64,
    version: u64,
    /// When the first full (200) response was rendered: the daemon's baseline.
    first_served: Option<Instant>,
    /// `next_n` at the first full response: items below it are the baseline.
    baseline_n: Option<u64>,
    last_request: Option<Instant>,
}

/// What is known about one matching item added during the run.
struct Record {
    appeared: Instant,
    /// Added after its feed's first full response, so the daemon must alert it.
    expected: bool,
    /// First full response containing it.
    served: Option<Instant>,
    /// First request for its article page (teaser farm).
    page_served: Option<Instant>,
    received: Option<Instant>,
    /// The `webhook-id` (idempotency key) it first arrived with.
    key: Option<String>,
    /// Pushed out of the feed before any response contained it.
    evicted_unserved: bool,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    ok_first: AtomicU64,
    ok_changed: AtomicU64,
    ok_stale_etag: AtomicU64,
    not_modified: AtomicU64,
    not_found: AtomicU64,
    bytes: AtomicU64,
    items_added: AtomicU64,
    matching_added: AtomicU64,
    expected_added: AtomicU64,
    /// Items (matching or not) added after their feed's baseline.
    new_added: AtomicU64,
    /// Of those, the ones a feed response has carried to the daemon.
    new_served: AtomicU64,
    feeds_first_served: AtomicU64,
    hook_requests: AtomicU64,
    hook_alerts: AtomicU64,
    hook_duplicates: AtomicU64,
    /// Repeats of an alert under another idempotency key than its first arrival's.
    hook_new_key: AtomicU64,
    hook_unexpected: AtomicU64,
    hook_unparsable: AtomicU64,
}

struct Shared {
    feeds: Vec<Mutex<Feed>>,
    records: Mutex<HashMap<String, Record>>,
    /// Milliseconds between consecutive requests for the same feed.
    gaps_ms: Mutex<Vec<u32>>,
    all_first_served_at: Mutex<Option<Instant>>,
    /// Item keys of alerts that should not have been sent (first few, for evidence).
    unexpected_keys: Mutex<Vec<String>>,
    c: Counters,
    items_per_feed: usize,
    /// The teaser farm's pages (`--teasers`).
    farm: Option<teasers::Farm>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const SUBJECTS: &[&str] = &[
    "Parliament",
    "The central bank",
    "Regional officials",
    "The foreign ministry",
    "Farmers",
    "A coalition of NGOs",
    "The defence minister",
    "Energy regulators",
    "Seoul",
    "Kyiv",
    "NATO allies",
    "The European Commission",
];
const VERBS: &[&str] = &[
    "announces",
    "rejects",
    "debates",
    "delays",
    "welcomes",
    "questions",
    "reviews",
    "expands",
];
const OBJECTS: &[&str] = &[
    "new budget rules",
    "a grain export deal",
    "winter energy subsidies",
    "the ceasefire proposal",
    "troop rotation plans",
    "sanctions on North Korean shipping",
    "a drone production contract",
    "election observers' report",
    "air defence funding",
    "port reconstruction",
];
const SENTENCES: &[&str] = &[
    "Officials said the decision followed weeks of negotiations behind closed doors.",
    "Analysts expect the measure to face legal challenges before the end of the year.",
    "The statement gave no timetable, and a spokesperson declined to comment further.",
    "Opposition lawmakers called the move &quot;premature&quot; and demanded a vote.",
    "Troops in the region remain on alert, according to the general staff.",
    "North Korean state media did not mention the talks in its evening bulletin.",
    "Markets reacted calmly; the currency closed almost unchanged against the dollar.",
    "The report, seen by reporters, runs to more than 200 pages with annexes.",
    "Local residents told reporters they had heard explosions overnight.",
    "The ministry said further details would be published next week.",
];
const MATCHING_TITLES: &[&str] = &[
    "Intelligence: North Korean troops moved closer to the front line",
    "Zelensky presents Victory Plan to allies in Brussels",
    "Seoul says North Korean troops are training in Russia's far east",
    "Reports of North Korean troops in Kursk raise alarm in Washington",
];
/// `<pubDate>` text of an epoch second.
fn rfc2822(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || "Mon, 01 Jan 2024 00:00:00 +0000".into(),
        |d| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
    )
}

const MATCHING_SENTENCES: &[&str] = &[
    "Ukrainian intelligence said thousands of North Korean troops had arrived by train.",
    "The president's Victory Plan asks partners for long-range weapons and an invitation.",
    "Satellite images appear to show North Korean troops at a training ground.",
];

fn item_xml(out: &mut String, feed: usize, it: &Item) {
    let h = splitmix(((feed as u64) << 32) ^ it.n);
    let pick =
        |list: &[&'static str], shift: u32| list[((h >> shift) % list.len() as u64) as usize];
    let in_title = it.matching && h & 1 == 0;
    out.push_str("<item><title>");
    if in_title {
        out.push_str(pick(MATCHING_TITLES, 3));
    } else {
        let _ = write!(
            out,
            "{} {} {}",
            pick(SUBJECTS, 8),
            pick(VERBS, 16),
            pick(OBJECTS, 24)
        );
    }
    let _ = write!(
        out,
        "</title><link>https://news.example/f{feed}/i{n}</link>\
         <guid isPermaLink=\"false\">f{feed}-i{n}</guid><pubDate>",
        n = it.n
    );
    out.push_str(&rfc2822(it.published));
    out.push_str("</pubDate><description>&lt;p&gt;");
    for k in 0..3u32 {
        out.push_str(pick(SENTENCES, 32 + 8 * k));
        out.push(' ');
    }
    if it.matching && !in_title {
        out.push_str(pick(MATCHING_SENTENCES, 56));
    } else {
        out.push_str(pick(SENTENCES, 58));
    }
    out.push_str("&lt;/p&gt;</description></item>");
}

fn render_feed(feed: usize, f: &Feed, farm: Option<&teasers::Farm>) -> String {
    let mut out = String::with_capacity(600 + f.items.len() * 700);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Synthetic news {feed}</title><link>https://news.example/f{feed}/</link>\
         <description>Load test feed</description>"
    );
    for it in &f.items {
        match farm {
            Some(farm) => teasers::teaser_item_xml(
                &mut out,
                feed,
                it,
                farm.host_of(feed),
                &rfc2822(it.published),
            ),
            None => item_xml(&mut out, feed, it),
        }
    }
    out.push_str("</channel></rss>\n");
    out
}

fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn item_key(feed: usize, n: u64) -> String {
    format!("f{feed}-i{n}")
}

impl Shared {
    fn new(
        feeds: usize,
        items_per_feed: usize,
        match_fraction: f64,
        rng: &mut StdRng,
        farm: Option<teasers::Farm>,
    ) -> Shared {
        let now = now_epoch();
        let feeds = (0..feeds)
            .map(|_| {
                let mut f = Feed::default();
                for n in 0..items_per_feed as u64 {
                    f.items.push_front(Item {
                        n,
                        matching: rng.random_bool(match_fraction),
                        served: false,
                        published: now - 3600 + n as i64 * 60,
                    });
                }
                f.next_n = items_per_feed as u64;
                Mutex::new(f)
            })
            .collect();
        Shared {
            feeds,
            records: Mutex::new(HashMap::new()),
            gaps_ms: Mutex::new(Vec::new()),
            all_first_served_at: Mutex::new(None),
            unexpected_keys: Mutex::new(Vec::new()),
            c: Counters::default(),
            items_per_feed,
            farm,
        }
    }

    /// Add one new item to `feed`; a matching one is recorded with the instant it appeared.
    fn add_item(&self, feed: usize, matching: bool) {
        let mut f = self.feeds[feed].lock().unwrap();
        let n = f.next_n;
        f.next_n += 1;
        f.version += 1;
        let appeared = Instant::now();
        f.items.push_front(Item {
            n,
            matching,
            served: false,
            published: now_epoch(),
        });
        let evicted = if f.items.len() > self.items_per_feed {
            f.items.pop_back()
        } else {
            None
        };
        let expected = f.first_served.is_some();
        self.c.items_added.fetch_add(1, Relaxed);
        if expected {
            self.c.new_added.fetch_add(1, Relaxed);
        }
        if matching || evicted.as_ref().is_some_and(|e| e.matching && !e.served) {
            // Lock order: feed, then records (the same as in the feed handler).
            let mut recs = self.records.lock().unwrap();
            if matching {
                self.c.matching_added.fetch_add(1, Relaxed);
                if expected {
                    self.c.expected_added.fetch_add(1, Relaxed);
                }
                recs.insert(
                    item_key(feed, n),
                    Record {
                        appeared,
                        expected,
                        served: None,
                        page_served: None,
                        received: None,
                        key: None,
                        evicted_unserved: false,
                    },
                );
            }
            if let Some(e) = evicted.filter(|e| e.matching && !e.served)
                && let Some(r) = recs.get_mut(&item_key(feed, e.n))
            {
                r.evicted_unserved = true;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP: feeds and webhook

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*")
}

async fn serve_feed(
    State(s): State<Arc<Shared>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    s.c.requests.fetch_add(1, Relaxed);
    let Some(idx) = file
        .strip_suffix(".xml")
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| *i < s.feeds.len())
    else {
        s.c.not_found.fetch_add(1, Relaxed);
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = Instant::now();
    let sent_validator = headers.contains_key(header::IF_NONE_MATCH);
    let mut f = s.feeds[idx].lock().unwrap();
    if let Some(prev) = f.last_request.replace(now) {
        let gap = now.duration_since(prev).as_millis().min(u32::MAX as u128) as u32;
        s.gaps_ms.lock().unwrap().push(gap);
    }
    let etag = format!("\"f{idx}-v{}\"", f.version);
    if etag_matches(&headers, &etag) {
        drop(f);
        s.c.not_modified.fetch_add(1, Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let body = render_feed(idx, &f, s.farm.as_ref());
    let first = f.first_served.is_none();
    if first {
        f.first_served = Some(now);
        f.baseline_n = Some(f.next_n);
        s.c.ok_first.fetch_add(1, Relaxed);
        if s.c.feeds_first_served.fetch_add(1, Relaxed) + 1 == s.feeds.len() as u64 {
            *s.all_first_served_at.lock().unwrap() = Some(now);
        }
    } else if sent_validator {
        s.c.ok_changed.fetch_add(1, Relaxed);
    } else {
        // A repeat fetch without If-None-Match: the daemon forgot (or never sent) the ETag.
        s.c.ok_stale_etag.fetch_add(1, Relaxed);
    }
    let mut new_seen = 0;
    let newly: Vec<u64> = f
        .items
        .iter_mut()
        .filter(|it| !it.served)
        .map(|it| {
            it.served = true;
            new_seen += 1;
            if it.matching { it.n } else { u64::MAX }
        })
        .filter(|n| *n != u64::MAX)
        .collect();
    if !first {
        s.c.new_served.fetch_add(new_seen, Relaxed);
    }
    if !newly.is_empty() {
        let mut recs = s.records.lock().unwrap();
        for n in newly {
            if let Some(r) = recs.get_mut(&item_key(idx, n)) {
                r.served.get_or_insert(now);
            }
        }
    }
    drop(f);
    s.c.bytes.fetch_add(body.len() as u64, Relaxed);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")
        .header(header::ETAG, etag)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn receive_hook(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    s.c.hook_requests.fetch_add(1, Relaxed);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(key) = json
        .get("data")
        .and_then(|d| d.get("item_key"))
        .and_then(|k| k.as_str())
    else {
        s.c.hook_unparsable.fetch_add(1, Relaxed);
        return StatusCode::OK;
    };
    s.c.hook_alerts.fetch_add(1, Relaxed);
    let mut recs = s.records.lock().unwrap();
    match recs.get_mut(key) {
        Some(r) if r.received.is_some() => {
            s.c.hook_duplicates.fetch_add(1, Relaxed);
            if r.key != id {
                s.c.hook_new_key.fetch_add(1, Relaxed);
            }
        }
        Some(r) => {
            r.received = Some(now);
            r.key = id;
            if !r.expected {
                s.c.hook_unexpected.fetch_add(1, Relaxed);
                note_unexpected(&s, key);
            }
        }
        None => {
            // An initial (baselined) item, or a key we never made.
            s.c.hook_unexpected.fetch_add(1, Relaxed);
            note_unexpected(&s, key);
        }
    }
    StatusCode::OK
}

fn note_unexpected(s: &Shared, key: &str) {
    let mut keys = s.unexpected_keys.lock().unwrap();
    if keys.len() < 10 {
        keys.push(key.to_string());
    }
}

async fn bind_loopback() -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind("127.0.0.1:0").await
}

// ---------------------------------------------------------------------------------------------
// The new-item generator

async fn generate(s: Arc<Shared>, o: Opts, start: Instant, end: Instant) {
    if o.rate <= 0.0 {
        return;
    }
    let mut rng = StdRng::seed_from_u64(o.seed ^ 0x5EED);
    let period = Duration::from_secs_f64(1.0 / o.rate);
    let mut k: u32 = 0;
    loop {
        k = k.saturating_add(1);
        let at = start + period * k;
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let feed = rng.random_range(0..s.feeds.len());
        let matching = rng.random_bool(o.match_fraction);
        s.add_item(feed, matching);
    }
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime of a process (all threads), in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: field 3 (state) is f[0], so utime (14) is f[11], stime (15) f[12].
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// utime + stime + cutime + cstime: with the CPU of its ended children (a server's backends
/// whose connections closed, e.g. those of a killed instance).
fn cpu_ticks_with_children(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11..15)?
        .iter()
        .map(|v| v.parse::<u64>().ok())
        .sum::<Option<u64>>()
}

/// CPU of every process named `postgres` (the server and its backends, the ended ones
/// counted in the server's children's time, so the sum never drops).
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "postgres")
        })
        .filter_map(|pid| cpu_ticks_with_children(&pid))
        .sum()
}

/// A `kB` field of `/proc/PID/status` (VmHWM, VmRSS).
fn status_kb(pid: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

// ---------------------------------------------------------------------------------------------
// Samples and windows

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Seconds since the daemon was started.
    t: f64,
    daemon_ticks: u64,
    self_ticks: u64,
    /// Every PostgreSQL server process of the machine (`--state postgres://…`).
    pg_ticks: u64,
    requests: u64,
    ok: u64,
    not_modified: u64,
    items: u64,
    alerts: u64,
    /// Article page requests (teaser farm).
    pages: u64,
    rss_kb: u64,
    /// The daemon's disk writes so far (`/proc/PID/io`).
    write_bytes: u64,
}

fn sample(s: &Shared, start: Instant, daemons: &fleet::Fleet, postgres: bool) -> Sample {
    let c = &s.c;
    Sample {
        t: start.elapsed().as_secs_f64(),
        daemon_ticks: daemons.cpu_ticks(),
        self_ticks: cpu_ticks("self").unwrap_or(0),
        pg_ticks: if postgres { postgres_ticks() } else { 0 },
        requests: c.requests.load(Relaxed),
        ok: c.ok_first.load(Relaxed) + c.ok_changed.load(Relaxed) + c.ok_stale_etag.load(Relaxed),
        not_modified: c.not_modified.load(Relaxed),
        items: c.items_added.load(Relaxed),
        alerts: c.hook_alerts.load(Relaxed),
        pages: s.farm.as_ref().map_or(0, |f| f.requests.load(Relaxed)),
        rss_kb: daemons.max_kb("VmRSS"),
        write_bytes: daemons.write_bytes(),
    }
}

/// Rates and CPU over [a, b] (the samples nearest inside those bounds).
#[derive(Debug, Clone, Copy)]
struct Window {
    from: f64,
    to: f64,
    secs: f64,
    polls: u64,
    ok: u64,
    not_modified: u64,
    items: u64,
    alerts: u64,
    pages: u64,
    cpu_s: f64,
    self_cpu_s: f64,
    pg_cpu_s: f64,
    write_bytes: u64,
}

impl Window {
    fn between(samples: &[Sample], from: f64, to: f64, tck: f64) -> Option<Window> {
        let a = samples.iter().find(|s| s.t >= from - 0.05)?;
        let b = samples.iter().rev().find(|s| s.t <= to + 0.05)?;
        if b.t - a.t < 0.5 {
            return None;
        }
        Some(Window {
            from: a.t,
            to: b.t,
            secs: b.t - a.t,
            polls: b.requests - a.requests,
            ok: b.ok - a.ok,
            not_modified: b.not_modified - a.not_modified,
            items: b.items - a.items,
            alerts: b.alerts - a.alerts,
            pages: b.pages - a.pages,
            cpu_s: (b.daemon_ticks - a.daemon_ticks) as f64 / tck,
            self_cpu_s: (b.self_ticks - a.self_ticks) as f64 / tck,
            // Server processes come and go (a connection's backend ends): never below zero.
            pg_cpu_s: b.pg_ticks.saturating_sub(a.pg_ticks) as f64 / tck,
            write_bytes: b.write_bytes.saturating_sub(a.write_bytes),
        })
    }
    fn rate(&self, n: u64) -> f64 {
        n as f64 / self.secs
    }
    fn core_pct(&self) -> f64 {
        100.0 * self.cpu_s / self.secs
    }
    fn self_pct(&self) -> f64 {
        100.0 * self.self_cpu_s / self.secs
    }
    fn per_1000(&self, n: u64) -> Option<f64> {
        (n > 0).then(|| self.cpu_s * 1000.0 / n as f64)
    }
}

/// The busiest and quietest `width`-second windows within [from, to], by polls; and the
/// window with the most daemon CPU.
struct Extremes {
    busiest: Window,
    quietest: Window,
    most_cpu: Window,
}

fn extremes(samples: &[Sample], from: f64, to: f64, width: f64, tck: f64) -> Option<Extremes> {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= from - 0.05 && s.t <= to + 0.05)
        .collect();
    let mut windows = Vec::new();
    for (i, a) in inside.iter().enumerate() {
        if let Some(b) = inside[i..].iter().find(|b| b.t >= a.t + width - 0.05)
            && let Some(w) = Window::between(samples, a.t, b.t, tck)
        {
            windows.push(w);
        }
    }
    let by = |f: fn(&Window) -> f64| move |a: &&Window, b: &&Window| f(a).total_cmp(&f(b));
    let busiest = *windows.iter().max_by(by(|w| w.rate(w.polls)))?;
    let quietest = *windows.iter().min_by(by(|w| w.rate(w.polls)))?;
    let most_cpu = *windows.iter().max_by(by(Window::core_pct))?;
    Some(Extremes {
        busiest,
        quietest,
        most_cpu,
    })
}

// ---------------------------------------------------------------------------------------------
// Latency

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Dist {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

impl Dist {
    fn of(mut v: Vec<f64>) -> Dist {
        v.sort_by(f64::total_cmp);
        Dist {
            n: v.len(),
            p50: percentile(&v, 50.0),
            p99: percentile(&v, 99.0),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
    /// Seconds, shown in s (or in ms when everything is under a second).
    fn show(&self) -> String {
        if self.n == 0 {
            return "no samples".into();
        }
        if self.max < 1.0 {
            return format!(
                "p50 {:.1} ms · p99 {:.1} ms · max {:.1} ms (n = {})",
                self.p50 * 1e3,
                self.p99 * 1e3,
                self.max * 1e3,
                self.n
            );
        }
        format!(
            "p50 {:.2} s · p99 {:.2} s · max {:.2} s (n = {})",
            self.p50, self.p99, self.max, self.n
        )
    }
}

struct Latency {
    total: Dist,
    wait: Dist,
    processing: Dist,
    /// Teaser farm: feed response → first page request, and page request → webhook.
    to_page: Dist,
    page_to_hook: Dist,
    expected: usize,
    received: usize,
    in_flight: usize,
    missed: usize,
    missed_served: usize,
    evicted: usize,
    not_expected: usize,
    oldest_missed: Vec<(String, f64, Option<f64>)>,
}

fn latency(s: &Shared, at: Instant, in_flight_window: Duration, start: Instant) -> Latency {
    let recs = s.records.lock().unwrap();
    let (mut total, mut wait, mut processing) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to_page, mut page_to_hook) = (Vec::new(), Vec::new());
    let mut l = Latency {
        total: Dist::of(Vec::new()),
        wait: Dist::of(Vec::new()),
        processing: Dist::of(Vec::new()),
        to_page: Dist::of(Vec::new()),
        page_to_hook: Dist::of(Vec::new()),
        expected: 0,
        received: 0,
        in_flight: 0,
        missed: 0,
        missed_served: 0,
        evicted: 0,
        not_expected: 0,
        oldest_missed: Vec::new(),
    };
    let mut missed = Vec::new();
    for (key, r) in recs.iter() {
        if !r.expected {
            l.not_expected += 1;
            continue;
        }
        if r.appeared > at {
            continue;
        }
        l.expected += 1;
        match r.received.filter(|t| *t <= at) {
            Some(rcv) => {
                l.received += 1;
                total.push(rcv.duration_since(r.appeared).as_secs_f64());
                if let Some(sv) = r.served {
                    wait.push(sv.duration_since(r.appeared).as_secs_f64());
                    processing.push(rcv.saturating_duration_since(sv).as_secs_f64());
                    if let Some(pg) = r.page_served {
                        to_page.push(pg.saturating_duration_since(sv).as_secs_f64());
                        page_to_hook.push(rcv.saturating_duration_since(pg).as_secs_f64());
                    }
                }
            }
            None if r.evicted_unserved => l.evicted += 1,
            None if at.duration_since(r.appeared) <= in_flight_window => l.in_flight += 1,
            None => {
                l.missed += 1;
                if r.served.is_some() {
                    l.missed_served += 1;
                }
                missed.push((
                    key.clone(),
                    r.appeared.duration_since(start).as_secs_f64(),
                    r.served.map(|sv| sv.duration_since(start).as_secs_f64()),
                ));
            }
        }
    }
    missed.sort_by(|a, b| a.1.total_cmp(&b.1));
    missed.truncate(5);
    l.oldest_missed = missed;
    l.total = Dist::of(total);
    l.wait = Dist::of(wait);
    l.processing = Dist::of(processing);
    l.to_page = Dist::of(to_page);
    l.page_to_hook = Dist::of(page_to_hook);
    l
}

// ---------------------------------------------------------------------------------------------
// The daemon

fn locate_binary(o: &Opts) -> PathBuf {
    if let Some(b) = &o.bin {
        return b.clone();
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("release").join("newswatch");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/newswatch")
}

/// The newest modification time under `dir` (recursively).
fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    let mut budget = 10_000; // bounded walk
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            budget -= 1;
            if budget == 0 {
                return newest;
            }
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else if let Ok(m) = md.modified() {
                newest = newest.max(Some(m));
            }
        }
    }
    newest
}

fn git_describe() -> String {
    Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn write_config(
    dir: &Path,
    o: &Opts,
    feed_addr: &str,
    hook_addr: &str,
    listen_addr: &str,
) -> std::io::Result<PathBuf> {
    let mut c = String::with_capacity(120 * o.feeds + 1024);
    let _ = write!(
        c,
        "# Generated by examples/loadtest.rs\n\
         [daemon]\n\
         state = \"{}\"\n\
         listen = \"{listen_addr}\"\n\
         poll_interval = \"{}s\"\n\
         min_poll_interval = \"1s\"\n\
         max_concurrent_fetches = 64\n\
         # Every feed is on one loopback host; the default (2) would cap the whole run.\n\
         per_host_concurrency = 64\n",
        o.state.as_deref().unwrap_or("state.db"),
        o.interval
    );
    if o.teasers {
        for (key, v) in [
            ("page_rate", &o.page_rate),
            ("page_timeout", &o.page_timeout),
        ] {
            if let Some(v) = v {
                let _ = writeln!(c, "{key} = \"{v}\"");
            }
        }
    }
    c.push('\n');
    let full_text = if o.teasers {
        "full_text = \"auto\"\n"
    } else {
        ""
    };
    for i in 0..o.feeds {
        let _ = write!(
            c,
            "[[feed]]\nurl = \"http://{feed_addr}/feed/{i}.xml\"\nname = \"f{i}\"\n{full_text}\n"
        );
    }
    let _ = write!(
        c,
        "[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://{hook_addr}/hook\"\n\n\
         [[watch]]\nname = \"dprk\"\nterms = [\"{}\", \"{}\"]\n",
        WATCH_TERMS[0], WATCH_TERMS[1]
    );
    let path = dir.join("newswatch.toml");
    std::fs::write(&path, c)?;
    Ok(path)
}

/// SIGTERM, then wait (bounded) for the exit; kill -9 if it does not come.
fn stop_daemon(child: &mut Child) -> (Option<ExitStatus>, Duration, String) {
    let pid = child.id().to_string();
    let sent = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &pid]).status();
    if !kill.as_ref().is_ok_and(|s| s.success()) {
        return (
            None,
            Duration::ZERO,
            format!("kill -TERM {pid} failed: {kill:?}"),
        );
    }
    while sent.elapsed() < SHUTDOWN_LIMIT {
        if let Ok(Some(st)) = child.try_wait() {
            return (Some(st), sent.elapsed(), String::new());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    (
        None,
        sent.elapsed(),
        format!(
            "did not exit within {} s of SIGTERM; killed with SIGKILL",
            SHUTDOWN_LIMIT.as_secs()
        ),
    )
}

/// Summarise the daemon's stderr: line counts per level and the first distinct messages.
fn summarize_log(path: &Path) -> (usize, usize, usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (mut warn, mut error) = (0, 0);
    let mut distinct: Vec<(String, usize)> = Vec::new();
    let strip_ansi = |l: &str| {
        let mut out = String::new();
        let mut esc = false;
        for ch in l.chars() {
            match (esc, ch) {
                (false, '\u{1b}') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    for l in text.lines() {
        let l = strip_ansi(l);
        if l.contains(" WARN ") {
            warn += 1;
        } else if l.contains(" ERROR ") {
            error += 1;
        }
        // Group by the message without timestamp and feed names: level onwards, digits elided.
        let msg: String = l
            .split_once(' ')
            .map_or(l.as_str(), |(_, rest)| rest)
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        if let Some((_, n)) = distinct.iter_mut().find(|(m, _)| *m == msg) {
            *n += 1;
        } else if distinct.len() < 200 {
            distinct.push((msg, 1));
        }
    }
    let lines = text.lines().count();
    distinct.sort_by_key(|d| std::cmp::Reverse(d.1));
    let shown = distinct
        .into_iter()
        .take(8)
        .map(|(m, n)| {
            let m: String = m.chars().take(220).collect();
            format!("{n:>6} × {m}")
        })
        .collect();
    (lines, warn, error, shown)
}

// ---------------------------------------------------------------------------------------------
// Reporting helpers

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "**MISSED**",
        None => "n/a",
    }
}

fn opt_fmt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.prec$}"))
}

fn progress_line(w: &Window, last: &Sample, s: &Shared) -> String {
    let recs = s.records.lock().unwrap();
    let expected = recs.values().filter(|r| r.expected).count();
    let received = recs
        .values()
        .filter(|r| r.expected && r.received.is_some())
        .count();
    drop(recs);
    format!(
        "t={:>4.0}s  polls/s {:>7.1} (200 {:>6.1} · 304 {:>7.1})  items/s {:>5.2}  alerts/s {:>5.2}  \
         pages/s {:>5.2}  daemon CPU {:>5.1}% of a core  RSS {:>5.1} MB  loadgen CPU {:>5.1}%  alerts {received}/{expected} expected  first fetches {}/{}",
        last.t,
        w.rate(w.polls),
        w.rate(w.ok),
        w.rate(w.not_modified),
        w.rate(w.items),
        w.rate(w.alerts),
        w.rate(w.pages),
        w.core_pct(),
        mb(last.rss_kb),
        w.self_pct(),
        s.c.feeds_first_served.load(Relaxed),
        s.feeds.len(),
    )
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("loadtest: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loadtest")
        .build()
        .expect("tokio runtime");
    let command = format!(
        "cargo run --release --example loadtest -- {}",
        args.join(" ")
    )
    .trim_end()
    .to_string();
    let code = rt.block_on(async {
        if !o.compare {
            return run(o, &command).await.code;
        }
        // The same seeds and options twice: only where the story is differs.
        println!("=== run 1 of 2: without --teasers (the story in the feed text)\n");
        let plain = run(
            Opts {
                teasers: false,
                ..o.clone()
            },
            &command,
        )
        .await;
        println!("\n=== run 2 of 2: --teasers (the story on the article pages)\n");
        let teaser = run(Opts { teasers: true, ..o }, &command).await;
        print!("{}", teasers::compare_report(&plain, &teaser));
        plain.code.max(teaser.code)
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code);
}

/// What `--compare` needs of one run.
struct Outcome {
    code: i32,
    /// Steady state (after every feed's first fetch and the warm-up).
    steady: Option<Window>,
}

impl Outcome {
    fn failed(code: i32) -> Outcome {
        Outcome { code, steady: None }
    }
}

async fn run(o: Opts, command: &str) -> Outcome {
    let bin = locate_binary(&o);
    if !bin.is_file() {
        eprintln!(
            "loadtest: daemon binary {} not found; run `cargo build --release` first or pass --bin PATH",
            bin.display()
        );
        return Outcome::failed(2);
    }
    let bin_mtime = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let src_mtime = newest_mtime(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let stale = matches!((bin_mtime, src_mtime), (Some(b), Some(s)) if s > b);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let tck = clock_ticks_per_sec();

    println!("newswatch load benchmark");
    println!("  command : {command}");
    println!(
        "  daemon  : {} (source tree {}){}",
        bin.display(),
        git_describe(),
        if stale {
            " — WARNING: src/ has files newer than this binary; rebuild with `cargo build --release`"
        } else {
            ""
        }
    );
    println!(
        "  machine : {cores} cores, {}; the load generator (feed server, webhook receiver) runs on the same cores",
        cpu_model()
    );
    println!(
        "  setup   : {} feeds × {} items, poll_interval {} s, {} new items/s ({:.0}% matching), {} s run",
        o.feeds,
        o.items_per_feed,
        o.interval,
        o.rate,
        o.match_fraction * 100.0,
        o.duration
    );
    println!(
        "            per_host_concurrency raised to 64 (all feeds share one loopback host; default is 2), \
         max_concurrent_fetches 64"
    );

    if o.teasers {
        println!("{}", teasers::setup_lines(&o));
    }

    let (feed_listener, hook_listener, metrics_listener) = match (
        bind_loopback().await,
        bind_loopback().await,
        bind_loopback().await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("loadtest: cannot bind 127.0.0.1: {e}");
            return Outcome::failed(2);
        }
    };
    let page_listeners = if o.teasers {
        match teasers::bind_hosts(o.page_hosts).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("loadtest: {e}");
                return Outcome::failed(2);
            }
        }
    } else {
        Vec::new()
    };
    let (Ok(feed_addr), Ok(hook_addr), Ok(metrics_addr)) = (
        feed_listener.local_addr(),
        hook_listener.local_addr(),
        metrics_listener.local_addr(),
    ) else {
        eprintln!("loadtest: no local address");
        return Outcome::failed(2);
    };
    // The daemon's listener takes this port (free again a moment from now): its /metrics
    // says how it saw the pages.
    drop(metrics_listener);
    let farm = o.teasers.then(|| {
        let hosts = page_listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        teasers::Farm::new(
            hosts,
            Duration::from_millis(o.page_delay_ms),
            o.page_kb.saturating_mul(1024),
        )
    });

    let mut rng = StdRng::seed_from_u64(o.seed);
    let shared = Arc::new(Shared::new(
        o.feeds,
        o.items_per_feed,
        o.match_fraction,
        &mut rng,
        farm,
    ));
    let feeds_app = Router::new()
        .route("/feed/{file}", get(serve_feed))
        .route("/article/{feed}/{n}", get(teasers::serve_article))
        .with_state(shared.clone());
    let hook_app = Router::new()
        .route("/hook", post(receive_hook))
        .with_state(shared.clone());
    // Stopped when this run ends (`--compare` runs twice in one process).
    let mut servers = Vec::new();
    for l in page_listeners.into_iter().chain([feed_listener]) {
        let app = feeds_app.clone();
        servers.push(tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }));
    }
    servers.push(tokio::spawn(async move {
        let _ = axum::serve(hook_listener, hook_app).await;
    }));
    let mut servers = teasers::AbortOnDrop(servers);

    let dir = match tempfile::Builder::new()
        .prefix("newswatch-loadtest")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("loadtest: cannot create a temp dir: {e}");
            return Outcome::failed(2);
        }
    };
    let config = match write_config(
        dir.path(),
        &o,
        &feed_addr.to_string(),
        &hook_addr.to_string(),
        &metrics_addr.to_string(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadtest: cannot write the config: {e}");
            return Outcome::failed(2);
        }
    };
    let log_path = dir.path().join("daemon.log");
    println!(
        "  servers : feeds http://{feed_addr}/feed/{{i}}.xml, webhook http://{hook_addr}/hook; temp dir {}",
        dir.path().display()
    );

    let mut daemons = match fleet::Fleet::start(&bin, &config, dir.path(), o.instances) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("loadtest: cannot start {}: {e}", bin.display());
            return Outcome::failed(2);
        }
    };
    let start = Instant::now();
    let end = start + Duration::from_secs(o.duration);
    println!(
        "  daemon pid {}; running for {} s{}\n",
        daemons.pids().join(", "),
        o.duration,
        if o.kill_every > 0 {
            format!(
                "; one instance killed (SIGKILL) and restarted every {} s",
                o.kill_every
            )
        } else {
            String::new()
        }
    );

    servers.0.push(tokio::spawn(generate(
        shared.clone(),
        o.clone(),
        start,
        end,
    )));

    // Sample every second until the end; print progress every `report_every` seconds.
    let mut samples = vec![sample(&shared, start, &daemons, o.state.is_some())];
    let mut next_kill = o.kill_every as f64;
    let mut next_report = o.report_every as f64;
    let mut last_report = samples[0];
    let mut early_exit: Option<ExitStatus> = None;
    let mut tick = 1u32;
    loop {
        let at = (start + SAMPLE_EVERY * tick).min(end);
        tick += 1;
        tokio::time::sleep_until(at.into()).await;
        let sm = sample(&shared, start, &daemons, o.state.is_some());
        if let Some((i, st)) = daemons.exited() {
            if daemons.len() > 1 {
                eprintln!("loadtest: instance {i} exited");
            }
            early_exit = Some(st);
            break;
        }
        if o.kill_every > 0 && sm.t >= next_kill && at < end {
            let victim = daemons.kills.len() % daemons.len();
            if let Err(e) = daemons.kill_and_restart(victim) {
                eprintln!("loadtest: cannot kill and restart instance {victim}: {e}");
                return Outcome::failed(2);
            }
            next_kill += o.kill_every as f64;
        }
        samples.push(sm);
        if sm.t + 0.05 >= next_report || at >= end {
            if let Some(w) = Window::between(&samples, last_report.t, sm.t, tck) {
                println!("{}", progress_line(&w, &sm, &shared));
            }
            last_report = sm;
            next_report += o.report_every as f64;
        }
        if at >= end {
            break;
        }
    }
    let measured_at = Instant::now();
    if let Some(st) = early_exit {
        eprintln!(
            "\nloadtest: the daemon exited early ({st}) after {:.1} s; its stderr:\n{}",
            start.elapsed().as_secs_f64(),
            std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        if o.keep_dir {
            let _ = dir.keep();
        }
        return Outcome::failed(1);
    }
    let hwm_kb = daemons.max_kb("VmHWM");
    let last = *samples.last().unwrap_or(&Sample::default());

    // The first full fetch of every feed (parse + 20 new rows each) is the warm-up; steady
    // state starts after it and after `--warmup`, whichever is later.
    let all_first = shared
        .all_first_served_at
        .lock()
        .unwrap()
        .map(|t| t.duration_since(start).as_secs_f64());
    let warm_end = (o.warmup as f64).max(all_first.map_or(0.0, |t| (t + 2.0).ceil()));
    let interval_f = o.interval as f64;
    let whole = Window::between(&samples, 0.0, last.t, tck);
    let steady = Window::between(&samples, warm_end, last.t, tck);
    // The last full poll interval, when at least one whole round of polls follows the warm-up:
    // every feed is polled about once in it, so this is the rate the goal talks about.
    let full_rate = (last.t - interval_f >= warm_end)
        .then(|| Window::between(&samples, last.t - interval_f, last.t, tck))
        .flatten();

    let peaks = extremes(&samples, warm_end, last.t, 5.0, tck);
    // A teaser's alert may also wait for its page (at most the page deadline).
    let page_wait = if o.teasers {
        teasers::page_timeout(&o)
    } else {
        Duration::ZERO
    };
    let in_flight_window = Duration::from_secs_f64(interval_f * 1.1 + 2.0) + page_wait;
    let lat = latency(&shared, measured_at, in_flight_window, start);
    let gaps = Dist::of(
        shared
            .gaps_ms
            .lock()
            .unwrap()
            .iter()
            .map(|g| *g as f64 / 1000.0)
            .collect(),
    );

    let daemon_metrics = if o.teasers {
        teasers::scrape_page_metrics(&metrics_addr.to_string()).await
    } else {
        String::new()
    };
    // Stop the daemon.
    let (exit, took, stop_problem) = daemons.stop();
    let (mut log_lines, mut log_warn, mut log_error, log_top) = summarize_log(&log_path);
    for i in 1..daemons.len() {
        let (l, w, e, _) = summarize_log(&dir.path().join(fleet::log_name(i)));
        (log_lines, log_warn, log_error) = (log_lines + l, log_warn + w, log_error + e);
    }
    // Kills during the first round say nothing of takeover: no alert is due before the
    // second poll of a feed.
    let resumed = resumed_after_kills(
        &shared,
        &daemons.kills,
        start + Duration::from_secs_f64(warm_end),
    );
    let c = &shared.c;

    // ----- summary
    let goal_config = o.feeds >= 10_000 && o.interval <= 60;
    let pct_for_goal = steady.map(|w| w.core_pct());
    let mut t = String::new();
    let _ = writeln!(t, "\n## newswatch load benchmark\n");
    let _ = writeln!(t, "`{command}`\n");
    let _ = writeln!(
        t,
        "{} feeds × {} items on 127.0.0.1 (ETag/304), poll_interval {} s, {} new items/s ({:.0}% with a watched phrase), \
         daemon run {} s. `per_host_concurrency = 64`, `max_concurrent_fetches = 64` (all feeds share one host). \
         Machine: {cores} cores ({}); the load generator runs in the same machine and shares those cores. \
         Steady state = after {:.0} s (all first fetches served at {}; minimum warm-up {} s).\n",
        o.feeds,
        o.items_per_feed,
        o.interval,
        o.rate,
        o.match_fraction * 100.0,
        o.duration,
        cpu_model(),
        warm_end,
        all_first.map_or_else(|| "never".into(), |t| format!("{t:.1} s")),
        o.warmup,
    );
    let head = |w: Option<Window>| {
        w.map_or_else(|| "–".into(), |w| format!("{:.0}–{:.0} s", w.from, w.to))
    };
    let _ = writeln!(
        t,
        "| metric | whole run ({}) | steady state ({}) | last interval ({}) | goal |",
        head(whole),
        head(steady),
        head(full_rate)
    );
    let _ = writeln!(t, "|---|---|---|---|---|");
    let row = |t: &mut String, name: &str, f: &dyn Fn(&Window) -> String, goal: &str| {
        let cell = |w: Option<Window>| w.as_ref().map_or_else(|| "–".into(), f);
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} | {goal} |",
            cell(whole),
            cell(steady),
            cell(full_rate)
        );
    };
    row(
        &mut t,
        "polls/s (200 · 304)",
        &|w| {
            format!(
                "{:.1} ({:.1} · {:.1})",
                w.rate(w.polls),
                w.rate(w.ok),
                w.rate(w.not_modified)
            )
        },
        &format!("{:.1} at this config", o.feeds as f64 / interval_f),
    );
    row(
        &mut t,
        "new items/s",
        &|w| format!("{:.2}", w.rate(w.items)),
        "",
    );
    row(
        &mut t,
        "alerts/s",
        &|w| format!("{:.2}", w.rate(w.alerts)),
        "",
    );
    row(
        &mut t,
        "daemon CPU seconds",
        &|w| format!("{:.2}", w.cpu_s),
        "",
    );
    let goal_cpu = if goal_config {
        format!(
            "< 10% (10k feeds, 60 s, mostly 304): {}",
            verdict(pct_for_goal.map(|p| p < 10.0))
        )
    } else {
        "< 10% at 10k feeds / 60 s (n/a here)".into()
    };
    row(
        &mut t,
        "daemon CPU, % of one core",
        &|w| format!("{:.2}%", w.core_pct()),
        &goal_cpu,
    );
    row(
        &mut t,
        "daemon CPU s per 1,000 polls",
        &|w| opt_fmt(w.per_1000(w.polls), 3),
        "",
    );
    row(
        &mut t,
        "daemon CPU s per 1,000 new items",
        &|w| opt_fmt(w.per_1000(w.items), 2),
        "",
    );
    row(
        &mut t,
        "daemon disk writes (state database)",
        &|w| io::rate_line(w.write_bytes, w.secs, w.polls),
        "",
    );
    if o.state.is_some() {
        row(
            &mut t,
            "PostgreSQL server CPU, % of one core",
            &|w| format!("{:.2}%", 100.0 * w.pg_cpu_s / w.secs),
            "(every `postgres` process)",
        );
        row(
            &mut t,
            "PostgreSQL CPU s per 1,000 polls",
            &|w| {
                opt_fmt(
                    (w.polls > 0).then(|| w.pg_cpu_s * 1000.0 / w.polls as f64),
                    3,
                )
            },
            "",
        );
    }
    row(
        &mut t,
        "load generator CPU, % of one core",
        &|w| format!("{:.1}%", w.self_pct()),
        "(shares the machine)",
    );
    let _ = writeln!(t);
    let _ = writeln!(t, "| result | value | goal |");
    let _ = writeln!(t, "|---|---|---|");
    let _ = writeln!(
        t,
        "| peak RSS (VmHWM) | {:.1} MB (RSS at end {:.1} MB) | < 64 MB: {} |",
        mb(hwm_kb),
        mb(last.rss_kb),
        verdict((hwm_kb > 0).then_some(hwm_kb < 64 * 1024))
    );
    if let Some(p) = &peaks {
        let _ = writeln!(
            t,
            "| steady state, busiest 5 s · quietest 5 s (polls/s) | {:.0} at {:.0}–{:.0} s · {:.0} at {:.0}–{:.0} s | flat ≈ {:.0} |",
            p.busiest.rate(p.busiest.polls),
            p.busiest.from,
            p.busiest.to,
            p.quietest.rate(p.quietest.polls),
            p.quietest.from,
            p.quietest.to,
            o.feeds as f64 / interval_f
        );
        let _ = writeln!(
            t,
            "| steady state, most daemon CPU in 5 s | {:.1}% of one core at {:.0}–{:.0} s ({:.0} polls/s) | |",
            p.most_cpu.core_pct(),
            p.most_cpu.from,
            p.most_cpu.to,
            p.most_cpu.rate(p.most_cpu.polls)
        );
    }
    // Teasers: the page adds its host's turn and the fetch; the goal allows 5 s for that.
    let lat_goal = interval_f + if o.teasers { 5.0 } else { 1.0 };
    let _ = writeln!(
        t,
        "| latency appeared → webhook | {} | p99 < {lat_goal:.0} s: {} |",
        lat.total.show(),
        verdict((lat.total.n > 0).then_some(lat.total.p99 < lat_goal))
    );
    let _ = writeln!(
        t,
        "| … of the items added in the steady state (after {warm_end:.0} s) | {} | |",
        steady::latency_since(
            &shared,
            start + Duration::from_secs_f64(warm_end),
            measured_at
        )
        .show()
    );
    let _ = writeln!(
        t,
        "| … of which: waiting for the next poll | {} | ±10% jitter alone gives p50 ≈ {:.1} s, p99 ≈ {:.1} s |",
        lat.wait.show(),
        0.5 * interval_f,
        1.0368 * interval_f
    );
    let _ = writeln!(
        t,
        "| … of which: fetch → match → store → webhook | {} | |",
        lat.processing.show()
    );
    if o.teasers {
        let _ = writeln!(
            t,
            "| … … feed response → article page requested | {} | |",
            lat.to_page.show()
        );
        let _ = writeln!(
            t,
            "| … … article page requested → webhook | {} | |",
            lat.page_to_hook.show()
        );
    }
    let _ = writeln!(
        t,
        "| interval between polls of one feed | {} | {:.0}–{:.0} s (±10%) |",
        gaps.show(),
        0.9 * interval_f,
        1.1 * interval_f
    );
    let _ = writeln!(
        t,
        "| matching items: expected · received · in flight at end · **missed** | {} · {} · {} · {} | missed = 0 |",
        lat.expected, lat.received, lat.in_flight, lat.missed
    );
    let _ = writeln!(
        t,
        "| alerts not expected (baseline items) · duplicates · unparsable | {} · {} · {} | 0 · 0 · 0 |",
        c.hook_unexpected.load(Relaxed),
        c.hook_duplicates.load(Relaxed),
        c.hook_unparsable.load(Relaxed)
    );
    if daemons.len() > 1 {
        let _ = writeln!(
            t,
            "| instances · daemon CPU per instance (steady) · repeats under a new key | {} · {} · {} | 0 new keys |",
            daemons.len(),
            steady.map_or_else(
                || "–".into(),
                |w| format!("{:.2}%", w.core_pct() / daemons.len() as f64)
            ),
            c.hook_new_key.load(Relaxed)
        );
    }
    if !daemons.kills.is_empty() {
        let _ = writeln!(
            t,
            "| kills (SIGKILL + restart) · first alert after each kill in the steady state, s (max · p99 · each) | {} · {} | ≤ lease + 5 s |",
            daemons.kills.len(),
            resumed.summary()
        );
    }
    let _ = writeln!(
        t,
        "| responses: 200 first fetch · 200 changed · 200 without If-None-Match · 304 · 404 | {} · {} · {} · {} · {} | |",
        c.ok_first.load(Relaxed),
        c.ok_changed.load(Relaxed),
        c.ok_stale_etag.load(Relaxed),
        c.not_modified.load(Relaxed),
        c.not_found.load(Relaxed)
    );
    let _ = writeln!(
        t,
        "| SIGTERM → exit | {:.2} s, {} | exit 0 |",
        took.as_secs_f64(),
        match &exit {
            Some(st) if st.success() => "exit 0".to_string(),
            Some(st) => format!("**{st}**"),
            None => format!("**{stop_problem}**"),
        }
    );
    let _ = writeln!(
        t,
        "| daemon stderr (RUST_LOG=warn) | {log_lines} lines: {log_warn} WARN, {log_error} ERROR | 0 |"
    );
    if let Some(farm) = &shared.farm {
        t.push_str(&teasers::report(farm, c, steady, &daemon_metrics));
    }
    print!("{t}");

    // ----- notes and evidence
    println!();
    println!(
        "notes: matching items added before their feed's first poll are baselined, not expected ({}); \
         {} expected items were pushed out of their feed before any poll saw them; \"in flight\" = \
         added in the last {:.0} s (1.1 × interval + 2 s).",
        lat.not_expected,
        lat.evicted,
        in_flight_window.as_secs_f64()
    );
    if lat.missed > 0 {
        println!(
            "MISSED alerts: {} ({} of them already fetched by the daemon). Oldest (key, appeared at, served at):",
            lat.missed, lat.missed_served
        );
        for (k, a, s) in &lat.oldest_missed {
            println!(
                "  {k}: appeared {a:.1} s, served {}",
                s.map_or_else(|| "never".into(), |s| format!("{s:.1} s"))
            );
        }
    }
    let unexpected = shared.unexpected_keys.lock().unwrap().clone();
    if !unexpected.is_empty() {
        println!(
            "unexpected alert keys (first 10): {}",
            unexpected.join(", ")
        );
    }
    if !log_top.is_empty() {
        println!("daemon stderr, most frequent messages (digits shown as #):");
        for l in &log_top {
            println!("{l}");
        }
    }
    if stale {
        println!(
            "WARNING: the daemon binary is older than files in src/; the numbers may not reflect the current source."
        );
    }
    if o.keep_dir {
        let kept = dir.keep();
        println!("kept {}", kept.display());
    }
    drop(servers);
    let ok = exit.is_some_and(|s| s.success());
    Outcome {
        code: if ok { 0 } else { 1 },
        steady,
    }
}

/// For each kill: seconds from the kill to the first alert received after it (a kill of the
/// instance sending the sink's queue pauses deliveries until its sink lease runs out).
struct Resumed(Vec<f64>);

impl Resumed {
    fn summary(&self) -> String {
        if self.0.is_empty() {
            return "–".into();
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        // ∞: no alert came after it before the run ended.
        let each: Vec<String> = self.0.iter().map(|x| format!("{x:.1}")).collect();
        format!(
            "{:.1} · {:.1} · {}",
            v[v.len() - 1],
            percentile(&v, 99.0),
            each.join(" ")
        )
    }
}

fn resumed_after_kills(s: &Shared, kills: &[(Instant, usize)], steady: Instant) -> Resumed {
    let recs = s.records.lock().unwrap();
    let mut received: Vec<Instant> = recs.values().filter_map(|r| r.received).collect();
    received.sort();
    Resumed(
        kills
            .iter()
            .filter(|(k, _)| *k >= steady)
            .map(|(k, _)| {
                let i = received.partition_point(|r| r <= k);
                received
                    .get(i)
                    .map_or(f64::INFINITY, |r| r.duration_since(*k).as_secs_f64())
            })
            .collect(),
    )
}
