//! Story updates at the sink, against a local fake of each platform: the id a post returns is
//! kept, and an update edits that message where the platform can (Discord's webhook message
//! PATCH, Matrix `m.replace`, Telegram `editMessageText`), sends a follow-up note or nothing
//! where it cannot (`story_updates`), and is an `alert.updated` event on webhooks.

mod sinks_support;

use newswatch::deliver::alert::StoryRef;
use newswatch::deliver::{Alert, SendError, Sink};
use sinks_support::{AT_MENTIONS, Fake, Got, KEY, seed_alert, sink};

const UPDATE_KEY: &str = "nw_fedcba9876543210fedcba9876543210";
const SOURCES_LINE: &str = "Also reported by Reuters and BBC (3 sources)";

/// The seed alert as a story update: reported by two more feeds.
fn updated() -> Alert {
    let mut a = seed_alert();
    a.story = Some(StoryRef {
        id: "st_1".into(),
        sources: vec!["demo-world".into(), "Reuters".into(), "BBC".into()],
        updated_at: Some(a.matched_at + chrono::Duration::minutes(7)),
    });
    a
}

/// What each platform answers a message it accepts, with the created message's id.
fn created(got: &Got) -> (u16, Vec<(&'static str, String)>, String) {
    let body = if got.path.contains("/bot") {
        r#"{"ok": true, "result": {"message_id": 42, "chat": {"id": -100123}}}"#
    } else if got.path.starts_with("/_matrix/") {
        r#"{"event_id": "$ev1:example.org"}"#
    } else if got.path.starts_with("/googlechat") {
        r#"{"name": "spaces/AAA/messages/BBB"}"#
    } else if got.path == "/" {
        // ntfy: the published message.
        r#"{"id": "sPs71M8A2T", "event": "message", "topic": "news"}"#
    } else {
        r#"{"id": "1234567890", "channel_id": "2"}"#
    };
    (200, vec![], body.into())
}

fn discord(extra: &str, base: &str) -> std::sync::Arc<dyn Sink> {
    sink(&format!(
        "type = \"discord\"\nurl = \"{base}/api/webhooks/1/tok\"\n{extra}"
    ))
}

#[tokio::test]
async fn discord_keeps_the_message_id_and_an_update_edits_that_message() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let s = discord("username = \"News\"\nsilent = true", &fake.base());
    let ok = s.send(&seed_alert(), KEY).await.unwrap();
    // The webhook's id with the message's: only that webhook can edit it.
    assert_eq!(ok.message_ref.as_deref(), Some("1/1234567890"));

    let ok = s
        .update(&updated(), ok.message_ref.as_deref(), UPDATE_KEY)
        .await
        .unwrap();
    assert_eq!(ok.status, Some(200));
    let got = fake.got();
    assert_eq!(got.len(), 2, "{got:#?}");
    let edit = &got[1];
    assert_eq!(edit.method, "PATCH");
    assert_eq!(edit.path, "/api/webhooks/1/tok/messages/1234567890");
    assert_eq!(edit.query, "", "an edit takes no wait=true");
    assert_eq!(edit.refused, None);
    let description = edit.body["embeds"][0]["description"].as_str().unwrap();
    assert!(description.ends_with(SOURCES_LINE), "{description}");
    assert_eq!(
        edit.body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    // What only a new message takes is left out of the edit.
    for key in ["username", "avatar_url", "thread_name", "flags"] {
        assert!(edit.body.get(key).is_none(), "{key} in {}", edit.body);
    }
    // The first post had no sources line: it was the story's first report.
    let first = got[0].body["embeds"][0]["description"].as_str().unwrap();
    assert!(!first.contains("Also reported by"), "{first}");
}

#[tokio::test]
async fn a_discord_edit_stays_in_the_thread_and_a_deleted_message_is_not_an_error() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.method == "PATCH" && got.path.ends_with("/messages/999") {
            return (
                404,
                vec![],
                r#"{"message": "Unknown Message", "code": 10008}"#.into(),
            );
        }
        // A 404 for the webhook itself, and "Unknown Message" under another status: errors.
        if got.method == "PATCH" && got.path.ends_with("/messages/555") {
            return (
                404,
                vec![],
                r#"{"message": "Unknown Webhook", "code": 10015}"#.into(),
            );
        }
        if got.method == "PATCH" && got.path.ends_with("/messages/556") {
            return (
                400,
                vec![],
                r#"{"message": "Unknown Message", "code": 10008}"#.into(),
            );
        }
        created(got)
    }))
    .await;
    let s = discord("thread_id = 77", &fake.base());
    s.update(&updated(), Some("1234567890"), UPDATE_KEY)
        .await
        .unwrap();
    let ok = s.update(&updated(), Some("999"), UPDATE_KEY).await.unwrap();
    assert_eq!(ok.status, None, "skipped: {ok:?}");
    assert!(ok.detail.contains("deleted"), "{ok:?}");
    for id in ["555", "556"] {
        let err = s
            .update(&updated(), Some(id), UPDATE_KEY)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent { .. }), "{id}: {err:?}");
    }
    let got = fake.got();
    assert_eq!(got[0].query, "thread_id=77");
    assert_eq!(got[0].path, "/api/webhooks/1/tok/messages/1234567890");
    // An id that is no snowflake is never put into a URL: no edit is attempted.
    let before = got.len();
    for id in ["", "12ab", "../../x", "1?wait=false"] {
        s.update(&updated(), Some(id), UPDATE_KEY).await.unwrap();
    }
    let edits: Vec<String> = fake.got()[before..]
        .iter()
        .filter(|g| g.method == "PATCH")
        .map(|g| g.path.clone())
        .collect();
    assert!(edits.is_empty(), "{edits:?}");
}

/// Regression: a thread written into the webhook URL (`…?thread_id=77`, as Discord's
/// documentation shows it) got every post, but the edit URL dropped the query, so Discord
/// answered "unknown message" and every story update was dropped as "deleted". And a deleted
/// forum post (`thread_name`: a thread of its own) answers "unknown channel", which made the
/// update a dead letter blaming the webhook's channel instead of a message deleted.
#[tokio::test]
async fn a_discord_thread_in_the_url_is_edited_there_and_a_deleted_forum_post_is_skipped() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.method == "PATCH" && got.path.ends_with("/messages/888") {
            return (
                404,
                vec![],
                r#"{"message": "Unknown Channel", "code": 10003}"#.into(),
            );
        }
        created(got)
    }))
    .await;
    let base = fake.base();
    let s = sink(&format!(
        "type = \"discord\"\nurl = \"{base}/api/webhooks/1/tok?thread_id=77\"\n"
    ));
    let ok = s.send(&seed_alert(), KEY).await.unwrap();
    s.update(&updated(), ok.message_ref.as_deref(), UPDATE_KEY)
        .await
        .unwrap();
    let got = fake.got();
    assert_eq!(
        got[0].query, "wait=true&thread_id=77",
        "the post, in the thread once"
    );
    assert_eq!(got[1].method, "PATCH");
    assert_eq!(got[1].query, "thread_id=77", "the edit, in the same thread");
    // An empty `thread_id=` names no thread.
    let empty = sink(&format!(
        "type = \"discord\"\nurl = \"{base}/api/webhooks/1/tok?thread_id=\"\n"
    ));
    empty.send(&seed_alert(), KEY).await.unwrap();
    assert_eq!(fake.got()[2].query, "wait=true");

    let forum = discord("thread_name = \"{{ title }}\"", &base);
    let ok = forum
        .update(&updated(), Some("888"), UPDATE_KEY)
        .await
        .unwrap();
    assert_eq!(ok.status, None, "skipped: {ok:?}");
    assert!(ok.detail.contains("deleted"), "{ok:?}");
    // In a configured thread, an unknown channel is that thread gone: the sink's fault.
    let threaded = discord("thread_id = 5", &base);
    let err = threaded
        .update(&updated(), Some("888"), UPDATE_KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn a_failed_discord_edit_never_shows_the_webhook_token() {
    let fake = Fake::start(Box::new(|_, got| {
        let echo = format!("{{\"message\": \"bad {}{}\"}}", got.path, got.query);
        (400, vec![], echo)
    }))
    .await;
    let s = discord("", &fake.base());
    let err = s
        .update(&updated(), Some("1234567890"), UPDATE_KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(!err.to_string().contains("tok"), "{err}");
}

#[tokio::test]
async fn matrix_keeps_the_event_id_and_an_update_replaces_that_event() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let s = sink(&format!(
        "type = \"matrix\"\nhomeserver = \"{}\"\nroom = \"!room:example.org\"\naccess_token = \"syt_token\"",
        fake.base()
    ));
    let ok = s.send(&seed_alert(), KEY).await.unwrap();
    // The event and its room: an edit goes where the message is.
    assert_eq!(
        ok.message_ref.as_deref(),
        Some("!room:example.org $ev1:example.org")
    );

    s.update(&updated(), ok.message_ref.as_deref(), UPDATE_KEY)
        .await
        .unwrap();
    let got = fake.got();
    let edit = &got[1];
    assert_eq!(edit.method, "PUT");
    // The update's own key is its txnId: a retried edit is deduplicated by the homeserver.
    assert!(
        edit.path
            .ends_with(&format!("/send/m.room.message/{UPDATE_KEY}")),
        "{}",
        edit.path
    );
    assert_eq!(edit.refused, None);
    let b = &edit.body;
    assert_eq!(b["m.relates_to"]["rel_type"], "m.replace");
    assert_eq!(b["m.relates_to"]["event_id"], "$ev1:example.org");
    assert_eq!(b["m.mentions"], serde_json::json!({}));
    assert_eq!(b["m.new_content"]["m.mentions"], serde_json::json!({}));
    let new_body = b["m.new_content"]["body"].as_str().unwrap();
    let new_html = b["m.new_content"]["formatted_body"].as_str().unwrap();
    assert!(new_body.ends_with(SOURCES_LINE), "{new_body}");
    assert!(new_html.ends_with(SOURCES_LINE), "{new_html}");
    let fallback = b["body"].as_str().unwrap();
    assert!(fallback.starts_with("* "), "{fallback}");
    assert!(
        fallback.len() <= 1_002,
        "the fallback is short: {}",
        fallback.len()
    );
    // It shows the start of the new text (whole, or cut with an ellipsis).
    let shown = fallback[2..].trim_end_matches('…');
    assert!(shown.starts_with("NATO warns"), "{fallback}");
    assert!(new_body.starts_with(shown), "{fallback}");
    assert!(shown == new_body || shown.len() > 900, "{fallback}");
}

/// Regression: after a reload moved a Matrix sink to another room, the edit of an alert sent
/// before went to the new room (an `m.replace` of an event that is not there: refused, and the
/// alert was never updated). The edit goes to the message's room; a bare event id (stored by
/// an earlier release) is in the sink's room.
#[tokio::test]
async fn a_matrix_edit_goes_to_the_room_the_message_is_in() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let in_room = |room: &str| {
        sink(&format!(
            "type = \"matrix\"\nhomeserver = \"{}\"\nroom = \"{room}\"\naccess_token = \"syt_token\"",
            fake.base()
        ))
    };
    let sent = in_room("!roomA:example.org")
        .send(&seed_alert(), KEY)
        .await
        .unwrap();
    let moved = in_room("!roomB:example.org");
    moved
        .update(&updated(), sent.message_ref.as_deref(), UPDATE_KEY)
        .await
        .unwrap();
    moved
        .update(&updated(), Some("$old:example.org"), "nw_bare")
        .await
        .unwrap();
    let paths: Vec<String> = fake.got().iter().map(|g| g.path.clone()).collect();
    assert!(
        paths[0].contains("/rooms/%21roomA%3Aexample.org/"),
        "{paths:?}"
    );
    assert!(
        paths[1].contains("/rooms/%21roomA%3Aexample.org/"),
        "{paths:?}"
    );
    assert!(
        paths[2].contains("/rooms/%21roomB%3Aexample.org/"),
        "{paths:?}"
    );
    let got = fake.got();
    assert_eq!(got[1].body["m.relates_to"]["event_id"], "$ev1:example.org");
    assert_eq!(got[2].body["m.relates_to"]["event_id"], "$old:example.org");
}

/// Regression: an answer was read to 8 KB only, so the message id of a long answer (Telegram
/// echoes the whole message, non-ASCII as six-byte `\u` escapes, with its entities; Discord its
/// embed) was lost: the story's updates had no message to edit.
#[tokio::test]
async fn a_long_answer_still_gives_the_message_id() {
    let text = "\\u0416".repeat(5_000);
    let fake = Fake::start(Box::new(move |_, got| {
        let body = if got.path.contains("/bot") {
            format!(r#"{{"ok": true, "result": {{"text": "{text}", "message_id": 42}}}}"#)
        } else {
            format!(r#"{{"embeds": [{{"description": "{text}"}}], "id": "1234567890"}}"#)
        };
        (200, vec![], body)
    }))
    .await;
    let telegram = sink(&format!(
        "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"123:ABC\"\nchat_id = 1",
        fake.base()
    ));
    let ok = telegram.send(&seed_alert(), KEY).await.unwrap();
    assert_eq!(ok.message_ref.as_deref(), Some("1:42"));
    let ok = discord("", &fake.base())
        .send(&seed_alert(), KEY)
        .await
        .unwrap();
    assert_eq!(ok.message_ref.as_deref(), Some("1/1234567890"));
}

#[tokio::test]
async fn telegram_keeps_the_message_id_and_an_update_edits_that_message() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.path.ends_with("/editMessageText") && got.body["message_id"] == 43 {
            let said = r#"{"ok": false, "error_code": 400, "description": "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"}"#;
            return (400, vec![], said.into());
        }
        if got.path.ends_with("/editMessageText") && got.body["message_id"] == 44 {
            let said = r#"{"ok": false, "error_code": 400, "description": "Bad Request: message to edit not found"}"#;
            return (400, vec![], said.into());
        }
        created(got)
    }))
    .await;
    let s = sink(&format!(
        "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"123:ABC\"\nchat_id = -100123\nmessage_thread_id = 5",
        fake.base()
    ));
    let ok = s.send(&seed_alert(), KEY).await.unwrap();
    assert_eq!(ok.message_ref.as_deref(), Some("-100123:42"));

    s.update(&updated(), ok.message_ref.as_deref(), UPDATE_KEY)
        .await
        .unwrap();
    // An edit Telegram says changes nothing (a retry of one that landed) is done.
    let again = s.update(&updated(), Some("43"), UPDATE_KEY).await.unwrap();
    assert_eq!(again.status, None, "{again:?}");
    // Regression: an edit of a message deleted in the chat was a permanent failure, and each
    // later update of its story another dead letter. There is nothing to update: done.
    let gone = s.update(&updated(), Some("44"), UPDATE_KEY).await.unwrap();
    assert!(gone.skipped, "{gone:?}");
    let got = fake.got();
    let edit = &got[1];
    assert_eq!(edit.path, "/bot123:ABC/editMessageText");
    assert_eq!(edit.refused, None);
    assert_eq!(edit.body["message_id"], 42);
    assert_eq!(edit.body["chat_id"], -100123);
    assert_eq!(edit.body["parse_mode"], "HTML");
    assert!(
        edit.body.get("message_thread_id").is_none(),
        "{}",
        edit.body
    );
    let text = edit.body["text"].as_str().unwrap();
    assert!(text.ends_with(SOURCES_LINE), "{text}");
}

/// Regression (review): a Telegram alert's message was kept by its id alone, and ids count
/// per chat: after `chat_id` changed, or the group became a supergroup, an update edited
/// whichever other alert had that number in the sink's chat now. The id is kept with its
/// chat, and the edit goes there; an edit answered with a migration is not made in the new
/// chat. A bare id (stored by an earlier release) is in the sink's chat.
#[tokio::test]
async fn a_telegram_update_edits_the_message_in_the_chat_it_was_sent_to() {
    let fake = Fake::start(Box::new(|_, got| {
        if got.body["chat_id"] == -100777 {
            let said = r#"{"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -100888}}"#;
            return (400, vec![], said.into());
        }
        created(got)
    }))
    .await;
    let in_chat = |chat: &str| {
        sink(&format!(
            "type = \"telegram\"\napi_base = \"{}\"\nbot_token = \"123:ABC\"\nchat_id = {chat}",
            fake.base()
        ))
    };
    let sent = in_chat("-100123").send(&seed_alert(), KEY).await.unwrap();
    assert_eq!(sent.message_ref.as_deref(), Some("-100123:42"));
    // The sink now posts to another chat: the update still edits the alert's own message.
    let moved = in_chat("-100456");
    moved
        .update(&updated(), sent.message_ref.as_deref(), UPDATE_KEY)
        .await
        .unwrap();
    moved
        .update(&updated(), Some("43"), UPDATE_KEY)
        .await
        .unwrap();
    let left = moved
        .update(&updated(), Some("-100777:44"), UPDATE_KEY)
        .await
        .unwrap();
    assert!(left.skipped, "{left:?}");
    let got = fake.got();
    let edits: Vec<(&serde_json::Value, &serde_json::Value)> = got
        .iter()
        .filter(|g| g.path.ends_with("/editMessageText"))
        .map(|g| (&g.body["chat_id"], &g.body["message_id"]))
        .collect();
    assert_eq!(
        edits,
        [
            (&serde_json::json!(-100123), &serde_json::json!(42)),
            (&serde_json::json!(-100456), &serde_json::json!(43)),
            (&serde_json::json!(-100777), &serde_json::json!(44)),
        ],
        "one edit each, none in the migrated chat"
    );
}

/// Regression: after a reload moved a Discord sink to another webhook, an update of an alert
/// sent through the old one was a `PATCH` through the new one, which Discord answers "unknown
/// message": the update was skipped as if the message had been deleted. It is no edit now:
/// silent, done without a request; with `story_updates = "reply"`, a note. A bare id stored by
/// an earlier release is the sink's own.
#[tokio::test]
async fn a_discord_message_of_another_webhook_is_not_edited_through_this_one() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let base = fake.base();
    let moved = |extra: &str| {
        sink(&format!(
            "type = \"discord\"\nurl = \"{base}/api/webhooks/2/other\"\n{extra}"
        ))
    };
    let silent = moved("");
    assert!(!silent.update_sends(&updated(), Some("1/1234567890")));
    let ok = silent
        .update(&updated(), Some("1/1234567890"), UPDATE_KEY)
        .await
        .unwrap();
    assert!(ok.skipped, "{ok:?}");
    assert!(!ok.detail.contains("deleted"), "{ok:?}");
    assert!(fake.got().is_empty(), "{:#?}", fake.got());

    let replying = moved("story_updates = \"reply\"");
    assert!(replying.update_is_note(Some("1/1234567890")));
    replying
        .update(&updated(), Some("1/1234567890"), UPDATE_KEY)
        .await
        .unwrap();
    let got = fake.got();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].method, "POST", "a note, not an edit");
    assert_eq!(got[0].path, "/api/webhooks/2/other");

    // Its own messages, and a bare id of an earlier release, are edited.
    for stored in ["2/555", "555"] {
        assert!(silent.update_sends(&updated(), Some(stored)), "{stored}");
        silent
            .update(&updated(), Some(stored), UPDATE_KEY)
            .await
            .unwrap();
        let got = fake.got();
        let edit = got.last().unwrap();
        assert_eq!(edit.method, "PATCH", "{stored}");
        assert_eq!(edit.path, "/api/webhooks/2/other/messages/555", "{stored}");
    }
}

#[tokio::test]
async fn platforms_that_cannot_edit_say_nothing_unless_asked_to_reply() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let base = fake.base();
    for kind in ["slack", "mattermost", "teams", "googlechat", "ntfy"] {
        let target = match kind {
            "ntfy" => format!("server = \"{base}\"\ntopic = \"news\""),
            _ => format!("url = \"{base}/{kind}\""),
        };
        let silent = sink(&format!("type = \"{kind}\"\n{target}"));
        assert!(
            !silent.update_is_note(None),
            "{kind}: silent sends no notes"
        );
        let ok = silent
            .update(&updated(), Some("1234567890"), UPDATE_KEY)
            .await
            .unwrap();
        assert_eq!(ok.status, None, "{kind}: {ok:?}");
        assert!(fake.got().is_empty(), "{kind} sent {:#?}", fake.got());
        assert!(
            !silent.update_sends(&updated(), Some("1234567890")),
            "{kind}"
        );
    }
    for (n, kind) in ["slack", "mattermost", "teams", "googlechat", "ntfy"]
        .iter()
        .enumerate()
    {
        let target = match *kind {
            "ntfy" => format!("server = \"{base}\"\ntopic = \"news\""),
            _ => format!("url = \"{base}/{kind}\""),
        };
        let replying = sink(&format!(
            "type = \"{kind}\"\n{target}\nstory_updates = \"reply\""
        ));
        // What the dispatcher folds into a digest of notes in a burst.
        assert!(replying.update_is_note(Some("1234567890")), "{kind}");
        // A story with one source has nothing to say yet.
        let mut one = updated();
        one.story.as_mut().unwrap().sources.truncate(1);
        replying.update(&one, None, UPDATE_KEY).await.unwrap();
        assert_eq!(fake.got().len(), n, "{kind}: a note for one source");
        // Done without a request: listed as such, and none of the sink's rate.
        assert!(!replying.update_sends(&one, None), "{kind}");
        assert!(replying.update_sends(&updated(), None), "{kind}");

        replying.update(&updated(), None, UPDATE_KEY).await.unwrap();
        let got = fake.got();
        assert_eq!(got.len(), n + 1, "{kind}");
        let note = &got[n];
        assert_eq!(note.refused, None, "{kind}");
        let text = sinks_support::strings(&note.body).join("\n");
        assert!(
            text.contains("Reuters and BBC (3 sources)"),
            "{kind}: {text}"
        );
        assert!(
            text.contains("North Korean"),
            "{kind}: the note names the story: {text}"
        );
    }
}

#[tokio::test]
async fn an_editable_platform_without_the_message_id_replies_only_when_asked() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let base = fake.base();
    let silent = discord("", &base);
    silent.update(&updated(), None, UPDATE_KEY).await.unwrap();
    assert!(fake.got().is_empty(), "{:#?}", fake.got());
    let replying = discord("story_updates = \"reply\"", &base);
    replying.update(&updated(), None, UPDATE_KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST", "a new message, not an edit");
    // A note only where there is no message to edit.
    assert!(replying.update_is_note(None));
    assert!(!replying.update_is_note(Some("1234567890")));
    assert!(!silent.update_is_note(None));
}

/// A burst of follow-up notes goes as one message (the dispatcher decides when): each line
/// a story and its sources, on every platform that posts notes.
#[tokio::test]
async fn a_digest_of_notes_is_one_message_naming_each_storys_sources() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let base = fake.base();
    let mut second = updated();
    second.title = "Zelensky reveals Victory Plan".into();
    second.story = Some(StoryRef {
        id: "st_2".into(),
        sources: vec!["kyiv".into(), "Ukrinform".into()],
        updated_at: None,
    });
    let notes = [updated(), second];
    let digest = newswatch::deliver::digest::Digest::notes(&notes);
    for (n, kind) in [
        "slack",
        "mattermost",
        "teams",
        "googlechat",
        "ntfy",
        "discord",
    ]
    .iter()
    .enumerate()
    {
        let target = match *kind {
            "ntfy" => format!("server = \"{base}\"\ntopic = \"news\""),
            "discord" => format!("url = \"{base}/api/webhooks/1/tok\""),
            _ => format!("url = \"{base}/{kind}\""),
        };
        let s = sink(&format!(
            "type = \"{kind}\"\n{target}\nstory_updates = \"reply\""
        ));
        assert_eq!(s.digest_fit(&digest), 2, "{kind}");
        s.send_digest(&digest, UPDATE_KEY)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let got = fake.got();
        assert_eq!(got.len(), n + 1, "{kind}: one message");
        let text = sinks_support::strings(&got[n].body).join("\n");
        for part in [
            "2 story updates",
            "Reuters and BBC (3 sources)",
            "Victory Plan",
            "Ukrinform (2 sources)",
        ] {
            assert!(text.contains(part), "{kind}: no {part:?} in {text}");
        }
    }
}

#[tokio::test]
async fn source_names_cannot_mention_anyone() {
    let fake = Fake::start(Box::new(|_, got| created(got))).await;
    let base = fake.base();
    let mut a = updated();
    a.story.as_mut().unwrap().sources = vec![
        "demo-world".into(),
        "@everyone @here @room @channel @all <!channel>".into(),
    ];
    let sinks = [
        discord("", &base),
        sink(&format!(
            "type = \"matrix\"\nhomeserver = \"{base}\"\nroom = \"!room:example.org\"\naccess_token = \"syt_token\""
        )),
        sink(&format!(
            "type = \"telegram\"\napi_base = \"{base}\"\nbot_token = \"123:ABC\"\nchat_id = -100123"
        )),
        sink(&format!(
            "type = \"slack\"\nurl = \"{base}/slack\"\nstory_updates = \"reply\""
        )),
    ];
    let refs = [
        Some("1234567890"),
        Some("$ev1:example.org"),
        Some("42"),
        None,
    ];
    for (s, r) in sinks.iter().zip(refs) {
        s.update(&a, r, UPDATE_KEY).await.unwrap();
    }
    let got = fake.got();
    assert_eq!(got.len(), 4);
    for g in &got {
        let text = sinks_support::strings(&g.body).join("\n");
        for m in AT_MENTIONS {
            assert!(!text.contains(m), "{m} live in {}: {text}", g.path);
        }
        // Slack's broadcast syntax, inert elsewhere.
        if g.path == "/slack" {
            assert!(!text.contains("<!channel>"), "{}: {text}", g.path);
        }
    }
}

#[tokio::test]
async fn a_webhook_update_is_an_alert_updated_event_under_its_own_key() {
    let fake = Fake::start(Box::new(|_, _| (200, vec![], "{}".into()))).await;
    let s = sink(&format!(
        "type = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"",
        fake.base()
    ));
    let mut first = seed_alert();
    first.story = Some(StoryRef {
        id: "st_1".into(),
        sources: vec!["demo-world".into()],
        updated_at: None,
    });
    s.send(&first, KEY).await.unwrap();
    s.update(&updated(), None, UPDATE_KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body["type"], "alert.matched");
    assert_eq!(got[1].body["type"], "alert.updated");
    assert_eq!(got[0].headers["webhook-id"], KEY);
    assert_eq!(got[1].headers["webhook-id"], UPDATE_KEY);
    assert!(got[1].headers.contains_key("webhook-signature"));
    // The same story id on both; the update lists every source so far.
    assert_eq!(got[0].body["data"]["story"]["id"], "st_1");
    assert_eq!(got[1].body["data"]["story"]["id"], "st_1");
    assert_eq!(
        got[1].body["data"]["story"]["sources"],
        serde_json::json!(["demo-world", "Reuters", "BBC"])
    );
    // Regression: each update carried the story's first match time as its `timestamp`, so a
    // receiver could not order them: an update is stamped when its item was matched.
    let at = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).unwrap()
    };
    assert_eq!(at(&got[0].body), first.matched_at);
    assert_eq!(
        at(&got[1].body),
        first.matched_at + chrono::Duration::minutes(7)
    );
    // An alert of a watch without stories has no story field.
    assert!(
        newswatch::deliver::webhook::payload(&seed_alert())["data"]
            .get("story")
            .is_none()
    );
}

#[test]
fn story_updates_takes_silent_or_reply_and_names_the_line_otherwise() {
    let text = "[[sink]]\nname = \"chat\"\ntype = \"slack\"\nurl = \"https://hooks.example/x\"\nstory_updates = \"edit\"\n";
    let Err(err) = newswatch::plan::load_str(std::path::Path::new("s.toml"), text.to_string())
    else {
        panic!("an unknown story_updates value is refused");
    };
    let err = err.to_string();
    assert!(err.contains("s.toml:5"), "{err}");
    assert!(err.contains("story_updates = \"edit\""), "{err}");
    assert!(err.contains("\"silent\" or \"reply\""), "{err}");
}
