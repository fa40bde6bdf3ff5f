//! The sink types and their typed configurations: the registry `config/` is handed to type
//! each `[[sink]]`.
//!
//! Owns [`SinkKind`], [`SinkConfig`] and [`Registry`] (the [`SinkTypes`] of the program); the
//! reader [`table::Table`] and [`table::KeyDoc`] live in [`table`]. Each sink module owns its
//! own configuration struct, its `KEYS` and its `parse` (e.g. [`crate::deliver::slack`]);
//! here they are only listed. Nothing is read by name after this: the rest of `deliver/` gets
//! typed values.

pub mod table;
#[cfg(test)]
mod tests;

use crate::config::{ConfigError, SinkDecl, SinkTypes, closest};
use crate::deliver::chat::{CHAT_KEYS, ChatOptions};
use crate::deliver::rate::Rate;
use crate::deliver::{
    discord, googlechat, matrix, mattermost, ntfy, slack, stdout, teams, telegram, webhook,
};
pub use table::{KeyDoc, Secrets, Table};

/// The sink types newswatch knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SinkKind {
    Stdout,
    Webhook,
    Slack,
    Discord,
    Teams,
    Mattermost,
    GoogleChat,
    Matrix,
    Telegram,
    Ntfy,
}

impl SinkKind {
    pub const ALL: [SinkKind; 10] = [
        SinkKind::Stdout,
        SinkKind::Webhook,
        SinkKind::Slack,
        SinkKind::Discord,
        SinkKind::Teams,
        SinkKind::Mattermost,
        SinkKind::GoogleChat,
        SinkKind::Matrix,
        SinkKind::Telegram,
        SinkKind::Ntfy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::Webhook => "webhook",
            SinkKind::Slack => "slack",
            SinkKind::Discord => "discord",
            SinkKind::Teams => "teams",
            SinkKind::Mattermost => "mattermost",
            SinkKind::GoogleChat => "googlechat",
            SinkKind::Matrix => "matrix",
            SinkKind::Telegram => "telegram",
            SinkKind::Ntfy => "ntfy",
        }
    }

    pub fn from_name(s: &str) -> Option<SinkKind> {
        SinkKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether this is a chat sink (templates, digests, the keys of [`CHAT_KEYS`]).
    pub fn is_chat(self) -> bool {
        !matches!(self, SinkKind::Stdout | SinkKind::Webhook)
    }

    /// The type's own settings (each sink module's `KEYS`).
    pub fn own_keys(self) -> &'static [KeyDoc] {
        match self {
            SinkKind::Stdout => stdout::KEYS,
            SinkKind::Webhook => webhook::KEYS,
            SinkKind::Slack => slack::KEYS,
            SinkKind::Discord => discord::KEYS,
            SinkKind::Teams => teams::KEYS,
            SinkKind::Mattermost => mattermost::KEYS,
            SinkKind::GoogleChat => googlechat::KEYS,
            SinkKind::Matrix => matrix::KEYS,
            SinkKind::Telegram => telegram::KEYS,
            SinkKind::Ntfy => ntfy::KEYS,
        }
    }

    /// A setting's default as the docs state it: the `rate` of chat sinks is the platform's.
    pub fn default_doc(self, key: &KeyDoc) -> String {
        match (key.name, self.is_chat()) {
            ("rate", true) => crate::deliver::rate::default_rate(self)
                .map_or_else(|| "off".to_string(), |r| r.written()),
            _ => key.default.to_string(),
        }
    }

    /// The reference tables of `docs/configuration.md`: one per type, every key it accepts
    /// with what it takes, its default and what it does (checked by a test against the file).
    pub fn docs_tables() -> String {
        let mut out = String::new();
        for kind in SinkKind::ALL {
            out.push_str(&format!("\n### `{}`\n\n", kind.name()));
            let keys = kind.keys();
            if keys.is_empty() {
                out.push_str("No settings.\n");
                continue;
            }
            out.push_str("| key | takes | default | meaning |\n|---|---|---|---|\n");
            for k in keys {
                let default = kind.default_doc(&k);
                let default = match default.as_str() {
                    // Words, not values: `required`, `—`, "built-in message".
                    "required" | "—" => default,
                    _ if default.contains(' ') => default,
                    _ => format!("`{default}`"),
                };
                out.push_str(&format!(
                    "| `{}` | {} | {default} | {} |\n",
                    k.name, k.kind, k.doc
                ));
            }
        }
        out
    }

    /// Every setting the type accepts, its own first, then those all chat sinks share.
    pub fn keys(self) -> Vec<KeyDoc> {
        let mut keys = self.own_keys().to_vec();
        if self.is_chat() {
            keys.extend_from_slice(CHAT_KEYS);
        }
        keys
    }
}

/// One sink's configuration, typed and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    Stdout(stdout::StdoutConfig),
    Webhook(webhook::WebhookConfig),
    Slack(slack::SlackConfig),
    Mattermost(mattermost::MattermostConfig),
    Discord(discord::DiscordConfig),
    Teams(teams::TeamsConfig),
    GoogleChat(googlechat::GoogleChatConfig),
    Matrix(matrix::MatrixConfig),
    Telegram(telegram::TelegramConfig),
    Ntfy(ntfy::NtfyConfig),
}

/// Default `digest_after`: more alerts than this waiting for one sink become digests.
pub const DIGEST_AFTER: usize = 5;
/// Default `concurrency` of a webhook sink: a receiver answering in 200 ms takes 40 alerts/s.
pub const WEBHOOK_CONCURRENCY: usize = 8;

impl SinkConfig {
    pub fn kind(&self) -> SinkKind {
        match self {
            SinkConfig::Stdout(_) => SinkKind::Stdout,
            SinkConfig::Webhook(_) => SinkKind::Webhook,
            SinkConfig::Slack(_) => SinkKind::Slack,
            SinkConfig::Mattermost(_) => SinkKind::Mattermost,
            SinkConfig::Discord(_) => SinkKind::Discord,
            SinkConfig::Teams(_) => SinkKind::Teams,
            SinkConfig::GoogleChat(_) => SinkKind::GoogleChat,
            SinkConfig::Matrix(_) => SinkKind::Matrix,
            SinkConfig::Telegram(_) => SinkKind::Telegram,
            SinkConfig::Ntfy(_) => SinkKind::Ntfy,
        }
    }

    /// The settings every chat sink has (`None` for stdout and webhook).
    pub fn chat(&self) -> Option<&ChatOptions> {
        Some(match self {
            SinkConfig::Stdout(_) | SinkConfig::Webhook(_) => return None,
            SinkConfig::Slack(c) => &c.chat,
            SinkConfig::Mattermost(c) => &c.chat,
            SinkConfig::Discord(c) => &c.chat,
            SinkConfig::Teams(c) => &c.chat,
            SinkConfig::GoogleChat(c) => &c.chat,
            SinkConfig::Matrix(c) => &c.chat,
            SinkConfig::Telegram(c) => &c.chat,
            SinkConfig::Ntfy(c) => &c.chat,
        })
    }

    /// The sink's rate limit (its `rate`, else the platform's default); `None`: unlimited.
    pub fn rate(&self) -> Option<Rate> {
        match self {
            SinkConfig::Stdout(_) => None,
            SinkConfig::Webhook(w) => w.rate,
            _ => self.chat().and_then(|c| c.rate),
        }
    }

    /// More alerts than this waiting become digests (chat sinks).
    pub fn digest_after(&self) -> usize {
        self.chat().map_or(DIGEST_AFTER, |c| c.digest_after)
    }

    /// Sends in flight at once: webhooks take `concurrency`; chat platforms show messages in
    /// arrival order, so one at a time.
    pub fn concurrency(&self) -> usize {
        match self {
            SinkConfig::Webhook(w) => w.concurrency,
            _ => 1,
        }
    }
}

/// The [`SinkTypes`] of the program: the `type` key, then the type's own parser.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Whether the sinks read will send (their secrets must resolve).
    pub secrets: Secrets,
}

impl SinkTypes for Registry {
    type Config = SinkConfig;

    fn parse(&self, decl: &SinkDecl<'_>, errors: &mut Vec<ConfigError>) -> Option<SinkConfig> {
        let Some(kind) = SinkKind::from_name(&decl.kind.value) else {
            let all: Vec<&str> = SinkKind::ALL.iter().map(|k| k.name()).collect();
            let hint = closest(&decl.kind.value, &all)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            errors.push(decl.kind.loc.error(format!(
                "sink `{}`: unknown type `{}`{hint}; known types: {}",
                decl.name,
                decl.kind.value,
                all.join(", ")
            )));
            return None;
        };
        let mut t = Table::new(decl, kind, &self.secrets, errors);
        let config = match kind {
            SinkKind::Stdout => Some(SinkConfig::Stdout(stdout::StdoutConfig)),
            SinkKind::Webhook => webhook::WebhookConfig::parse(&mut t).map(SinkConfig::Webhook),
            kind => {
                // Checked even when other settings are wrong: `check` reports every error.
                let chat = ChatOptions::parse(&mut t);
                match kind {
                    SinkKind::Slack => {
                        slack::SlackConfig::parse(&mut t, chat).map(SinkConfig::Slack)
                    }
                    SinkKind::Mattermost => mattermost::MattermostConfig::parse(&mut t, chat)
                        .map(SinkConfig::Mattermost),
                    SinkKind::Discord => {
                        discord::DiscordConfig::parse(&mut t, chat).map(SinkConfig::Discord)
                    }
                    SinkKind::Teams => {
                        teams::TeamsConfig::parse(&mut t, chat).map(SinkConfig::Teams)
                    }
                    SinkKind::GoogleChat => googlechat::GoogleChatConfig::parse(&mut t, chat)
                        .map(SinkConfig::GoogleChat),
                    SinkKind::Matrix => {
                        matrix::MatrixConfig::parse(&mut t, chat).map(SinkConfig::Matrix)
                    }
                    SinkKind::Telegram => {
                        telegram::TelegramConfig::parse(&mut t, chat).map(SinkConfig::Telegram)
                    }
                    SinkKind::Ntfy => ntfy::NtfyConfig::parse(&mut t, chat).map(SinkConfig::Ntfy),
                    SinkKind::Stdout | SinkKind::Webhook => None,
                }
            }
        };
        t.finish(config)
    }
}
