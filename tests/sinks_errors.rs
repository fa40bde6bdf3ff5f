//! How each chat sink talks to its platform and reads its errors, against a local fake:
//! 429 shapes and their retry hints, permanent 4xx, Discord's deleted webhook (the rest of
//! Discord's ways in `sinks_discord.rs`), Telegram's chat migration and HTML fallback,
//! Matrix's idempotent txnId, Google Chat's requestId, and secrets kept out of errors.

mod sinks_support;

use std::sync::Arc;
use std::time::Duration;

use newswatch::deliver::sink::{MemoryOnly, SinkMemory};
use newswatch::deliver::{SendError, Sink};
use sinks_support::{Fake, Got, KEY, all_sinks, seed_alert, sink, sink_with};

/// Each platform's own 429, as its documentation shows it.
fn rate_limited(got: &Got) -> (u16, Vec<(&'static str, String)>, String) {
    let p = got.path.as_str();
    if p.starts_with("/discord") {
        (
            429,
            vec![
                ("retry-after", "3".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset-after", "2.5".into()),
            ],
            r#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#
                .into(),
        )
    } else if p.starts_with("/_matrix") {
        (
            429,
            vec![],
            r#"{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 1500}"#
                .into(),
        )
    } else if p.contains("/sendMessage") {
        (
            429,
            vec![],
            r#"{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 4", "parameters": {"retry_after": 4}}"#
                .into(),
        )
    } else if p.starts_with("/gchat") {
        (
            429,
            vec![],
            r#"{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}"#
                .into(),
        )
    } else if p == "/" {
        (
            429,
            vec![],
            r#"{"code": 42901, "http": 429, "error": "limit reached: too many requests"}"#.into(),
        )
    } else if p.starts_with("/slack") {
        (
            429,
            vec![("retry-after", "7".into())],
            "rate_limited".into(),
        )
    } else {
        // Mattermost and Teams: the standard header.
        (429, vec![("retry-after", "10".into())], String::new())
    }
}

#[tokio::test]
async fn each_platforms_429_is_retryable_with_its_hint() {
    let fake = Fake::start(Box::new(|_, got| rate_limited(got))).await;
    let alert = seed_alert();
    let secs = Duration::from_secs_f64;
    for (kind, sink) in all_sinks(&fake.base()) {
        let want = match kind {
            "slack" => Some(secs(7.0)),
            "mattermost" | "teams" => Some(secs(10.0)),
            "discord" => Some(secs(2.5)),
            "matrix" => Some(secs(1.5)),
            "telegram" => Some(secs(4.0)),
            // No hint in their 429s: the dispatcher's exponential backoff applies.
            "googlechat" | "ntfy" => None,
            _ => unreachable!(),
        };
        match sink.send(&alert, KEY).await {
            Err(SendError::Retryable { retry_after, .. }) => {
                assert_eq!(retry_after, want, "{kind}")
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn server_errors_retry_and_client_errors_do_not() {
    for (status, retryable) in [
        (503, true),
        (500, true),
        (408, true),
        (400, false),
        (403, false),
    ] {
        let fake = Fake::start(Box::new(move |_, _| {
            (
                status,
                vec![],
                r#"{"ok": false, "description": "nope"}"#.into(),
            )
        }))
        .await;
        for (kind, sink) in all_sinks(&fake.base()) {
            let r = sink.send(&seed_alert(), KEY).await;
            match (retryable, &r) {
                (true, Err(SendError::Retryable { .. })) => {}
                (false, Err(SendError::Permanent { .. })) => {}
                _ => panic!("{kind}: HTTP {status} gave {r:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_deleted_discord_webhook_is_permanent_and_its_token_never_shows() {
    // The receiver echoes the URL it was called at (as some proxies and platforms do), so a
    // message that kept the webhook token would show it.
    let fake = Fake::start(Box::new(|_, got| {
        let host = got
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let called = format!("http://{host}{}?{}", got.path, got.query);
        (
            404,
            vec![],
            serde_json::json!({"message": "Unknown Webhook", "code": 10015, "url": called})
                .to_string(),
        )
    }))
    .await;
    let s = sink(&format!(
        "type = \"discord\"\nurl = \"{}/api/webhooks/1/WEBHOOKSECRET\"\nthread_id = 42",
        fake.base()
    ));
    match s.send(&seed_alert(), KEY).await {
        Err(SendError::Permanent { message }) => {
            assert!(message.contains("404"), "{message}");
            assert!(message.contains("Unknown Webhook"), "{message}");
            assert!(!message.contains("WEBHOOKSECRET"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let got = fake.got();
    assert_eq!(got[0].query, "wait=true&thread_id=42");
    assert_eq!(
        got[0].body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
}

/// Regression: alerts could not go to a forum topic (they all landed in "General"), could not
/// be silent, and always previewed the item's link.
#[tokio::test]
async fn telegram_alerts_could_not_target_a_topic_be_silent_or_skip_the_preview() {
    let fake = Fake::start(Box::new(|_, _| {
        (
            200,
            vec![],
            r#"{"ok": true, "result": {"message_id": 7}}"#.into(),
        )
    }))
    .await;
    let base = format!(
        "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"123:ABC\"\nchat_id = -100123",
        fake.base()
    );
    let topic = sink(&format!(
        "{base}\nmessage_thread_id = 42\ndisable_notification = true\nlink_preview = false"
    ));
    topic.send(&seed_alert(), KEY).await.unwrap();
    sink(&base).send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    let b = &got[0].body;
    assert_eq!(b["message_thread_id"], 42);
    assert_eq!(b["disable_notification"], true);
    assert_eq!(
        b["link_preview_options"],
        serde_json::json!({"is_disabled": true})
    );
    // The default stays as it was: the item's link previewed, notifications on, no topic.
    let d = &got[1].body;
    assert!(d.get("message_thread_id").is_none() && d.get("disable_notification").is_none());
    assert!(
        d["link_preview_options"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://")),
        "{d}"
    );
}

#[tokio::test]
async fn telegram_follows_a_chat_migration_and_remembers_it() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.body["chat_id"] == -100123 {
            (
                400,
                vec![],
                r#"{"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -1009999}}"#
                    .into(),
            )
        } else {
            (200, vec![], r#"{"ok": true, "result": {"message_id": 7}}"#.into())
        }
    }))
    .await;
    let memory: Arc<dyn SinkMemory> = Arc::new(MemoryOnly::default());
    let cfg = format!(
        "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"123:ABC\"\nchat_id = -100123",
        fake.base()
    );
    let s = sink_with(&cfg, memory.clone());
    s.send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, "/bot123:ABC/sendMessage");
    assert_eq!(got[1].body["chat_id"], -1009999);
    assert_eq!(
        memory.get("chat", "chat_id").await.as_deref(),
        Some("-1009999")
    );
    // After a restart (a new sink, the same memory) the new id is used from the start.
    let again = sink_with(&cfg, memory.clone());
    again.send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].body["chat_id"], -1009999);
}

#[tokio::test]
async fn telegram_resends_as_plain_text_when_it_cannot_parse_entities() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.body.get("parse_mode").is_some() {
            (
                400,
                vec![],
                r#"{"ok": false, "error_code": 400, "description": "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}"#
                    .into(),
            )
        } else {
            (200, vec![], r#"{"ok": true, "result": {"message_id": 8}}"#.into())
        }
    }))
    .await;
    let s = sink(&format!(
        "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"123:ABC\"\nchat_id = \"@news\"\ntemplate = \"<x>{{{{ title }}}}</x>\"",
        fake.base()
    ));
    s.send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body["chat_id"], "@news");
    let text = got[1].body["text"].as_str().unwrap();
    assert!(text.starts_with("NATO warns"), "{text}");
    assert!(!text.contains('<'), "{text}");
}

/// A template that passes `check` (it renders on the sample) but renders nothing for this
/// alert (no publication date): the default message is sent, not an empty one.
#[tokio::test]
async fn a_template_that_renders_nothing_for_an_alert_sends_the_default_message() {
    let fake = Fake::start(Box::new(|_, _| (200, vec![], "ok".into()))).await;
    let s = sink(&format!(
        "type = \"slack\"\nurl = \"{}/slack\"\ntemplate = \"{{% if published %}}{{{{ title }}}}{{% endif %}}\"",
        fake.base()
    ));
    let mut alert = seed_alert();
    alert.published = None;
    s.send(&alert, KEY).await.unwrap();
    let got = fake.got();
    let text = got[0].body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("NATO warns") && text.contains("According to Kiev"),
        "the default message (title and snippet) should be sent: {}",
        got[0].body
    );
}

#[tokio::test]
async fn matrix_retries_reuse_the_txn_id() {
    let fake = Fake::start(Box::new(|n, got| {
        if got.method == "GET" {
            (200, vec![], r#"{"room_id": "!abc:example.org"}"#.into())
        } else if n < 3 {
            (502, vec![], String::new())
        } else {
            (200, vec![], r#"{"event_id": "$e"}"#.into())
        }
    }))
    .await;
    let s = sink(&format!(
        "type = \"matrix\"\nhomeserver = \"{}/\"\nroom = \"#news:example.org\"\naccess_token = \"syt_secret\"",
        fake.base()
    ));
    let alert = seed_alert();
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(s.send(&alert, KEY).await);
    }
    assert!(matches!(results[0], Err(SendError::Retryable { .. })));
    assert!(results[2].is_ok(), "{:?}", results[2]);
    let got = fake.got();
    // The alias is resolved once, percent-encoded.
    assert_eq!(got[0].method, "GET");
    assert_eq!(
        got[0].path,
        "/_matrix/client/v3/directory/room/%23news%3Aexample.org"
    );
    let puts: Vec<&Got> = got.iter().filter(|g| g.method == "PUT").collect();
    assert_eq!(puts.len(), 3);
    for p in puts {
        assert_eq!(
            p.path,
            format!("/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/m.room.message/{KEY}")
        );
        assert_eq!(p.headers["authorization"], "Bearer syt_secret");
        assert_eq!(p.body["m.mentions"], serde_json::json!({}));
    }
}

#[tokio::test]
async fn google_chat_sends_the_key_as_request_id() {
    let fake = Fake::start(Box::new(|_, _| {
        (200, vec![], r#"{"name": "spaces/x/messages/y"}"#.into())
    }))
    .await;
    let s = sink(&format!(
        "type = \"googlechat\"\nurl = \"{}/v1/spaces/AAA/messages?key=k&token=t\"",
        fake.base()
    ));
    let ok = s.send(&seed_alert(), KEY).await.unwrap();
    assert_eq!(ok.status, Some(200));
    assert!(ok.detail.contains("spaces/x/messages/y"));
    let got = fake.got();
    assert_eq!(got[0].query, format!("key=k&token=t&requestId={KEY}"));
}

#[tokio::test]
async fn ntfy_publishes_json_to_the_root_with_a_bearer_token() {
    let fake = Fake::start(Box::new(|_, _| (200, vec![], r#"{"id": "x"}"#.into()))).await;
    let s = sink(&format!(
        "type = \"ntfy\"\nserver = \"{}\"\ntopic = \"alerts\"\ntoken = \"tk_secret\"",
        fake.base()
    ));
    s.send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/")
    );
    assert_eq!(got[0].headers["authorization"], "Bearer tk_secret");
    assert_eq!(got[0].body["topic"], "alerts");
    assert!(got[0].body.get("priority").is_none());
}

#[tokio::test]
async fn secrets_never_appear_in_errors() {
    // Nothing listens on port 9 of localhost: a network error, which reqwest would describe
    // with the URL.
    let cases = [
        "type = \"slack\"\nurl = \"http://127.0.0.1:9/services/T0/B0/SECRETSLACK\"",
        "type = \"discord\"\nurl = \"http://127.0.0.1:9/api/webhooks/1/SECRETDISCORD\"",
        "type = \"telegram\"\napi_base = \"http://127.0.0.1:9\"\nbot_token = \"1:SECRETTG\"\nchat_id = 1",
        "type = \"googlechat\"\nurl = \"http://127.0.0.1:9/v1/spaces/A/messages?token=SECRETGC\"",
    ];
    for cfg in cases {
        let s: Arc<dyn Sink> = sink(cfg);
        let err = s.send(&seed_alert(), KEY).await.unwrap_err();
        assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
    // A platform that echoes the token back in its error.
    let fake = Fake::start(Box::new(|_, got| {
        (
            401,
            vec![],
            format!("{{\"ok\": false, \"description\": \"bad {}\"}}", got.path),
        )
    }))
    .await;
    let s = sink(&format!(
        "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"1:SECRETTG\"\nchat_id = 1",
        fake.base()
    ));
    let err = s.send(&seed_alert(), KEY).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

/// Regression: sink clients followed up to 3 redirects, so a 302 to a login page turned the POST
/// into a GET whose 200 marked the alert sent, and a 307/308 carried the signed body elsewhere.
#[tokio::test]
async fn sinks_never_follow_redirects() {
    for (status, permanent) in [
        (302, false),
        (303, false),
        (307, false),
        (301, true),
        (308, true),
    ] {
        let fake = Fake::start(Box::new(move |_, got| {
            if got.path.starts_with("/landing") {
                (200, vec![], r#"{"ok": true}"#.into())
            } else {
                (
                    status,
                    vec![("location", "/landing?token=SECRETLOC".into())],
                    String::new(),
                )
            }
        }))
        .await;
        let mut sinks = all_sinks(&fake.base());
        sinks.push((
            "webhook",
            sink(&format!(
                "type = \"webhook\"\nurl = \"{}/hook\"",
                fake.base()
            )),
        ));
        for (kind, sink) in sinks {
            let before = fake.got().len();
            let r = sink.send(&seed_alert(), KEY).await;
            let err = match (&r, permanent) {
                (Err(e @ SendError::Permanent { .. }), true)
                | (Err(e @ SendError::Retryable { .. }), false) => e.to_string(),
                _ => panic!("{kind}: HTTP {status} gave {r:?}"),
            };
            let got = fake.got();
            assert!(
                got[before..]
                    .iter()
                    .all(|g| !g.path.starts_with("/landing")),
                "{kind}: followed the redirect: {:?}",
                got[before..].iter().map(|g| &g.path).collect::<Vec<_>>()
            );
            assert!(err.contains("redirects to /landing"), "{kind}: {err}");
            assert!(err.contains("fix the sink's url"), "{kind}: {err}");
            assert!(!err.contains("SECRETLOC"), "{kind}: {err}");
        }
    }
}

/// Slack answers a successful post `ok` as `text/html`: an answer, not a page (taken for a
/// proxy's page, every alert would be retried, and posted again each time).
#[tokio::test]
async fn slacks_ok_as_html_is_delivered() {
    let fake = Fake::start(Box::new(|_, _| {
        (200, vec![("content-type", "text/html".into())], "ok".into())
    }))
    .await;
    for (kind, sink) in all_sinks(&fake.base()) {
        if matches!(kind, "slack" | "mattermost" | "teams") {
            let result = sink.send(&seed_alert(), KEY).await;
            assert!(result.is_ok(), "{kind}: {result:?}");
        }
    }
}

/// Regression: a 200 that is not the platform's answer (a proxy's maintenance page, an error
/// as JSON) counted as delivered: the alert was marked sent unseen, and without the message id
/// every story update of it had nothing to edit. Discord (posted with `?wait=true`), Matrix,
/// Telegram, Google Chat and ntfy name the message in every success; without it the send is
/// retried. A web page is no platform's answer: retried by every chat sink (Slack, Mattermost
/// and Teams answer "ok", "1" or nothing, so a JSON page in front of them still passes). The
/// page is not quoted (it may echo the request's URL, Telegram's with the bot token).
#[tokio::test]
async fn a_200_without_the_platforms_message_id_is_retried() {
    for page in [
        "<html>maintenance</html>",
        r#"{"error":"something went wrong"}"#,
    ] {
        let fake = Fake::start(Box::new(move |_, _| (200, vec![], page.into()))).await;
        for (kind, sink) in all_sinks(&fake.base()) {
            let result = sink.send(&seed_alert(), KEY).await;
            let names_the_message = matches!(
                kind,
                "discord" | "matrix" | "telegram" | "googlechat" | "ntfy"
            );
            if !names_the_message && page.starts_with('{') {
                assert!(result.is_ok(), "{kind}: {result:?}");
                continue;
            }
            match result {
                Err(SendError::Retryable { message, .. }) => {
                    assert!(message.contains("HTTP 200"), "{kind}: {message}");
                    assert!(!message.contains("maintenance"), "{kind}: {message}");
                    assert!(!message.contains("syt_token"), "{kind}: {message}");
                }
                other => panic!("{kind} answered {page}: {other:?}"),
            }
        }
    }
}
