//! The status page's history. In a real browser: headless Chromium loads `/` from the running
//! daemon, with every other host unresolvable, and the DOM it built is checked: one 14-day
//! chart per watch and two per feed, bars and strip parts of the heights the stored history
//! calls for, and hostile feed and watch names left as text (skipped, saying why, when no
//! Chromium is installed; Debian: `apt-get install chromium`). And the counts behind the
//! charts against what a feed server and a webhook saw.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Daemon, FeedServer, Item, Receiver, wait_for};
use newswatch::deliver::{Alert, AlertSnippet};
use newswatch::store::sqlite::SqliteStore;
use newswatch::store::{FailureRecord, Millis, NewDelivery, PollCommit, Store};

const DAY: Millis = 86_400_000;
const HOSTILE_FEED: &str = "<script>alert(1)</script> \"&'";
const HOSTILE_WATCH: &str = "<script>alert(2)</script> \"&'";

/// The first Chromium on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Run headless Chromium on `url` with `args`; no host but 127.0.0.1 resolves.
async fn browse(browser: &Path, profile: &Path, args: &[String], url: &str) -> Vec<u8> {
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(url)
    .kill_on_drop(true)
    .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium did not finish within 2 minutes")
        .expect("chromium could not be started");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Write the history the page must show before the daemon starts: on the first of the 14
/// days a baseline poll and a poll with two new items, one of them alerted; five days ago
/// three failed polls and a 304.
async fn seed(state: &Path, feed_url: &str, today: i64) {
    let store = SqliteStore::open(state).await.unwrap();
    let first = (today - 13) * DAY + 3_600_000;
    let commit = |now: Millis, keys: &[&str], deliveries: Vec<NewDelivery>| PollCommit {
        feed: HOSTILE_FEED.into(),
        config_url: feed_url.into(),
        now,
        next_poll_at: now + 60_000,
        item_keys: keys.iter().map(|k| k.to_string()).collect(),
        deliveries,
        repeat_window_ms: 0,
        ..Default::default()
    };
    store
        .commit_poll(&commit(first, &["old"], vec![]))
        .await
        .unwrap();
    let alert = Alert {
        watch: HOSTILE_WATCH.into(),
        feed: HOSTILE_FEED.into(),
        item_key: "n1".into(),
        title: "North Korean troops <b>seen</b>".into(),
        link: Some("https://news.example/n1".into()),
        published: None,
        hits: vec![],
        snippet: AlertSnippet::default(),
        matched_at: chrono::Utc::now(),
        story: None,
        meaning: None,
    };
    let delivery = NewDelivery {
        idem_key: "seeded-n1".into(),
        sink: "out".into(),
        watch: HOSTILE_WATCH.into(),
        item_key: "n1".into(),
        alert_json: serde_json::to_string(&alert).unwrap(),
        canonical_link: None,
    };
    store
        .commit_poll(&commit(
            first + 60_000,
            &["n1", "n2", "old"],
            vec![delivery],
        ))
        .await
        .unwrap();
    let five_ago = (today - 5) * DAY + 3_600_000;
    for i in 0..3u32 {
        let now = five_ago + i64::from(i) * 60_000;
        store
            .record_failure(&FailureRecord {
                feed: HOSTILE_FEED,
                config_url: feed_url,
                error: "HTTP 503",
                failures: i + 1,
                html_streak: 0,
                now,
                next_poll_at: now + 60_000,
            })
            .await
            .unwrap();
    }
    store
        .record_not_modified(HOSTILE_FEED, feed_url, five_ago + 600_000, 0)
        .await
        .unwrap();
}

/// The one `<svg class="chart NAME"…>…</svg>` in `dom`.
fn chart<'a>(dom: &'a str, name: &str) -> &'a str {
    let open = format!("<svg class=\"chart {name}\"");
    assert_eq!(dom.matches(&open).count(), 1, "one {name} chart in\n{dom}");
    let start = dom.find(&open).unwrap();
    let len = dom[start..].find("</svg>").unwrap();
    &dom[start..start + len]
}

/// (height, title) of each bar of a bar chart.
fn bars(svg: &str) -> Vec<(u32, String)> {
    let re = regex::Regex::new(
        r#"<rect class="bar" x="\d+" y="\d+" width="8" height="(\d+)" fill="[^"]+"><title>([^<]*)</title></rect>"#,
    )
    .unwrap();
    re.captures_iter(svg)
        .map(|c| (c[1].parse().unwrap(), c[2].to_string()))
        .collect()
}

fn date(day: i64) -> String {
    newswatch::ops::status::day_date(day)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_fourteen_day_charts_in_a_browser_and_escapes_names() {
    let Some(browser) = chromium() else {
        // CI sets this once it installed Chromium: a skip there would hide the test.
        assert!(
            std::env::var_os("NEWSWATCH_REQUIRE_CHROMIUM").is_none(),
            "Chromium required (NEWSWATCH_REQUIRE_CHROMIUM) but not on PATH"
        );
        println!(
            "SKIPPED: no chromium on PATH (Debian: apt-get install chromium); \
             the status page was not checked in a browser"
        );
        return;
    };
    let feed = FeedServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().timestamp_millis().div_euclid(DAY);
    seed(&dir.path().join("state.db"), &feed.url(), today).await;
    let config = |listen: &str| {
        format!(
            "[daemon]\nstate = \"state.db\"\nlisten = \"{listen}\"\npoll_interval = \"1s\"\n\
             min_poll_interval = \"1s\"\n\n\
             [[feed]]\nname = {}\nurl = \"{}\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = {}\nterms = [\"North Korean troops\"]\n",
            toml_str(HOSTILE_FEED),
            feed.url(),
            toml_str(HOSTILE_WATCH)
        )
    };
    let mut d = Daemon::new(dir.path(), "");
    let listen = d.start_listening(config).await;
    assert!(
        wait_for(Duration::from_secs(30), || feed.requests() >= 2).await,
        "{}",
        d.log()
    );
    let url = format!("http://{listen}/");
    let profile = dir.path().join("profile");
    let dom = browse(&browser, &profile, &["--dump-dom".into()], &url).await;
    let dom = String::from_utf8_lossy(&dom).into_owned();

    // Nothing from the names became markup, and the page needs nothing from elsewhere.
    assert!(!dom.contains("<script"), "{dom}");
    for asset in ["<img", "<link", "<iframe", " src="] {
        assert!(!dom.contains(asset), "{asset} in\n{dom}");
    }
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt; \"&amp;'"));
    assert!(dom.contains("&lt;script&gt;alert(2)&lt;/script&gt; \"&amp;'"));
    assert!(dom.contains(
        "<title>alerts per day, watch &lt;script&gt;alert(2)&lt;/script&gt; \"&amp;'</title>"
    ));

    // The watch: one alert on the first day (the tallest bar), none since. Its count is
    // named for what it is (regression: headed "last 7 days", it counted every alert since
    // the state was created; this one is 13 days old).
    assert!(dom.contains("<th>alerts (all time)</th>"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;alert(2)&lt;/script&gt; \"&amp;'</td><td>out</td><td>1</td>"),
        "{dom}"
    );
    let alerts = bars(chart(&dom, "alerts"));
    assert_eq!(alerts.len(), 14, "{alerts:?}");
    assert_eq!(alerts[0], (24, format!("{}: 1 alert", date(today - 13))));
    for (i, bar) in alerts.iter().enumerate().skip(1) {
        let day = today - 13 + i as i64;
        assert_eq!(*bar, (0, format!("{}: 0 alerts", date(day))));
    }

    // The feed's new items: two on the first day, none since (the live feed is empty).
    let items = bars(chart(&dom, "items"));
    assert_eq!(items.len(), 14, "{items:?}");
    assert_eq!(items[0], (24, format!("{}: 2 new items", date(today - 13))));
    assert!(
        items[1..]
            .iter()
            .all(|(h, t)| *h == 0 && t.ends_with(": 0 new items"))
    );

    // Its polls: two ok on the first day; 3 failed and a 304 five days ago, split 9 to 3;
    // grey days between; today's live polls.
    let polls = chart(&dom, "polls");
    assert_eq!(polls.matches("<g>").count(), 14, "{polls}");
    assert!(polls.contains(&format!(
        "<title>{}: 2 ok, 0 not modified, 0 failed</title><rect class=\"ok\" x=\"0\" y=\"0\" width=\"8\" height=\"12\"",
        date(today - 13)
    )));
    assert!(
        polls.contains(&format!(
            "<title>{}: 0 ok, 1 not modified, 3 failed</title>\
             <rect class=\"failed\" x=\"80\" y=\"0\" width=\"8\" height=\"9\" fill=\"#d93025\"></rect>\
             <rect class=\"not-modified\" x=\"80\" y=\"9\" width=\"8\" height=\"3\"",
            date(today - 5)
        )),
        "{polls}"
    );
    assert_eq!(polls.matches("class=\"none\"").count(), 11, "{polls}");
    assert!(polls.contains(&format!("<title>{}: ", date(today))));
    assert!(!polls.contains(&format!("<title>{}: not polled", date(today))));

    // The same page as pixels: Chromium renders it to a PNG.
    let shot = dir.path().join("page.png");
    browse(
        &browser,
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
        ],
        &url,
    )
    .await;
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );

    // /api/status carries the same series.
    let body = reqwest::get(format!("http://{listen}/api/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let h = &v["feeds"][0]["history"];
    assert_eq!(h.as_array().map(Vec::len), Some(14));
    assert_eq!(h[0]["date"], date(today - 13));
    assert_eq!(
        (h[0]["ok"].as_i64(), h[0]["new_items"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (h[8]["failed"].as_i64(), h[8]["not_modified"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(v["watches"][0]["history"][0]["alerts"], 1);
    d.stop();
}

/// Every request the feed server answered is one poll of today's history, by result; every
/// new item and every alert is counted once, whatever the sinks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn todays_counts_are_exactly_the_polls_items_and_alerts_that_happened() {
    let feed = FeedServer::start(vec![Item::new("b1", "Weather")]).await;
    let hook = Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[daemon]\nstate = \"state.db\"\nlisten = \"off\"\npoll_interval = \"1s\"\n\
         min_poll_interval = \"1s\"\nbackoff_cap = \"1s\"\n\n\
         [[feed]]\nname = \"news\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean troops\"]\n",
        feed.url(),
        hook.url()
    );
    let mut d = Daemon::new(dir.path(), &config);
    d.start();
    // The baseline, then 304s; two new items, one of them matching (two sinks); failures.
    assert!(
        wait_for(Duration::from_secs(20), || feed.not_modified() >= 2).await,
        "{}",
        d.log()
    );
    feed.push(Item::new("b2", "North Korean troops seen"));
    feed.push(Item::new("b3", "Weather again"));
    assert!(
        wait_for(Duration::from_secs(20), || hook.delivered().len() == 1).await,
        "{}",
        d.log()
    );
    feed.set_fail(Some(500));
    let before = feed.requests();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= before + 2).await,
        "{}",
        d.log()
    );
    feed.set_fail(None);
    let before = feed.requests();
    assert!(
        wait_for(Duration::from_secs(20), || feed.requests() >= before + 2).await,
        "{}",
        d.log()
    );
    d.stop();

    let o = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["status", "--json", "-c"])
        .arg(&d.config)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let today = &v["feeds"][0]["history"][13];
    let n = |k: &str| today[k].as_i64().unwrap_or(-1);
    let requests = feed.requests() as i64;
    let not_modified = feed.not_modified() as i64;
    assert_eq!(
        n("ok") + n("not_modified") + n("failed"),
        requests,
        "{today}"
    );
    assert_eq!(n("not_modified"), not_modified, "{today}");
    assert!(n("failed") >= 2, "{today}");
    assert_eq!(n("new_items"), 2, "the baseline's item is not new: {today}");
    assert_eq!(v["watches"][0]["history"][13]["alerts"], 1, "{v}");
}
