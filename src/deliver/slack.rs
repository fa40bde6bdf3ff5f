//! Slack incoming webhooks.
//!
//! Owns [`Slack`] (a [`Platform`]), [`SlackConfig`] and [`KEYS`]. Slack gets a `text`
//! notification fallback plus Block Kit: a `section` (mrkdwn, `verbatim` so nothing in it is
//! auto-linked) and a `context` line; `& < >` in feed text are entities, so `<!channel>`,
//! `<!here>` and `<@U…>` stay inert, and `link_names` is never set. Limits: section text 3,000
//! characters, 50 blocks.

use serde_json::{Value, json};

use crate::config::Secret;
use crate::deliver::alert::Alert;
use crate::deliver::chat::{self, Platform, Text, WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::{KeyDoc, SinkKind};
use crate::deliver::cut::cut_markup;
use crate::deliver::digest::Digest;
use crate::deliver::render::{self, Markup};
use crate::deliver::sink::SendFuture;

/// The settings of `type = "slack"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A slack sink's configuration: its webhook URL.
pub type SlackConfig = WebhookUrlConfig;

/// Slack: characters in a section's text (and in a context element).
pub const SECTION_MAX: usize = 3000;
/// Slack: blocks in one message.
pub const BLOCKS_MAX: usize = 50;
/// Slack: the notification fallback `text`; the full limit is 40,000 but it is only a preview.
pub const FALLBACK_MAX: usize = 300;

const M: Markup = Markup::Slack;

pub struct Slack {
    url: Secret,
}

impl Slack {
    pub fn new(c: &SlackConfig) -> Self {
        Slack { url: c.url.clone() }
    }
}

/// `*<link|title>*` and the `watch · feed · published · matched` line, shared with
/// Mattermost (whose markup differs).
pub fn head(m: Markup, alert: &Alert) -> (String, String) {
    let mut meta = m.meta_line(alert, true);
    if let Some(terms) = m.matched_terms(alert) {
        meta.push_str(&format!(" · matched: {terms}"));
    }
    (m.bold(&m.linked_title(alert, 250)), meta)
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": true}})
}

impl Platform for Slack {
    const KIND: SinkKind = SinkKind::Slack;
    const MARKUP: Markup = M;

    fn default_text(&self, alert: &Alert, budget: usize) -> String {
        let (head, _) = head(M, alert);
        let snippet = M.snippet(&render::shorten_snippet(&alert.snippet, budget));
        if snippet.is_empty() {
            head
        } else {
            format!("{head}\n>{snippet}")
        }
    }

    fn wrap(&self, alert: &Alert, text: &Text) -> Value {
        let mut blocks = vec![section(&text.text)];
        if !text.templated {
            let (_, meta) = head(M, alert);
            blocks.push(json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": meta, "verbatim": true}],
            }));
        }
        let fallback = format!("[{}] {}", alert.watch, alert.shown_title());
        let fallback = M.text(&render::truncate_chars(&fallback, FALLBACK_MAX));
        json!({"text": fallback, "blocks": blocks})
    }

    fn fits(&self, body: &Value) -> bool {
        let text = body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        chat::chars(text) <= SECTION_MAX
    }

    fn digest_body(&self, d: &Digest) -> Option<Value> {
        let headline = M.text(&d.headline());
        // Lines packed into sections of at most SECTION_MAX characters, after a header section.
        let mut blocks = vec![section(&M.bold(&headline))];
        let mut current = String::new();
        for a in d.items() {
            let l = cut_markup(M, &d.line(a, M), |t| chat::chars(t) <= SECTION_MAX);
            if !current.is_empty() && chat::chars(&current) + 1 + chat::chars(&l) > SECTION_MAX {
                blocks.push(section(&current));
                current.clear();
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&l);
        }
        if !current.is_empty() {
            blocks.push(section(&current));
        }
        let fallback = cut_markup(M, &headline, |t| chat::chars(t) <= FALLBACK_MAX);
        (blocks.len() <= BLOCKS_MAX).then(|| json!({"text": fallback, "blocks": blocks}))
    }

    fn post<'a>(
        &'a self,
        client: &'a reqwest::Client,
        body: Value,
        _idempotency_key: &'a str,
    ) -> SendFuture<'a> {
        // 404 `no_service` / 410 `channel_is_archived` are permanent like any other 4xx.
        chat::post_json(client, &self.url, body, "Slack")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::digest;

    fn slack() -> Slack {
        Slack {
            url: Secret::new("https://hooks.slack.example/T/B/x"),
        }
    }

    /// Digest lines are packed in order into as few sections as fit (a section starts only
    /// when the next line would overflow the last), and a digest is offered exactly while its
    /// sections and header stay within 50 blocks.
    #[test]
    fn digest_sections_are_packed_full_and_offered_within_the_block_limit() {
        let slack = slack();
        // Long watch names, so that fewer than 500 alerts fill the 50 blocks.
        let all = digest::test_alerts(500, &format!("dprk-troops-{}", "x".repeat(190)));
        let (mut offered, mut refused) = (0, 0);
        for n in 1..=all.len() {
            let a = Digest::alerts(&all[..n]);
            let lines: Vec<String> = a.items().iter().map(|x| a.line(x, M)).collect();
            // The fewest sections that hold the lines in order: fill each before the next.
            let mut needed = 1;
            let mut used = 0;
            for l in &lines {
                let len = chat::chars(l);
                if used > 0 && used + 1 + len > SECTION_MAX {
                    needed += 1;
                    used = 0;
                }
                used += if used > 0 { 1 + len } else { len };
            }
            let Some(body) = slack.digest_body(&a) else {
                assert!(
                    1 + needed > BLOCKS_MAX,
                    "{n} alerts in {needed} sections refused"
                );
                refused += 1;
                if refused > 3 {
                    break;
                }
                continue;
            };
            offered += 1;
            let blocks = body["blocks"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let text = |b: &Value| b["text"]["text"].as_str().unwrap_or_default().to_string();
            let headline = M.text(&a.headline());
            assert_eq!(text(&blocks[0]), M.bold(&headline), "{n}");
            assert_eq!(body["text"], Value::String(headline), "{n}");
            let sections: Vec<String> = blocks[1..].iter().map(text).collect();
            assert_eq!(sections.len(), needed, "{n} alerts: {sections:#?}");
            assert_eq!(sections.join("\n"), lines.join("\n"), "{n}");
            assert!(
                sections.iter().all(|s| chat::chars(s) <= SECTION_MAX),
                "{n}"
            );
        }
        assert!(offered > 1 && refused > 1, "{offered} / {refused}");
    }

    /// Two lines that fill a section exactly share it; one character more and the second
    /// starts the next section.
    #[test]
    fn digest_lines_that_fill_a_section_exactly_share_it() {
        let slack = slack();
        let with_watch = |len: usize| {
            let mut a = digest::test_alerts(2, "dprk-troops");
            a[1].watch = "w".repeat(len);
            a
        };
        let line_len = |a: &Alert| chat::chars(&Digest::alerts(&[]).line(a, M));
        let probe = with_watch(10);
        // The second line grows one for one with its watch name.
        let exact = 10 + SECTION_MAX - (line_len(&probe[0]) + 1 + line_len(&probe[1]));
        let sections = |len: usize| {
            let a = with_watch(len);
            let body = slack
                .digest_body(&Digest::alerts(&a))
                .unwrap_or_else(|| panic!("fits"));
            let blocks = body["blocks"].as_array().map(Vec::len).unwrap_or_default();
            (line_len(&a[0]) + 1 + line_len(&a[1]), blocks - 1)
        };
        assert_eq!(sections(exact), (SECTION_MAX, 1));
        assert_eq!(sections(exact + 1), (SECTION_MAX + 1, 2));
    }
}
