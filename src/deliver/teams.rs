//! Microsoft Teams through a Power Automate "Workflows" webhook: an Adaptive Card 1.4.
//!
//! Owns [`Teams`] (a [`Platform`]). The body is a `message` with one
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
use crate::deliver::chat::{self, Body, Platform};
use crate::deliver::chat::{WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;
use crate::deliver::template::Template;

/// Bytes of JSON in one request.
pub const BODY_MAX: usize = 20_000;

/// The settings of `type = "teams"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A teams sink's configuration: its webhook URL.
pub type TeamsConfig = WebhookUrlConfig;

pub struct Teams {
    url: Secret,
    client: reqwest::Client,
    template: Option<Template>,
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
        run(&render::truncate_chars(&alert.title, max)),
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
    pub fn new(c: &TeamsConfig, client: reqwest::Client) -> Self {
        Teams {
            url: c.url.clone(),
            client,
            template: c.chat.template.clone(),
        }
    }

    fn blocks(&self, alert: &Alert, budget: usize) -> Vec<Value> {
        let head = title_block(alert, 250);
        let body = Body {
            kind: SinkKind::Teams,
            markup: Markup::Teams,
            template: self.template.as_ref(),
        };
        if let Some(t) = body.templated(alert, budget) {
            return vec![head, text_block(&t)];
        }
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
        let mut blocks = vec![head, meta];
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
}

impl Platform for Teams {
    fn body(&self, alert: &Alert) -> Value {
        let link = render::safe_link(alert.link.as_deref());
        let body = render::fit(
            render::snippet_len(alert),
            |b| card(self.blocks(alert, b), link.clone()),
            |v| chat::json_len(v) <= BODY_MAX,
        );
        if chat::json_len(&body) <= BODY_MAX {
            return body;
        }
        // A link too long for the card (it is sent up to three times), or a template's own
        // text: the card goes without the link, and the template's output is cut.
        let bare = Alert {
            link: None,
            ..alert.clone()
        };
        let mut blocks = self.blocks(&bare, 0);
        if self.template.is_some()
            && let Some(last) = blocks.last_mut()
        {
            let text = last["text"].as_str().unwrap_or_default().to_string();
            last["text"] = json!(cut_markup(Markup::Teams, &text, |t| t.len() <= BODY_MAX / 2));
        }
        card(blocks, None)
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let mut head = bold(run(&digest::headline(alerts)));
        head["size"] = json!("Medium");
        let mut blocks = vec![rich(vec![head])];
        for a in alerts {
            // `• title — watch · feed`, as the other platforms' digest lines.
            let title = render::truncate_chars(&a.title, digest::LINE_TITLE_MAX);
            let mut b = rich(vec![
                run("• "),
                linked(run(&title), a.link.as_deref()),
                run(" — "),
                bold(run(&a.watch)),
                run(&format!(" · {}", a.feed)),
            ]);
            b["spacing"] = json!("Small");
            blocks.push(b);
        }
        let body = card(blocks, None);
        (chat::json_len(&body) <= BODY_MAX).then_some(body)
    }

    fn post<'a>(&'a self, body: Value, _idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let req = http::with_json(self.client.post(self.url.expose()), &body);
            // Workflows answer 202 Accepted with an empty body.
            http::outcome(http::execute(req).await?, &[self.url.expose()])
        })
    }
}
