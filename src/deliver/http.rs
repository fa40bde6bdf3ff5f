//! HTTP plumbing shared by the chat sinks: send a request, read a bounded reply, classify it.
//!
//! Owns [`Reply`], [`execute`], [`classify`], [`redact`] and [`seconds`]. Errors never carry a
//! URL (webhook URLs and bot tokens are secrets): reqwest errors are stripped with
//! `without_url`, and reply text is passed through [`redact`] before it reaches a message.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::deliver::sink::{SendError, SendOk};

/// One request's time limit: longer than any healthy chat API, short enough not to hold a
/// worker when a server hangs.
pub const TIMEOUT: Duration = Duration::from_secs(30);

use crate::deliver::retry::MAX_HINT;

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The first few KB of the body.
    pub text: String,
}

impl Reply {
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.text).ok()
    }

    /// The answer as [`SendOk`], its body shortened for logs.
    pub fn ok(&self) -> SendOk {
        SendOk {
            status: Some(self.status),
            detail: self.text.trim().chars().take(300).collect(),
        }
    }

    /// The standard `Retry-After` header (seconds or an HTTP date).
    pub fn retry_after_header(&self) -> Option<Duration> {
        crate::feed::fetch::retry_after(&self.headers).map(|d| d.min(MAX_HINT))
    }

    /// A header as a number of seconds, possibly fractional (`X-RateLimit-Reset-After: 1.5`).
    pub fn header_seconds(&self, name: &str) -> Option<Duration> {
        let v = self
            .headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        seconds(v)
    }
}

/// Seconds from a JSON number or header (`retry_after: 0.42`), rounded up to whole
/// milliseconds so a retry is never sooner than asked; `None` for negative or absurd values.
pub fn seconds(v: f64) -> Option<Duration> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let ms = (v * 1000.0).ceil();
    let d = Duration::from_millis(ms.min(MAX_HINT.as_millis() as f64) as u64);
    Some(d)
}

/// `req` with `body` as its JSON payload.
pub fn with_json(
    req: reqwest::RequestBuilder,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    // Serializing a `Value` cannot fail (its keys are strings).
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    req.header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes)
}

/// An error and its causes on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Send `req` and read at most a few KB of the answer. Network errors and timeouts are
/// retryable; the error text never contains the URL.
pub async fn execute(req: reqwest::RequestBuilder) -> Result<Reply, SendError> {
    let mut resp = req.timeout(TIMEOUT).send().await.map_err(|e| {
        SendError::retryable(format!("request failed: {}", describe(&e.without_url())))
    })?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut buf = Vec::new();
    // A receiver's body is not trusted: read enough for a diagnosis, no more.
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() > 8192 {
            break;
        }
    }
    Ok(Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&buf).into_owned(),
    })
}

/// The usual ending of a send: a 2xx is success, anything else is classified the generic way
/// (the receiver's `Retry-After` honoured), with `secrets` blanked out of the message.
pub fn outcome(reply: Reply, secrets: &[&str]) -> Result<SendOk, SendError> {
    if reply.success() {
        Ok(reply.ok())
    } else {
        Err(classify(&reply, None, secrets))
    }
}

/// A non-2xx reply classified the generic way (408, 429, 5xx retry; other 4xx do not), with
/// `hint` (the platform's own retry hint) or else `Retry-After`. `secrets` are blanked out of
/// the message in case a receiver echoes them.
pub fn classify(reply: &Reply, hint: Option<Duration>, secrets: &[&str]) -> SendError {
    let body = redact(&reply.text, secrets);
    SendError::from_status(
        reply.status,
        &body,
        hint.or_else(|| reply.retry_after_header()),
    )
}

/// `text` with every occurrence of each non-empty secret replaced by `[redacted]`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(*s, "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_reject_nonsense() {
        assert_eq!(seconds(0.4201), Some(Duration::from_millis(421)));
        assert_eq!(seconds(-1.0), None);
        assert_eq!(seconds(f64::NAN), None);
        assert_eq!(seconds(1e12), Some(MAX_HINT));
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("bad token 123:ABC", &["123:ABC", ""]),
            "bad token [redacted]"
        );
    }
}
