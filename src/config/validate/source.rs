//! A feed's `url`: which source it names, checked once ([`feed_source`]).

use std::path::Path;

use crate::config::plan::FeedSource;
use crate::config::secret;

/// A feed's `url`: http(s), `file:PATH` or `file://PATH` (relative to the config's folder), or a
/// plain path (the same).
pub fn feed_source(text: &str, base: &Path) -> Result<FeedSource, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("`url` is empty".into());
    }
    // `file:///abs` is absolute; `file://feed.xml` was taken from the current directory, which
    // under systemd is `/`, where `file:feed.xml` is taken from the config's folder. The
    // scheme is read in any case, as URLs are; `file://localhost/abs` is `/abs` (RFC 8089).
    if let Some(rest) = strip_prefix_ci(t, "file://") {
        let rest = rest
            .strip_prefix("localhost")
            .filter(|r| r.starts_with('/'))
            .unwrap_or(rest);
        if rest.is_empty() {
            return Err(format!("`{t}` names no file"));
        }
        return Ok(FeedSource::File(base.join(rest)));
    }
    if let Some(rest) = strip_prefix_ci(t, "file:") {
        if rest.is_empty() {
            return Err(format!("`{t}` names no file"));
        }
        return Ok(FeedSource::File(base.join(rest)));
    }
    let shown = secret::redact_url(t);
    if t.contains("://") {
        let u = url::Url::parse(t).map_err(|e| format!("`{shown}` is not a valid URL: {e}"))?;
        return match u.scheme() {
            "http" | "https" if u.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(FeedSource::Http(u))
            }
            "http" | "https" => Err(format!("`{shown}` has no host")),
            s => Err(format!(
                "`{shown}`: unsupported scheme `{s}` (use http, https or file)"
            )),
        };
    }
    let path = base.join(t);
    // A file that exists is read, whatever its name looks like.
    if path.exists() {
        return Ok(FeedSource::File(path));
    }
    // Whatever comes before an `@` may be a password (`user:pa#ss@host/rss` defeats URL
    // parsing, so `redact_url` cannot find it): never quoted back.
    let shown = match t.rfind('@') {
        Some(at) => format!("redacted{}", &t[at..]),
        None => shown,
    };
    let scheme = t.split_once(':').map(|(s, _)| s).filter(|s| is_scheme(s));
    let unsupported = |s: &str| {
        Err(format!(
            "`{shown}`: unsupported scheme `{s}` (use http, https or file)"
        ))
    };
    if let Some(s) = scheme.filter(|s| OTHER_SCHEMES.iter().any(|o| s.eq_ignore_ascii_case(o))) {
        return unsupported(s);
    }
    // Written without its `https://`: `example.com/rss`, `localhost:8080/rss`,
    // `user:pass@example.com/rss` (whose password is not quoted back).
    if looks_like_a_host(t) {
        return Err(format!(
            "`{shown}` is read as a file path, and there is no such file: a web feed needs \
             its scheme (`https://{shown}`)"
        ));
    }
    // `htp:/x`: a scheme, not a file name (which would fail at every poll).
    if let Some(s) = scheme {
        return unsupported(s);
    }
    Ok(FeedSource::File(path))
}

/// Schemes that are not web addresses without their `https://`, whatever follows them.
const OTHER_SCHEMES: &[&str] = &[
    "mailto",
    "ftp",
    "ftps",
    "sftp",
    "gopher",
    "news",
    "nntp",
    "feed",
    "data",
    "javascript",
    "tel",
    "irc",
    "ws",
    "wss",
    "ssh",
    "git",
    "about",
];

/// File extensions that end a file name, not a host name (`page.html`, `feed.xml`).
const FILE_EXTENSIONS: &[&str] = &[
    "xml", "rss", "atom", "json", "rdf", "txt", "feed", "html", "htm", "xhtml", "php", "asp",
    "aspx", "cgi", "gz", "bz2", "xz", "zst", "log", "dat", "out", "bak", "tmp",
];

/// `t` without `prefix`, matched in any case.
fn strip_prefix_ci<'a>(t: &'a str, prefix: &str) -> Option<&'a str> {
    let head = t.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &t[prefix.len()..])
}

/// A URL scheme as RFC 3986 writes one, of two letters or more (a single letter would be a
/// Windows drive).
fn is_scheme(s: &str) -> bool {
    s.len() > 1
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// `example.com/rss`, `www.example.org`, `localhost:8080/rss`, `user:pass@host/rss`: a
/// relative path whose first part reads as a host: with user info or a port, `localhost`, or
/// a dotted name whose last part is letters and no file extension.
fn looks_like_a_host(t: &str) -> bool {
    if t.starts_with(['/', '.', '~', '\\']) {
        return false;
    }
    let first = t.split('/').next().unwrap_or(t);
    let (userinfo, hostport) = match first.rsplit_once('@') {
        Some((_, h)) => (true, h),
        None => (false, first),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, true),
        _ => (hostport, false),
    };
    if host.is_empty() || host.contains(['\\', ':']) {
        return false;
    }
    if userinfo || port || host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let Some((_, last)) = host.rsplit_once('.') else {
        return false;
    };
    // A top-level label: letters (`com`, `рф`) or an IDN's `xn--` form.
    (last.starts_with("xn--")
        || (last.chars().count() >= 2 && last.chars().all(char::is_alphabetic)))
        && !FILE_EXTENSIONS.iter().any(|e| last.eq_ignore_ascii_case(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_sources() {
        let base = Path::new("/etc/newswatch");
        for (url, path) in [
            ("file:demo.xml", "/etc/newswatch/demo.xml"),
            ("file:///var/lib/feed.xml", "/var/lib/feed.xml"),
            // Regression: `file://feed.xml` was read from the current directory (`/` under
            // systemd), not from the config's folder as `file:feed.xml` is.
            ("file://feed.xml", "/etc/newswatch/feed.xml"),
            // Regression: `FILE:x.xml` was "unsupported scheme `FILE` (use … file)", and
            // `file://localhost/abs` a folder `localhost` under the config's.
            ("FILE:x.xml", "/etc/newswatch/x.xml"),
            ("File:///var/x.xml", "/var/x.xml"),
            ("file://localhost/var/x.xml", "/var/x.xml"),
            // `localhost` is a host only after `file://`.
            ("file:localhost/x.xml", "/etc/newswatch/localhost/x.xml"),
        ] {
            assert_eq!(
                feed_source(url, base).unwrap(),
                FeedSource::File(path.into()),
                "{url}"
            );
        }
        // A bare `file:` named the config's folder.
        for bare in ["file:", "file://"] {
            assert!(
                feed_source(bare, base)
                    .unwrap_err()
                    .contains("names no file")
            );
        }
        assert!(matches!(
            feed_source("https://example.org/rss", base).unwrap(),
            FeedSource::Http(_)
        ));
        assert!(feed_source("ftp://example.org/rss", base).is_err());
        assert!(feed_source("https://", base).is_err());
        assert_eq!(
            feed_source("feeds/missing.xml", base).unwrap(),
            FeedSource::File("/etc/newswatch/feeds/missing.xml".into())
        );
    }

    /// Regression: `example.com/rss` (no scheme), `htp:/x` and `mailto:a@b.c` passed `check` as
    /// file paths, and every poll then failed with "cannot read ./example.com/rss".
    #[test]
    fn a_url_without_a_usable_scheme_is_an_error() {
        let base = Path::new("/nonexistent-config-dir");
        let e = feed_source("example.com/rss", base).unwrap_err();
        assert!(e.contains("https://example.com/rss"), "{e}");
        assert!(feed_source("www.example.org", base).is_err());
        for url in ["htp:/x", "mailto:a@b.c", "feed:example.org/rss"] {
            let e = feed_source(url, base).unwrap_err();
            assert!(e.contains("unsupported scheme"), "{url}: {e}");
        }
        // A file that does exist is read, whatever its name looks like.
        let dir = tempfile::tempdir().unwrap();
        for name in ["news.example.org", "news:world.xml"] {
            std::fs::write(dir.path().join(name), "").unwrap();
            assert_eq!(
                feed_source(name, dir.path()).unwrap(),
                FeedSource::File(dir.path().join(name))
            );
        }
        // Missing files whose names read as files stay paths (they may appear later).
        for name in [
            "conf.d/feed.xml",
            "page.html",
            "feeds/world",
            "C:\\feeds\\x.xml",
        ] {
            assert!(feed_source(name, base).is_ok(), "{name}");
        }
    }

    /// Regression: `user:pass@example.com/rss` (its `https://` left out) was refused as
    /// "unsupported scheme `user`", quoting the password; `localhost:8080/rss` was "unsupported
    /// scheme `localhost`". Both are web addresses without their scheme, and the password is
    /// redacted.
    #[test]
    fn a_web_address_without_its_scheme_is_named_so_without_its_password() {
        let base = Path::new("/nonexistent-config-dir");
        let e = feed_source("user:s3cret@example.com/rss", base).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("https://redacted@example.com/rss"), "{e}");
        // Passwords holding `#`, `?` or `/` defeat URL parsing: still never quoted.
        for url in [
            "user:pa#s3cret@example.com/rss",
            "user:pa?s3cret@example.com/rss",
            "user:pa/s3cret@example.com/rss",
        ] {
            let e = feed_source(url, base).unwrap_err();
            assert!(!e.contains("s3cret"), "{url}: {e}");
        }
        for url in [
            "localhost:8080/rss",
            "example.com:8080/rss",
            "localhost/feed",
            "192.168.1.10/rss",
            "пример.рф/rss",
            "xn--e1afmkfd.xn--p1ai/rss",
            "news.point.md/rss",
        ] {
            let e = feed_source(url, base).unwrap_err();
            assert!(e.contains(&format!("https://{url}")), "{url}: {e}");
        }
    }
}
