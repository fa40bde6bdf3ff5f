//! The validated configuration the rest of the program runs on.
//!
//! Owns [`Plan`], [`DaemonPlan`], [`FeedPlan`], [`FeedSource`] and [`SinkPlan`]. Every value
//! here is checked and typed: durations are `Duration`s, URLs are parsed, secrets are resolved,
//! watches are compiled into one [`WatchSet`]. A plan is generic over its sinks' configuration
//! `C`: the sink types live with the sinks, and `config/` never names them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::secret::Secret;
use crate::matcher::WatchSet;

/// Default User-Agent: names the program and where to read about it.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "newswatch/",
    env!("CARGO_PKG_VERSION"),
    " (feed monitor; +https://github.com/newswatch/newswatch)"
);

/// What a brand-new feed's first successful poll does with the items already in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNewFeed {
    /// Mark them seen without alerting (the default: a new feed must not flood).
    Baseline,
    /// Alert those published within `recent_window`.
    Recent,
    /// Alert all of them (demos, backfills).
    All,
}

/// `[daemon]`, with defaults applied.
#[derive(Debug, Clone)]
pub struct DaemonPlan {
    /// Explicit state file; `None` means `$STATE_DIRECTORY/newswatch.db`, else `./newswatch.db`.
    pub state: Option<PathBuf>,
    /// `state = "postgres://…"` (or a reference to one): the state is in PostgreSQL, and
    /// `state` (the file) is unused.
    pub postgres: Option<Secret>,
    /// Listen address for health, metrics and status; `None` when disabled.
    pub listen: Option<SocketAddr>,
    /// Where `listen` was set, for its errors: `[daemon] listen`, or `run --listen`'s
    /// `--listen` (a port in use blamed the file, which said "off").
    pub listen_setting: &'static str,
    /// Bearer token required for `/api/*` and the status page; required by `check` when
    /// `listen` is not a loopback address.
    pub listen_token: Option<Secret>,
    pub poll_interval: Duration,
    pub min_poll_interval: Duration,
    pub user_agent: String,
    pub fetch_timeout: Duration,
    pub max_body_size: u64,
    pub max_concurrent_fetches: usize,
    pub per_host_concurrency: usize,
    pub backoff_cap: Duration,
    pub on_new_feed: OnNewFeed,
    pub recent_window: Duration,
    pub retention: Duration,
    pub max_delivery_age: Duration,
    /// How long dead letters are kept for the operator before they are pruned.
    pub dead_retention: Duration,
    /// How long new items' text is archived for `backtest`.
    pub archive: crate::store::archive::ArchiveKeep,
    pub shutdown_grace: Duration,
    /// How long an instance on PostgreSQL holds a feed or a sink without renewing it: the
    /// longest an instance's feeds and sinks wait after it dies.
    pub lease: Duration,
    pub log_level: Option<String>,
    /// `health_sinks` and `health_after`.
    pub health: crate::daemon::health::HealthSettings,
    /// `full_text` and `full_text_min_chars`: the default of every feed.
    pub full_text: crate::feed::page::FullText,
    /// `page_rate` and `page_timeout`.
    pub pages: crate::feed::page::PageSettings,
}

impl Default for DaemonPlan {
    fn default() -> Self {
        DaemonPlan {
            state: None,
            postgres: None,
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9480))),
            listen_setting: "[daemon] listen",
            listen_token: None,
            poll_interval: Duration::from_secs(5 * 60),
            min_poll_interval: Duration::from_secs(30),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            fetch_timeout: Duration::from_secs(30),
            max_body_size: 16 * 1024 * 1024,
            max_concurrent_fetches: 32,
            per_host_concurrency: 2,
            backoff_cap: Duration::from_secs(6 * 3600),
            on_new_feed: OnNewFeed::Baseline,
            recent_window: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(90 * 24 * 3600),
            max_delivery_age: Duration::from_secs(24 * 3600),
            dead_retention: Duration::from_secs(30 * 24 * 3600),
            archive: crate::store::archive::ArchiveKeep::default(),
            // Longer than any one send (the delivery side's SEND_LIMIT, 120 s; a test there
            // keeps it so): a stop never cuts a send off halfway.
            shutdown_grace: Duration::from_secs(135),
            lease: Duration::from_secs(30),
            log_level: None,
            health: Default::default(),
            full_text: Default::default(),
            pages: Default::default(),
        }
    }
}

impl DaemonPlan {
    /// Where the state lives: the PostgreSQL database `state` names, else the state file.
    pub fn state_location(&self) -> crate::store::any::StateLocation {
        match &self.postgres {
            Some(url) => crate::store::any::StateLocation::Postgres(url.clone()),
            None => crate::store::any::StateLocation::File(self.state_path()),
        }
    }

    /// The state file: `[daemon] state`, else `$STATE_DIRECTORY/newswatch.db`, else
    /// `./newswatch.db`.
    pub fn state_path(&self) -> PathBuf {
        self.state_path_and_origin().0
    }

    /// The state file and, for an operator wondering why that one, the rule that chose it.
    pub fn state_path_and_origin(&self) -> (PathBuf, &'static str) {
        if let Some(p) = &self.state {
            return (p.clone(), "set by `[daemon] state`");
        }
        let path = match std::env::var_os("STATE_DIRECTORY") {
            // systemd may pass several colon-separated directories; the first is ours.
            Some(dirs) => {
                let first = dirs
                    .to_string_lossy()
                    .split(':')
                    .next()
                    .unwrap_or(".")
                    .to_string();
                PathBuf::from(first).join("newswatch.db")
            }
            None => {
                return (
                    PathBuf::from("newswatch.db"),
                    "the default in the current folder: neither `[daemon] state` nor \
                     $STATE_DIRECTORY is set",
                );
            }
        };
        (
            path,
            "in $STATE_DIRECTORY (systemd's StateDirectory=), as `[daemon] state` is not set",
        )
    }
}

/// Where a feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    Http(url::Url),
    File(PathBuf),
}

impl std::fmt::Display for FeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedSource::Http(u) => write!(f, "{u}"),
            FeedSource::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

impl FeedSource {
    /// The source fit to be shown (logs, status, errors): credentials in the URL redacted.
    /// `Display` stays the full URL, which identifies the feed in the state file.
    pub fn redacted(&self) -> String {
        crate::config::secret::redact_url(&self.to_string())
    }

    /// What two sources that read the same document have in common: a URL without its
    /// fragment (never sent: `…/rss#top` is `…/rss`), a path with its `.` steps gone and, for
    /// a file that exists, its links resolved (`./feed.xml` is `feed.xml`). For `check` to
    /// refuse a second feed on the same document, whose items would alert twice under two
    /// feeds. Not the feed's identity, which stays `Display`.
    pub fn same_document_key(&self) -> String {
        match self {
            FeedSource::Http(u) => {
                let mut u = u.clone();
                u.set_fragment(None);
                u.to_string()
            }
            FeedSource::File(p) => {
                let path = std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.components().collect::<PathBuf>());
                format!("file:{}", path.display())
            }
        }
    }

    /// The URL, for a feed read over HTTP(S).
    pub fn url(&self) -> Option<&url::Url> {
        match self {
            FeedSource::Http(u) => Some(u),
            FeedSource::File(_) => None,
        }
    }
}

/// One `[[feed]]`.
#[derive(Debug, Clone)]
pub struct FeedPlan {
    pub name: String,
    pub source: FeedSource,
    /// The feed's own interval; the daemon's `poll_interval` applies when `None`.
    pub interval: Option<Duration>,
    pub tags: Vec<String>,
    /// `full_text` and `full_text_min_chars`, the `[daemon]` ones when the feed sets none.
    pub full_text: crate::feed::page::FullText,
}

/// One `[[sink]]`: its name and its configuration, typed by whoever knows the sink types
/// (`config/` only knows that a sink has a name, a type and a table; see [`SinkTypes`]).
///
/// [`SinkTypes`]: crate::config::SinkTypes
#[derive(Debug, Clone, PartialEq)]
pub struct SinkPlan<C> {
    pub name: String,
    pub config: C,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Plan<C> {
    /// The main file it was loaded from.
    pub path: PathBuf,
    pub daemon: DaemonPlan,
    pub feeds: Vec<FeedPlan>,
    pub sinks: Vec<SinkPlan<C>>,
    pub watches: Arc<WatchSet>,
    /// Story grouping settings of the watches that group items into stories, by watch name.
    pub stories: std::collections::BTreeMap<String, crate::story::StoryConfig>,
    /// The model and the watches with `about`; `None` when no watch has `about`.
    pub semantic: Option<Arc<crate::semantic::plan::SemanticPlan>>,
    /// Settings that do less than they say (a feed `interval` below the floor, a `[semantic]`
    /// table no watch uses): printed by `check`, logged at start and on a reload, never
    /// refused (a configuration that ran before an upgrade still runs).
    pub warnings: Vec<crate::config::ConfigError>,
}

impl<C> Plan<C> {
    pub fn feed(&self, name: &str) -> Option<&FeedPlan> {
        self.feeds.iter().find(|f| f.name == name)
    }
}
