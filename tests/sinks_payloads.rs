//! What each chat sink sends: snapshots of the seed-article alert and of a digest, and a
//! hostile item that must stay within every platform's limits without any live mention or
//! injected markup.

mod sinks_support;

use newswatch::deliver::Alert;
use newswatch::deliver::alert::StoryRef;
use newswatch::deliver::digest::Digest;
use serde_json::Value;
use sinks_support::{AT_MENTIONS, HOSTILE_TITLE, all_sinks, hostile_alert, seed_alert, strings};

/// Dummy endpoint: these tests never send.
const BASE: &str = "http://127.0.0.1:9";

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v:#}"))
}

#[test]
fn seed_alert_payloads() {
    let alert = seed_alert();
    for (kind, sink) in all_sinks(BASE) {
        let body = sink.preview(&alert).expect("chat sinks preview");
        insta::assert_json_snapshot!(format!("seed_{kind}"), body);
    }
}

#[test]
fn digest_payloads() {
    let mut alerts: Vec<Alert> = Vec::new();
    for i in 0..3 {
        let mut a = seed_alert();
        a.title = format!("{} (part {i})", a.title);
        a.item_key = format!("k{i}");
        if i == 1 {
            // Digest lines escape too: the title of the escaping snapshots, cut to a line.
            let e = escaping_alert();
            a.title = e.title;
            a.link = e.link;
        }
        if i == 2 {
            a.watch = "victory-plan".into();
        }
        alerts.push(a);
    }
    for (kind, sink) in all_sinks(BASE) {
        let body = sink
            .preview_digest(&Digest::alerts(&alerts))
            .expect("three alerts fit in one digest");
        insta::assert_json_snapshot!(format!("digest_{kind}"), body);
    }
    // The follow-up notes of three stories' updates (`story_updates = "reply"`): each line
    // names the story's other sources instead of its watch.
    for (i, a) in alerts.iter_mut().enumerate() {
        a.story = Some(StoryRef {
            id: format!("st_{i}"),
            sources: ["demo-world", "Reuters", "BBC <News>", "Kyiv Independent"][..2 + i]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            updated_at: None,
        });
    }
    for (kind, sink) in all_sinks(BASE) {
        let body = sink
            .preview_digest(&Digest::notes(&alerts))
            .expect("three notes fit in one digest");
        insta::assert_json_snapshot!(format!("notes_digest_{kind}"), body);
    }
}

/// An alert written to show escaping: `&`, `<`, `>`, `@channel`, a Markdown link to
/// `javascript:` in the title and the snippet, a title over every platform's limit, and a link
/// with characters that end links in some markups.
fn escaping_alert() -> Alert {
    let mut a = seed_alert();
    a.title = format!(
        "S&P 500 <b>rallies</b> > 5% @channel [x](javascript:y) {}end",
        "long ".repeat(80)
    );
    a.link = Some("https://news.example/a?b=1&c=<2>|d(e)".into());
    let text = "Analysts: S&P <i>500</i> > 5%, @channel and @here cheer [x](javascript:y) as North Korean troops move.";
    let start = text.find("North Korean troops").unwrap();
    a.snippet = newswatch::deliver::AlertSnippet {
        text: text.into(),
        marks: vec![(start, start + "North Korean troops".len())],
    };
    a
}

/// Each payload snapshot shows the escaping for its platform, not only the layout
/// (webhook and stdout: JSON only, the title whole, since they have no limit).
#[test]
fn escaping_payloads() {
    let alert = escaping_alert();
    let mut sinks = all_sinks(BASE);
    sinks.push((
        "webhook",
        sinks_support::sink(&format!("type = \"webhook\"\nurl = \"{BASE}/hook\"")),
    ));
    sinks.push(("stdout", sinks_support::sink("type = \"stdout\"")));
    assert_eq!(sinks.len(), 10, "every sink type");
    for (kind, sink) in sinks {
        let body = sink.preview(&alert).expect("every sink previews");
        insta::assert_json_snapshot!(format!("escaping_{kind}"), body);
    }
}

/// Platform limits, checked on a body.
fn assert_within_limits(kind: &str, v: &Value) {
    let bytes = serde_json::to_vec(v).unwrap().len();
    match kind {
        "slack" => {
            let blocks = v["blocks"].as_array().unwrap();
            assert!(blocks.len() <= 50);
            for b in blocks {
                for t in strings(b) {
                    assert!(t.chars().count() <= 3000, "slack block text too long");
                }
                if b["type"] == "section" {
                    assert_eq!(b["text"]["type"], "mrkdwn");
                }
            }
            assert!(str_at(v, "/text").chars().count() <= 3000);
            assert!(v.get("link_names").is_none(), "never link_names");
        }
        "mattermost" => assert!(str_at(v, "/text").chars().count() <= 16_383),
        "discord" => {
            let embeds = v["embeds"].as_array().unwrap();
            assert_eq!(embeds.len(), 1);
            let e = &embeds[0];
            let title = utf16(e["title"].as_str().unwrap_or_default());
            let desc = utf16(e["description"].as_str().unwrap_or_default());
            let footer = utf16(e["footer"]["text"].as_str().unwrap_or_default());
            assert!(title <= 256 && desc <= 4096 && title + desc + footer <= 6000);
            assert_eq!(v["allowed_mentions"], serde_json::json!({"parse": []}));
        }
        "teams" => {
            assert!(bytes <= 20_000, "teams body is {bytes} bytes");
            assert_eq!(
                v["attachments"][0]["contentType"],
                "application/vnd.microsoft.card.adaptive"
            );
            assert_eq!(v["attachments"][0]["content"]["version"], "1.4");
        }
        "googlechat" => assert!(str_at(v, "/text").chars().count() <= 4096),
        "matrix" => {
            assert!(bytes <= 40_000, "matrix content is {bytes} bytes");
            assert_eq!(v["msgtype"], "m.text");
            assert_eq!(v["m.mentions"], serde_json::json!({}));
            assert_eq!(v["format"], "org.matrix.custom.html");
        }
        "telegram" => {
            assert!(utf16(str_at(v, "/text")) <= 4096);
            assert_eq!(v["parse_mode"], "HTML");
        }
        "ntfy" => {
            assert!(str_at(v, "/message").len() <= 4096);
            // ntfy answers 413 (for good) to a JSON body over twice its message limit.
            assert!(serde_json::to_vec(v).unwrap().len() <= 8192);
        }
        other => panic!("unknown kind {other}"),
    }
}

/// No `@everyone`-style word anywhere, and none of the platform's own mention syntax.
fn assert_no_live_mention(kind: &str, s: &str) {
    let lower = s.to_lowercase();
    for m in AT_MENTIONS {
        assert!(!lower.contains(m), "{kind}: live `{m}` in {s:?}");
    }
    let syntax: &[&str] = match kind {
        // Mattermost's Slack compatibility reads `<!channel>` too.
        "slack" | "mattermost" => &["<!channel>", "<!here>", "<!everyone>", "<@u123>"],
        "googlechat" => &["<users/all>"],
        "discord" => &["<@u123>"],
        "teams" => &["<at>"],
        _ => &[],
    };
    for m in syntax {
        assert!(!lower.contains(m), "{kind}: live `{m}` in {s:?}");
    }
}

#[test]
fn hostile_items_stay_inert_and_within_limits() {
    let alert = hostile_alert();
    for (kind, sink) in all_sinks(BASE) {
        let body = sink.preview(&alert).unwrap();
        // Valid JSON that survives a round trip.
        let text = serde_json::to_string(&body).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, body);
        assert_within_limits(kind, &body);
        for s in strings(&body) {
            assert_no_live_mention(kind, s);
        }
        // The feed's HTML never becomes markup (Matrix's `body` and ntfy's `title` are plain
        // text, shown as is).
        let marked_up = match kind {
            "matrix" => vec![str_at(&body, "/formatted_body")],
            "ntfy" => vec![str_at(&body, "/message")],
            _ => strings(&body),
        };
        for s in marked_up {
            assert!(!s.contains("<b>x</b>"), "{kind}: raw feed markup in {s:?}");
        }
        // Where 10,000 characters are over the limit, the snippet was cut, with an ellipsis,
        // rather than the message refused. Mattermost, Teams and Matrix take all of it: every
        // hit of the snippet is there, in each field that carries it (Matrix sends it twice,
        // so the JSON's length alone would hide a cut of either).
        if ["slack", "discord", "googlechat", "telegram", "ntfy"].contains(&kind) {
            assert!(text.contains('…'), "{kind}: snippet not truncated");
        } else {
            let hits = alert.snippet.marks.len();
            let fields: Vec<String> = match kind {
                "matrix" => vec![
                    str_at(&body, "/body").to_string(),
                    str_at(&body, "/formatted_body").to_string(),
                ],
                _ => vec![strings(&body).concat()],
            };
            for f in fields {
                let n = f.matches("North Korean troops").count();
                assert!(
                    n >= hits,
                    "{kind}: snippet cut for no reason ({n} of {hits} hits)"
                );
            }
        }
        // Markdown platforms: the feed's `[x](javascript:y)` is not a link.
        if ["mattermost", "discord", "ntfy"].contains(&kind) {
            let md = match kind {
                "ntfy" => vec![str_at(&body, "/message")],
                _ => strings(&body),
            };
            assert!(
                md.iter().all(|s| !s.contains("[x](javascript:y)")),
                "{kind}: a live Markdown link from the feed"
            );
        }
        // The title is still there, escaped the platform's way.
        let expected = match kind {
            "slack" | "mattermost" => "&lt;b&gt;x&lt;/b&gt; &amp;",
            // A Teams `TextRun` is shown as written: no entities, `<` broken instead.
            "teams" => "<\u{200B}b>x<\u{200B}/b> & \"quotes\"",
            // Chat shows entities literally: `<` is broken by a zero-width space instead.
            // (in the linked title, where `>` would end the link, as `›`).
            "googlechat" => "<\u{200B}b›x<\u{200B}/b› & \"quotes\"",
            "matrix" | "telegram" => "&lt;b&gt;x&lt;/b&gt; &amp; &quot;quotes&quot;",
            "discord" => "\\<b\\>x\\</b\\> &",
            // ntfy's title is plain text everywhere.
            "ntfy" => "<b>x</b> & \"quotes\"",
            _ => unreachable!(),
        };
        assert!(
            strings(&body).iter().any(|s| s.contains(expected)),
            "{kind}: no `{expected}` in {text:.600}"
        );
        // A link that would end the link markup early is encoded.
        assert!(!text.contains("a|b>c"), "{kind}: raw link");
    }
}

#[test]
fn a_hostile_digest_stays_inert() {
    let mut alerts = Vec::new();
    for i in 0..40 {
        let mut a = hostile_alert();
        a.title = format!("{HOSTILE_TITLE} {i} {}", "long ".repeat(100));
        a.item_key = format!("k{i}");
        alerts.push(a);
    }
    for (kind, sink) in all_sinks(BASE) {
        let n = sink.digest_fit(&Digest::alerts(&alerts));
        assert!(n >= 2, "{kind}: a digest carries more than one alert");
        let body = sink.preview_digest(&Digest::alerts(&alerts[..n])).unwrap();
        assert_within_limits(kind, &body);
        if n < alerts.len() {
            assert!(
                sink.preview_digest(&Digest::alerts(&alerts[..n + 1]))
                    .is_none(),
                "{kind}: digest_fit is the largest that fits"
            );
        }
        for s in strings(&body) {
            assert_no_live_mention(kind, s);
        }
    }
}

/// Regression: alerts went out as `m.notice`, which Matrix's default push rule
/// `.m.rule.suppress_notices` silences: an alert never notified anyone.
#[test]
fn matrix_alerts_notify_unless_notices_are_asked_for() {
    let base = "type = \"matrix\"\nhomeserver = \"https://m.example\"\nroom = \"!r:m.example\"\naccess_token = \"syt_x\"";
    let text = sinks_support::sink(base).preview(&seed_alert()).unwrap();
    assert_eq!(text["msgtype"], "m.text");
    let notice = sinks_support::sink(&format!("{base}\nmsgtype = \"notice\""))
        .preview(&seed_alert())
        .unwrap();
    assert_eq!(notice["msgtype"], "m.notice");
    let err = newswatch::plan::load_str(
        std::path::Path::new("m.toml"),
        format!("[[sink]]\nname = \"m\"\n{base}\nmsgtype = \"loud\"\n"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("one of \"text\", \"notice\""),
        "{err}"
    );
}

/// Regression: Google Chat does not decode entities in webhook text, so `S&P` arrived as
/// `S&amp;P`; `<` must still not form `<users/all>` or a link.
#[test]
fn google_chat_shows_ampersands_and_brackets_as_written() {
    let mut alert = seed_alert();
    alert.title = "S&P 500 < 5% > \"x\" <users/all>".into();
    let chat = sinks_support::sink(
        "type = \"googlechat\"\nurl = \"https://chat.example/v1/spaces/A/messages?key=k\"",
    );
    let body = chat.preview(&alert).unwrap();
    let text = body["text"].as_str().unwrap();
    // In the linked title, `>` would end the link: it reads `›` there.
    assert!(text.contains("|S&P 500 <\u{200B} 5% › \"x\""), "{text}");
    assert!(!text.contains("&amp;") && !text.contains("&lt;") && !text.contains("&gt;"));
    assert!(!text.contains("<users/all>"), "{text}");
    // Outside a link, `&` and `>` go as written.
    alert.link = None;
    let plain = chat.preview(&alert).unwrap();
    let plain = plain["text"].as_str().unwrap();
    assert!(plain.contains("S&P 500 <\u{200B} 5% > \"x\""), "{plain}");
    insta::assert_json_snapshot!("googlechat_entities", body);
}

/// Regression: ntfy's message was kept within 4,096 bytes, but the server caps the whole JSON
/// body at 8,192 and JSON escaping (quotes, backslashes, Markdown escapes) can double it: such
/// an alert was refused with a 413, a dead letter.
#[test]
fn ntfy_bodies_fit_the_servers_json_limit_after_escaping() {
    let mut alert = hostile_alert();
    alert.title = "\"\\*".repeat(200);
    alert.snippet = newswatch::deliver::AlertSnippet {
        text: "\\\"*_`[]\n".repeat(2000),
        marks: vec![],
    };
    alert.link = Some(format!("https://example.org/{}", "a".repeat(1500)));
    let ntfy =
        sinks_support::sink("type = \"ntfy\"\nserver = \"https://ntfy.example\"\ntopic = \"news\"");
    let body = ntfy.preview(&alert).unwrap();
    let len = serde_json::to_vec(&body).unwrap().len();
    assert!(len <= 8192, "{len} bytes");
    assert!(body["message"].as_str().unwrap().len() <= 4096);
    assert!(
        body["message"].as_str().unwrap().contains('…'),
        "the snippet was cut, not dropped"
    );
    assert!(body["click"].as_str().is_some());
}

/// Regression: Teams cards carried feed text as Markdown with backslash escapes (`\*`, `\_`,
/// `\[`), which older Teams mobile clients show literally. The built-in message and digests
/// are `TextRun`s now, shown as written: no escape at all, hits bold, the title a link, and
/// still no `<at>` that could form a mention.
#[test]
fn teams_cards_showed_backslash_escapes_on_older_mobile_clients() {
    let teams = all_sinks(BASE)
        .into_iter()
        .find(|(k, _)| *k == "teams")
        .unwrap()
        .1;
    let mut alert = hostile_alert();
    alert.title = "*Breaking* _news_ [x](y) <at>everyone</at> 1. S&P".into();
    let body = teams.preview(&alert).unwrap();
    let digest = teams
        .preview_digest(&Digest::alerts(&[alert.clone(), seed_alert()]))
        .unwrap();
    for v in [&body, &digest] {
        for s in strings(v) {
            assert!(!s.contains('\\'), "a backslash escape in {s:?}");
            assert!(
                !s.contains("&amp;") && !s.contains("&lt;"),
                "an entity in {s:?}"
            );
            assert!(!s.to_lowercase().contains("<at>"), "a live <at> in {s:?}");
        }
    }
    let blocks = &body["attachments"][0]["content"]["body"];
    let title = &blocks[0]["inlines"][0];
    assert_eq!(blocks[0]["type"], "RichTextBlock");
    assert_eq!(title["type"], "TextRun");
    assert_eq!(
        title["text"],
        "*Breaking* _news_ [x](y) <\u{200B}at>everyone<\u{200B}/at> 1. S&P"
    );
    assert_eq!(title["weight"], "Bolder");
    assert_eq!(title["selectAction"]["type"], "Action.OpenUrl");
    // The hits are bold runs of the snippet.
    let snippet = blocks[2]["inlines"].as_array().unwrap();
    assert!(
        snippet
            .iter()
            .any(|r| r["text"] == "North Korean troops" && r["weight"] == "Bolder"),
        "{snippet:?}"
    );
}
