//! Microsoft Teams through a Power Automate "Workflows" webhook: an Adaptive Card 1.4.
//!
//! Owns [`Teams`] (a [`Platform`]). The body is a `message` with one
//! `application/vnd.microsoft.card.adaptive` attachment (the legacy Office 365 connector
//! MessageCard is retired and never sent). Card text is the Adaptive Card Markdown subset; feed
//! text is backslash-escaped, and mentions need explicit `msteams.entities`, which are never
//! sent, so none can fire. The whole body stays under [`BODY_MAX`] bytes (Teams rejects
//! messages over ~28 KB; 20 KB leaves room for what the flow adds).

use serde_json::{Value, json};

use crate::config::{Secret, SinkKind, SinkPlan};
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Body, Platform};
use crate::deliver::digest;
use crate::deliver::http;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;
use crate::deliver::template::Template;

/// Bytes of JSON in one request.
pub const BODY_MAX: usize = 20_000;

pub struct Teams {
    url: Secret,
    client: reqwest::Client,
    template: Option<Template>,
}

fn text_block(text: &str) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
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
    pub fn from_plan(plan: &SinkPlan, client: reqwest::Client) -> Result<Self, String> {
        Ok(Teams {
            url: Secret::new(chat::required(plan, "url")?),
            client,
            template: chat::template_of(plan)?,
        })
    }

    fn blocks(&self, alert: &Alert, budget: usize) -> Vec<Value> {
        let m = Markup::Teams;
        let mut head = text_block(&m.linked_title(alert, 250));
        head["weight"] = json!("Bolder");
        head["size"] = json!("Medium");
        let body = Body {
            kind: SinkKind::Teams,
            markup: m,
            template: self.template.as_ref(),
        };
        if let Some(t) = body.templated(alert, budget) {
            return vec![head, text_block(&t)];
        }
        let mut meta = text_block(&m.meta_line(alert, true));
        meta["isSubtle"] = json!(true);
        meta["spacing"] = json!("None");
        let mut blocks = vec![head, meta];
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if !snippet.is_empty() {
            blocks.push(text_block(&snippet));
        }
        if let Some(terms) = m.matched_terms(alert) {
            let mut t = text_block(&format!("Matched: {terms}"));
            t["isSubtle"] = json!(true);
            t["size"] = json!("Small");
            blocks.push(t);
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
        // Only a template's own text can get here: cut it to what is left.
        let mut blocks = self.blocks(alert, 0);
        if let Some(last) = blocks.last_mut() {
            let text = last["text"].as_str().unwrap_or_default().to_string();
            last["text"] = json!(render::truncate_bytes(&text, BODY_MAX / 2));
        }
        card(blocks, link)
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let m = Markup::Teams;
        let mut head = text_block(&m.text(&digest::headline(alerts)));
        head["weight"] = json!("Bolder");
        head["size"] = json!("Medium");
        let mut blocks = vec![head];
        for a in alerts {
            let mut b = text_block(&digest::line(a, m));
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
