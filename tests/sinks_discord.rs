//! How the Discord sink talks to Discord beyond the shared error cases, against a local fake:
//! forum and media channels (thread names, unknown threads), usernames and avatars, message
//! flags, the content's room for the linked title, and the rate-limit headers that pace the
//! next send.

mod sinks_support;

use std::time::{Duration, Instant};

use newswatch::deliver::digest::Digest;
use newswatch::deliver::{Alert, SendError};
use sinks_support::{
    AT_MENTIONS, Fake, HOSTILE_TITLE, KEY, discord_forum, hostile_alert, seed_alert, sink,
};

/// Regression: forum and media channels refuse a webhook post without `thread_id` or
/// `thread_name`, and there was no way to send either: every alert became a dead letter.
#[tokio::test]
async fn discord_forum_channel_posts_without_a_thread_were_dead_letters() {
    let fake = Fake::start(Box::new(|_, got| discord_forum(got))).await;
    // Without a thread the fake refuses, as Discord does: a permanent error.
    let plain = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"",
        fake.base()
    ));
    match plain.send(&seed_alert(), KEY).await {
        Err(SendError::Permanent { message }) => {
            assert!(message.contains("thread_name"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // With a `thread_name` template, each alert opens a forum post titled after the item.
    let forum = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"\nthread_name = \"{{{{ title }}}}\"",
        fake.base()
    ));
    forum.send(&seed_alert(), KEY).await.unwrap();
    let mut long = hostile_alert();
    long.title = format!("{HOSTILE_TITLE} {}", "word ".repeat(60));
    forum.send(&long, KEY).await.unwrap();
    let got = fake.got();
    assert_eq!(got[1].body["thread_name"], seed_alert().title.as_str());
    let name = got[2].body["thread_name"].as_str().unwrap();
    assert_eq!(name.chars().count(), 100, "{name}");
    assert!(name.ends_with('…'), "{name}");
    for m in AT_MENTIONS {
        assert!(!name.contains(m), "{m} in {name}");
    }
    // Plain text: no Markdown escapes in a title Discord shows as is.
    assert!(name.starts_with("<!channel>"), "{name}");
    // A digest opens a forum post too, titled with its headline.
    forum
        .send_digest(&Digest::alerts(&[seed_alert(), long.clone()]), KEY)
        .await
        .unwrap();
    let got = fake.got();
    assert_eq!(got[3].body["thread_name"], "2 new alerts · dprk-troops");
    // The template's own text is the title (not the item's), on one line.
    let named = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"\nthread_name = \"{{{{ feed }}}}:\\n{{{{ title }}}}\"",
        fake.base()
    ));
    named.send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    let want = format!("{}: {}", seed_alert().feed, seed_alert().title);
    assert_eq!(got[4].body["thread_name"], want.as_str());
}

#[test]
fn discord_thread_name_templates_are_checked_at_check_time() {
    let err = newswatch::plan::load_str(
        std::path::Path::new("t.toml"),
        "[[sink]]\nname = \"f\"\ntype = \"discord\"\nurl = \"https://discord.example/api/webhooks/1/x\"\nthread_name = \"{{ tilte }}\"\n".into(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("t.toml:5"), "{err}");
    assert!(
        err.contains("thread_name") && err.contains("tilte"),
        "{err}"
    );
}

#[test]
fn discord_usernames_it_refuses_are_check_errors() {
    for (name, why) in [("Discord news", "discord"), (&*"n".repeat(81), "80")] {
        let err = newswatch::plan::load_str(
            std::path::Path::new("t.toml"),
            format!(
                "[[sink]]\nname = \"f\"\ntype = \"discord\"\nurl = \"https://discord.example/api/webhooks/1/x\"\nusername = \"{name}\"\n"
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("t.toml:5") && err.contains(why), "{err}");
    }
}

/// Regression: a 404 "Unknown Channel" (a `thread_id` that does not exist) was reported as a
/// deleted webhook, sending the operator to recreate a webhook that is fine.
#[tokio::test]
async fn discord_unknown_thread_was_reported_as_a_deleted_webhook() {
    let fake = Fake::start(Box::new(|_, _| {
        (
            404,
            vec![],
            r#"{"message": "Unknown Channel", "code": 10003}"#.into(),
        )
    }))
    .await;
    let s = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"\nthread_id = \"1234\"",
        fake.base()
    ));
    match s.send(&seed_alert(), KEY).await {
        Err(SendError::Permanent { message }) => {
            assert!(message.contains("thread `1234`"), "{message}");
            assert!(message.contains("does not exist"), "{message}");
            assert!(!message.contains("deleted"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn discord_username_avatar_and_message_flags_are_sent() {
    let fake = Fake::start(Box::new(|_, _| (200, vec![], r#"{"id": "1"}"#.into()))).await;
    let s = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"\nusername = \"newswatch\"\n\
         avatar_url = \"https://example.org/a.png\"\nsilent = true\nsuppress_embeds = true",
        fake.base()
    ));
    s.send(&hostile_alert(), KEY).await.unwrap();
    let plain = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"\nsilent = true",
        fake.base()
    ));
    plain.send(&seed_alert(), KEY).await.unwrap();
    let got = fake.got();
    let b = &got[0].body;
    assert_eq!(b["username"], "newswatch");
    assert_eq!(b["avatar_url"], "https://example.org/a.png");
    assert_eq!(b["flags"], (1 << 2) | (1 << 12));
    assert_eq!(b["allowed_mentions"]["parse"], serde_json::json!([]));
    // Embeds would be hidden: the alert is the message content, within 2,000 characters.
    assert!(b.get("embeds").is_none(), "{b}");
    let content = b["content"].as_str().unwrap();
    assert!(content.encode_utf16().count() <= 2000, "{}", content.len());
    assert!(content.contains("North Korean troops"), "{content}");
    for m in AT_MENTIONS {
        assert!(!content.contains(m), "{m} in {content}");
    }
    assert_eq!(got[1].body["flags"], 1 << 12);
    assert!(got[1].body["embeds"].is_array());
    assert!(got[1].body.get("username").is_none());
    // Regression: a link so long that the head alone overflowed cut the whole content down to
    // "****…" (the linked title is one piece that cannot be cut). The title now goes unlinked.
    let mut long = seed_alert();
    long.link = Some(format!("https://example.org/{}", "a".repeat(3000)));
    s.send(&long, KEY).await.unwrap();
    let got = fake.got();
    let content = got[2].body["content"].as_str().unwrap();
    assert!(content.encode_utf16().count() <= 2000, "{content}");
    assert!(
        content.starts_with("**NATO warns North Korean troop transfers to Ukraine"),
        "{content}"
    );
    assert!(!content.contains("aaaa"), "{content}");
}

/// With `suppress_embeds`, the title keeps its link while the head (linked title and meta
/// line) leaves room for text after its blank line, and goes unlinked from the first length
/// that would not: the boundary is pinned exactly, from both sides.
#[tokio::test]
async fn discord_content_keeps_the_title_linked_while_the_head_leaves_room_for_text() {
    let fake = Fake::start(Box::new(|_, _| (200, vec![], r#"{"id": "1"}"#.into()))).await;
    let s = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"\nsuppress_embeds = true",
        fake.base()
    ));
    let with_link = |n: usize| {
        let mut a = seed_alert();
        a.link = Some(format!("https://example.org/{}", "a".repeat(n)));
        a
    };
    let send = |a: Alert| {
        let s = &s;
        let fake = &fake;
        async move {
            s.send(&a, KEY).await.unwrap();
            let got = fake.got();
            let content = got.last().unwrap().body["content"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(content.encode_utf16().count() <= 2000, "{content}");
            content
        }
    };
    // The head's length grows one for one with the link's while the title is linked.
    let short = send(with_link(100)).await;
    assert!(
        short.contains(&format!("({})", with_link(100).link.unwrap())),
        "{short}"
    );
    let head = |c: &str| c.split_once("\n\n").map(|(h, _)| h.encode_utf16().count());
    let base = head(&short).unwrap();
    let n_for = |len: usize| 100 + len - base;
    for (len, linked) in [(1500, true), (1997, true), (1998, false), (2100, false)] {
        let a = with_link(n_for(len));
        let link = a.link.clone().unwrap();
        let content = send(a).await;
        assert_eq!(
            content.contains(&link),
            linked,
            "a head of {len} units: the title should be {} ({} units sent): {content}",
            if linked { "linked" } else { "unlinked" },
            content.encode_utf16().count()
        );
        if linked {
            assert_eq!(head(&content), Some(len), "{content}");
        } else {
            assert!(content.starts_with("**NATO warns"), "{content}");
        }
    }
}

#[tokio::test]
async fn discord_rate_limit_headers_pace_the_next_send() {
    let fake = Fake::start(Box::new(|_, _| {
        (
            200,
            vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset-after", "0.6".into()),
            ],
            r#"{"id": "1"}"#.into(),
        )
    }))
    .await;
    let s = sink(&format!(
        "type = \"discord\"\nurl = \"{}/discord\"",
        fake.base()
    ));
    let start = Instant::now();
    s.send(&seed_alert(), KEY).await.unwrap();
    s.send(&seed_alert(), KEY).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "the second send waited for the bucket: {:?}",
        start.elapsed()
    );
}
