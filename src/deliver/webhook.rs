//! The generic webhook sink: a JSON POST signed per the Standard Webhooks specification.
//!
//! Owns [`WebhookSink`], [`Event`], [`payload`] and [`sign`]. Events are `alert.matched` and,
//! for a story reported by more sources after its alert, `alert.updated` (same `data.story.id`,
//! the update's own `webhook-id`). Requests go through [`crate::deliver::http`]
//! like every other HTTP sink (capped reply, URL-free errors, secrets redacted, hints capped).
//! Headers: `webhook-id` (the alert's idempotency key, identical on every attempt), `webhook-timestamp` (seconds, per attempt) and, when a
//! `secret` is configured, `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`
//! where a `whsec_` secret is base64-decoded first.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::config::{KeyDoc, Table, WEBHOOK_CONCURRENCY};
use crate::deliver::rate::Rate;
use crate::deliver::sink::{SendError, SendFuture, SendOk, Sink};

/// The settings of `type = "webhook"`.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new("url", "secret URL", "required", "Where alerts are POSTed."),
    KeyDoc::new(
        "secret",
        "secret",
        "—",
        "Signs requests per Standard Webhooks; a `whsec_` secret is base64-decoded and must hold at least 24 bytes.",
    ),
    KeyDoc::new(
        "rate",
        "rate",
        "off",
        "Most requests per period: `\"1/s\"`, `\"60/min\"`, `\"5/2s\"`, `\"off\"`.",
    ),
    KeyDoc::new(
        "concurrency",
        "integer 1–64",
        "8",
        "Alerts in flight at once (receivers see them in any order).",
    ),
];

/// A Standard Webhooks signing key, decoded; never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// A webhook sink's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: Secret,
    pub key: Option<SigningKey>,
    /// `None`: unlimited (the default).
    pub rate: Option<Rate>,
    pub concurrency: usize,
}

impl WebhookConfig {
    pub fn parse(t: &mut Table<'_, '_>) -> Option<Self> {
        let name = t.name();
        let url = t.secret_url("url");
        // A Standard Webhooks secret must decode now, not when `run` builds the sink.
        let key = t.secret("secret").and_then(|s| {
            secret_key(s.expose())
                .inspect_err(|e| t.error_at("secret", format!("sink `{name}`: {e}")))
                .ok()
                .map(SigningKey)
        });
        let rate = t.rate();
        let concurrency = t
            .int("concurrency", 1, 64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(WEBHOOK_CONCURRENCY);
        let url = t.need("url", url)?;
        Some(WebhookConfig {
            url,
            key,
            rate,
            concurrency,
        })
    }
}

/// What a webhook event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A new alert: `alert.matched`.
    Matched,
    /// A story already alerted was reported by more sources: `alert.updated`.
    Updated,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Matched => "alert.matched",
            Event::Updated => "alert.updated",
        }
    }
}

/// The JSON body: `{"type":"alert.matched","timestamp":...,"data":{...}}`; `data.story`
/// (`id`, `sources`) when the alert belongs to a story, `data.meaning` (`score`, `example`,
/// `sentence`) when a semantic watch matched it.
pub fn payload(alert: &Alert) -> serde_json::Value {
    event_payload(alert, Event::Matched)
}

/// The JSON body of an event of either type.
pub fn event_payload(alert: &Alert, event: Event) -> serde_json::Value {
    // An update happened when its item was matched: every update of a story carried the
    // story's first match time, and a receiver could not order them.
    let at = match event {
        Event::Updated => alert.story.as_ref().and_then(|s| s.updated_at),
        Event::Matched => None,
    }
    .unwrap_or(alert.matched_at);
    let mut v = serde_json::json!({
        "type": event.name(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "watch": alert.watch,
            "feed": alert.feed,
            "title": alert.title,
            "link": alert.link,
            "published": alert.published.map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "hits": alert.hits,
            "snippet": alert.snippet.render("**", "**", str::to_string),
            "item_key": alert.item_key,
        }
    });
    if let Some(story) = &alert.story {
        v["data"]["story"] = serde_json::json!({"id": story.id, "sources": story.sources});
    }
    if let Some(meaning) = &alert.meaning {
        v["data"]["meaning"] = serde_json::json!(meaning);
    }
    v
}

/// The shortest key a `whsec_` secret may decode to: the Standard Webhooks specification's
/// 24 bytes (192 bits).
const WHSEC_MIN_BYTES: usize = 24;

/// The signing key for a Standard Webhooks secret: `whsec_` + base64 of at least
/// [`WHSEC_MIN_BYTES`], or raw bytes otherwise. (`whsec_` alone decoded to an empty key: a
/// signature anyone can make, past the check that refuses an empty secret.)
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => {
            let key = B64
                .decode(b64)
                .map_err(|_| "`secret` starts with whsec_ but is not valid base64".to_string())?;
            if key.len() < WHSEC_MIN_BYTES {
                return Err(format!(
                    "`secret` decodes to {} bytes; a whsec_ secret holds at least {WHSEC_MIN_BYTES} \
                     (the Standard Webhooks specification)",
                    key.len()
                ));
            }
            Ok(key)
        }
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// Posts alerts to a URL.
pub struct WebhookSink {
    name: String,
    url: Secret,
    key: Option<Vec<u8>>,
    client: reqwest::Client,
}

impl WebhookSink {
    pub fn new(name: &str, c: &WebhookConfig, client: reqwest::Client) -> Self {
        WebhookSink {
            name: name.to_string(),
            url: c.url.clone(),
            key: c.key.as_ref().map(|k| k.0.clone()),
            client,
        }
    }

    async fn post(&self, alert: &Alert, id: &str, event: Event) -> Result<SendOk, SendError> {
        let body = serde_json::to_vec(&event_payload(alert, event))
            .map_err(|e| SendError::permanent(format!("cannot encode payload: {e}")))?;
        let ts = chrono::Utc::now().timestamp();
        let mut req = self
            .client
            .post(self.url.expose())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string());
        if let Some(key) = &self.key {
            req = req.header("webhook-signature", sign(key, id, ts, &body));
        }
        let reply = crate::deliver::http::execute(req.body(body)).await?;
        crate::deliver::http::outcome(reply, &[self.url.expose()])
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, alert: &'a Alert, idempotency_key: &'a str) -> SendFuture<'a> {
        Box::pin(self.post(alert, idempotency_key, Event::Matched))
    }

    /// An `alert.updated` event under the update's own key (`webhook-id`).
    fn update<'a>(
        &'a self,
        alert: &'a Alert,
        _message_ref: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(self.post(alert, idempotency_key, Event::Updated))
    }

    fn preview(&self, alert: &Alert) -> Option<serde_json::Value> {
        Some(payload(alert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks specification.
    #[test]
    fn signature_matches_the_specification_test_vector() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn bad_whsec_is_an_error() {
        assert!(secret_key("whsec_!!!").is_err());
        // Regression: `whsec_` alone (an empty key) and keys of a byte or two were accepted.
        for short in ["whsec_", "whsec_AA==", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La"] {
            let e = secret_key(short).unwrap_err();
            assert!(e.contains("at least 24"), "{short}: {e}");
        }
        assert_eq!(secret_key("plain").unwrap(), b"plain");
    }
}
