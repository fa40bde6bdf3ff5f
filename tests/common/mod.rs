//! Test harness for end-to-end runs: a local news server whose feed changes over time, a
//! scriptable webhook receiver, and the real `newswatch` binary as a child process.
//! Everything binds 127.0.0.1:0.

#![allow(dead_code)]

mod daemon;
#[allow(unused_imports)]
pub use daemon::{Daemon, daemon_section};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// GET with an optional bearer token: (status, body).
pub async fn http_get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// The `newswatch` binary run with `args` and `env` added to its environment, to its end.
pub fn newswatch_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A configuration's one feed, for tests of the rest of it.
pub const ONE_FEED: &str = "[[feed]]\nurl = \"https://x.example/rss\"\nname = \"x\"\n\n";

/// Writes `text` to `dir/name`, making the folders it needs; the path written.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// One item served by [`FeedServer`].
#[derive(Clone, Debug)]
pub struct Item {
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    pub description: String,
    /// RFC 822 `pubDate`, if any.
    pub published: Option<String>,
}

impl Item {
    pub fn new(id: &str, title: &str) -> Item {
        Item {
            guid: Some(id.to_string()),
            link: Some(format!("https://news.example/{id}")),
            title: title.to_string(),
            description: format!("<p>{title}</p>"),
            published: None,
        }
    }
}

#[derive(Default)]
struct FeedInner {
    items: Vec<Item>,
    version: u64,
    /// Requests to `/feed.xml` that arrived, counted before any `delay` (`requests` counts
    /// them after it).
    arrivals: u64,
    requests: u64,
    not_modified: u64,
    /// When false, the server never answers 304 (forces a full parse every poll).
    etags: bool,
    /// Requests to `/moved.xml`, which answers 301 → `/feed.xml`.
    moved_requests: u64,
    /// When set, `/moved.xml` serves the feed itself (no ETag) instead of its 301.
    moved_serves: bool,
    /// When set, `/feed.xml` answers with an HTML page whose feed link points at `/other.xml`
    /// (a soft-404 or a CMS home page).
    html: bool,
    /// Items of `/other.xml`, and requests to it.
    other: Vec<Item>,
    other_requests: u64,
    /// How long `/feed.xml` waits before answering.
    delay: Duration,
    /// When set, `/feed.xml` answers with this status and no feed (a broken server).
    fail: Option<u16>,
    /// When set, `/feed.xml`'s body ends right after the first occurrence of this text (a
    /// download cut off), with the whole document's ETag.
    cut_after: Option<String>,
}

/// Serves `/feed.xml` (RSS 2.0) with an ETag that changes whenever items change.
#[derive(Clone)]
pub struct FeedServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<FeedInner>>,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rss(items: &[Item]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Test news</title><link>https://news.example/</link>",
    );
    for it in items {
        xml.push_str("<item><title>");
        xml.push_str(&xml_escape(&it.title));
        xml.push_str("</title>");
        if let Some(g) = &it.guid {
            xml.push_str(&format!(
                "<guid isPermaLink=\"false\">{}</guid>",
                xml_escape(g)
            ));
        }
        if let Some(l) = &it.link {
            xml.push_str(&format!("<link>{}</link>", xml_escape(l)));
        }
        if let Some(p) = &it.published {
            xml.push_str(&format!("<pubDate>{p}</pubDate>"));
        }
        xml.push_str("<description>");
        xml.push_str(&xml_escape(&it.description));
        xml.push_str("</description></item>");
    }
    xml.push_str("</channel></rss>");
    xml
}

async fn serve_other(State(inner): State<Arc<Mutex<FeedInner>>>) -> Response {
    let mut f = inner.lock().unwrap();
    f.other_requests += 1;
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        rss(&f.other),
    )
        .into_response()
}

async fn serve_feed(State(inner): State<Arc<Mutex<FeedInner>>>, h: HeaderMap) -> Response {
    let delay = {
        let mut f = inner.lock().unwrap();
        f.arrivals += 1;
        f.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut f = inner.lock().unwrap();
    f.requests += 1;
    if let Some(code) = f.fail {
        return StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    if f.html {
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let page = format!(
            "<!doctype html><html><head><title>Home</title>\
             <link rel=\"alternate\" type=\"application/rss+xml\" href=\"http://{}/other.xml\">\
             </head><body>Welcome</body></html>",
            host
        );
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    }
    let etag = format!("\"v{}\"", f.version);
    if f.etags && h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(&etag) {
        f.not_modified += 1;
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut xml = rss(&f.items);
    if let Some(end) = f
        .cut_after
        .as_ref()
        .and_then(|c| xml.find(c).map(|i| i + c.len()))
    {
        xml.truncate(end);
    }
    let mut resp = (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        xml,
    )
        .into_response();
    if f.etags
        && let Ok(v) = etag.parse()
    {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn moved(State(inner): State<Arc<Mutex<FeedInner>>>) -> Response {
    let mut f = inner.lock().unwrap();
    f.moved_requests += 1;
    if f.moved_serves {
        return (
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            rss(&f.items),
        )
            .into_response();
    }
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, "/feed.xml")],
    )
        .into_response()
}

impl FeedServer {
    pub fn moved_url(&self) -> String {
        format!("http://{}/moved.xml", self.addr)
    }

    pub fn moved_requests(&self) -> u64 {
        self.inner.lock().unwrap().moved_requests
    }

    /// Make `/moved.xml` serve the feed itself (`true`) or redirect to `/feed.xml` again.
    pub fn set_moved_serves(&self, on: bool) {
        self.inner.lock().unwrap().moved_serves = on;
    }

    pub async fn start(items: Vec<Item>) -> FeedServer {
        let inner = Arc::new(Mutex::new(FeedInner {
            items,
            etags: true,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/feed.xml", get(serve_feed))
            .route("/moved.xml", get(moved))
            .route("/other.xml", get(serve_other))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FeedServer { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/feed.xml", self.addr)
    }

    pub fn push(&self, item: Item) {
        let mut f = self.inner.lock().unwrap();
        f.items.insert(0, item);
        f.version += 1;
    }

    /// Cut `/feed.xml`'s body right after `text` (`None`: serve it whole).
    pub fn set_cut_after(&self, text: Option<&str>) {
        self.inner.lock().unwrap().cut_after = text.map(str::to_string);
    }

    pub fn set_etags(&self, on: bool) {
        self.inner.lock().unwrap().etags = on;
    }

    pub fn requests(&self) -> u64 {
        self.inner.lock().unwrap().requests
    }

    /// Requests to `/feed.xml` that arrived, including those still waiting out the delay.
    pub fn arrivals(&self) -> u64 {
        self.inner.lock().unwrap().arrivals
    }

    pub fn set_html(&self, on: bool) {
        let mut f = self.inner.lock().unwrap();
        f.html = on;
        // A new answer: the validators must change with it.
        f.version += 1;
    }

    pub fn set_other(&self, items: Vec<Item>) {
        self.inner.lock().unwrap().other = items;
    }

    pub fn other_requests(&self) -> u64 {
        self.inner.lock().unwrap().other_requests
    }

    pub fn set_delay(&self, d: Duration) {
        self.inner.lock().unwrap().delay = d;
    }

    /// Answer every request for `/feed.xml` with `code` (`None`: serve the feed again).
    pub fn set_fail(&self, code: Option<u16>) {
        self.inner.lock().unwrap().fail = code;
    }

    pub fn not_modified(&self) -> u64 {
        self.inner.lock().unwrap().not_modified
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: Option<String>,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
    pub at: Instant,
    /// The status the receiver answered.
    pub status: u16,
}

/// How the receiver answers: a function of (request number, body) → (status, extra headers, delay).
pub type Script =
    Box<dyn Fn(usize, &serde_json::Value) -> (u16, Vec<(String, String)>, Duration) + Send + Sync>;

struct RecvInner {
    got: Vec<Received>,
    /// Requests that arrived, counted before any scripted delay (a request whose client went
    /// away mid-delay is counted here but never recorded in `got`).
    arrivals: usize,
    script: Script,
}

/// A webhook receiver recording every request.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<RecvInner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<RecvInner>>>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let hv = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (status, headers, delay) = {
        let mut g = inner.lock().unwrap();
        let n = g.arrivals;
        g.arrivals += 1;
        (g.script)(n, &json)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    inner.lock().unwrap().got.push(Received {
        id: hv("webhook-id").unwrap_or_default(),
        timestamp: hv("webhook-timestamp").unwrap_or_default(),
        signature: hv("webhook-signature"),
        body: json,
        raw: body.to_vec(),
        at: Instant::now(),
        status,
    });
    let mut resp = StatusCode::from_u16(status)
        .unwrap_or(StatusCode::OK)
        .into_response();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

impl Receiver {
    pub async fn start(script: Script) -> Receiver {
        let inner = Arc::new(Mutex::new(RecvInner {
            got: Vec::new(),
            arrivals: 0,
            script,
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, inner }
    }

    pub async fn ok() -> Receiver {
        Receiver::start(Box::new(|_, _| (200, vec![], Duration::ZERO))).await
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn got(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    /// Requests answered with 2xx.
    pub fn delivered(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    pub fn arrivals(&self) -> usize {
        self.inner.lock().unwrap().arrivals
    }

    pub fn set_script(&self, script: Script) {
        self.inner.lock().unwrap().script = script;
    }
}

/// `newswatch run --once -c CONFIG`, to completion.
pub async fn run_once(config: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["run", "--once", "-c"])
        .arg(config)
        .output()
        .await
        .unwrap()
}

/// `newswatch backtest ARGS -c CONFIG`, which must succeed: its standard output.
pub fn backtest_ok(config: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("backtest")
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Poll `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
pub async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
