//! HTTP plumbing shared by the chat sinks: send a request, read a bounded reply, classify it.
//!
//! Owns [`client`] (the one HTTP client policy of every sink, daemon and `send-test` alike),
//! [`Reply`], [`execute`], [`classify`], [`redact`] and [`seconds`]. Errors never carry a
//! URL (webhook URLs and bot tokens are secrets): reqwest errors are stripped with
//! `without_url`, and reply text is passed through [`redact`] before it reaches a message.
//!
//! Sinks never follow redirects: reqwest would turn a POST answered 301/302/303 into a body-less
//! GET, and a 200 from the redirect target (an SSO login page, a maintenance page) would count
//! as delivered; a 307/308 would send the signed body to another host. A 3xx is a failure that
//! names where it pointed and asks the operator to fix the URL.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::deliver::sink::{SendError, SendOk};

/// One request's time limit: longer than any healthy chat API, short enough not to hold a
/// worker when a server hangs.
pub const TIMEOUT: Duration = Duration::from_secs(30);

use crate::deliver::retry::MAX_HINT;

/// Connection set-up limit for sink requests.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client every sink uses, in the daemon and in `send-test`: no redirects, bounded
/// connect and request times, our User-Agent.
pub fn client(user_agent: &str) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The first few KB of the body.
    pub text: String,
    /// The whole body was read (not cut at [`REPLY_MAX`], nor ended by a broken connection).
    pub complete: bool,
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
            message_ref: None,
            skipped: false,
        }
    }

    /// As [`Reply::ok`], keeping the sent message's id found at `pointer` in the JSON body
    /// (a string or a number), when there is one.
    pub fn ok_with_ref(&self, pointer: &str) -> SendOk {
        let message_ref = self.json().and_then(|j| match j.pointer(pointer) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        });
        SendOk {
            message_ref,
            ..self.ok()
        }
    }

    /// As [`Reply::ok_with_ref`] for a platform whose every success names the message
    /// (`platform`'s `what`): a 2xx answer without it is no answer of the platform's, but a
    /// proxy's or load balancer's page ("maintenance", an error as JSON), and the alert is
    /// retried, not marked sent unseen (and without an id that story updates edit).
    pub fn ok_naming(
        &self,
        pointer: &str,
        platform: &str,
        what: &str,
    ) -> Result<SendOk, SendError> {
        let ok = self.ok_with_ref(pointer);
        // An answer cut short (a reply past the read cap: Telegram echoes the whole message)
        // cannot be judged: the message went, retried it would go twice.
        if ok.message_ref.is_some() || !self.complete {
            return Ok(ok);
        }
        Err(self.not_the_platforms(
            platform,
            &format!("the {what} every {platform} answer names"),
        ))
    }

    /// Whether a 2xx answer is markup (a body whose first character is `<`: a proxy's, a
    /// captive portal's or a load balancer's "under maintenance" page, as HTML, XHTML with an
    /// XML prolog, a comment first or a bare `<div>`), never the answer of a webhook-style chat
    /// platform to a post (Slack and Mattermost answer `ok`, Teams `1` or nothing). Such a 200
    /// counted as delivered, and the alert was lost unseen. Judged by the body, not the type:
    /// Slack answers its successes `ok` as `text/html`. The first character decides, so a body
    /// cut at the read cap is judged alike. A page in UTF-16 reads here as undecodable bytes
    /// and NULs around its `<`: those are skipped like whitespace.
    pub fn page(&self) -> bool {
        self.text
            .trim_start_matches(|c: char| {
                c.is_whitespace() || matches!(c, '\u{FEFF}' | '\u{FFFD}' | '\0')
            })
            .starts_with('<')
    }

    /// The error for a 2xx that is not `platform`'s answer (it lacks `wanted`): retried, not
    /// marked sent unseen. The body is not quoted: a page that echoes the request may hold its
    /// URL, and Telegram's carries the bot token.
    fn not_the_platforms(&self, platform: &str, wanted: &str) -> SendError {
        let kind = self
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type");
        SendError::retryable(format!(
            "HTTP {} ({kind}, {} bytes) without {wanted}: not {platform}'s answer (a proxy's \
             page?)",
            self.status,
            self.text.len()
        ))
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

/// The most of an answer read. Telegram and Discord answer a send with the whole message
/// (Telegram writes each non-ASCII character as a six-byte `\u` escape: 4,096 Cyrillic
/// characters take 24 KB, and its entities more), and the message id is read from that JSON:
/// an answer cut at 8 KB lost the id, and the story's updates had no message to edit.
const REPLY_MAX: usize = 64 * 1024;

/// Send `req` and read at most [`REPLY_MAX`] of the answer. Network errors and timeouts are
/// retryable; the error text never contains the URL.
pub async fn execute(req: reqwest::RequestBuilder) -> Result<Reply, SendError> {
    let mut resp = req.timeout(TIMEOUT).send().await.map_err(|e| {
        SendError::retryable(format!("request failed: {}", describe(&e.without_url())))
    })?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut buf = Vec::new();
    // A receiver's body is not trusted: read enough for a diagnosis and for the sent message's
    // id, no more.
    let complete = loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                buf.extend_from_slice(&chunk);
                if buf.len() > REPLY_MAX {
                    buf.truncate(REPLY_MAX);
                    break false;
                }
            }
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    Ok(Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&buf).into_owned(),
        complete,
    })
}

/// The usual ending of a send: a 2xx is success, anything else is classified the generic way
/// (the receiver's `Retry-After` honoured), with `secrets` blanked out of the message. For
/// the webhook sink, whose receiver is the operator's own code (a script may well answer
/// `text/html`); chat platforms use [`chat_outcome`].
pub fn outcome(reply: Reply, secrets: &[&str]) -> Result<SendOk, SendError> {
    if reply.success() {
        Ok(reply.ok())
    } else {
        Err(classify(&reply, None, secrets))
    }
}

/// As [`outcome`] for a chat platform (`platform` names it in errors): a 2xx that is a web
/// page (see [`Reply::page`]) is no answer of the platform's, and is retried.
pub fn chat_outcome(reply: Reply, platform: &str, secrets: &[&str]) -> Result<SendOk, SendError> {
    if reply.success() && reply.page() {
        return Err(reply.not_the_platforms(platform, "JSON or text"));
    }
    outcome(reply, secrets)
}

/// As [`chat_outcome`] for a platform whose every success names the message at `pointer` (see
/// [`Reply::ok_naming`]): Google Chat's message `name`, ntfy's message `id`.
pub fn outcome_naming(
    reply: Reply,
    pointer: &str,
    platform: &str,
    what: &str,
    secrets: &[&str],
) -> Result<SendOk, SendError> {
    if reply.success() {
        reply.ok_naming(pointer, platform, what)
    } else {
        Err(classify(&reply, None, secrets))
    }
}

/// A non-2xx reply classified the generic way (408, 429, 5xx retry; other 4xx do not), with
/// `hint` (the platform's own retry hint) or else `Retry-After`. `secrets` are blanked out of
/// the message in case a receiver echoes them.
pub fn classify(reply: &Reply, hint: Option<Duration>, secrets: &[&str]) -> SendError {
    if (300..400).contains(&reply.status) {
        return redirected(reply, secrets);
    }
    let body = redact(&reply.text, secrets);
    SendError::from_status(
        reply.status,
        &body,
        hint.or_else(|| reply.retry_after_header()),
    )
}

/// A 3xx answer: never followed. A permanent redirect (301, 308) will not fix itself, so the
/// delivery is a dead letter at once; a temporary one (302, 303, 307: a maintenance page, an
/// expired session) is retried with backoff like any outage.
fn redirected(reply: &Reply, secrets: &[&str]) -> SendError {
    let location = reply
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || "nowhere (no Location header)".to_string(),
            |l| redact_location(l, secrets),
        );
    let message = format!(
        "HTTP {}: the sink URL redirects to {location}; sinks never follow redirects \
         (the alert would not reach the receiver): fix the sink's url",
        reply.status
    );
    if matches!(reply.status, 301 | 308) {
        SendError::permanent(message)
    } else {
        SendError::Retryable {
            message,
            retry_after: reply.retry_after_header(),
        }
    }
}

/// A redirect target shown to the operator: secrets blanked, and user-info and query values
/// dropped, since a sink URL's credentials often travel there (`?token=`, `user:pass@`).
fn redact_location(location: &str, secrets: &[&str]) -> String {
    let text = redact(location, secrets);
    match url::Url::parse(&text) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some("[redacted]"));
            }
            u.set_fragment(None);
            u.to_string()
        }
        // A relative or broken Location: its path alone, without any query.
        Err(_) => text
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// `text` with every occurrence of each non-empty secret replaced by `[redacted]`.
/// A secret that is a URL (a webhook URL with its token in the path or query) is also blanked
/// piece by piece: its path and query, and each path segment and query value long enough to
/// be a token, since a receiver may echo only the path it was called at.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        parts.push(s.to_string());
        if let Ok(u) = url::Url::parse(s) {
            let path_query = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            };
            parts.push(path_query);
            parts.extend(u.path_segments().into_iter().flatten().map(str::to_string));
            parts.extend(u.query_pairs().map(|(_, v)| v.into_owned()));
        }
    }
    // Longest first, so a whole URL goes before the pieces inside it.
    // Pieces too short or too plain to be a token (`api`, `webhooks`, `messages`) stay.
    let plain_word = |p: &str| p.bytes().all(|b| b.is_ascii_lowercase());
    parts.retain(|p| secrets.contains(&p.as_str()) || (p.len() >= 8 && !plain_word(p)));
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = text.to_string();
    for p in &parts {
        out = out.replace(p.as_str(), "[redacted]");
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

    fn reply(status: u16, location: Option<&str>) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(l) = location {
            headers.insert(reqwest::header::LOCATION, l.parse().unwrap());
        }
        Reply {
            status,
            headers,
            text: "<html>login</html>".into(),
            complete: true,
        }
    }

    #[test]
    fn a_redirect_is_a_failure_that_names_the_redacted_location() {
        let secret = "https://hooks.example/services/T0/B0/s3cr3t";
        let r = reply(
            302,
            Some(
                "https://user:pw@sso.example/login?next=https://hooks.example/services/T0/B0/s3cr3t&t=9",
            ),
        );
        let SendError::Retryable { message, .. } = classify(&r, None, &[secret]) else {
            panic!("a temporary redirect is retried");
        };
        assert!(message.contains("HTTP 302"), "{message}");
        assert!(
            message.contains("https://sso.example/login?[redacted]"),
            "{message}"
        );
        assert!(message.contains("fix the sink's url"), "{message}");
        assert!(
            !message.contains("s3cr3t") && !message.contains("pw@"),
            "{message}"
        );
        for status in [301, 308] {
            let e = classify(&reply(status, Some("/moved")), None, &[secret]);
            assert!(matches!(e, SendError::Permanent { .. }), "{status}: {e:?}");
        }
        let e = classify(&reply(307, None), None, &[]);
        assert!(e.to_string().contains("no Location header"), "{e}");
    }

    /// Regression: a receiver echoing only the path it was called at (`/api/webhooks/1/TOKEN`)
    /// showed the token, since only the whole configured URL was blanked.
    #[test]
    fn the_pieces_of_a_secret_url_are_redacted_too() {
        let url = "https://discord.example/api/webhooks/123456789/AbCdEfGhIjKlMnOp?wait=true";
        let out = redact(
            "404 at /api/webhooks/123456789/AbCdEfGhIjKlMnOp, token AbCdEfGhIjKlMnOp",
            &[url],
        );
        assert!(!out.contains("AbCdEfGhIjKlMnOp"), "{out}");
        let gc = "https://chat.example/v1/spaces/A/messages?key=k&token=SECRETGCTOKEN";
        assert!(!redact("bad token SECRETGCTOKEN", &[gc]).contains("SECRETGC"));
        // Short or plain pieces (`api`, `webhooks`, `true`) are left alone.
        assert_eq!(redact("api webhooks true", &[url]), "api webhooks true");
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("bad token 123:ABC", &["123:ABC", ""]),
            "bad token [redacted]"
        );
    }
}

/// Reply handling pinned against mutation testing (docs/testing.md).
#[cfg(test)]
mod reply_tests;
