//! Reading one sink's raw table into typed values, with located errors.
//!
//! Owns [`KeyDoc`] (a setting's name, kind, default and meaning: what the parser accepts, what
//! `did you mean` suggests and what `docs/configuration.md` lists) and [`Table`], the reader a
//! sink module's `parse` takes its settings from. Every problem becomes a
//! [`ConfigError`] at the value's file:line:column (a missing key: at the `[[sink]]` table);
//! reading goes on after an error, so `check` lists them all.

use crate::config::{ConfigError, Loc, RawScalar, Secret, SinkDecl, Sp, closest, secret};
use crate::deliver::config::SinkKind;
use crate::deliver::rate::Rate;

/// One setting of a sink type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    pub name: &'static str,
    /// What it takes, as the docs say it ("secret URL", "integer 1–5", ...).
    pub kind: &'static str,
    /// The default as written in the docs; `"required"` when there is none.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

impl KeyDoc {
    pub const fn new(
        name: &'static str,
        kind: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> KeyDoc {
        KeyDoc {
            name,
            kind,
            default,
            doc,
        }
    }

    pub fn required(&self) -> bool {
        self.default == "required"
    }
}

/// The settings of one declared sink, read key by key.
pub struct Table<'a, 'e> {
    pub decl: &'a SinkDecl<'a>,
    pub kind: SinkKind,
    errors: &'e mut Vec<ConfigError>,
    ok: bool,
    secrets: &'a Secrets,
}

/// Whether the caller will send with the sinks it reads, and so needs their secrets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Secrets {
    /// `run` and `check`: a reference that cannot be resolved is an error.
    #[default]
    Needed,
    /// Commands that never send (`status`, `deliveries`, `migrate`, `try`, `backtest`): an
    /// admin's shell lacks the daemon's `env:` values and `$CREDENTIALS_DIRECTORY`, and the
    /// sinks' secrets are never used there. A well-formed reference that cannot be resolved
    /// reads as a placeholder that is never sent anywhere.
    Unused,
    /// `send-test SINK`: only that sink's secrets are needed.
    NeededBy(String),
}

impl Secrets {
    /// May `sink`'s unresolvable references stay unresolved?
    fn unused_by(&self, sink: &str) -> bool {
        match self {
            Secrets::Needed => false,
            Secrets::Unused => true,
            Secrets::NeededBy(name) => name != sink,
        }
    }
}

/// What an unresolved secret reads as under [`Secrets::Unused`]: a valid URL under the
/// reserved `.invalid` domain (RFC 2606), so no check refuses it and nothing can reach it.
const UNRESOLVED: &str = "https://unresolved.invalid/";

impl<'a, 'e> Table<'a, 'e> {
    /// A reader for `decl`; keys not in `kind`'s [`SinkKind::keys`] are reported at once.
    pub fn new(
        decl: &'a SinkDecl<'a>,
        kind: SinkKind,
        secrets: &'a Secrets,
        errors: &'e mut Vec<ConfigError>,
    ) -> Self {
        let keys = kind.keys();
        let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
        let mut ok = true;
        for (key, _) in decl.settings {
            if names.contains(&key.value.as_str()) {
                continue;
            }
            let hint = closest(&key.value, &names)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            let accepted = if names.is_empty() {
                "no other settings".to_string()
            } else {
                names.join(", ")
            };
            errors.push(key.loc.error(format!(
                "unknown key `{}` for {} sink `{}`{hint}; it accepts: {accepted}",
                key.value,
                kind.name(),
                decl.name
            )));
            ok = false;
        }
        Table {
            decl,
            kind,
            errors,
            ok,
            secrets,
        }
    }

    pub fn name(&self) -> &'a str {
        self.decl.name
    }

    /// Record an error at `loc`; the sink is then unusable.
    pub fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        self.errors.push(loc.error(message));
        self.ok = false;
    }

    /// Record an error about a setting, at the setting.
    pub fn error_at(&mut self, key: &str, message: impl Into<String>) {
        let loc = self.decl.loc_of(key);
        self.error(loc, message);
    }

    fn raw(&self, key: &str) -> Option<&'a Sp<RawScalar>> {
        debug_assert!(
            self.kind.keys().iter().any(|k| k.name == key),
            "{} reads `{key}`, which its KEYS do not list",
            self.kind.name()
        );
        self.decl.get(key)
    }

    fn want(&mut self, v: &Sp<RawScalar>, key: &str, what: &str) {
        let msg = format!("sink `{}`: `{key}` must be {what}", self.decl.name);
        self.error(&v.loc, msg);
    }

    /// A required setting: `None` (with an error) when it is not written. A value that is
    /// written but wrong was reported by the reader already.
    pub fn need<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        let written = self.decl.get(key).is_some() || self.decl.mistyped.iter().any(|k| k == key);
        if value.is_none() && !written {
            let msg = format!(
                "{} sink `{}` needs `{key}`",
                self.kind.name(),
                self.decl.name
            );
            self.error(self.decl.loc, msg);
        }
        value
    }

    /// A non-empty string.
    pub fn string(&mut self, key: &str) -> Option<String> {
        let v = self.raw(key)?;
        match &v.value {
            RawScalar::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => {
                self.want(v, key, "a non-empty string");
                None
            }
        }
    }

    /// A string or an integer (Telegram chat ids), as a string.
    pub fn string_or_int(&mut self, key: &str) -> Option<String> {
        let v = self.raw(key)?;
        match &v.value {
            RawScalar::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            RawScalar::Int(n) => Some(n.to_string()),
            _ => {
                self.want(v, key, "a string or an integer");
                None
            }
        }
    }

    /// An integer within `lo..=hi`.
    pub fn int(&mut self, key: &str, lo: i64, hi: i64) -> Option<i64> {
        let v = self.raw(key)?;
        match &v.value {
            RawScalar::Int(n) if (lo..=hi).contains(n) => Some(*n),
            _ => {
                self.want(v, key, &format!("an integer from {lo} to {hi}"));
                None
            }
        }
    }

    pub fn bool(&mut self, key: &str) -> Option<bool> {
        let v = self.raw(key)?;
        match &v.value {
            RawScalar::Bool(b) => Some(*b),
            _ => {
                self.want(v, key, "true or false");
                None
            }
        }
    }

    pub fn list(&mut self, key: &str) -> Option<Vec<String>> {
        let v = self.raw(key)?;
        match &v.value {
            RawScalar::List(l) => Some(l.clone()),
            _ => {
                self.want(v, key, "a list of strings");
                None
            }
        }
    }

    /// One of `words`.
    pub fn one_of(&mut self, key: &str, words: &[&'static str]) -> Option<&'static str> {
        let v = self.raw(key)?;
        if let RawScalar::Str(s) = &v.value
            && let Some(w) = words.iter().find(|w| **w == s.as_str())
        {
            return Some(w);
        }
        self.want(v, key, &format!("one of \"{}\"", words.join("\", \"")));
        None
    }

    /// A secret reference (`env:`, `file:`, `credential:`) or an inline value, resolved.
    pub fn secret(&mut self, key: &str) -> Option<Secret> {
        let v = self.raw(key)?;
        let RawScalar::Str(s) = &v.value else {
            self.want(v, key, "a string");
            return None;
        };
        match secret::resolve(s, self.decl.dir) {
            Ok(sec) => Some(sec),
            Err(_)
                if self.secrets.unused_by(self.decl.name)
                    && secret::is_well_formed_reference(s) =>
            {
                Some(Secret::new(UNRESOLVED))
            }
            Err(e) => {
                let msg = format!("sink `{}`: `{key}`: {e}", self.decl.name);
                self.error(&v.loc, msg);
                None
            }
        }
    }

    /// An http(s) URL that may carry a token (webhook URLs): a secret too.
    pub fn secret_url(&mut self, key: &str) -> Option<Secret> {
        let v = self.raw(key)?;
        let sec = self.secret(key)?;
        match check_http_url(sec.expose()) {
            Ok(()) => Some(sec),
            Err(e) => {
                // The URL's path and query often are the token: never echo it in the error.
                let e = e.split(':').next().unwrap_or("invalid").to_string();
                let msg = format!("sink `{}`: `{key}` is {e}", self.decl.name);
                self.error(&v.loc, msg);
                None
            }
        }
    }

    /// A plain http(s) URL (a server's base).
    pub fn url(&mut self, key: &str) -> Option<String> {
        let v = self.raw(key)?;
        let RawScalar::Str(s) = &v.value else {
            self.want(v, key, "a string");
            return None;
        };
        match check_http_url(s) {
            Ok(()) => Some(s.clone()),
            Err(e) => {
                // The value may carry credentials (`https://user:pass@ntfy.example`).
                let shown = crate::config::secret::redact_url(s);
                let msg = format!("sink `{}`: `{key}` = \"{shown}\": {e}", self.decl.name);
                self.error(&v.loc, msg);
                None
            }
        }
    }

    /// `rate`: the written limit (`None` for `"off"`), else the platform's default.
    pub fn rate(&mut self) -> Option<Rate> {
        let default = crate::deliver::rate::default_rate(self.kind);
        let Some(v) = self.raw("rate") else {
            return default;
        };
        let RawScalar::Str(s) = &v.value else {
            self.want(v, "rate", "a rate like \"1/s\" or \"60/min\"");
            return default;
        };
        match Rate::parse(s) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("sink `{}`: {e}", self.decl.name);
                self.error(&v.loc, msg);
                default
            }
        }
    }

    /// The typed configuration when every setting was right, else `None` (errors are listed).
    pub fn finish<T>(self, config: Option<T>) -> Option<T> {
        if self.ok { config } else { None }
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
