//! Mattermost incoming webhooks: the configuration of `type = "mattermost"` (its payload is still
//! built by [`crate::deliver::slack`]).
//!
//! Owns [`MattermostConfig`] and [`KEYS`].

use crate::deliver::chat::{WEBHOOK_URL_KEYS, WebhookUrlConfig};
use crate::deliver::config::KeyDoc;

/// The settings of `type = "mattermost"`, after [`crate::deliver::chat::CHAT_KEYS`].
pub const KEYS: &[KeyDoc] = WEBHOOK_URL_KEYS;

/// A mattermost sink's configuration: its webhook URL.
pub type MattermostConfig = WebhookUrlConfig;
