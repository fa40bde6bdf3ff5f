//! Secrets: references like `env:VAR`, `file:/path` and `credential:NAME`, resolved at load time.
//!
//! Owns [`Secret`] (a value that never prints itself) and [`resolve`]. Credentials come from
//! systemd's `LoadCredential=`, i.e. files in `$CREDENTIALS_DIRECTORY`. Other modules only see
//! `Secret` and call [`Secret::expose`] at the moment of use (building a request).

use std::fmt;
use std::path::Path;

/// A secret value. `Debug` and `Display` print `[redacted]`, so a secret cannot leak into a log
/// line or an error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for building a request. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Is `value` a reference (`env:`, `file:`, `credential:`) rather than an inline value?
pub fn is_reference(value: &str) -> bool {
    ["env:", "file:", "credential:"]
        .iter()
        .any(|p| value.starts_with(p))
}

/// Resolve a secret setting. Inline values are allowed (tests, local setups) but references are
/// what examples show. `base` is the config file's folder, for relative `file:` paths.
/// Errors name the reference, never the value.
pub fn resolve(value: &str, base: &Path) -> Result<Secret, String> {
    if let Some(var) = value.strip_prefix("env:") {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
            Ok(_) => Err(format!("environment variable `{var}` is empty")),
            Err(_) => Err(format!("environment variable `{var}` is not set")),
        };
    }
    if let Some(path) = value.strip_prefix("file:") {
        let p = base.join(path);
        return read_secret_file(&p)
            .map_err(|e| format!("cannot read secret file `{}`: {e}", p.display()));
    }
    if let Some(name) = value.strip_prefix("credential:") {
        if name.is_empty() || name.contains('/') {
            return Err(format!(
                "`credential:{name}`: a credential name is a plain file name"
            ));
        }
        let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
            return Err(format!(
                "`credential:{name}` needs $CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=)"
            ));
        };
        let p = Path::new(&dir).join(name);
        return read_secret_file(&p).map_err(|e| format!("cannot read credential `{name}`: {e}"));
    }
    Ok(Secret(value.to_string()))
}

fn read_secret_file(p: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(p).map_err(|e| e.to_string())?;
    // Files written with `echo` end in a newline that is not part of the secret.
    let v = text.trim_end_matches(['\n', '\r']).to_string();
    if v.is_empty() {
        return Err("file is empty".into());
    }
    Ok(Secret(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_references_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "abc\n").unwrap();
        assert_eq!(resolve("file:tok", dir.path()).unwrap().expose(), "abc");
        let e = resolve("file:missing", dir.path()).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn missing_env_is_named() {
        let e = resolve("env:NEWSWATCH_TEST_SURELY_UNSET", Path::new(".")).unwrap_err();
        assert!(e.contains("NEWSWATCH_TEST_SURELY_UNSET"));
    }
}
