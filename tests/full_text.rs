//! Full text end to end: the real binary, a local news site whose feed carries teasers and
//! whose article pages carry the story, and a webhook receiver.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{Daemon, Receiver, daemon_section, wait_for};

/// A news article page: navigation, the story in paragraphs (`key` sentence in the fourth),
/// related stories and a footer.
fn article_html(title: &str, key: &str) -> String {
    let paras = [
        "Kyiv presented its plan to allies on Wednesday, officials said, after weeks of talks \
         in several capitals about what the next months of the war would require.",
        "The document was shared with the United States, the United Kingdom, France, Italy \
         and Germany, and its military annexes remain classified, according to people \
         familiar with the discussions.",
        "Diplomats described the meetings as frank, and said that the allies had asked for \
         more detail on timelines, costs and the sequencing of the proposed steps.",
        key,
        "Officials in several capitals said they would study the proposals carefully before \
         the next meeting of defence ministers, which is expected later this month.",
    ];
    let body: String = paras.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav>\
         <article><h1>{title}</h1>\n{body}</article>\
         <aside><h2>Related stories</h2><ul><li><a href=\"/x\">Markets rally</a></li></ul></aside>\
         <footer>© News Example. All rights reserved.</footer></body></html>"
    )
}

const PLAN_SENTENCE: &str = "The Victory Plan, as the president calls it, asks for an \
     invitation to join the alliance and for permission to strike targets deep inside Russia.";
const OTHER_SENTENCE: &str = "The talks also covered grain exports through the Black Sea \
     corridor and the repair of the country's damaged power stations before winter.";

#[derive(Default)]
struct Site {
    /// (guid, title, teaser)
    items: Vec<(String, String, String)>,
    /// Page requests per article id.
    pages: HashMap<String, usize>,
    /// Article pages that answer 404.
    missing: Vec<String>,
    /// How long article pages take.
    delay: Duration,
    feed_requests: usize,
    /// When each feed request came.
    feed_times: Vec<std::time::Instant>,
}

#[derive(Clone)]
struct NewsSite {
    addr: SocketAddr,
    inner: Arc<Mutex<Site>>,
}

async fn feed(State(s): State<Arc<Mutex<Site>>>) -> Response {
    let mut s = s.lock().unwrap();
    s.feed_requests += 1;
    s.feed_times.push(std::time::Instant::now());
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>News</title>",
    );
    for (id, title, teaser) in &s.items {
        xml.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{id}</guid><title>{title}</title>\
             <link>/article/{id}</link><description>{teaser}</description></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    ([(header::CONTENT_TYPE, "application/rss+xml")], xml).into_response()
}

async fn article(Path(id): Path<String>, State(s): State<Arc<Mutex<Site>>>) -> Response {
    let (delay, missing, title) = {
        let mut s = s.lock().unwrap();
        *s.pages.entry(id.clone()).or_default() += 1;
        let title = s
            .items
            .iter()
            .find(|i| i.0 == id)
            .map(|i| i.1.clone())
            .unwrap_or_default();
        (s.delay, s.missing.contains(&id), title)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if missing {
        return StatusCode::NOT_FOUND.into_response();
    }
    let key = if id.starts_with("plan") {
        PLAN_SENTENCE
    } else {
        OTHER_SENTENCE
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        article_html(&title, key),
    )
        .into_response()
}

impl NewsSite {
    async fn start() -> NewsSite {
        NewsSite::start_on("127.0.0.1").await
    }

    /// On another loopback address: another publisher, as far as per-host limits go.
    async fn start_on(ip: &str) -> NewsSite {
        let inner = Arc::new(Mutex::new(Site::default()));
        let app = Router::new()
            .route("/feed.xml", get(feed))
            .route("/article/{id}", get(article))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        NewsSite { addr, inner }
    }

    fn url(&self) -> String {
        format!("http://{}/feed.xml", self.addr)
    }

    fn push(&self, id: &str, title: &str, teaser: &str) {
        self.inner
            .lock()
            .unwrap()
            .items
            .insert(0, (id.into(), title.into(), teaser.into()));
    }

    fn page_requests(&self, id: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .pages
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    fn feed_requests(&self) -> usize {
        self.inner.lock().unwrap().feed_requests
    }

    fn all_page_requests(&self) -> usize {
        self.inner.lock().unwrap().pages.values().sum()
    }
}

/// Once the daemon has polled the site twice, make article pages answer after `delay` and
/// publish the teaser `key`, whose page names the watch's term.
async fn publish_with_slow_page(site: &NewsSite, d: &Daemon, key: &str, delay: Duration) {
    assert!(
        wait_for(Duration::from_secs(30), || site.feed_requests() >= 2).await,
        "{}",
        d.log()
    );
    site.inner.lock().unwrap().delay = delay;
    site.push(
        key,
        "Zelensky presents plan to allies",
        "Kyiv presents its plan.",
    );
}

fn config(site: &NewsSite, hook: &Receiver, full_text: &str) -> String {
    format!(
        "{}\n[[feed]]\nname = \"news\"\nurl = \"{}\"\nfull_text = \"{full_text}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"plan\"\nterms = [\"Victory Plan\"]\n",
        daemon_section(""),
        site.url(),
        hook.url(),
    )
}

/// The backlog of a new feed fetches no page; a new teaser item whose page names the term
/// alerts with the hit in `body` and the snippet from the page; a page that fails leaves its
/// item matched on the feed's text; a page that does not name the term alerts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teaser_items_alert_on_their_article_page_and_the_backlog_fetches_none() {
    let site = NewsSite::start().await;
    site.push(
        "plan-old",
        "Zelensky in Washington",
        "Kyiv presents a plan.",
    );
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = |listen: &str| {
        config(&site, &hook, "auto").replace("listen = \"off\"", &format!("listen = \"{listen}\""))
    };
    let mut d = Daemon::new(dir.path(), "");
    let listen = d.start_listening(cfg).await;
    assert!(
        wait_for(Duration::from_secs(20), || site.feed_requests() >= 2).await,
        "{}",
        d.log()
    );
    assert_eq!(
        site.all_page_requests(),
        0,
        "the baselined backlog fetched pages"
    );

    site.push(
        "plan-new",
        "Zelensky presents plan to allies",
        "Kyiv presents its plan.",
    );
    site.push("other-new", "Talks in Brussels", "Ministers meet.");
    site.inner.lock().unwrap().missing.push("plan-404".into());
    site.push("plan-404", "Victory Plan shown to allies", "A teaser.");
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() >= 2).await,
        "{}",
        d.log()
    );
    // Polls go on; nothing more is fetched or sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "newswatch_pages_total{result=\"ok\"} 2",
        "newswatch_pages_total{result=\"failed\"} 1",
        "newswatch_page_seconds_count 2",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    d.stop();
    let got = hook.delivered();
    let mut keys: Vec<&str> = got
        .iter()
        .map(|r| {
            r.body["data"]["item_key"]
                .as_str()
                .unwrap_or_else(|| panic!("{}", r.body))
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["plan-404", "plan-new"], "{}", d.log());
    let from_page = got
        .iter()
        .find(|r| r.body["data"]["item_key"] == "plan-new")
        .unwrap();
    assert_eq!(from_page.body["data"]["hits"][0]["field"], "body");
    let snippet = from_page.body["data"]["snippet"].as_str().unwrap();
    assert!(snippet.contains("**Victory Plan**"), "{snippet}");
    let from_feed = got
        .iter()
        .find(|r| r.body["data"]["item_key"] == "plan-404")
        .unwrap();
    assert_eq!(from_feed.body["data"]["hits"][0]["field"], "title");
    for id in ["plan-new", "other-new", "plan-404"] {
        assert_eq!(site.page_requests(id), 1, "{id}: {}", d.log());
    }
    assert_eq!(site.page_requests("plan-old"), 0);
    assert!(d.log().contains("article page not used"), "{}", d.log());
}

/// A daemon killed while it waits for an article page has committed nothing: the restarted
/// one polls again, fetches again, and the alert goes out once, under one idempotency key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_page_fetch_repeats_nothing_under_a_new_key() {
    let site = NewsSite::start().await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), &config(&site, &hook, "always"));
    d.start();
    publish_with_slow_page(&site, &d, "plan-k", Duration::from_secs(4)).await;
    assert!(
        wait_for(Duration::from_secs(20), || site.page_requests("plan-k")
            >= 1)
        .await,
        "{}",
        d.log()
    );
    d.kill9();
    assert_eq!(hook.arrivals(), 0);
    site.inner.lock().unwrap().delay = Duration::ZERO;
    d.start();
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.stop();
    let got = hook.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].body["data"]["item_key"], "plan-k");
    assert_eq!(got[0].body["data"]["hits"][0]["field"], "body");
}

/// `try --full-text` fetches the pages on demand and says which field each hit is in; without
/// it, the teaser alone matches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_full_text_matches_the_page_and_names_the_field() {
    let site = NewsSite::start().await;
    site.push(
        "plan-t",
        "Zelensky presents plan to allies",
        "Kyiv presents its plan.",
    );
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("newswatch.toml");
    std::fs::write(&cfg, config(&site, &hook, "off")).unwrap();
    let url = site.url();
    let run = |extra: &'static [&'static str]| {
        let cfg = cfg.clone();
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_newswatch"))
                .args(["try", "--json", "-c"])
                .arg(&cfg)
                .args(extra)
                .arg(&url)
                .output()
                .unwrap()
        })
    };
    let plain = run(&[]).await.unwrap();
    assert!(plain.status.success());
    assert_eq!(String::from_utf8_lossy(&plain.stdout).trim(), "");
    assert_eq!(site.all_page_requests(), 0);
    let full = run(&["--full-text"]).await.unwrap();
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let out = String::from_utf8_lossy(&full.stdout);
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["item_key"], "plan-t");
    assert_eq!(line["hits"][0]["field"], "body");
    assert!(
        line["snippet"].as_str().unwrap().contains("Victory Plan"),
        "{line}"
    );
    assert_eq!(site.page_requests("plan-t"), 1);
}

/// A feed waiting on a slow article page holds no fetch slot: with one poll slot in all,
/// another feed is still polled and its alert goes out first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_article_page_does_not_delay_another_feeds_poll() {
    let slow = NewsSite::start().await;
    let other = NewsSite::start_on("127.0.0.2").await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "{}\n[[feed]]\nname = \"slow\"\nurl = \"{}\"\nfull_text = \"always\"\n\n\
         [[feed]]\nname = \"other\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[watch]]\nname = \"plan\"\nterms = [\"Victory Plan\"]\n",
        daemon_section("max_concurrent_fetches = 1\npage_timeout = \"8s\""),
        slow.url(),
        other.url(),
        hook.url(),
    );
    let mut d = Daemon::new(dir.path(), &cfg);
    d.start();
    assert!(
        wait_for(Duration::from_secs(20), || slow.feed_requests() >= 2
            && other.feed_requests() >= 2)
        .await,
        "{}",
        d.log()
    );
    slow.inner.lock().unwrap().delay = Duration::from_secs(6);
    slow.push(
        "plan-slow",
        "Zelensky presents plan to allies",
        "Kyiv presents its plan.",
    );
    assert!(
        wait_for(Duration::from_secs(20), || slow.page_requests("plan-slow")
            >= 1)
        .await,
        "{}",
        d.log()
    );
    let pushed = std::time::Instant::now();
    other.push("plan-fast", "Victory Plan shown to allies", "A teaser.");
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() >= 2).await,
        "{}",
        d.log()
    );
    d.stop();
    let got = hook.delivered();
    assert_eq!(got[0].body["data"]["item_key"], "plan-fast", "{}", d.log());
    assert!(
        got[0].at.duration_since(pushed) < Duration::from_secs(4),
        "{:?}",
        got[0].at.duration_since(pushed)
    );
    assert_eq!(got[1].body["data"]["item_key"], "plan-slow");
    assert_eq!(got[1].body["data"]["hits"][0]["field"], "body");
}

/// Regression: the next poll was scheduled from the end of a poll, so a poll whose article
/// pages took their time pushed the feed's next poll (and its next items) back by as long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_pages_pushed_back_their_feeds_next_poll() {
    let site = NewsSite::start().await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        config(&site, &hook, "always").replace("poll_interval = \"1s\"", "poll_interval = \"5s\"");
    let mut d = Daemon::new(dir.path(), &cfg);
    d.start();
    publish_with_slow_page(&site, &d, "plan-p", Duration::from_secs(3)).await;
    let before = site.feed_requests();
    assert!(
        wait_for(Duration::from_secs(30), || site.feed_requests()
            >= before + 2)
        .await,
        "{}",
        d.log()
    );
    d.stop();
    assert_eq!(site.page_requests("plan-p"), 1);
    let times = site.inner.lock().unwrap().feed_times.clone();
    // The poll that found the item (its page took 3 s) and the one after it.
    let gap = times[before + 1].duration_since(times[before]);
    assert!(
        gap < Duration::from_millis(6500),
        "next poll {gap:?} after the poll with pages"
    );
}

/// Regression: `newswatch_fetch_duration_seconds` ("time to fetch and parse one feed") timed
/// the whole poll, its article pages and commit included: a feed answering in milliseconds
/// showed the 3 s of a slow article page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_duration_times_the_feed_not_its_article_pages() {
    let site = NewsSite::start().await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(dir.path(), "");
    let listen = d
        .start_listening(|listen| {
            config(&site, &hook, "always")
                .replace("listen = \"off\"", &format!("listen = \"{listen}\""))
        })
        .await;
    publish_with_slow_page(&site, &d, "plan-m", Duration::from_secs(3)).await;
    assert!(
        wait_for(Duration::from_secs(30), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    assert_eq!(site.page_requests("plan-m"), 1);
    let metrics = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    d.stop();
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in:\n{metrics}"))
    };
    let all = value("newswatch_fetch_duration_seconds_count");
    let quick = value("newswatch_fetch_duration_seconds_bucket{le=\"2.5\"}");
    assert!(all >= 3.0, "{metrics}");
    assert_eq!(quick, all, "a fetch timed past 2.5 s:\n{metrics}");
}
