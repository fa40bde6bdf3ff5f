//! The `[[sink]]` half of validation: each sink type's keys, their kinds and checks, templates,
//! and duplicate names.
//!
//! Owns [`sinks`], called by [`super::validate`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::config::error::ConfigError;
use crate::config::plan::{SinkKind, SinkPlan, SinkValue};
use crate::config::raw::{Loc, RawScalar, RawSink, Sp, closest};
use crate::config::secret;

use super::file_dir;

/// How one sink setting is checked.
#[derive(Clone, Copy)]
enum KeyKind {
    /// An http(s) URL that may carry a token, so it is also a secret reference.
    SecretUrl,
    /// A plain http(s) URL (server base).
    Url,
    Secret,
    Str,
    /// A string or an integer (Telegram chat ids), kept as a string.
    StrOrInt,
    Int(i64, i64),
    List,
    /// A rate like "1/s" or "60/min", or "off".
    Rate,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// `true` or `false`.
    Bool,
}

struct KeySpec {
    key: &'static str,
    kind: KeyKind,
    required: bool,
}

const fn k(key: &'static str, kind: KeyKind, required: bool) -> KeySpec {
    KeySpec {
        key,
        kind,
        required,
    }
}

use KeyKind::{Int, List, SecretUrl, Str, StrOrInt, Url as PlainUrl};

const WEBHOOK_KEYS: &[KeySpec] = &[
    k("url", SecretUrl, true),
    k("secret", KeyKind::Secret, false),
    k("rate", KeyKind::Rate, false),
    k("concurrency", Int(1, 64), false),
];
/// Settings every chat sink accepts, after its own: message template (inline or from a file,
/// checked in [`sink_template`]), rate limit, and the burst size beyond which a digest is sent.
macro_rules! chat_keys {
    ($($own:expr),* $(,)?) => {
        &[
            $($own,)*
            k("template", Str, false),
            k("template_file", Str, false),
            k("rate", KeyKind::Rate, false),
            k("digest_after", Int(1, 10_000), false),
        ]
    };
}
const CHAT_KEYS: &[KeySpec] = chat_keys![k("url", SecretUrl, true)];
const DISCORD_KEYS: &[KeySpec] = chat_keys![
    k("url", SecretUrl, true),
    k("thread_id", StrOrInt, false),
    k("thread_name", Str, false),
    k("username", Str, false),
    k("avatar_url", PlainUrl, false),
    k("suppress_embeds", KeyKind::Bool, false),
    k("silent", KeyKind::Bool, false),
];
const MATRIX_KEYS: &[KeySpec] = chat_keys![
    k("homeserver", PlainUrl, true),
    k("room", Str, true),
    k("access_token", KeyKind::Secret, true),
    k("msgtype", KeyKind::OneOf(&["text", "notice"]), false),
];
const TELEGRAM_KEYS: &[KeySpec] = chat_keys![
    k("bot_token", KeyKind::Secret, true),
    k("chat_id", StrOrInt, true),
    k("api_base", PlainUrl, false),
    k("message_thread_id", Int(1, i64::MAX), false),
    k("disable_notification", KeyKind::Bool, false),
    k("link_preview", KeyKind::Bool, false),
];
const NTFY_KEYS: &[KeySpec] = chat_keys![
    k("server", PlainUrl, false),
    k("topic", Str, true),
    k("token", KeyKind::Secret, false),
    k("priority", Int(1, 5), false),
    k("tags", List, false),
];

/// The settings each sink type accepts.
fn sink_keys(kind: SinkKind) -> &'static [KeySpec] {
    match kind {
        SinkKind::Stdout => &[],
        SinkKind::Webhook => WEBHOOK_KEYS,
        SinkKind::Slack | SinkKind::Teams | SinkKind::Mattermost | SinkKind::GoogleChat => {
            CHAT_KEYS
        }
        SinkKind::Discord => DISCORD_KEYS,
        SinkKind::Matrix => MATRIX_KEYS,
        SinkKind::Telegram => TELEGRAM_KEYS,
        SinkKind::Ntfy => NTFY_KEYS,
    }
}

fn check_http_url(s: &str) -> Result<(), String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(format!(
            "unsupported scheme `{}` (use http or https)",
            u.scheme()
        )),
        Err(e) => Err(format!("not a valid URL: {e}")),
    }
}

fn sink_setting(
    spec: &KeySpec,
    v: &Sp<RawScalar>,
    sink: &str,
    base: &Path,
) -> Result<SinkValue, String> {
    let key = spec.key;
    let want = |what: &str| format!("sink `{sink}`: `{key}` must be {what}");
    match (spec.kind, &v.value) {
        (KeyKind::SecretUrl, RawScalar::Str(s)) => {
            let sec =
                secret::resolve(s, base).map_err(|e| format!("sink `{sink}`: `{key}`: {e}"))?;
            // The URL's path and query often are the token: never echo it in the error.
            check_http_url(sec.expose()).map_err(|e| {
                let e = e.split(':').next().unwrap_or("invalid").to_string();
                format!("sink `{sink}`: `{key}` is {e}")
            })?;
            Ok(SinkValue::Secret(sec))
        }
        (KeyKind::Url, RawScalar::Str(s)) => {
            check_http_url(s).map_err(|e| format!("sink `{sink}`: `{key}` = \"{s}\": {e}"))?;
            Ok(SinkValue::Str(s.clone()))
        }
        (KeyKind::Secret, RawScalar::Str(s)) => secret::resolve(s, base)
            .map(SinkValue::Secret)
            .map_err(|e| format!("sink `{sink}`: `{key}`: {e}")),
        (KeyKind::Str, RawScalar::Str(s)) if !s.trim().is_empty() => Ok(SinkValue::Str(s.clone())),
        (KeyKind::Str, _) => Err(want("a non-empty string")),
        (KeyKind::StrOrInt, RawScalar::Str(s)) if !s.trim().is_empty() => {
            Ok(SinkValue::Str(s.clone()))
        }
        (KeyKind::StrOrInt, RawScalar::Int(n)) => Ok(SinkValue::Str(n.to_string())),
        (KeyKind::StrOrInt, _) => Err(want("a string or an integer")),
        (KeyKind::Int(lo, hi), RawScalar::Int(n)) if (lo..=hi).contains(n) => {
            Ok(SinkValue::Int(*n))
        }
        (KeyKind::Int(lo, hi), _) => Err(want(&format!("an integer from {lo} to {hi}"))),
        (KeyKind::List, RawScalar::List(l)) => Ok(SinkValue::List(l.clone())),
        (KeyKind::List, _) => Err(want("a list of strings")),
        (KeyKind::Rate, RawScalar::Str(s)) => crate::deliver::rate::Rate::parse(s)
            .map(|_| SinkValue::Str(s.clone()))
            .map_err(|e| format!("sink `{sink}`: {e}")),
        (KeyKind::Rate, _) => Err(want("a rate like \"1/s\" or \"60/min\"")),
        (KeyKind::OneOf(words), RawScalar::Str(s)) if words.contains(&s.as_str()) => {
            Ok(SinkValue::Str(s.clone()))
        }
        (KeyKind::OneOf(words), _) => Err(want(&format!("one of \"{}\"", words.join("\", \"")))),
        (KeyKind::Bool, RawScalar::Bool(b)) => Ok(SinkValue::Bool(*b)),
        (KeyKind::Bool, _) => Err(want("true or false")),
        (KeyKind::SecretUrl | KeyKind::Url | KeyKind::Secret, _) => Err(want("a string")),
    }
}

fn sink(s: &RawSink, base: &Path, errors: &mut Vec<ConfigError>) -> Option<SinkPlan> {
    let name = match &s.name {
        Some(n) if !n.value.trim().is_empty() => n.value.clone(),
        Some(n) => {
            errors.push(n.loc.error("sink `name` must not be empty"));
            return None;
        }
        None => {
            errors.push(s.loc.error("[[sink]] needs a `name`"));
            return None;
        }
    };
    let Some(kind_text) = &s.kind else {
        errors.push(s.loc.error(format!("sink `{name}` needs a `type`")));
        return None;
    };
    let Some(kind) = SinkKind::from_name(&kind_text.value) else {
        let all: Vec<&str> = SinkKind::ALL.iter().map(|k| k.name()).collect();
        let hint = closest(&kind_text.value, &all)
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        errors.push(kind_text.loc.error(format!(
            "sink `{name}`: unknown type `{}`{hint}; known types: {}",
            kind_text.value,
            all.join(", ")
        )));
        return None;
    };
    let specs = sink_keys(kind);
    let mut settings = BTreeMap::new();
    let mut ok = true;
    for (key, value) in &s.settings {
        let Some(spec) = specs.iter().find(|sp| sp.key == key.value) else {
            let names: Vec<&str> = specs.iter().map(|sp| sp.key).collect();
            let hint = closest(&key.value, &names)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            let accepted = if names.is_empty() {
                "no other settings".to_string()
            } else {
                names.join(", ")
            };
            errors.push(key.loc.error(format!(
                "unknown key `{}` for {} sink `{name}`{hint}; it accepts: {accepted}",
                key.value,
                kind.name()
            )));
            ok = false;
            continue;
        };
        match sink_setting(spec, value, &name, file_dir(&s.loc, base)) {
            Ok(v) => {
                settings.insert(spec.key.to_string(), v);
            }
            Err(e) => {
                errors.push(value.loc.error(e));
                ok = false;
            }
        }
    }
    // Checked even when other settings are wrong: `check` reports every error at once.
    if !sink_template(s, kind, &name, &mut settings, base, errors) {
        ok = false;
    }
    for spec in specs.iter().filter(|sp| sp.required) {
        if !s.settings.iter().any(|(k, _)| k.value == spec.key) {
            errors.push(s.loc.error(format!(
                "{} sink `{name}` needs `{}`",
                kind.name(),
                spec.key
            )));
            ok = false;
        }
    }
    // A Standard Webhooks secret must decode now, not when `run` builds the sink.
    if kind == SinkKind::Webhook
        && let Some(SinkValue::Secret(sec)) = settings.get("secret")
        && let Err(e) = crate::deliver::webhook::secret_key(sec.expose())
    {
        errors.push(setting_loc(s, "secret").error(format!("sink `{name}`: {e}")));
        ok = false;
    }
    // A Discord forum post's title is a template too: checked now like `template`.
    if kind == SinkKind::Discord
        && let Some(SinkValue::Str(src)) = settings.get("thread_name")
        && let Err(e) = crate::deliver::template::check_plain(src, kind)
    {
        errors.push(
            setting_loc(s, "thread_name").error(format!("sink `{name}`: thread_name template {e}")),
        );
        ok = false;
    }
    // Discord refuses every message under a name it does not allow: a dead letter each.
    if kind == SinkKind::Discord
        && let Some(SinkValue::Str(u)) = settings.get("username")
        && let Err(e) = crate::deliver::discord::check_username(u)
    {
        errors.push(setting_loc(s, "username").error(format!("sink `{name}`: {e}")));
        ok = false;
    }
    ok.then_some(SinkPlan {
        name,
        kind,
        settings,
    })
}

/// Where a sink's setting is written (the sink's table when it is not).
fn setting_loc<'a>(s: &'a RawSink, key: &str) -> &'a Loc {
    s.settings
        .iter()
        .find(|(k, _)| k.value == key)
        .map_or(&s.loc, |(_, v)| &v.loc)
}

/// A sink's `template` or `template_file`: read the file (relative to the config file it is
/// named in), compile and test-render the template now, so a syntax error or an unknown
/// variable is reported by `check` at the setting's file:line. The source is kept under
/// `template` either way, so editing the file and reloading rebuilds the sink.
fn sink_template(
    s: &RawSink,
    kind: SinkKind,
    name: &str,
    settings: &mut BTreeMap<String, SinkValue>,
    base: &Path,
    errors: &mut Vec<ConfigError>,
) -> bool {
    let loc_of = |key: &str| setting_loc(s, key);
    let inline = settings.contains_key("template");
    let (source, origin, loc) = match settings.get("template_file") {
        Some(SinkValue::Str(file)) => {
            let loc = loc_of("template_file");
            if inline {
                errors.push(loc.error(format!(
                    "sink `{name}`: set `template` or `template_file`, not both"
                )));
                return false;
            }
            let path = file_dir(&s.loc, base).join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) => (text, format!("template file `{}`", path.display()), loc),
                Err(e) => {
                    errors.push(loc.error(format!(
                        "sink `{name}`: cannot read template file `{}`: {e}",
                        path.display()
                    )));
                    return false;
                }
            }
        }
        _ => match settings.get("template") {
            Some(SinkValue::Str(src)) => (src.clone(), "template".to_string(), loc_of("template")),
            _ => return true,
        },
    };
    match crate::deliver::template::check(&source, kind) {
        Ok(_) => {
            settings.insert("template".into(), SinkValue::Str(source));
            true
        }
        Err(e) => {
            errors.push(loc.error(format!("sink `{name}`: {origin} {e}")));
            false
        }
    }
}

pub(super) fn sinks(raw: &[RawSink], base: &Path, errors: &mut Vec<ConfigError>) -> Vec<SinkPlan> {
    let mut out: Vec<SinkPlan> = Vec::new();
    let mut seen: HashMap<String, Loc> = HashMap::new();
    for s in raw {
        if let Some(n) = &s.name
            && let Some(prev) = seen.get(&n.value)
        {
            errors.push(n.loc.error(format!(
                "duplicate sink name `{}` (first defined at {}:{})",
                n.value,
                prev.file.display(),
                prev.line
            )));
            continue;
        }
        if let Some(n) = &s.name {
            seen.insert(n.value.clone(), n.loc.clone());
        }
        if let Some(p) = sink(s, base, errors) {
            out.push(p);
        }
    }
    out
}
