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
    // under systemd is `/`, where `file:feed.xml` is taken from the config's folder.
    if let Some(rest) = t
        .strip_prefix("file://")
        .or_else(|| t.strip_prefix("file:"))
    {
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
    // `htp:/x`, `mailto:a@b.c`: a scheme, not a file name (which would fail at every poll).
    if let Some((scheme, _)) = t.split_once(':')
        && is_scheme(scheme)
    {
        return Err(format!(
            "`{shown}`: unsupported scheme `{scheme}` (use http, https or file)"
        ));
    }
    let path = base.join(t);
    if looks_like_a_host(t) && !path.exists() {
        return Err(format!(
            "`{shown}` is read as a file path, and there is no such file: a web feed needs \
             its scheme (`https://{shown}`)"
        ));
    }
    Ok(FeedSource::File(path))
}

/// A URL scheme as RFC 3986 writes one, of two letters or more (a single letter would be a
/// Windows drive).
fn is_scheme(s: &str) -> bool {
    s.len() > 1
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// `example.com/rss`, `www.example.org`: a relative path whose first part has a dot and does
/// not end in a feed file's extension, as a host name would.
fn looks_like_a_host(t: &str) -> bool {
    if t.starts_with(['/', '.', '~']) {
        return false;
    }
    let first = t.split('/').next().unwrap_or(t);
    let Some((_, last)) = first.rsplit_once('.') else {
        return false;
    };
    !last.is_empty()
        && !["xml", "rss", "atom", "json", "rdf", "txt", "feed"]
            .iter()
            .any(|e| last.eq_ignore_ascii_case(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_sources() {
        let base = Path::new("/etc/newswatch");
        assert_eq!(
            feed_source("file:demo.xml", base).unwrap(),
            FeedSource::File("/etc/newswatch/demo.xml".into())
        );
        assert_eq!(
            feed_source("file:///var/lib/feed.xml", base).unwrap(),
            FeedSource::File("/var/lib/feed.xml".into())
        );
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

    /// Regression: `file://feed.xml` was read from the current directory (`/` under systemd),
    /// not from the config's folder as `file:feed.xml` is.
    #[test]
    fn a_relative_file_url_is_relative_to_the_config() {
        assert_eq!(
            feed_source("file://feed.xml", Path::new("/etc/newswatch")).unwrap(),
            FeedSource::File("/etc/newswatch/feed.xml".into())
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
        std::fs::write(dir.path().join("news.example.org"), "").unwrap();
        assert_eq!(
            feed_source("news.example.org", dir.path()).unwrap(),
            FeedSource::File(dir.path().join("news.example.org"))
        );
    }
}
