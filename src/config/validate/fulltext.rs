//! `full_text` / `full_text_min_chars` (in `[daemon]` for every feed, or per `[[feed]]`) and
//! `[daemon] page_rate` / `page_timeout`, checked into [`crate::feed::page`]'s types.

use crate::config::error::ConfigError;
use crate::config::rate::Rate;
use crate::config::raw::{RawDaemon, RawFullText};
use crate::feed::page::{FullText, FullTextMode, PageSettings};

/// A feed's policy: its own keys over `default` (the `[daemon]` ones over the built-in).
pub fn full_text(raw: &RawFullText, default: FullText, errors: &mut Vec<ConfigError>) -> FullText {
    let mut out = default;
    if let Some(m) = &raw.mode {
        match FullTextMode::parse(&m.value) {
            Some(mode) => out.mode = mode,
            None => errors.push(m.loc.error(format!(
                "`full_text` = \"{}\": expected {}",
                m.value,
                FullTextMode::NAMES
            ))),
        }
    }
    if let Some(n) = &raw.min_chars {
        match usize::try_from(n.value) {
            Ok(v) if v > 0 => out.min_chars = v,
            _ => errors.push(n.loc.error(format!(
                "`full_text_min_chars` = {}: expected a positive number of characters",
                n.value
            ))),
        }
    }
    out
}

/// `page_rate` and `page_timeout`.
pub fn page_settings(d: &RawDaemon, errors: &mut Vec<ConfigError>) -> PageSettings {
    let mut out = PageSettings::default();
    if let Some(r) = &d.page_rate {
        match Rate::parse(&r.value) {
            Ok(rate) => out.rate = rate,
            Err(_) => errors.push(r.loc.error(format!(
                "`page_rate` = \"{}\": write pages per host like \"1/s\", \"30/min\", \"1/5s\" \
                 or \"off\" (at most 1000 per second, over at most 100 years)",
                r.value
            ))),
        }
    }
    if let Some(t) = super::duration(&d.page_timeout, "page_timeout", errors) {
        out.timeout = t;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::feed::page::{FullTextMode, PageSettings};

    fn load(text: &str) -> Result<crate::plan::Plan, String> {
        crate::plan::load_str(Path::new("t.toml"), text.to_string()).map_err(|e| e.to_string())
    }

    const FEEDS: &str = "[[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\n\
        [[feed]]\nname = \"b\"\nurl = \"https://b.example/rss\"\nfull_text = \"always\"\n\n\
        [[feed]]\nname = \"c\"\nurl = \"https://c.example/rss\"\nfull_text = \"off\"\n\
        full_text_min_chars = 80\n";

    #[test]
    fn feeds_take_the_daemon_defaults_and_override_them() {
        let p = load(FEEDS).unwrap();
        let ft: Vec<_> = p
            .feeds
            .iter()
            .map(|f| (f.full_text.mode, f.full_text.min_chars))
            .collect();
        assert_eq!(
            ft,
            [
                (FullTextMode::Off, 500),
                (FullTextMode::Always, 500),
                (FullTextMode::Off, 80)
            ]
        );
        assert_eq!(p.daemon.pages, PageSettings::default());
        let daemon = "[daemon]\nfull_text = \"auto\"\nfull_text_min_chars = 300\n\
                      page_rate = \"30/min\"\npage_timeout = \"4s\"\n\n";
        let p = load(&format!("{daemon}{FEEDS}")).unwrap();
        let ft: Vec<_> = p
            .feeds
            .iter()
            .map(|f| (f.full_text.mode, f.full_text.min_chars))
            .collect();
        assert_eq!(
            ft,
            [
                (FullTextMode::Auto, 300),
                (FullTextMode::Always, 300),
                (FullTextMode::Off, 80)
            ]
        );
        let rate = p.daemon.pages.rate.unwrap();
        assert_eq!(rate.interval(), Duration::from_secs(2));
        assert_eq!(p.daemon.pages.timeout, Duration::from_secs(4));
        let p = load("[daemon]\npage_rate = \"off\"\n").unwrap();
        assert_eq!(p.daemon.pages.rate, None);
    }

    #[test]
    fn bad_values_are_reported_with_their_line_all_at_once() {
        let text = "[daemon]\nfull_text = \"sometimes\"\npage_rate = \"fast\"\npage_timeout = \"0s\"\n\n\
                    [[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\nfull_text = \"yes\"\n\
                    full_text_min_chars = 0\n";
        let err = load(text).unwrap_err();
        for want in [
            "t.toml:2:13: `full_text` = \"sometimes\": expected \"off\", \"auto\" or \"always\"",
            "t.toml:3:13: `page_rate` = \"fast\"",
            "t.toml:4:16: `page_timeout` must be longer than zero",
            "t.toml:9:13: `full_text` = \"yes\"",
            "t.toml:10:23: `full_text_min_chars` = 0: expected a positive number",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
        let err =
            load("[[feed]]\nurl = \"https://a.example/rss\"\nfull_txt = \"auto\"\n").unwrap_err();
        assert!(err.contains("full_text"), "no did-you-mean: {err}");
    }
}
