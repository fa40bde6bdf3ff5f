//! `[daemon]`: durations, sizes, limits, the listener and its token, `on_new_feed`,
//! `log_level`, the archive and full-text settings, checked into [`DaemonPlan`].

use super::*;

/// The shortest `[daemon] lease`: renewals every third of it must not flood the database.
const MIN_LEASE: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) fn daemon(d: RawDaemon, base: &Path, errors: &mut Vec<ConfigError>) -> DaemonPlan {
    let mut p = DaemonPlan::default();
    if let Some(s) = &d.state {
        let v = s.value.trim();
        if is_postgres_url(v) || secret::is_reference(v) {
            // A database URL may carry a password: by reference (`env:DATABASE_URL`) or inline.
            match secret::resolve(v, base) {
                Ok(url) if is_postgres_url(url.expose()) => {
                    match crate::store::postgres::url_error(url.expose()) {
                        None => p.postgres = Some(url),
                        // Not quoted: it may carry a password.
                        Some(e) => errors.push(
                            s.loc
                                .error(format!("`state`: not a valid PostgreSQL URL: {e}")),
                        ),
                    }
                }
                Ok(_) => errors.push(s.loc.error(format!(
                    "`state` = \"{v}\": the reference resolves to something that is not a \
                     postgres:// URL (a state file is given as a plain path)"
                ))),
                Err(e) => errors.push(s.loc.error(format!("`state`: {e}"))),
            }
        } else if v.contains("://") {
            // Not quoted: a mistyped database URL may carry a password.
            errors.push(s.loc.error(
                "`state` looks like a URL but not a postgres:// (or postgresql://) one: give a \
                 PostgreSQL URL or a file path"
                    .to_string(),
            ));
        } else if v.is_empty() {
            errors.push(s.loc.error(
                "`state` is empty: give a file path (or leave it out for the default)".to_string(),
            ));
        } else if base.join(&s.value).is_dir() {
            errors.push(s.loc.error(format!(
                "`state` = \"{}\" is a directory: give the state file's path in it, e.g. \"{}\"",
                s.value,
                Path::new(&s.value).join("newswatch.db").display()
            )));
        } else {
            p.state = Some(base.join(&s.value));
        }
    }
    if let Some(l) = &d.listen {
        let v = l.value.trim();
        if v.is_empty() || v == "off" || v == "none" {
            p.listen = None;
        } else {
            match v.parse() {
                Ok(a) => p.listen = Some(a),
                Err(_) => errors.push(l.loc.error(format!(
                    "`listen` = \"{v}\" is not an address like \"127.0.0.1:9480\" (or \"off\")"
                ))),
            }
        }
    }
    if let Some(t) = &d.listen_token {
        match secret::resolve(&t.value, base) {
            Ok(s) => p.listen_token = Some(s),
            Err(e) => errors.push(t.loc.error(format!("`listen_token`: {e}"))),
        }
    }
    // The listener shows feeds, errors and alerts: beyond this machine only behind a token.
    if let (Some(l), Some(addr)) = (&d.listen, p.listen)
        && !addr.ip().is_loopback()
        && d.listen_token.is_none()
    {
        errors.push(l.loc.error(format!(
            "`listen` = \"{}\" is not a loopback address: set `listen_token` (e.g. \
             \"env:NEWSWATCH_LISTEN_TOKEN\") so /api/* and the status page need it",
            l.value.trim()
        )));
    }
    macro_rules! dur {
        ($field:ident) => {
            if let Some(x) = duration(&d.$field, stringify!($field), errors) {
                p.$field = x;
            }
        };
    }
    dur!(poll_interval);
    dur!(min_poll_interval);
    dur!(fetch_timeout);
    dur!(backoff_cap);
    dur!(recent_window);
    dur!(retention);
    dur!(max_delivery_age);
    dur!(dead_retention);
    dur!(shutdown_grace);
    // The repeat window is the floor: seen keys forgotten sooner than the link memory (kept
    // for the window) would let an item without a link alert again sooner than one with a
    // link, and the docs promise a week of "not again" either way.
    if let Some(r) = &d.retention
        && p.retention < crate::daemon::refresh::REPEAT_WINDOW
    {
        errors.push(r.loc.error(format!(
            "`retention` = \"{}\" is shorter than 7 days, the window in which a link alerted \
             once is not alerted again",
            r.value
        )));
    }
    // A failing feed is retried at most every `backoff_cap`, and no feed polled more often
    // than `min_poll_interval`: a cap below the floor says two things at once.
    // Said at whichever of the two the file sets (the cap when both are); not of a cap
    // written wrong, whose own error says so (the default stands in for it here).
    let cap_unreadable = d.backoff_cap.is_some()
        && duration(&d.backoff_cap, "backoff_cap", &mut Vec::new()).is_none();
    if p.backoff_cap < p.min_poll_interval
        && !cap_unreadable
        && let Some(at) = d.backoff_cap.as_ref().or(d.min_poll_interval.as_ref())
    {
        errors.push(at.loc.error(format!(
            "`backoff_cap` ({}s) is shorter than `min_poll_interval` ({}s): a failing feed \
             would be polled more often than any other",
            p.backoff_cap.as_secs(),
            p.min_poll_interval.as_secs()
        )));
    }
    if let Some(l) = &d.lease
        && let Some(x) = duration(&d.lease, "lease", errors)
    {
        if x < MIN_LEASE {
            errors.push(l.loc.error(format!(
                "`lease` = \"{}\" is too short: at least 5s (an instance renews its leases \
                 every third of it)",
                l.value
            )));
        } else if x > crate::store::lease::MAX_LEASE {
            errors.push(l.loc.error(format!(
                "`lease` = \"{}\" is too long: at most 10m (other instances take one silent \
                 for longer for dead)",
                l.value
            )));
        } else {
            p.lease = x;
        }
    }
    if let Some(a) = &d.archive {
        match crate::store::archive::ArchiveKeep::parse(&a.value) {
            Ok(k) => p.archive = k,
            Err(e) => errors.push(a.loc.error(format!("`archive` = \"{}\": {e}", a.value))),
        }
    }
    p.full_text = fulltext::full_text(&d.full_text, p.full_text, errors);
    p.pages = fulltext::page_settings(&d, errors);
    if let Some(ua) = &d.user_agent {
        if ua.value.trim().is_empty()
            || ua.value.contains(['\r', '\n'])
            || reqwest::header::HeaderValue::from_str(&ua.value).is_err()
        {
            errors.push(ua.loc.error(
                "`user_agent` must be one non-empty line of visible characters (an HTTP header)",
            ));
        } else {
            p.user_agent = ua.value.clone();
        }
    }
    if let Some(s) = &d.max_body_size {
        match parse_size(&s.value) {
            Some(n) if n >= 1024 => p.max_body_size = n,
            _ => errors.push(s.loc.error(format!(
                "`max_body_size` = \"{}\": write a size of at least 1KiB like \"16MiB\" or \"512KB\"",
                s.value
            ))),
        }
    }
    if let Some(n) = positive(&d.max_concurrent_fetches, "max_concurrent_fetches", errors) {
        p.max_concurrent_fetches = n;
    }
    if let Some(n) = positive(&d.per_host_concurrency, "per_host_concurrency", errors) {
        p.per_host_concurrency = n;
    }
    if let Some(o) = &d.on_new_feed {
        p.on_new_feed = match o.value.as_str() {
            "baseline" => OnNewFeed::Baseline,
            "recent" => OnNewFeed::Recent,
            "all" => OnNewFeed::All,
            other => {
                errors.push(o.loc.error(format!(
                    "`on_new_feed` = \"{other}\": expected \"baseline\", \"recent\" or \"all\""
                )));
                OnNewFeed::Baseline
            }
        };
    }
    if let Some(l) = &d.log_level {
        if tracing_subscriber::EnvFilter::try_new(&l.value).is_err() || !sets_levels(&l.value) {
            errors.push(l.loc.error(format!(
                "`log_level` = \"{}\" is not a filter like \"info\" or \"newswatch=debug,warn\"",
                l.value
            )));
        } else {
            p.log_level = Some(l.value.clone());
        }
    }
    // At `poll_interval` when it is written, else at `min_poll_interval`, else the table.
    let at = d
        .poll_interval
        .as_ref()
        .map(|v| &v.loc)
        .or(d.min_poll_interval.as_ref().map(|v| &v.loc))
        .or(d.loc.as_ref());
    if let Some(dl) = at
        && p.poll_interval < p.min_poll_interval
    {
        errors.push(dl.error(format!(
            "`poll_interval` ({}) is below `min_poll_interval` ({})",
            humantime::format_duration(p.poll_interval),
            humantime::format_duration(p.min_poll_interval)
        )));
    }
    p
}

/// Does `state` name a PostgreSQL database rather than a SQLite file?
fn is_postgres_url(v: &str) -> bool {
    v.starts_with("postgres://") || v.starts_with("postgresql://")
}

/// Whether every directive of a `log_level` filter sets a level: a level ("info") or
/// `target=level`. A bare word is a filter for a target of that name, which turns every
/// other target off: `log_level = "verbose"` silenced the daemon, errors included.
fn sets_levels(filter: &str) -> bool {
    let directives: Vec<&str> = filter.split(',').map(str::trim).collect();
    !directives.iter().all(|d| d.is_empty())
        && directives
            .iter()
            .filter(|d| !d.is_empty())
            .all(|d| d.contains('=') || crate::ops::logging::is_level(d))
}

#[cfg(test)]
mod tests {
    use super::sets_levels;

    #[test]
    fn a_log_filter_must_set_a_level_in_every_directive() {
        for ok in [
            "info",
            "WARN",
            "newswatch=debug,warn",
            "newswatch=debug",
            "off",
            "info, ",
        ] {
            assert!(sets_levels(ok), "{ok}");
        }
        for bad in ["verbose", "", " , ", "info,verbose", "newswatch"] {
            assert!(!sets_levels(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod limit_tests {
    /// Regression: `max_concurrent_fetches` (and `per_host_concurrency`) had no upper bound:
    /// `check` passed 300000000000000000, and `run` panicked building its semaphores.
    #[test]
    fn concurrency_limits_are_bounded() {
        let load = |text: &str| {
            crate::plan::load_str(std::path::Path::new("t.toml"), text.to_string())
                .map_err(|e| e.to_string())
        };
        let e = load(
            "[daemon]\nmax_concurrent_fetches = 300000000000000000\nper_host_concurrency = 0\n",
        )
        .unwrap_err();
        assert!(
            e.contains("t.toml:2:26: `max_concurrent_fetches` must be an integer from 1 to 10000"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:3:24: `per_host_concurrency` must be an integer from 1 to 10000"),
            "{e}"
        );
        let p = load("[daemon]\nmax_concurrent_fetches = 10000\nper_host_concurrency = 10000\n")
            .unwrap();
        assert_eq!(p.daemon.max_concurrent_fetches, 10_000);
        // Regression: a `retention` under the repeat window pruned link memory early, and a
        // link alerted once alerted again from another feed (which `backtest` never showed).
        // Link memory now has its own time; the floor stays, for seen keys (see above).
        let e = load("[daemon]\nretention = \"2d\"\n").unwrap_err();
        assert!(
            e.contains("t.toml:2:13: `retention` = \"2d\" is shorter than 7 days"),
            "{e}"
        );
        assert!(load("[daemon]\nretention = \"7d\"\n").is_ok());
        // What `run` builds from them.
        let _ = crate::feed::limits::FetchLimits::new(
            p.daemon.max_concurrent_fetches,
            p.daemon.per_host_concurrency,
        );
    }

    /// `lease` between 5 s and 10 min: longer, another instance's sweep would take this one
    /// for dead between its beats (every third of it) and dead-letter its sinks' deliveries.
    #[test]
    fn a_lease_is_between_five_seconds_and_ten_minutes() {
        let load = |lease: &str| {
            crate::plan::load_str(
                std::path::Path::new("t.toml"),
                format!("[daemon]\nlease = \"{lease}\"\n"),
            )
            .map(|p| p.daemon.lease)
            .map_err(|e| e.to_string())
        };
        assert_eq!(load("10m"), Ok(std::time::Duration::from_secs(600)));
        assert_eq!(load("5s"), Ok(std::time::Duration::from_secs(5)));
        let long = load("11m").unwrap_err();
        assert!(
            long.contains("t.toml:2:9: `lease` = \"11m\" is too long: at most 10m"),
            "{long}"
        );
        assert!(load("4s").unwrap_err().contains("too short"));
    }

    /// A feed `interval` below `min_poll_interval` is a warning (the feed is polled at the
    /// floor), at the interval's line; one at the floor or above says nothing.
    #[test]
    fn an_interval_below_the_floor_is_a_warning_at_its_line() {
        let warnings = |interval: &str| {
            let text = format!(
                "[daemon]\nmin_poll_interval = \"1m\"\n\n[[feed]]\nname = \"f\"\n\
                 url = \"https://news.example/rss\"\ninterval = \"{interval}\"\n"
            );
            crate::plan::load_str(std::path::Path::new("t.toml"), text)
                .unwrap()
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            warnings("59s"),
            [
                "t.toml:7:12: feed `f`: `interval` (59s) is below `min_poll_interval` (1m): it is \
              polled every 1m"
            ]
        );
        assert!(warnings("1m").is_empty());
        assert!(warnings("2m").is_empty());
    }

    /// A feed named after a URL whose credential its name keeps (see
    /// `secret::feed_name_of_url`) is a warning asking for a `name`, which never shows it.
    #[test]
    fn a_feed_named_after_a_url_with_a_passkey_is_asked_for_a_name() {
        let load = |feed: &str| {
            let text = format!("[[feed]]\n{feed}\n");
            crate::plan::load_str(std::path::Path::new("t.toml"), text).unwrap()
        };
        let url = "url = \"https://t.example/rss?passkey=abc&cat=5\"";
        let plan = load(url);
        assert_eq!(
            plan.feeds[0].name,
            "https://t.example/rss?passkey=abc&cat=5"
        );
        let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(
                "t.toml:2:7: feed `https://t.example/rss?passkey=redacted&cat=5` has no `name`"
            ),
            "{}",
            warnings[0]
        );
        assert!(!warnings[0].contains("abc"), "{}", warnings[0]);
        assert!(load(&format!("name = \"t\"\n{url}")).warnings.is_empty());
        assert!(
            load("url = \"https://t.example/rss?token=t\"")
                .warnings
                .is_empty()
        );
    }
}
