//! The body of one alert on a chat platform where the text holds the linked title (Slack):
//! what a cut keeps of the link. Written against mutation testing (docs/testing.md), which
//! found no library test reading `ChatSink::body`.

use super::*;
use crate::deliver::config::SinkConfig;
use crate::deliver::slack::Slack;

/// A Slack sink, with `extra` lines (a template) in its `[[sink]]`.
fn slack(extra: &str) -> ChatSink<Slack> {
    let plan = crate::plan::load_str(
        std::path::Path::new("t.toml"),
        format!("[[sink]]\nname = \"s\"\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/x\"\n{extra}\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let SinkConfig::Slack(c) = &plan.sinks[0].config else {
        panic!("not a Slack sink")
    };
    ChatSink::new("s", reqwest::Client::new(), &c.chat, Slack::new(c))
}

fn alert_with_link(link: String) -> Alert {
    let mut a = crate::deliver::template::sample_alert();
    a.title = "Troops reach Kursk".into();
    a.link = Some(link);
    a
}

fn section(body: &Value) -> &str {
    body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
}

#[test]
fn a_link_too_long_for_the_message_leaves_the_title_unlinked() {
    let link = format!("https://x.example/{}", "p".repeat(5000));
    let body = slack("").body(&alert_with_link(link.clone()));
    let text = section(&body);
    assert!(text.contains("Troops reach Kursk"), "{text}");
    assert!(!text.contains(&link), "{text}");
    assert!(text.chars().count() <= 3000);
}

#[test]
fn a_cut_that_keeps_the_link_keeps_the_title_linked() {
    // A template far over the limit, the linked title first: the cut keeps it.
    let s =
        slack("template = \"{{ title_link }} {% for i in range(400) %}more words {% endfor %}\"");
    let link = "https://x.example/a".to_string();
    let text = section(&s.body(&alert_with_link(link.clone()))).to_string();
    assert!(
        text.starts_with(&format!("<{link}|Troops reach Kursk>")),
        "{text}"
    );
    assert!(text.ends_with('…'), "cut: {text}");
}
