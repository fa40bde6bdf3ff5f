//! The fake chat server refuses what each platform refuses (so the sink tests run against the
//! platforms' limits, not a server that takes anything), and every sink's worst cases get
//! through it: the hostile alert, a title and a template far over every limit, the largest
//! digest a sink says fits.

mod sinks_support;

use newswatch::deliver::digest::Digest;
use serde_json::{Value, json};
use sinks_support::limits::{Platform, platform, refusal};
use sinks_support::{Fake, all_sinks, hostile_alert, seed_alert, sink};

fn refused(path: &str, query: &str, body: Value) -> Option<u16> {
    let raw = serde_json::to_vec(&body).unwrap().len();
    refusal(path, query, &body, raw).map(|(status, _)| status)
}

#[test]
fn the_fake_tells_the_platform_from_the_request() {
    let cases = [
        (
            "/bot1:A/sendMessage",
            "",
            json!({"text": "x"}),
            Platform::Telegram,
        ),
        (
            "/_matrix/client/v3/rooms/r/send/m.room.message/k",
            "",
            json!({}),
            Platform::Matrix,
        ),
        (
            "/x",
            "requestId=k",
            json!({"text": "x"}),
            Platform::GoogleChat,
        ),
        (
            "/x",
            "wait=true",
            json!({"allowed_mentions": {"parse": []}}),
            Platform::Discord,
        ),
        (
            "/x",
            "",
            json!({"type": "message", "attachments": []}),
            Platform::Teams,
        ),
        (
            "/",
            "",
            json!({"topic": "t", "message": "m"}),
            Platform::Ntfy,
        ),
        (
            "/x",
            "",
            json!({"text": "t", "blocks": []}),
            Platform::Slack,
        ),
        ("/x", "", json!({"text": "t"}), Platform::Mattermost),
    ];
    for (path, query, body, want) in cases {
        assert_eq!(platform(path, query, &body), Some(want), "{path} {body}");
    }
    assert_eq!(
        platform("/hook", "", &json!({"type": "alert.matched"})),
        None
    );
}

#[test]
fn the_fake_refuses_what_each_platform_refuses() {
    let long = |n: usize| "x".repeat(n);
    // Slack: a section over 3,000 characters, more than 50 blocks, text over 40,000.
    let section = |t: &str| json!({"type": "section", "text": {"type": "mrkdwn", "text": t}});
    assert_eq!(
        refused(
            "/s",
            "",
            json!({"text": "t", "blocks": [section(&long(3001))]})
        ),
        Some(400)
    );
    assert_eq!(
        refused(
            "/s",
            "",
            json!({"text": "t", "blocks": vec![section("a"); 51]})
        ),
        Some(400)
    );
    assert_eq!(
        refused("/s", "", json!({"text": long(40_001), "blocks": []})),
        Some(400)
    );
    assert_eq!(
        refused(
            "/s",
            "",
            json!({"text": "t", "blocks": [section(&long(3000))]})
        ),
        None
    );
    // Mattermost: 16,383 characters.
    assert_eq!(refused("/m", "", json!({"text": long(16_384)})), Some(400));
    assert_eq!(refused("/m", "", json!({"text": long(16_383)})), None);
    // Discord: content 2,000, embed description 4,096 and 6,000 in all, empty messages,
    // thread names of 100.
    let d = |mut v: Value| {
        v["allowed_mentions"] = json!({"parse": []});
        refused("/d", "wait=true", v)
    };
    assert_eq!(d(json!({"content": long(2001)})), Some(400));
    assert_eq!(d(json!({"content": long(2000)})), None);
    assert_eq!(d(json!({})), Some(400));
    assert_eq!(
        d(json!({"embeds": [{"description": long(4097)}]})),
        Some(400)
    );
    assert_eq!(
        d(
            json!({"embeds": [{"title": long(256), "description": long(4096), "footer": {"text": long(1700)}}]})
        ),
        Some(400)
    );
    assert_eq!(
        d(json!({"content": "x", "thread_name": long(101)})),
        Some(400)
    );
    assert_eq!(d(json!({"content": "x", "username": " "})), Some(400));
    assert_eq!(d(json!({"embeds": [{"title": "t", "url": ""}]})), Some(400));
    // Unknown fields are ignored: only unknown fields make an empty message.
    assert_eq!(d(json!({"content": "x", "text": "y"})), None);
    assert_eq!(d(json!({"text": "y"})), Some(400));
    // Teams: ~28 KB.
    let card = |t: &str| {
        json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": t}]}}]})
    };
    assert_eq!(refused("/t", "", card(&long(29_000))), Some(413));
    assert_eq!(refused("/t", "", card(&long(20_000))), None);
    // Google Chat: 4,096 characters.
    assert_eq!(
        refused("/g", "requestId=k", json!({"text": long(4097)})),
        Some(400)
    );
    assert_eq!(
        refused("/g", "requestId=k", json!({"text": long(4096)})),
        None
    );
    // Matrix: 65,536 bytes.
    let ev = |n| json!({"msgtype": "m.text", "body": long(n)});
    let path = "/_matrix/client/v3/rooms/r/send/m.room.message/k";
    assert_eq!(refused(path, "", ev(65_600)), Some(413));
    assert_eq!(refused(path, "", ev(60_000)), None);
    // Telegram: 4,096 characters, a known parse_mode.
    let tg = "/bot1:A/sendMessage";
    assert_eq!(
        refused(tg, "", json!({"chat_id": 1, "text": long(4097)})),
        Some(400)
    );
    assert_eq!(
        refused(
            tg,
            "",
            json!({"chat_id": 1, "text": "x", "parse_mode": "html5"})
        ),
        Some(400)
    );
    assert_eq!(
        refused(
            tg,
            "",
            json!({"chat_id": 1, "text": long(4096), "parse_mode": "HTML"})
        ),
        None
    );
    // ntfy: a message of 4,096 bytes, a body of 8,192.
    let n = |m: &str, title: &str| json!({"topic": "t", "message": m, "title": title});
    assert_eq!(refused("/", "", n(&long(4097), "")), Some(413));
    assert_eq!(refused("/", "", n(&long(4000), &long(4500))), Some(413));
    assert_eq!(refused("/", "", n(&long(4096), "t")), None);
}

/// An alert whose title is far over every platform's limit and full of what must be escaped,
/// with a snippet of what escaping makes longest: markup escapes (`\\`, `*`), entities (`&`)
/// and JSON escapes (`"`, `\\` again), which together can quadruple a character.
fn long_title_alert() -> newswatch::deliver::Alert {
    let mut a = hostile_alert();
    a.title = "S&P <500> @channel [x](javascript:y) \\\"".repeat(300);
    let text = format!("{}{}", "\\".repeat(6000), "\\\"&<*_".repeat(1000));
    a.snippet = newswatch::deliver::AlertSnippet {
        marks: vec![(0, 6)],
        text,
    };
    a
}

/// A fake that takes whatever the platform would take, answering as each platform does.
async fn accepting_fake() -> Fake {
    Fake::start(Box::new(|_, got| {
        let body = if got.path.contains("sendMessage") {
            r#"{"ok": true, "result": {"message_id": 1}}"#
        } else {
            // Discord's and ntfy's `id`, Matrix's `event_id`, Google Chat's `name`.
            r#"{"id": "1", "event_id": "$e", "name": "spaces/x/messages/1"}"#
        };
        (200, vec![], body.into())
    }))
    .await
}

#[tokio::test]
async fn every_sinks_worst_cases_pass_the_platforms_limits() {
    let fake = accepting_fake().await;
    let base = fake.base();
    let mut alerts = Vec::new();
    for i in 0..120 {
        let mut a = if i % 2 == 0 {
            seed_alert()
        } else {
            long_title_alert()
        };
        a.item_key = format!("k{i}");
        alerts.push(a);
    }
    let template =
        "template = \"{% for i in range(150) %}{{ title_link }} {{ snippet }}{% endfor %}\"";
    for (kind, s) in all_sinks(&base) {
        // A link longer than a whole Teams body (20,000 bytes): no platform can send it.
        let mut long_link = hostile_alert();
        long_link.link = Some(format!("https://news.example/{}", "p".repeat(30_000)));
        for (i, a) in [hostile_alert(), long_title_alert(), long_link]
            .iter()
            .enumerate()
        {
            s.send(a, &format!("{kind}-{i}"))
                .await
                .unwrap_or_else(|e| panic!("{kind} alert {i}: {e}"));
        }
        let n = s.digest_fit(&Digest::alerts(&alerts));
        assert!(n >= 2, "{kind}: a digest of {n}");
        s.send_digest(&Digest::alerts(&alerts[..n]), &format!("{kind}-digest"))
            .await
            .unwrap_or_else(|e| panic!("{kind} digest of {n}: {e}"));
    }
    // The same with a template whose output outgrows every limit.
    for (kind, body) in [
        ("slack", format!("type = \"slack\"\nurl = \"{base}/slack\"")),
        (
            "mattermost",
            format!("type = \"mattermost\"\nurl = \"{base}/mm\""),
        ),
        (
            "discord",
            format!("type = \"discord\"\nurl = \"{base}/discord\""),
        ),
        ("teams", format!("type = \"teams\"\nurl = \"{base}/teams\"")),
        (
            "googlechat",
            format!("type = \"googlechat\"\nurl = \"{base}/gchat\""),
        ),
        (
            "matrix",
            format!(
                "type = \"matrix\"\nhomeserver = \"{base}\"\nroom = \"!r:x.org\"\naccess_token = \"t\""
            ),
        ),
        (
            "telegram",
            format!("type = \"telegram\"\napi_base = \"{base}\"\nbot_token = \"1:A\"\nchat_id = 1"),
        ),
        (
            "ntfy",
            format!("type = \"ntfy\"\nserver = \"{base}\"\ntopic = \"news\""),
        ),
    ] {
        sink(&format!("{body}\n{template}"))
            .send(&long_title_alert(), &format!("{kind}-template"))
            .await
            .unwrap_or_else(|e| panic!("{kind} templated: {e}"));
    }
    let got = fake.got();
    assert!(got.len() >= 8 * 4, "{} requests", got.len());
    let refused: Vec<String> = got.iter().filter_map(|g| g.refused.clone()).collect();
    assert!(refused.is_empty(), "{refused:#?}");
    // Every request was recognised as some platform's, so every one was checked.
    for g in &got {
        assert!(
            platform(&g.path, &g.query, &g.body).is_some(),
            "{} {}",
            g.path,
            g.body
        );
    }
}

/// Regression: a link too long for the message is one atom with the title it links, so the
/// cut took the title and everything after it: Telegram sent `<b></b>…`, Slack and Google
/// Chat `*…`, marked sent. The title goes unlinked instead, and the text keeps its room.
/// Regression: Discord got the link as its embed's `url` whatever its length, and refuses
/// one over 2,048 characters (400): the alert became a dead letter.
#[tokio::test]
async fn a_link_too_long_for_the_message_leaves_the_title_and_the_rest() {
    let fake = accepting_fake().await;
    let base = fake.base();
    // Past Slack's section text (3,000), Telegram's and Google Chat's message (4,096), and
    // every limit.
    let lengths = [2_800, 3_800, 30_000];
    for len in lengths {
        for (kind, s) in all_sinks(&base) {
            let mut a = seed_alert();
            a.link = Some(format!("https://news.example/{}", "p".repeat(len)));
            s.send(&a, &format!("{kind}-{len}"))
                .await
                .unwrap_or_else(|e| panic!("{kind}, link of {len}: {e}"));
        }
    }
    let got = fake.got();
    assert_eq!(got.len(), lengths.len() * 8);
    let refused: Vec<String> = got.iter().filter_map(|g| g.refused.clone()).collect();
    assert!(refused.is_empty(), "{refused:#?}");
    for g in &got {
        let body = g.body.to_string();
        for needle in ["NATO warns North Korean troop transfers", "dprk-troops"] {
            let shown: String = body.chars().filter(|&c| c != 'p').take(2000).collect();
            assert!(
                body.contains(needle),
                "{needle} missing: {} {shown}",
                g.path
            );
        }
    }
}
