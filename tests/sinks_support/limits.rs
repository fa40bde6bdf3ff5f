//! What each platform refuses, for the fake chat server: a request over a documented limit, or
//! of a shape the platform rejects, is answered with that platform's error instead of the
//! test's scripted answer (and recorded as rejected), so a sink that oversteps fails its test
//! the way it would fail in production.
//!
//! The platform is told from the request: Telegram by `/bot…/sendMessage`, Matrix by
//! `/_matrix/`, Google Chat by `requestId=`, Discord by `allowed_mentions` (always sent),
//! Teams by its Adaptive Card message, ntfy by `topic`, Slack by `blocks`, Mattermost by a
//! bare `text`. Anything else (webhook, stdout tests) passes.

use serde_json::Value;

/// Which platform a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Slack,
    Mattermost,
    Discord,
    Teams,
    GoogleChat,
    Matrix,
    Telegram,
    Ntfy,
}

pub fn platform(path: &str, query: &str, body: &Value) -> Option<Platform> {
    if path.contains("/bot")
        && (path.ends_with("/sendMessage") || path.ends_with("/editMessageText"))
    {
        return Some(Platform::Telegram);
    }
    if path.starts_with("/_matrix/") {
        return path.contains("/send/").then_some(Platform::Matrix);
    }
    if query.split('&').any(|p| p.starts_with("requestId=")) {
        return Some(Platform::GoogleChat);
    }
    let o = body.as_object()?;
    if o.contains_key("allowed_mentions") {
        Some(Platform::Discord)
    } else if body["type"] == "message" && o.contains_key("attachments") {
        Some(Platform::Teams)
    } else if o.contains_key("topic") {
        Some(Platform::Ntfy)
    } else if o.contains_key("blocks") {
        Some(Platform::Slack)
    } else if o.len() == 1 && o.contains_key("text") {
        Some(Platform::Mattermost)
    } else {
        None
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn utf16(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.encode_utf16().count())
}

/// Slack: `text` 40,000 characters, 50 blocks, a section's text 3,000, a context's elements
/// 3,000 each (api.slack.com/reference/block-kit). Slack answers 400 `invalid_blocks` or
/// `msg_too_long`.
fn slack(b: &Value) -> Result<(), String> {
    if chars(&b["text"]) > 40_000 {
        return Err("msg_too_long".into());
    }
    let blocks = b["blocks"].as_array().ok_or("invalid_blocks: not a list")?;
    if blocks.len() > 50 {
        return Err("invalid_blocks: more than 50".into());
    }
    for bl in blocks {
        match bl["type"].as_str() {
            Some("section") if chars(&bl["text"]["text"]) <= 3000 => {}
            Some("context")
                if bl["elements"].as_array().is_some_and(|e| {
                    e.len() <= 10 && e.iter().all(|x| chars(&x["text"]) <= 3000)
                }) => {}
            _ => return Err(format!("invalid_blocks: {bl}")),
        }
    }
    Ok(())
}

/// Mattermost: a post's message is at most 16,383 characters (model.PostMessageMaxRunesV2).
fn mattermost(b: &Value) -> Result<(), String> {
    let n = chars(&b["text"]);
    if n == 0 || n > 16_383 {
        return Err(format!("message length {n} outside 1..=16383"));
    }
    Ok(())
}

/// Discord: content 2,000; at most 10 embeds; title 256, description 4,096, footer 2,048 and
/// 6,000 over an embed (UTF-16 units); an embed `url` is a well-formed http(s) URL of at
/// most 2,048 characters;
/// `thread_name` 100, `username` 1 to 80 (a blank one is refused); a message needs content or
/// an embed. Answered 400 with code 50035 (Invalid Form Body) or 50006 (empty). Unknown
/// top-level fields are ignored by Discord (a body of only unknown fields is "empty"), so
/// they are not refused here.
fn discord(b: &Value) -> Result<(), String> {
    let content = utf16(&b["content"]);
    let embeds = b["embeds"].as_array().map_or(&[][..], Vec::as_slice);
    if content == 0 && embeds.is_empty() {
        return Err(r#"{"message": "Cannot send an empty message", "code": 50006}"#.into());
    }
    let mut bad = Vec::new();
    if content > 2000 {
        bad.push("content: Must be 2000 or fewer in length.");
    }
    if embeds.len() > 10 {
        bad.push("embeds: Must be 10 or fewer in length.");
    }
    for e in embeds {
        let (t, d, f) = (
            utf16(&e["title"]),
            utf16(&e["description"]),
            utf16(&e["footer"]["text"]),
        );
        if t > 256 || d > 4096 || f > 2048 || t + d + f > 6000 {
            bad.push("embeds.0: Embed size exceeds maximum size of 6000");
        }
        if let Some(u) = e.get("url")
            && !u
                .as_str()
                .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            bad.push("embeds.0.url: Not a well formed URL.");
        }
        if e["url"].as_str().is_some_and(|u| u.len() > 2048) {
            bad.push("embeds.0.url: Must be 2048 or fewer in length.");
        }
    }
    if chars(&b["thread_name"]) > 100 {
        bad.push("thread_name: Must be 100 or fewer in length.");
    }
    if let Some(u) = b.get("username")
        && !u
            .as_str()
            .is_some_and(|u| !u.trim().is_empty() && u.chars().count() <= 80)
    {
        bad.push("username: Must be between 1 and 80 in length.");
    }
    if !b["allowed_mentions"]["parse"].is_array() {
        bad.push("allowed_mentions.parse: must be a list");
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            r#"{{"message": "Invalid Form Body", "code": 50035, "errors": "{}"}}"#,
            bad.join("; ")
        ))
    }
}

/// Teams (Workflows): a message over ~28 KB is refused (413); the card must be an Adaptive
/// Card attachment.
fn teams(b: &Value, raw_len: usize) -> Result<(), String> {
    if raw_len > 28 * 1024 {
        return Err(format!("413: {raw_len} bytes"));
    }
    let a = &b["attachments"][0];
    if a["contentType"] != "application/vnd.microsoft.card.adaptive"
        || a["content"]["type"] != "AdaptiveCard"
    {
        return Err("not an Adaptive Card".into());
    }
    Ok(())
}

/// Google Chat: `text` at most 4,096 characters (INVALID_ARGUMENT), 32,000 bytes a message.
fn googlechat(b: &Value, raw_len: usize) -> Result<(), String> {
    let n = chars(&b["text"]);
    if n == 0 || n > 4096 || raw_len > 32_000 {
        return Err(format!(
            r#"{{"error": {{"code": 400, "status": "INVALID_ARGUMENT", "message": "text of {n} characters"}}}}"#
        ));
    }
    Ok(())
}

/// Matrix: an event over 65,536 bytes is refused (413 M_TOO_LARGE; the content is checked
/// here, the homeserver adds its own fields); `msgtype` and `body` are required.
fn matrix(b: &Value, raw_len: usize) -> Result<(), String> {
    if raw_len > 65_536 {
        return Err(r#"{"errcode": "M_TOO_LARGE", "error": "event too large"}"#.into());
    }
    if !b["msgtype"].is_string() || !b["body"].is_string() {
        return Err(r#"{"errcode": "M_BAD_JSON", "error": "msgtype and body"}"#.into());
    }
    // An edit (`m.replace`) names the event it replaces and carries a whole new content.
    if b["m.relates_to"]["rel_type"] == "m.replace"
        && (!b["m.relates_to"]["event_id"].is_string()
            || !b["m.new_content"]["msgtype"].is_string()
            || !b["m.new_content"]["body"].is_string())
    {
        return Err(
            r#"{"errcode": "M_BAD_JSON", "error": "m.replace needs event_id and m.new_content"}"#
                .into(),
        );
    }
    Ok(())
}

/// Telegram `sendMessage`: 1 to 4,096 characters of text (counted here before entity parsing,
/// which is stricter), a known `parse_mode`, a `chat_id`.
fn telegram(b: &Value) -> Result<(), String> {
    let err = |d: &str| {
        Err(format!(
            r#"{{"ok": false, "error_code": 400, "description": "Bad Request: {d}"}}"#
        ))
    };
    if b["chat_id"].is_null() {
        return err("chat_id is empty");
    }
    match utf16(&b["text"]) {
        0 => return err("message text is empty"),
        n if n > 4096 => return err("message is too long"),
        _ => {}
    }
    match b.get("parse_mode").map(|m| m.as_str()) {
        None | Some(Some("HTML" | "MarkdownV2" | "Markdown")) => Ok(()),
        Some(m) => err(&format!("unsupported parse_mode {m:?}")),
    }
}

/// ntfy: a JSON publish over twice the message limit (8,192 bytes) is refused with 413; the
/// message itself is at most 4,096 bytes (longer ones would become attachments); priority 1–5.
fn ntfy(b: &Value, raw_len: usize) -> Result<(), String> {
    if raw_len > 8192 {
        return Err(r#"{"code": 41301, "http": 413, "error": "request entity too large"}"#.into());
    }
    if b["message"].as_str().map_or(0, str::len) > 4096 {
        return Err(r#"{"code": 41302, "http": 413, "error": "message too large"}"#.into());
    }
    if let Some(p) = b.get("priority")
        && !p.as_i64().is_some_and(|p| (1..=5).contains(&p))
    {
        return Err(r#"{"code": 40007, "http": 400, "error": "invalid priority"}"#.into());
    }
    Ok(())
}

/// The platform's refusal of this request, as (status, body), or `None` when it would take it.
pub fn refusal(path: &str, query: &str, body: &Value, raw_len: usize) -> Option<(u16, String)> {
    let p = platform(path, query, body)?;
    if path.ends_with("/editMessageText") && !body["message_id"].is_i64() {
        return Some((
            400,
            r#"{"ok": false, "error_code": 400, "description": "Bad Request: message_id is required"}"#
                .into(),
        ));
    }
    let result = match p {
        Platform::Slack => slack(body),
        Platform::Mattermost => mattermost(body),
        Platform::Discord => discord(body),
        Platform::Teams => teams(body, raw_len),
        Platform::GoogleChat => googlechat(body, raw_len),
        Platform::Matrix => matrix(body, raw_len),
        Platform::Telegram => telegram(body),
        Platform::Ntfy => ntfy(body, raw_len),
    };
    let status = match p {
        Platform::Teams | Platform::Matrix | Platform::Ntfy
            if result
                .as_ref()
                .is_err_and(|e| e.contains("413") || e.contains("TOO_LARGE")) =>
        {
            413
        }
        _ => 400,
    };
    result.err().map(|e| (status, e))
}
