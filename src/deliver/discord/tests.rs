//! Discord's own limits, exactly at each boundary: `fits`, digests and their titles.

use super::*;
use crate::deliver::digest;

fn discord() -> Discord {
    Discord {
        name: "discord".into(),
        url: Secret::new("https://discord.example/api/webhooks/1/t?wait=true"),
        webhook: Secret::new("https://discord.example/api/webhooks/1/t"),
        webhook_id: Some("1".into()),
        thread_id: None,
        thread_name: None,
        username: None,
        avatar_url: None,
        flags: 0,
        paused_until: Mutex::new(None),
    }
}

/// `n` UTF-16 units, half of them in astral characters (two units each), so a length
/// counted in chars or bytes instead of UTF-16 units would be off.
fn units(n: usize) -> String {
    let mut s = "😀".repeat(n / 4);
    s.push_str(&"x".repeat(n - utf16_len(&s)));
    s
}

/// Each of Discord's limits, exactly at the limit and one unit over.
#[test]
fn fits_holds_each_limit_exactly() {
    let d = discord();
    let content = |n| json!({ "content": units(n) });
    assert!(d.fits(&content(CONTENT_MAX)));
    assert!(!d.fits(&content(CONTENT_MAX + 1)));
    let embed = |title: usize, description: usize, footer: usize| {
        json!({"embeds": [{
            "title": units(title),
            "description": units(description),
            "footer": {"text": units(footer)},
        }]})
    };
    assert!(d.fits(&embed(10, DESCRIPTION_MAX, 10)));
    assert!(!d.fits(&embed(10, DESCRIPTION_MAX + 1, 10)));
    // The total of title, description and footer: each part counts.
    let rest = EMBED_TOTAL_MAX - DESCRIPTION_MAX - TITLE_MAX;
    assert!(d.fits(&embed(TITLE_MAX, DESCRIPTION_MAX, rest)));
    assert!(!d.fits(&embed(TITLE_MAX, DESCRIPTION_MAX, rest + 1)));
    assert!(!d.fits(&embed(TITLE_MAX + 1, DESCRIPTION_MAX, rest)));
    assert!(!d.fits(&embed(TITLE_MAX, DESCRIPTION_MAX - 1, rest + 2)));
    assert!(d.fits(&embed(1, 1, 1)));
}

/// A digest is offered exactly while it keeps Discord's limits (description 4,096 units,
/// title and description 6,000; content 2,000 with embeds suppressed), for every count.
#[test]
fn digest_body_is_offered_exactly_while_it_fits() {
    let all = digest::test_alerts(120, "dprk-troops");
    let mut hidden = discord();
    hidden.flags = FLAG_SUPPRESS_EMBEDS;
    let (mut embeds_some, mut embeds_none, mut content_some, mut content_none) = (0, 0, 0, 0);
    for n in 1..=all.len() {
        let a = Digest::alerts(&all[..n]);
        let lines: Vec<String> = a.items().iter().map(|x| a.line(x, M)).collect();
        let description = lines.join("\n");
        let title = M.text(&a.headline());
        let d = utf16_len(&description);
        let expect = d <= DESCRIPTION_MAX && utf16_len(&title) + d <= EMBED_TOTAL_MAX;
        match discord().digest_body(&a) {
            Some(body) => {
                assert!(expect, "{n} alerts: a description of {d} units offered");
                assert!(discord().fits(&body), "{n}: {body}");
                let embed = &body["embeds"][0];
                assert_eq!(embed["title"], Value::String(title.clone()), "{n}");
                assert_eq!(embed["description"], Value::String(description.clone()));
                embeds_some += 1;
            }
            None => {
                assert!(!expect, "{n} alerts: a description of {d} units refused");
                embeds_none += 1;
            }
        }
        let content = format!("**{title}**\n{description}");
        let expect = utf16_len(&content) <= CONTENT_MAX;
        match hidden.digest_body(&a) {
            Some(body) => {
                assert!(
                    expect,
                    "{n} alerts: content of {} offered",
                    utf16_len(&content)
                );
                assert_eq!(body["content"], Value::String(content), "{n}");
                content_some += 1;
            }
            None => {
                assert!(!expect, "{n} alerts: content refused");
                content_none += 1;
            }
        }
    }
    // Both outcomes were seen on both paths, so each boundary was crossed.
    assert!(
        embeds_some > 1 && embeds_none > 1,
        "{embeds_some} / {embeds_none}"
    );
    assert!(
        content_some > 1 && content_none > 1,
        "{content_some} / {content_none}"
    );
}

/// A headline longer than the embed title (escaping doubles `_`) or a forum post's title
/// is cut to each limit; a short one is kept whole.
#[test]
fn digest_title_and_thread_name_are_cut_to_their_limits() {
    let mut forum = discord();
    forum.thread_name = Some(
        crate::deliver::template::check_plain("{{ title }}", SinkKind::Discord)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let short = digest::test_alerts(2, "dprk-troops");
    let body = forum
        .digest_body(&Digest::alerts(&short))
        .unwrap_or_else(|| panic!("fits"));
    assert_eq!(body["embeds"][0]["title"], "2 new alerts · dprk-troops");
    assert_eq!(body["thread_name"], "2 new alerts · dprk-troops");
    let long = digest::test_alerts(2, &"_".repeat(200));
    let body = forum
        .digest_body(&Digest::alerts(&long))
        .unwrap_or_else(|| panic!("fits"));
    let title = body["embeds"][0]["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("2 new alerts · \\_\\_"), "{title}");
    assert!(
        utf16_len(title) <= TITLE_MAX && utf16_len(title) > TITLE_MAX - 4,
        "{title}"
    );
    let thread = body["thread_name"].as_str().unwrap_or_default();
    assert!(thread.starts_with("2 new alerts · __"), "{thread}");
    assert!(
        thread.chars().count() <= THREAD_NAME_MAX && thread.chars().count() > 90,
        "{thread}"
    );
}

/// Regression: an update of an alert posted to a forum (`thread_name`, one post per alert)
/// was edited without its thread, so Discord answered "unknown message" and the update was
/// dropped as if the message had been deleted. A forum post's thread id is its first message's.
#[test]
fn an_edit_of_a_forum_post_names_its_thread() {
    let plain = discord();
    assert_eq!(
        plain.edit_url("42").unwrap().expose(),
        "https://discord.example/api/webhooks/1/t/messages/42"
    );
    let forum = Discord {
        thread_name: Some(crate::deliver::template::Template::compile("{{ title }}").unwrap()),
        ..discord()
    };
    assert_eq!(
        forum.edit_url("42").unwrap().expose(),
        "https://discord.example/api/webhooks/1/t/messages/42?thread_id=42"
    );
    let thread = Discord {
        thread_id: Some("7".into()),
        ..forum
    };
    assert_eq!(
        thread.edit_url("42").unwrap().expose(),
        "https://discord.example/api/webhooks/1/t/messages/42?thread_id=7",
        "a configured thread_id is the thread every post went to"
    );
    assert!(plain.edit_url("4x2").is_none());
}

/// Regression: the warning of a `thread_name` template failing on an alert named the watch
/// but not the sink, so with several Discord sinks the operator could not tell whose template
/// was broken.
#[test]
fn a_failing_thread_name_template_is_logged_with_its_sink() {
    let (buf, subscriber) = crate::ops::logging::captured::subscriber();
    let t = crate::deliver::template::check_plain(
        "{% if title == \"boom\" %}{{ title | int }}{% endif %}{{ title }}",
        SinkKind::Discord,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = Discord {
        name: "forum-alerts".into(),
        ..discord()
    };
    // Fine on the sample alert `check` renders, failing on this one.
    let mut alert = crate::deliver::template::sample_alert();
    alert.title = "boom".into();
    let title = tracing::subscriber::with_default(subscriber, || d.thread_title(&t, &alert));
    assert_eq!(title, "boom", "falls back to the item's title");
    let log = buf.text();
    assert!(log.contains("thread_name template failed"), "{log}");
    assert!(log.contains("sink=forum-alerts"), "{log}");
}
