//! Discord webhooks: one embed per alert, no mention can ever fire.
//!
//! Owns [`Discord`] (a [`Platform`]). Posts to the webhook URL with `?wait=true` (so Discord
//! answers with the created message, or an error we can classify) and `thread_id` when set.
//! Every body carries `allowed_mentions: {"parse": []}`; feed text is Markdown-escaped and has
//! U+200B after `@`. Limits: title 256, description 4,096, the whole embed 6,000 (UTF-16 units,
//! as Discord counts). Rate limits: `X-RateLimit-Remaining: 0` makes the next send wait for
//! `X-RateLimit-Reset-After`; a 429's JSON `retry_after` (float seconds) is the retry hint; a
//! 404 means the webhook was deleted, which no retry fixes.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{Secret, SinkKind, SinkPlan};
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Body, Platform, utf16_len};
use crate::deliver::digest;
use crate::deliver::http::{self, Reply};
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::{SendError, SendFuture};
use crate::deliver::template::Template;

pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FOOTER_MAX: usize = 2048;
/// Title, description, footer, fields and author together.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// The embed's accent colour.
const COLOUR: u32 = 0x002B_6CB0;

pub struct Discord {
    /// The webhook URL with `wait=true` (and `thread_id`) added: a secret.
    url: Secret,
    client: reqwest::Client,
    template: Option<Template>,
    /// Set when Discord said the bucket is empty: the next send waits until then.
    paused_until: Mutex<Option<Instant>>,
}

impl Discord {
    pub fn from_plan(plan: &SinkPlan, client: reqwest::Client) -> Result<Self, String> {
        let mut url = url::Url::parse(chat::required(plan, "url")?)
            // The URL holds the webhook token: never echo it.
            .map_err(|_| format!("sink `{}`: `url` is not a valid URL", plan.name))?;
        url.query_pairs_mut().append_pair("wait", "true");
        if let Some(thread) = plan.get_str("thread_id") {
            url.query_pairs_mut().append_pair("thread_id", thread);
        }
        Ok(Discord {
            url: Secret::new(url.to_string()),
            client,
            template: chat::template_of(plan)?,
            paused_until: Mutex::new(None),
        })
    }

    fn description(&self, alert: &Alert, budget: usize) -> String {
        let m = Markup::Discord;
        let body = Body {
            kind: SinkKind::Discord,
            markup: m,
            template: self.template.as_ref(),
        };
        if let Some(t) = body.templated(alert, budget) {
            return t;
        }
        let snippet = m.snippet(&render::shorten_snippet(&alert.snippet, budget));
        let terms = m.text(&render::truncate_chars(&render::terms_text(alert), 1000));
        match (snippet.is_empty(), terms.is_empty()) {
            (true, _) => format!("**Matched:** {terms}"),
            (false, true) => snippet,
            (false, false) => format!("{snippet}\n\n**Matched:** {terms}"),
        }
    }

    fn set_pause(&self, reply: &Reply) {
        let remaining = reply
            .headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let until = match (remaining, reply.header_seconds("x-ratelimit-reset-after")) {
            (Some(0), Some(after)) => Some(Instant::now() + after),
            _ => None,
        };
        if let Ok(mut p) = self.paused_until.lock() {
            *p = until;
        }
    }

    /// The retry hint of a 429: the body's `retry_after` (float seconds), else the headers.
    fn hint(reply: &Reply) -> Option<Duration> {
        reply
            .json()
            .and_then(|j| j.get("retry_after").and_then(Value::as_f64))
            .and_then(http::seconds)
            .or_else(|| reply.header_seconds("x-ratelimit-reset-after"))
            .or_else(|| reply.retry_after_header())
    }
}

impl Platform for Discord {
    fn body(&self, alert: &Alert) -> Value {
        let m = Markup::Discord;
        let title = render::truncate_utf16(&m.text(&alert.title), TITLE_MAX).into_owned();
        let footer_text = format!("{} · {}", alert.watch, alert.feed);
        // Footers are not Markdown: only mentions need defusing there.
        let footer =
            render::truncate_utf16(&render::defuse_mentions(&footer_text), FOOTER_MAX).into_owned();
        let room = EMBED_TOTAL_MAX - utf16_len(&title) - utf16_len(&footer);
        let limit = DESCRIPTION_MAX.min(room);
        let description = render::fit(
            render::snippet_len(alert),
            |b| self.description(alert, b),
            |d| utf16_len(d) <= limit,
        );
        let description = render::truncate_utf16(&description, limit).into_owned();
        let mut embed = json!({
            "title": title,
            "description": description,
            "color": COLOUR,
            "footer": {"text": footer},
        });
        if let Some(url) = render::safe_link(alert.link.as_deref()) {
            embed["url"] = Value::String(url);
        }
        if let Some(p) = alert.published {
            embed["timestamp"] =
                Value::String(p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
    }

    fn digest_body(&self, alerts: &[Alert]) -> Option<Value> {
        let m = Markup::Discord;
        let title =
            render::truncate_utf16(&m.text(&digest::headline(alerts)), TITLE_MAX).into_owned();
        let description = alerts
            .iter()
            .map(|a| digest::line(a, m))
            .collect::<Vec<_>>()
            .join("\n");
        let fits = utf16_len(&description) <= DESCRIPTION_MAX
            && utf16_len(&title) + utf16_len(&description) <= EMBED_TOTAL_MAX;
        fits.then(|| {
            json!({
                "embeds": [{"title": title, "description": description, "color": COLOUR}],
                "allowed_mentions": {"parse": []},
            })
        })
    }

    fn post<'a>(&'a self, body: Value, _idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            let until = self.paused_until.lock().ok().and_then(|p| *p);
            chat::wait_or_defer(until).await?;
            let req = http::with_json(self.client.post(self.url.expose()), &body);
            let reply = http::execute(req).await?;
            self.set_pause(&reply);
            let secrets = [self.url.expose()];
            match reply.status {
                s if (200..300).contains(&s) => Ok(reply.ok()),
                429 => Err(http::classify(&reply, Self::hint(&reply), &secrets)),
                404 => Err(SendError::permanent(format!(
                    "HTTP 404: the Discord webhook does not exist (deleted?): {}",
                    http::redact(reply.text.trim(), &secrets)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ))),
                _ => Err(http::classify(&reply, None, &secrets)),
            }
        })
    }
}
