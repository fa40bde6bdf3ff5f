//! Microsoft Teams through a Power Automate "Workflows" webhook: an Adaptive Card 1.4.
//!
//! Owns [`Teams`] (a [`Platform`]), its configuration and `KEYS`. The body is a `message` with one
//! `application/vnd.microsoft.card.adaptive` attachment (the legacy Office 365 connector
//! MessageCard is retired and never sent). The built-in message and digests are
//! `RichTextBlock`s of `TextRun`s: a run is shown as written (no Markdown), so feed text needs
//! no escapes, which older Teams mobile clients would show literally; hits are bold runs and
//! the title is a run that opens the item (`selectAction`). A template writes the Adaptive
//! Card Markdown subset into a `TextBlock`, with feed values escaped for it. Mentions need
//! explicit `msteams.entities`, which are never sent, and a zero-width space follows every `<`
//! of feed text, so no `<at>` can form or fire. The whole body stays under [`BODY_MAX`] bytes
//! (Teams rejects messages over ~28 KB; 20 KB leaves room for what the flow adds).

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Platform, Text, WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::digest::{self, Digest, DigestKind};
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;

/// The settings of `type = "teams"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A teams sink's configuration: its Workflows webhook URL.
pub type TeamsConfig = WebhookUrlConfig;

/// Bytes of JSON in one request.
pub const BODY_MAX: usize = 20_000;

pub struct Teams {
    url: Secret,
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

/// A run of feed text, shown as written.
fn run(text: &str) -> Value {
    json!({"type": "TextRun", "text": render::inert_text(text)})
}

fn bold(mut run: Value) -> Value {
    run["weight"] = json!("Bolder");
    run
}

fn subtle(mut run: Value) -> Value {
    run["isSubtle"] = json!(true);
    run
}

/// A run that opens `link` when it is a safe http(s) URL.
fn linked(mut run: Value, link: Option<&str>) -> Value {
    if let Some(url) = render::safe_link(link) {
        run["selectAction"] = json!({"type": "Action.OpenUrl", "url": url});
    }
    run
}

fn rich(inlines: Vec<Value>) -> Value {
    json!({"type": "RichTextBlock", "inlines": inlines})
}

/// The item's title, cut before anything else, bold and linked to the item.
fn title_block(alert: &Alert, max: usize) -> Value {
    let mut title = bold(linked(
        run(&render::truncate_chars(alert.shown_title(), max)),
        alert.link.as_deref(),
    ));
    title["size"] = json!("Medium");
    rich(vec![title])
}

fn card(blocks: Vec<Value>, link: Option<String>) -> Value {
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": blocks,
    });
    if let Some(url) = link {
        content["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open article", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

impl Teams {
    pub fn new(c: &TeamsConfig) -> Self {
        Teams { url: c.url.clone() }
    }
}

/// The built-in message: runs of feed text shown as written, the snippet cut to `budget`.
fn default_blocks(alert: &Alert, budget: usize) -> Vec<Value> {
    let mut meta = vec![subtle(bold(run(&render::truncate_chars(
        &alert.watch,
        200,
    ))))];
    let mut rest = format!(" · {}", render::truncate_chars(&alert.feed, 200));
    if let Some(p) = render::published_text(alert.published) {
        rest.push_str(&format!(" · {p}"));
    }
    meta.push(subtle(run(&rest)));
    let mut meta = rich(meta);
    meta["spacing"] = json!("None");
    let mut blocks = vec![title_block(alert, 250), meta];
    let snippet = render::shorten_snippet(&alert.snippet, budget);
    let runs: Vec<Value> = snippet
        .segments()
        .into_iter()
        .map(|(piece, hit)| {
            // One line, whatever the feed's paragraphs, as on every platform.
            let r = run(&piece.replace(['\n', '\r', '\t'], " "));
            if hit { bold(r) } else { r }
        })
        .collect();
    if !runs.is_empty() {
        blocks.push(rich(runs));
    }
    let terms = render::truncate_chars(&render::terms_text(alert), 1000).into_owned();
    if !terms.is_empty() {
        let mut t = subtle(run(&format!("Matched: {terms}")));
        t["size"] = json!("Small");
        blocks.push(rich(vec![t]));
    }
    blocks
}

impl Platform for Teams {
    const KIND: SinkKind = SinkKind::Teams;
    const MARKUP: Markup = Markup::Teams;

    /// Teams' built-in message is not one text but runs (`default_blocks`), which `wrap`
    /// builds from the budget.
    fn default_text(&self, _alert: &Alert, _budget: usize) -> String {
        String::new()
    }

    fn wrap(&self, alert: &Alert, text: &Text) -> Value {
        let blocks = |alert: &Alert| {
            if text.templated {
                vec![title_block(alert, 250), text_block(&text.text)]
            } else {
                default_blocks(alert, text.budget)
            }
        };
        let link = render::safe_link(alert.link.as_deref());
        let body = card(blocks(alert), link);
        if text.budget > 0 || self.fits(&body) || alert.link.is_none() {
            return body;
        }
        // Too long without any snippet: a link too long for the card (it is sent up to three
        // times), or a template's own text (which the caller then cuts): the card goes
        // without the link.
        let bare = Alert {
            link: None,
            ..alert.clone()
        };
        card(blocks(&bare), None)
    }

    fn fits(&self, body: &Value) -> bool {
        chat::json_len(body) <= BODY_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let mut head = bold(run(&d.headline()));
        head["size"] = json!("Medium");
        let mut blocks = vec![rich(vec![head])];
        for a in d.items() {
            // `• title — watch · feed` (or the note's sources), as the other platforms'
            // digest lines.
            let title = render::truncate_chars(a.shown_title(), digest::LINE_TITLE_MAX);
            let mut runs = vec![
                run("• "),
                linked(run(&title), a.link.as_deref()),
                run(" — "),
            ];
            match d.kind() {
                DigestKind::Alerts => {
                    runs.push(bold(run(&a.watch)));
                    runs.push(run(&format!(" · {}", a.feed)));
                }
                DigestKind::Notes => runs.push(run(&d.tail(a, Markup::Plain))),
            }
            let mut b = rich(runs);
            b["spacing"] = json!("Small");
            blocks.push(b);
        }
        let body = card(blocks, None);
        self.fits(&body).then_some(body)
    }

    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        _idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        // Workflows answer 202 Accepted with an empty body.
        chat::post_json(client, &self.url, body, "Teams")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::template::sample_alert;

    fn wrap(alert: &Alert, budget: usize) -> Value {
        let teams = Teams {
            url: Secret::new("https://teams.example/workflows/x"),
        };
        let text = Text {
            text: String::new(),
            templated: false,
            budget,
        };
        teams.wrap(alert, &text)
    }

    fn linked(body: &Value, link: &str) -> (bool, bool) {
        let content = &body["attachments"][0]["content"];
        let action = content["actions"][0]["url"] == link;
        let title = content["body"][0]["inlines"][0]["selectAction"]["url"] == link;
        (title, action)
    }

    /// The card keeps its link (on the title and as the "Open article" action) unless the
    /// card is too long without any snippet; with a snippet budget left the caller shortens
    /// the snippet instead, so the link stays even on a card over the limit.
    #[test]
    fn wrap_drops_the_link_only_when_the_card_cannot_fit_with_it() {
        let short = sample_alert();
        let link = short.link.clone().unwrap_or_default();
        for budget in [0, 300] {
            let body = wrap(&short, budget);
            assert_eq!(linked(&body, &link), (true, true), "{budget}: {body}");
            assert!(chat::json_len(&body) <= BODY_MAX);
        }
        let mut long = sample_alert();
        let link = format!("https://news.example/{}", "p".repeat(BODY_MAX));
        long.link = Some(link.clone());
        let body = wrap(&long, 300);
        assert_eq!(linked(&body, &link), (true, true));
        assert!(chat::json_len(&body) > BODY_MAX);
        let body = wrap(&long, 0);
        assert_eq!(linked(&body, &link), (false, false), "{body}");
        assert!(body["attachments"][0]["content"].get("actions").is_none());
        assert!(
            chat::json_len(&body) <= BODY_MAX,
            "{}",
            chat::json_len(&body)
        );
    }
}
