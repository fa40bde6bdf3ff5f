//! Secrets: references like `env:VAR`, `file:/path` and `credential:NAME`, resolved at load time.
//!
//! Owns [`Secret`] (a value that never prints itself) and [`resolve`]. Credentials come from
//! systemd's `LoadCredential=`, i.e. files in `$CREDENTIALS_DIRECTORY`. Other modules only see
//! `Secret` and call [`Secret::expose`] at the moment of use (building a request).
//!
//! Also owns the one redaction of URLs that are not secrets as a whole but may carry one (a
//! feed URL with `user:pass@` or `?token=`): [`redact_url`] for a URL, [`redact_urls_in`] for
//! text that may quote URLs (an error message). Everything that shows a feed URL (logs,
//! `last_error`, `/api/status`, the status page, `status`) goes through them.

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

/// Is `value` a reference written correctly, whatever this machine can resolve of it (a
/// variable name, a path, a credential that is a plain file name)?
pub fn is_well_formed_reference(value: &str) -> bool {
    if let Some(var) = value.strip_prefix("env:") {
        return !var.is_empty() && !var.contains(['=', '\0']);
    }
    if let Some(path) = value.strip_prefix("file:") {
        return !path.is_empty();
    }
    if let Some(name) = value.strip_prefix("credential:") {
        return !name.is_empty() && !name.contains('/');
    }
    false
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
    // An empty token would be a password anyone can give (`curl -u :`), an empty signing
    // secret a signature anyone can make.
    if value.trim().is_empty() {
        return Err("is empty: give the secret, or a reference like \"env:NAME\"".into());
    }
    Ok(Secret(value.to_string()))
}

fn read_secret_file(p: &Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(p).map_err(|e| e.to_string())?;
    // The first line: files written with `echo` end in a newline that is not part of the
    // secret, and a note on a later line ("# rotated 2026-01") is not either (no header
    // could carry it).
    let v = text.lines().next().unwrap_or_default();
    if v.trim().is_empty() {
        // A blank password is one anyone can give, as an empty one.
        return Err("file is empty or its first line is blank".into());
    }
    Ok(Secret(v.to_string()))
}

/// Query keys whose values are credentials, compared lower-case with `-` read as `_`.
const SECRET_KEYS: &[&str] = &[
    "key",
    "apikey",
    "auth",
    "authorization",
    "sig",
    "pwd",
    "pass",
    "passwd",
    "code",
    "session",
    "sessionid",
    "credential",
    "credentials",
    "jwt",
];

/// Does a query parameter named `key` carry a credential? The keys a feed named after its
/// URL keeps in its name ([`feed_name_of_url`]) and [`LATER_SECRET_KEYS`].
pub fn is_secret_key(key: &str) -> bool {
    is_named_secret_key(key) || {
        let k = key.to_ascii_lowercase().replace('-', "_");
        LATER_SECRET_KEYS.contains(&k.as_str())
    }
}

/// The secret query keys of the first rules, by which a feed without a `name` was named after
/// its URL: that name is the feed's identity in the state, so these never change (a feed
/// renamed by new rules was a new feed, its first poll a baseline that lost what it had
/// published since the last one).
fn is_named_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    SECRET_KEYS.contains(&k.as_str())
        || ["token", "secret", "passw", "signature", "credential"]
            .iter()
            .any(|part| k.contains(part))
        || k.ends_with("_key")
        || k.ends_with("apikey")
        || k.ends_with("_sig")
}

/// Query keys redacted wherever a URL is shown, besides the first rules: private trackers',
/// Gazelle's and media servers' feed keys, which carry the feed's credential.
const LATER_SECRET_KEYS: &[&str] = &["passkey", "authkey", "rsskey", "accesskey", "torrent_pass"];

/// A query key that may carry a credential, for links sent to sinks: the keys redacted where
/// URLs are shown, and those that read like one (`feedkey`, `userkey`, `rss_pass`, `hash`,
/// `auth…`), not a selector such as `spaceKey` or `sortkey`.
pub fn may_be_secret_key(key: &str) -> bool {
    const LIKE: &[&str] = &[
        "feedkey",
        "userkey",
        "sessionkey",
        "privatekey",
        "secretkey",
        "hash",
    ];
    let k = key.to_ascii_lowercase().replace('-', "_");
    is_secret_key(key)
        || LIKE.contains(&k.as_str())
        || ["_pass", "_hash"].iter().any(|end| k.ends_with(end))
        || (k.starts_with("auth") && !k.starts_with("author"))
}

/// `url` fit to be shown: user info (`user:pass@`) and the values of secret-looking query
/// parameters (`token`, `key`, `api_key`, `password`, `sig`, `access_token`, `passkey`, …)
/// become `redacted`. A URL without any comes back unchanged, byte for byte.
pub fn redact_url(url: &str) -> String {
    redact_with(url, is_secret_key)
}

/// The name of a feed configured without one: its URL redacted by the first rules (see
/// [`is_named_secret_key`]). A URL that also carries a key [`redact_url`] hides shows it in
/// this name: [`name_shows_a_secret`] says so, for `check` to ask for a `name`.
pub fn feed_name_of_url(url: &str) -> String {
    redact_with(url, is_named_secret_key)
}

/// Whether the name a feed gets from `url` ([`feed_name_of_url`]) shows a credential.
pub fn name_shows_a_secret(url: &str) -> bool {
    feed_name_of_url(url) != redact_url(url)
}

/// `url` with its user info and the values of the query keys `secret` picks redacted.
fn redact_with(url: &str, secret: fn(&str) -> bool) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return redact_unparsed(url, secret);
    };
    let mut changed = false;
    if !u.username().is_empty() || u.password().is_some() {
        // These fail only for URLs without a host, which cannot carry user info anyway.
        let _ = u.set_password(None);
        let _ = u.set_username("redacted");
        changed = true;
    }
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "redacted".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        u.to_string()
    } else {
        url.to_string()
    }
}

/// A URL the parser refused (in an error message, say): still hide the user info, everything
/// between `://` and the last `@` followed by what reads as a host (a password may hold `/`,
/// `?`, `#`, `=` or `&`, which is why the URL did not parse; an `@` in a query value,
/// `?email=me@x.org&…`, is not followed by a host and its end), and the values of
/// secret-looking query parameters (a port typo or a missing scheme quoted the `?token=` back
/// in `check`'s error).
fn redact_unparsed(url: &str, secret: fn(&str) -> bool) -> String {
    // A host (name, IPv4, [IPv6], :port) and then the path, query or fragment, or the end.
    let host_follows = |after: &str| {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        end > 0
            && after[..end]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-[]:_".contains(&b))
    };
    let (start, rest) = match url.find("://").map(|i| i + 3) {
        Some(start) => {
            let user_end = url[start..]
                .match_indices('@')
                .map(|(i, _)| start + i)
                .rfind(|&at| host_follows(&url[at + 1..]));
            match user_end {
                Some(at) => (format!("{}redacted", &url[..start]), &url[at..]),
                None => (String::new(), url),
            }
        }
        None => (String::new(), url),
    };
    let mut out = start;
    match rest.split_once('?') {
        Some((head, query)) => {
            out.push_str(head);
            out.push('?');
            let pairs = query.split('&').map(|pair| match pair.split_once('=') {
                Some((k, _)) if secret(k) => format!("{k}=redacted"),
                _ => pair.to_string(),
            });
            out.push_str(&pairs.collect::<Vec<_>>().join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

/// `text` with every `http://` or `https://` URL in it passed through [`redact_url`]: for error
/// messages that quote the URL they failed on.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = ["http://", "https://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'<>`()[]{}".contains(c))
            .unwrap_or(tail.len());
        out.push_str(&redact_url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Longest error message shown or stored for a feed (characters): a message quoting the
/// document it failed on (a 2 MB "root element" name) was logged on every poll and kept as
/// the feed's last error.
const ERROR_MAX_CHARS: usize = 1000;

/// An error about a feed as newswatch logs, stores and prints it: URLs redacted
/// ([`redact_urls_in`]), control characters escaped (`\u{1b}`: a hostile document quoted in a
/// message must not drive the terminal that shows `status` or the log), one line, and at
/// most [`ERROR_MAX_CHARS`] characters as written (a cut ends in `…`, never inside an
/// escape). Applied to its own output it changes nothing, so a stored error shown again is
/// shown as it was logged.
pub fn shown_error(text: &str) -> String {
    let redacted = redact_urls_in(text);
    let mut out = String::with_capacity(redacted.len().min(ERROR_MAX_CHARS * 4));
    let mut written = 0;
    let mut chars = redacted.chars().peekable();
    while let Some(c) = chars.next() {
        let piece: String = if c.is_control() {
            c.escape_unicode().collect()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        // The last place is the ellipsis's when anything is left after this piece.
        let room = if chars.peek().is_some() {
            ERROR_MAX_CHARS - 1
        } else {
            ERROR_MAX_CHARS
        };
        if written + n > room {
            // Never a cut URL: redacted again (`status` shows stored errors through this),
            // its parse would differ (the `…` percent-encoded) and the text with it.
            let word = out.rfind(char::is_whitespace).map_or(0, |i| i + 1);
            if out[word..].contains("://") {
                out.truncate(word);
            }
            out.push('…');
            break;
        }
        out.push_str(&piece);
        written += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a document whose root element's name held terminal escapes and ran for
    /// 2 MB gave "root element <a\x1b[31m…> is not RSS" raw, on every poll's log line, in
    /// `status` and in the stored last error.
    #[test]
    fn a_shown_error_is_one_printable_bounded_line() {
        assert_eq!(
            shown_error("root <a\x1b[31mRED\x07> at https://u:p@x.example/f\nnext"),
            "root <a\\u{1b}[31mRED\\u{7}> at https://redacted@x.example/f\\u{a}next"
        );
        let long = shown_error(&"x".repeat(2_000_000));
        assert_eq!(long.chars().count(), ERROR_MAX_CHARS);
        assert!(long.ends_with('…'));
        assert_eq!(shown_error("plain"), "plain");
        // Regression: the limit counted the characters read, so escapes made an error of up
        // to 6,000 characters; and shown again (`status` shows stored errors) it was cut
        // again, inside an escape.
        let escapes = shown_error(&"\x1b".repeat(2_000));
        assert!(
            escapes.chars().count() <= ERROR_MAX_CHARS,
            "{}",
            escapes.len()
        );
        assert!(escapes.ends_with("\\u{1b}…"), "{escapes}");
        // Cut inside a URL: the URL is left out (cut, it would be redacted differently when
        // shown again).
        let in_url = shown_error(&format!(
            "{} https://u:p@x.example/{}",
            "w".repeat(900),
            "p".repeat(500)
        ));
        assert!(
            in_url.ends_with(&format!("{} …", "w".repeat(900))),
            "{in_url}"
        );
        for e in [
            long,
            escapes,
            in_url,
            shown_error("a\x07b https://u:p@x.example/f"),
        ] {
            assert_eq!(shown_error(&e), e);
        }
        assert_eq!(
            shown_error(&"y".repeat(ERROR_MAX_CHARS)),
            "y".repeat(ERROR_MAX_CHARS)
        );
    }

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
        // Regression: the whole file was the secret, a note on its second line included, and
        // a blank one passed (a `listen_token` of three spaces let in anyone who sent them).
        std::fs::write(
            dir.path().join("noted"),
            "abc
# rotated 2026-01
",
        )
        .unwrap();
        assert_eq!(resolve("file:noted", dir.path()).unwrap().expose(), "abc");
        for blank in [
            "", "   
", "
abc
", "	
",
        ] {
            std::fs::write(dir.path().join("blank"), blank).unwrap();
            let e = resolve("file:blank", dir.path()).unwrap_err();
            assert!(e.contains("first line is blank"), "{blank:?}: {e}");
        }
    }

    #[test]
    fn feed_url_credentials_are_redacted() {
        let cases = [
            (
                "https://user:hunter2@feeds.example/rss",
                "https://redacted@feeds.example/rss",
            ),
            (
                "https://feeds.example/rss?token=abc123&lang=en",
                "https://feeds.example/rss?token=redacted&lang=en",
            ),
            (
                "https://x.example/f?api_key=1&apiKey=2&Access-Token=3&sig=4&signature=5&password=6&passwd=7&auth=8&secret=9&key=10&page=2",
                "https://x.example/f?api_key=redacted&apiKey=redacted&Access-Token=redacted&sig=redacted&signature=redacted&password=redacted&passwd=redacted&auth=redacted&secret=redacted&key=redacted&page=2",
            ),
            (
                "https://feeds.example/rss?page=2&author=3",
                "https://feeds.example/rss?page=2&author=3",
            ),
            // Regression: the credentials of private trackers' and media servers' feeds were
            // shown (logs, status); a selector that merely ends in `key` is not one.
            (
                "https://t.example/rss?passkey=1&authkey=2&torrent_pass=3&rsskey=4&accessKey=5&authtoken=6&cat=7&spaceKey=ENG",
                "https://t.example/rss?passkey=redacted&authkey=redacted&torrent_pass=redacted&rsskey=redacted&accessKey=redacted&authtoken=redacted&cat=7&spaceKey=ENG",
            ),
            // Regression: a password holding `?` or `#` (why the URL did not parse) was
            // quoted back.
            (
                "https://alice:pa?s3cret@feeds.example/rss",
                "https://redacted@feeds.example/rss",
            ),
            (
                "https://alice:pa#s3cret@feeds.example:80x/rss?key=k",
                "https://redacted@feeds.example:80x/rss?key=redacted",
            ),
            // A password holding `=` or `&`, and an `@` in a query value (no user info: the
            // token after it was shown).
            (
                "https://alice:pa=s&s@feeds.example:80x/rss",
                "https://redacted@feeds.example:80x/rss",
            ),
            (
                "https://feeds.example:80x/rss?email=me@x.org&token=S3CRET",
                "https://feeds.example:80x/rss?email=me@x.org&token=redacted",
            ),
            (
                "https://feeds.example/r%20ss",
                "https://feeds.example/r%20ss",
            ),
            ("not a url", "not a url"),
            ("http://u:p@[bad/x", "http://redacted@[bad/x"),
            // Regression: a URL the parser refuses quoted its token back.
            (
                "https://feeds.example:80x/rss?token=abc&page=2",
                "https://feeds.example:80x/rss?token=redacted&page=2",
            ),
            (
                "feeds.example/rss?api_key=abc",
                "feeds.example/rss?api_key=redacted",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    /// Regression: new secret keys renamed every feed named after a URL holding one (its
    /// identity in the state): its next poll was a new feed's baseline, and what it had
    /// published since its last poll never alerted. Its name keeps the first rules, and
    /// `check` asks for a `name` instead.
    #[test]
    fn a_feed_named_after_its_url_keeps_its_name_when_redaction_grows() {
        let url = "https://t.example/rss?passkey=abc&token=t&cat=5";
        assert_eq!(
            feed_name_of_url(url),
            "https://t.example/rss?passkey=abc&token=redacted&cat=5"
        );
        assert!(name_shows_a_secret(url));
        assert!(!name_shows_a_secret("https://t.example/rss?token=t&cat=5"));
    }

    #[test]
    fn urls_quoted_in_text_are_redacted() {
        let text = "the page at https://u:pw@a.example/p?token=T1 links to \
                    \"http://b.example/feed?key=K2\", which is not a feed: HTTP 404";
        let got = redact_urls_in(text);
        assert_eq!(
            got,
            "the page at https://redacted@a.example/p?token=redacted links to \
             \"http://b.example/feed?key=redacted\", which is not a feed: HTTP 404"
        );
        for secret in ["pw", "T1", "K2"] {
            assert!(!got.contains(secret), "{got}");
        }
        assert_eq!(redact_urls_in("no urls here"), "no urls here");
    }

    #[test]
    fn missing_env_is_named() {
        let e = resolve("env:NEWSWATCH_TEST_SURELY_UNSET", Path::new(".")).unwrap_err();
        assert!(e.contains("NEWSWATCH_TEST_SURELY_UNSET"));
    }
}
