//! The command line: options, their defaults and the usage text.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Opts {
    pub feeds: usize,
    pub interval: u64,
    pub duration: u64,
    pub rate: f64,
    pub match_fraction: f64,
    pub bin: Option<PathBuf>,
    pub warmup: u64,
    pub items_per_feed: usize,
    pub seed: u64,
    pub report_every: u64,
    pub keep_dir: bool,
    /// Feeds carry teasers; the story is on article pages the daemon must fetch.
    pub teasers: bool,
    /// Run without and then with `--teasers`, and report the CPU the pages added.
    pub compare: bool,
    pub page_hosts: usize,
    pub page_delay_ms: u64,
    pub page_kb: usize,
    pub page_rate: Option<String>,
    pub page_timeout: Option<String>,
    /// `[daemon] state`: a PostgreSQL URL instead of the temp dir's SQLite file.
    pub state: Option<String>,
    /// Daemons sharing the PostgreSQL database.
    pub instances: usize,
    /// SIGKILL one instance (in turn) every this many seconds, and start it again; 0: never.
    pub kill_every: u64,
}

pub const USAGE: &str = "\
usage: cargo run --release --example loadtest -- [options]

  --feeds N               synthetic feeds (default 10000)
  --interval SECS         poll_interval of the daemon (default 60)
  --duration SECS         how long the daemon runs (default 180)
  --new-items-per-sec R   new items added to random feeds per second (default 5)
  --match-fraction F      fraction of items containing a watched phrase (default 0.5)
  --bin PATH              daemon binary (default $CARGO_TARGET_DIR/release/newswatch,
                          else target/release/newswatch)
  --warmup SECS           minimum warm-up excluded from steady state (default 15)
  --items-per-feed N      items per feed (default 20)
  --seed N                random seed (default 1)
  --report-every SECS     progress line period (default 30)
  --keep-dir              keep the temp dir (config, state.db, daemon.log)

full text (teaser farm):
  --teasers               feed items carry a title and one sentence; the story (and the
                          watched phrase) is on the item's article page, /article/{feed}/{n};
                          every feed gets full_text = \"auto\"
  --compare               run twice with the same options, without and with --teasers, and
                          report the daemon CPU added per page
  --page-hosts H          loopback hosts serving pages, 127.0.1.1 … (default 32); feed i's
                          pages are on host i % H, the feeds stay on 127.0.0.1
  --page-delay-ms MS      how long each page takes to answer (default 100)
  --page-kb N             article page size: ~6 KB of page, padded half with a comment
                          thread and half with scripts (default 40)
  --page-rate R           [daemon] page_rate (default: the daemon's, 1/s per host)
  --page-timeout D        [daemon] page_timeout (default: the daemon's, 10s)
  --state URL             [daemon] state: a postgres:// URL of an empty database (default: a
                          SQLite file in the temp dir); the report adds the CPU of the
                          machine's PostgreSQL server processes
  --instances N           N daemons share the --state database (default 1)
  --kill-every SECS       SIGKILL one instance in turn every SECS and start it again; the
                          report shows how long deliveries paused after each kill";

pub fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        feeds: 10_000,
        interval: 60,
        duration: 180,
        rate: 5.0,
        match_fraction: 0.5,
        bin: None,
        warmup: 15,
        items_per_feed: 20,
        seed: 1,
        report_every: 30,
        keep_dir: false,
        teasers: false,
        compare: false,
        page_hosts: 32,
        page_delay_ms: 100,
        page_kb: 40,
        page_rate: None,
        page_timeout: None,
        state: None,
        instances: 1,
        kill_every: 0,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        if matches!(key, "-h" | "--help") {
            return Err(String::new());
        }
        if key == "--keep-dir" {
            o.keep_dir = true;
            continue;
        }
        if key == "--teasers" {
            o.teasers = true;
            continue;
        }
        if key == "--compare" {
            o.compare = true;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{key} needs a value"))?,
        };
        fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{key}: `{v}` is not a valid number"))
        }
        match key {
            "--feeds" => o.feeds = num(key, &value)?,
            "--interval" => o.interval = num(key, &value)?,
            "--duration" => o.duration = num(key, &value)?,
            "--new-items-per-sec" => o.rate = num(key, &value)?,
            "--match-fraction" => o.match_fraction = num(key, &value)?,
            "--bin" => o.bin = Some(PathBuf::from(value)),
            "--warmup" => o.warmup = num(key, &value)?,
            "--items-per-feed" => o.items_per_feed = num(key, &value)?,
            "--seed" => o.seed = num(key, &value)?,
            "--report-every" => o.report_every = num(key, &value)?,
            "--page-hosts" => o.page_hosts = num(key, &value)?,
            "--page-delay-ms" => o.page_delay_ms = num(key, &value)?,
            "--page-kb" => o.page_kb = num(key, &value)?,
            "--page-rate" => o.page_rate = Some(value),
            "--page-timeout" => o.page_timeout = Some(value),
            "--state" => o.state = Some(value),
            "--instances" => o.instances = num(key, &value)?,
            "--kill-every" => o.kill_every = num(key, &value)?,
            _ => return Err(format!("unknown option `{key}`")),
        }
    }
    if o.feeds == 0 {
        return Err("--feeds must be at least 1".into());
    }
    if o.instances == 0 || (o.instances > 1 && o.state.is_none()) {
        return Err("--instances: at least 1, and more than 1 needs --state postgres://…".into());
    }
    if o.interval == 0 {
        return Err("--interval must be at least 1 (min_poll_interval is 1s)".into());
    }
    if o.duration < 5 {
        return Err("--duration must be at least 5".into());
    }
    if !(0.0..=10_000.0).contains(&o.rate) {
        return Err("--new-items-per-sec must be between 0 and 10000".into());
    }
    if !(0.0..=1.0).contains(&o.match_fraction) {
        return Err("--match-fraction must be between 0 and 1".into());
    }
    if o.items_per_feed == 0 {
        return Err("--items-per-feed must be at least 1".into());
    }
    if !(1..=64_000).contains(&o.page_hosts) {
        return Err("--page-hosts must be between 1 and 64000".into());
    }
    for v in [&o.page_rate, &o.page_timeout].into_iter().flatten() {
        if v.contains(['"', '\\', '\n']) {
            return Err(format!(
                "`{v}`: quotes, backslashes and newlines are not allowed"
            ));
        }
    }
    o.report_every = o.report_every.max(1);
    Ok(o)
}
