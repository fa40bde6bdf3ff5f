//! Stories end to end, through the real binary: one story published by three feeds under
//! different titles and links is one alert per sink, then edits of that alert (Discord,
//! Matrix, Telegram, checked by local fakes of each) or `alert.updated` events (webhook).

mod common;
mod sinks_support;

use sinks_support::{Fake, Got};

/// One story as three outlets tell it: different titles, leads and links.
const REPORTS: [(&str, &str, &str); 3] = [
    (
        "wire",
        "North Korean troops reach Kursk front line, Ukraine says",
        "Ukraine's military intelligence said North Korean soldiers had arrived in Russia's \
         Kursk region, where Ukrainian forces hold territory.",
    ),
    (
        "daily",
        "Ukraine says first North Korean soldiers have reached Kursk",
        "North Korean troops sent to Russia have reached the Kursk region, Ukraine's military \
         intelligence said on Wednesday.",
    ),
    (
        "herald",
        "Kyiv: North Korean troops now in Russia's Kursk region",
        "Ukrainian military intelligence says North Korean soldiers have arrived in Kursk, where \
         Ukrainian forces hold ground.",
    ),
];

/// A different story about the same place: alerted on its own.
const OTHER: (&str, &str) = (
    "Kursk nuclear plant safety talks resume in Vienna",
    "Inspectors and engineers met to discuss power supply to the Kursk nuclear power plant.",
);

fn feed_file(dir: &std::path::Path, name: &str, items: &[(&str, &str, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>News</title>\
         <link>https://news.example/</link>",
    );
    for (slug, title, lead) in items {
        xml.push_str(&format!(
            "<item><title>{title}</title><link>https://{name}.example/{slug}</link>\
             <guid>{name}-{slug}</guid><description>{lead}</description>\
             <pubDate>Wed, 30 Oct 2024 09:00:00 GMT</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).unwrap();
    path.display().to_string()
}

/// What each platform answers a message it accepts, with the created message's id.
fn created(got: &Got) -> (u16, Vec<(&'static str, String)>, String) {
    let body = if got.path.contains("/bot") {
        r#"{"ok": true, "result": {"message_id": 42, "chat": {"id": -100123}}}"#
    } else if got.path.starts_with("/_matrix/") {
        r#"{"event_id": "$ev1:example.org"}"#
    } else if got.path.starts_with("/api/webhooks/") {
        r#"{"id": "1234567890", "channel_id": "2"}"#
    } else {
        "{}"
    };
    (200, vec![], body.into())
}

fn config(dir: &std::path::Path, base: &str, stories: bool) -> std::path::PathBuf {
    let mut feeds = String::new();
    for (i, (name, title, lead)) in REPORTS.iter().enumerate() {
        let mut items = vec![("kursk", *title, *lead)];
        if i == 0 {
            items.push(("plant", OTHER.0, OTHER.1));
        }
        let path = feed_file(dir, name, &items);
        feeds.push_str(&format!(
            "[[feed]]\nname = \"{name}\"\nurl = \"file://{path}\"\n\n"
        ));
    }
    let on = if stories { "stories = true" } else { "" };
    let text = format!(
        "{daemon}\n{feeds}\
         [[sink]]\nname = \"discord\"\ntype = \"discord\"\nurl = \"{base}/api/webhooks/1/tok\"\n\n\
         [[sink]]\nname = \"matrix\"\ntype = \"matrix\"\nhomeserver = \"{base}\"\n\
         room = \"!room:example.org\"\naccess_token = \"syt_token\"\n\n\
         [[sink]]\nname = \"telegram\"\ntype = \"telegram\"\napi_base = \"{base}\"\n\
         bot_token = \"123:ABC\"\nchat_id = -100123\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{base}/hook\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\n\
         [[watch]]\nname = \"troops\"\nterms = [\"North Korean\", \"Kursk\"]\n{on}\n",
        daemon = common::daemon_section("on_new_feed = \"all\""),
    );
    let path = dir.join("newswatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn of(got: &[Got], pred: impl Fn(&Got) -> bool) -> Vec<&Got> {
    got.iter().filter(|g| pred(g)).collect()
}

#[tokio::test]
async fn one_story_from_three_feeds_is_one_alert_per_sink_then_edits() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake.base(), true);
    let out = common::run_once(&cfg).await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let got = fake.got();

    // Discord: two posts (the story, and the plant story on its own), then edits of the first.
    let posts = of(&got, |g| {
        g.method == "POST" && g.path == "/api/webhooks/1/tok"
    });
    assert_eq!(posts.len(), 2, "one alert per story: {posts:#?}\n{log}");
    let edits = of(&got, |g| g.method == "PATCH");
    assert!(
        !edits.is_empty(),
        "the story's alert is edited: {got:#?}\n{log}"
    );
    for e in &edits {
        assert_eq!(e.path, "/api/webhooks/1/tok/messages/1234567890");
        assert_eq!(e.refused, None);
    }
    let last = edits[edits.len() - 1].body["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.ends_with("(3 sources)"), "{last}");

    // Matrix: two messages, then `m.replace` edits of the first.
    let sends = of(&got, |g| g.path.contains("/send/m.room.message/"));
    let (replaces, news): (Vec<&&Got>, Vec<&&Got>) = sends
        .iter()
        .partition(|g| g.body.get("m.relates_to").is_some());
    assert_eq!(news.len(), 2, "{news:#?}");
    assert!(!replaces.is_empty(), "{sends:#?}");
    for r in &replaces {
        assert_eq!(r.body["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(r.body["m.relates_to"]["event_id"], "$ev1:example.org");
    }
    let body = replaces[replaces.len() - 1].body["m.new_content"]["body"]
        .as_str()
        .unwrap();
    assert!(body.contains("(3 sources)"), "{body}");

    // Telegram: two messages, then `editMessageText` of the first.
    assert_eq!(of(&got, |g| g.path.ends_with("/sendMessage")).len(), 2);
    let tg = of(&got, |g| g.path.ends_with("/editMessageText"));
    assert!(!tg.is_empty(), "{got:#?}");
    assert_eq!(tg[0].body["message_id"], 42);
    let text = tg[tg.len() - 1].body["text"].as_str().unwrap();
    assert!(text.contains("(3 sources)"), "{text}");

    // Webhook: two `alert.matched` events, then `alert.updated` of the story, same story id,
    // each update under its own key.
    let hooks = of(&got, |g| g.path == "/hook");
    let matched = of(&got, |g| {
        g.path == "/hook" && g.body["type"] == "alert.matched"
    });
    let updated = of(&got, |g| {
        g.path == "/hook" && g.body["type"] == "alert.updated"
    });
    assert_eq!(matched.len(), 2, "{hooks:#?}");
    assert!(!updated.is_empty(), "{hooks:#?}");
    let story = &updated[0].body["data"]["story"]["id"];
    assert!(
        matched
            .iter()
            .any(|m| &m.body["data"]["story"]["id"] == story),
        "the update names the story of an alert: {hooks:#?}"
    );
    let last = &updated[updated.len() - 1].body["data"]["story"]["sources"];
    assert_eq!(last.as_array().map(Vec::len), Some(3), "{last}");
    let keys: std::collections::HashSet<_> = hooks
        .iter()
        .map(|h| h.headers["webhook-id"].clone())
        .collect();
    assert_eq!(keys.len(), hooks.len(), "every event has its own key");

    // `status` lists the open story with its three sources.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["status", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("OPEN STORIES"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("(3 sources:"))
        .unwrap_or_else(|| panic!("no story with 3 sources in:\n{text}"));
    for feed in ["wire", "daily", "herald"] {
        assert!(line.contains(feed), "{line}");
    }

    // `backtest` over the archive alerts the story once, as the run did, and counts the
    // other two reports as its updates.
    let report: serde_json::Value =
        serde_json::from_slice(&common::backtest_ok(&cfg, &["--json"])).unwrap();
    let w = &report["watches"][0];
    assert_eq!(w["alerts"].as_array().map(Vec::len), Some(2), "{w:#}");
    assert_eq!(
        (&w["story_updates"], &w["story_quiet"]),
        (&2.into(), &0.into()),
        "{w:#}"
    );
    let text = String::from_utf8(common::backtest_ok(&cfg, &[])).unwrap();
    assert!(
        text.contains("troops: 2 alerts, 2 more joined an earlier story (2 story updates)"),
        "{text}"
    );

    // A second run: nothing new, nothing sent again.
    let before = fake.got().len();
    let again = common::run_once(&cfg).await;
    assert!(again.status.success());
    assert_eq!(fake.got().len(), before);
}

#[test]
fn try_shows_which_items_open_a_story_and_which_join_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "http://127.0.0.1:9", true);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["try", "--json", "-c"])
        .arg(&cfg)
        .args(["wire", "daily", "herald"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stories: Vec<(&str, bool, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["feed"].as_str().unwrap(),
                l["story"]["opens"].as_bool().unwrap(),
                l["story"]["first_title"].as_str().unwrap(),
            )
        })
        .collect();
    // Each feed's items oldest first, as the daemon queues them (the wire's undated items:
    // the document's order reversed).
    assert_eq!(
        stories,
        vec![
            ("wire", true, OTHER.0),
            ("wire", true, REPORTS[0].1),
            ("daily", false, REPORTS[0].1),
            ("herald", false, REPORTS[0].1),
        ]
    );
}

/// Regression: `try` judged a feed's items in the document's order (newest first), the daemon
/// oldest first: of two reports of one story in one feed, `try` named the newer the alert and
/// the older "an update", while the daemon alerted the older and sent nothing for the newer
/// (a feed the story already names). Now `try` says what the daemon does.
#[tokio::test]
async fn try_names_the_item_the_daemon_alerts_and_a_quiet_join() {
    let dir = tempfile::tempdir().unwrap();
    let item = |n: u32, title: &str, date: &str| {
        format!(
            "<item><guid>z{n}</guid><link>https://x.example/two/{n}</link><title>{title}</title>\
             <description>A zebra escaped from the Berlin zoo on Monday and ran through \
             traffic in the city centre.</description><pubDate>{date}</pubDate></item>"
        )
    };
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>w</title>{}{}</channel></rss>",
        item(
            2,
            "Zebra escaped from Berlin zoo runs through city traffic",
            "Mon, 07 Dec 2026 15:05:00 GMT"
        ),
        item(
            1,
            "Escaped zebra runs through Berlin zoo district traffic",
            "Mon, 07 Dec 2026 15:00:00 GMT"
        ),
    );
    std::fs::write(dir.path().join("wire.xml"), feed).unwrap();
    let cfg = dir.path().join("nw.toml");
    std::fs::write(
        &cfg,
        "[daemon]\nstate = \"state.db\"\nlisten = \"off\"\non_new_feed = \"all\"\n\
         [[feed]]\nname = \"wire\"\nurl = \"file:wire.xml\"\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\
         [[watch]]\nname = \"w\"\nterms = [\"zebra\"]\nstories = true\n",
    )
    .unwrap();
    let tried = std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["try", "-c"])
        .arg(&cfg)
        .arg("wire")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tried.stdout);
    assert!(tried.status.success(), "{text}");
    let opens = text.find("opens it (alerted)").expect(&text);
    let quiet = text
        .find("from a feed it already names: nothing is sent")
        .expect(&text);
    assert!(text.find("/two/1").expect(&text) < opens, "{text}");
    assert!(opens < text.find("/two/2").expect(&text), "{text}");
    assert!(text.find("/two/2").expect(&text) < quiet, "{text}");

    let ran = common::run_once(&cfg).await;
    let sent = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success(), "{sent}");
    assert_eq!(sent.lines().count(), 1, "{sent}");
    assert!(sent.contains("/two/1"), "{sent}");
}

#[tokio::test]
async fn without_stories_each_report_is_its_own_alert() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake.base(), false);
    let out = common::run_once(&cfg).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = fake.got();
    assert_eq!(
        of(&got, |g| g.method == "POST"
            && g.path == "/api/webhooks/1/tok")
        .len(),
        4
    );
    assert!(of(&got, |g| g.method == "PATCH").is_empty());
    assert!(of(&got, |g| g.body["type"] == "alert.updated").is_empty());
}
