//! Load benchmark for the `newswatch` daemon.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example loadtest -- --feeds 10000 --interval 60 --duration 200
//! ```
//!
//! One process plays the whole internet on 127.0.0.1: an HTTP server with N synthetic RSS feeds
//! (`/feed/{i}.xml`, ~20 items each, ETag + `304 Not Modified`), a generator that adds new items
//! to random feeds at a fixed rate (a fraction of them containing a watched phrase), and a
//! webhook receiver (`/hook`). The real daemon binary runs as a child process against a generated
//! configuration. The benchmark measures poll rate (200 vs 304), the daemon's CPU time and peak
//! RSS from `/proc`, and the latency from an item's appearance in its feed to its alert at the
//! webhook, then stops the daemon with SIGTERM and checks that it exits 0.
//!
//! Everything binds loopback addresses, and every loop ends by `--duration` (plus a bounded
//! shutdown wait).

use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use daemon::{git_describe, locate_binary, newest_mtime, summarize_log, write_config};
use measure::{Dist, Sample, Window, clock_ticks_per_sec, cpu_model, extremes, latency, sample};
use news::Shared;
use opts::{Opts, USAGE, parse_args};
use report::{progress_line, resumed_after_kills};
use serve::{bind_loopback, receive_hook, serve_feed};

mod daemon;
mod fleet;
mod io;
mod measure;
mod news;
mod opts;
mod report;
mod serve;
mod steady;
mod teasers;

/// The phrases of the watch; matching items contain one of them.
const WATCH_TERMS: [&str; 2] = ["North Korean troops", "Victory Plan"];
/// How long the daemon gets to exit after SIGTERM before it is killed.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(30);
/// Samples of counters, CPU and RSS are taken this often.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// The new-item generator

async fn generate(s: Arc<Shared>, o: Opts, start: Instant, end: Instant) {
    if o.rate <= 0.0 {
        return;
    }
    let mut rng = StdRng::seed_from_u64(o.seed ^ 0x5EED);
    let period = Duration::from_secs_f64(1.0 / o.rate);
    let mut k: u32 = 0;
    loop {
        k = k.saturating_add(1);
        let at = start + period * k;
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let feed = rng.random_range(0..s.feeds.len());
        let matching = rng.random_bool(o.match_fraction);
        s.add_item(feed, matching);
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("loadtest: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loadtest")
        .build()
        .expect("tokio runtime");
    let command = format!(
        "cargo run --release --example loadtest -- {}",
        args.join(" ")
    )
    .trim_end()
    .to_string();
    let code = rt.block_on(async {
        if !o.compare {
            return run(o, &command).await.code;
        }
        // The same seeds and options twice: only where the story is differs.
        println!("=== run 1 of 2: without --teasers (the story in the feed text)\n");
        let plain = run(
            Opts {
                teasers: false,
                ..o.clone()
            },
            &command,
        )
        .await;
        println!("\n=== run 2 of 2: --teasers (the story on the article pages)\n");
        let teaser = run(Opts { teasers: true, ..o }, &command).await;
        print!("{}", teasers::compare_report(&plain, &teaser));
        plain.code.max(teaser.code)
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code);
}

/// What `--compare` needs of one run.
struct Outcome {
    code: i32,
    /// Steady state (after every feed's first fetch and the warm-up).
    steady: Option<Window>,
}

impl Outcome {
    fn failed(code: i32) -> Outcome {
        Outcome { code, steady: None }
    }
}

async fn run(o: Opts, command: &str) -> Outcome {
    let bin = locate_binary(&o);
    if !bin.is_file() {
        eprintln!(
            "loadtest: daemon binary {} not found; run `cargo build --release` first or pass --bin PATH",
            bin.display()
        );
        return Outcome::failed(2);
    }
    let bin_mtime = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let src_mtime = newest_mtime(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let stale = matches!((bin_mtime, src_mtime), (Some(b), Some(s)) if s > b);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let tck = clock_ticks_per_sec();

    println!("newswatch load benchmark");
    println!("  command : {command}");
    println!(
        "  daemon  : {} (source tree {}){}",
        bin.display(),
        git_describe(),
        if stale {
            " — WARNING: src/ has files newer than this binary; rebuild with `cargo build --release`"
        } else {
            ""
        }
    );
    println!(
        "  machine : {cores} cores, {}; the load generator (feed server, webhook receiver) runs on the same cores",
        cpu_model()
    );
    println!(
        "  setup   : {} feeds × {} items, poll_interval {} s, {} new items/s ({:.0}% matching), {} s run",
        o.feeds,
        o.items_per_feed,
        o.interval,
        o.rate,
        o.match_fraction * 100.0,
        o.duration
    );
    println!(
        "            per_host_concurrency raised to 64 (all feeds share one loopback host; default is 2), \
         max_concurrent_fetches 64"
    );

    if o.teasers {
        println!("{}", teasers::setup_lines(&o));
    }

    let (feed_listener, hook_listener, metrics_listener) = match (
        bind_loopback().await,
        bind_loopback().await,
        bind_loopback().await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("loadtest: cannot bind 127.0.0.1: {e}");
            return Outcome::failed(2);
        }
    };
    let page_listeners = if o.teasers {
        match teasers::bind_hosts(o.page_hosts).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("loadtest: {e}");
                return Outcome::failed(2);
            }
        }
    } else {
        Vec::new()
    };
    let (Ok(feed_addr), Ok(hook_addr), Ok(metrics_addr)) = (
        feed_listener.local_addr(),
        hook_listener.local_addr(),
        metrics_listener.local_addr(),
    ) else {
        eprintln!("loadtest: no local address");
        return Outcome::failed(2);
    };
    // The daemon's listener takes this port (free again a moment from now): its /metrics
    // says how it saw the pages.
    drop(metrics_listener);
    let farm = o.teasers.then(|| {
        let hosts = page_listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        teasers::Farm::new(
            hosts,
            Duration::from_millis(o.page_delay_ms),
            o.page_kb.saturating_mul(1024),
        )
    });

    let mut rng = StdRng::seed_from_u64(o.seed);
    let shared = Arc::new(Shared::new(
        o.feeds,
        o.items_per_feed,
        o.match_fraction,
        &mut rng,
        farm,
    ));
    let feeds_app = Router::new()
        .route("/feed/{file}", get(serve_feed))
        .route("/article/{feed}/{n}", get(teasers::serve_article))
        .with_state(shared.clone());
    let hook_app = Router::new()
        .route("/hook", post(receive_hook))
        .with_state(shared.clone());
    // Stopped when this run ends (`--compare` runs twice in one process).
    let mut servers = Vec::new();
    for l in page_listeners.into_iter().chain([feed_listener]) {
        let app = feeds_app.clone();
        servers.push(tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }));
    }
    servers.push(tokio::spawn(async move {
        let _ = axum::serve(hook_listener, hook_app).await;
    }));
    let mut servers = teasers::AbortOnDrop(servers);

    let dir = match tempfile::Builder::new()
        .prefix("newswatch-loadtest")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("loadtest: cannot create a temp dir: {e}");
            return Outcome::failed(2);
        }
    };
    let config = match write_config(
        dir.path(),
        &o,
        &feed_addr.to_string(),
        &hook_addr.to_string(),
        &metrics_addr.to_string(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadtest: cannot write the config: {e}");
            return Outcome::failed(2);
        }
    };
    let log_path = dir.path().join("daemon.log");
    println!(
        "  servers : feeds http://{feed_addr}/feed/{{i}}.xml, webhook http://{hook_addr}/hook; temp dir {}",
        dir.path().display()
    );

    let mut daemons = match fleet::Fleet::start(&bin, &config, dir.path(), o.instances) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("loadtest: cannot start {}: {e}", bin.display());
            return Outcome::failed(2);
        }
    };
    let start = Instant::now();
    let end = start + Duration::from_secs(o.duration);
    println!(
        "  daemon pid {}; running for {} s{}\n",
        daemons.pids().join(", "),
        o.duration,
        if o.kill_every > 0 {
            format!(
                "; one instance killed (SIGKILL) and restarted every {} s",
                o.kill_every
            )
        } else {
            String::new()
        }
    );

    servers.0.push(tokio::spawn(generate(
        shared.clone(),
        o.clone(),
        start,
        end,
    )));

    // Sample every second until the end; print progress every `report_every` seconds.
    let mut samples = vec![sample(&shared, start, &daemons, o.state.is_some())];
    let mut next_kill = o.kill_every as f64;
    let mut next_report = o.report_every as f64;
    let mut last_report = samples[0];
    let mut early_exit: Option<ExitStatus> = None;
    let mut tick = 1u32;
    loop {
        let at = (start + SAMPLE_EVERY * tick).min(end);
        tick += 1;
        tokio::time::sleep_until(at.into()).await;
        let sm = sample(&shared, start, &daemons, o.state.is_some());
        if let Some((i, st)) = daemons.exited() {
            if daemons.len() > 1 {
                eprintln!("loadtest: instance {i} exited");
            }
            early_exit = Some(st);
            break;
        }
        if o.kill_every > 0 && sm.t >= next_kill && at < end {
            let victim = daemons.kills.len() % daemons.len();
            if let Err(e) = daemons.kill_and_restart(victim) {
                eprintln!("loadtest: cannot kill and restart instance {victim}: {e}");
                return Outcome::failed(2);
            }
            next_kill += o.kill_every as f64;
        }
        samples.push(sm);
        if sm.t + 0.05 >= next_report || at >= end {
            if let Some(w) = Window::between(&samples, last_report.t, sm.t, tck) {
                println!("{}", progress_line(&w, &sm, &shared));
            }
            last_report = sm;
            next_report += o.report_every as f64;
        }
        if at >= end {
            break;
        }
    }
    let measured_at = Instant::now();
    if let Some(st) = early_exit {
        eprintln!(
            "\nloadtest: the daemon exited early ({st}) after {:.1} s; its stderr:\n{}",
            start.elapsed().as_secs_f64(),
            std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        if o.keep_dir {
            let _ = dir.keep();
        }
        return Outcome::failed(1);
    }
    let hwm_kb = daemons.max_kb("VmHWM");
    let last = *samples.last().unwrap_or(&Sample::default());

    // The first full fetch of every feed (parse + 20 new rows each) is the warm-up; steady
    // state starts after it and after `--warmup`, whichever is later.
    let all_first = shared
        .all_first_served_at
        .lock()
        .unwrap()
        .map(|t| t.duration_since(start).as_secs_f64());
    let warm_end = (o.warmup as f64).max(all_first.map_or(0.0, |t| (t + 2.0).ceil()));
    let interval_f = o.interval as f64;
    let whole = Window::between(&samples, 0.0, last.t, tck);
    let steady = Window::between(&samples, warm_end, last.t, tck);
    // The last full poll interval, when at least one whole round of polls follows the warm-up:
    // every feed is polled about once in it, so this is the rate the goal talks about.
    let full_rate = (last.t - interval_f >= warm_end)
        .then(|| Window::between(&samples, last.t - interval_f, last.t, tck))
        .flatten();

    let peaks = extremes(&samples, warm_end, last.t, 5.0, tck);
    // A teaser's alert may also wait for its page (at most the page deadline).
    let page_wait = if o.teasers {
        teasers::page_timeout(&o)
    } else {
        Duration::ZERO
    };
    let in_flight_window = Duration::from_secs_f64(interval_f * 1.1 + 2.0) + page_wait;
    let lat = latency(&shared, measured_at, in_flight_window, start);
    let gaps = Dist::of(
        shared
            .gaps_ms
            .lock()
            .unwrap()
            .iter()
            .map(|g| *g as f64 / 1000.0)
            .collect(),
    );

    let daemon_metrics = if o.teasers {
        teasers::scrape_page_metrics(&metrics_addr.to_string()).await
    } else {
        String::new()
    };
    // Stop the daemon.
    let (exit, took, stop_problem) = daemons.stop();
    let (mut log_lines, mut log_warn, mut log_error, log_top) = summarize_log(&log_path);
    for i in 1..daemons.len() {
        let (l, w, e, _) = summarize_log(&dir.path().join(fleet::log_name(i)));
        (log_lines, log_warn, log_error) = (log_lines + l, log_warn + w, log_error + e);
    }
    // Kills during the first round say nothing of takeover: no alert is due before the
    // second poll of a feed.
    let resumed = resumed_after_kills(
        &shared,
        &daemons.kills,
        start + Duration::from_secs_f64(warm_end),
    );
    print!(
        "{}",
        report::summary(&report::Measured {
            o: &o,
            command,
            cores,
            all_first,
            warm_end,
            whole,
            steady,
            full_rate,
            hwm_kb,
            last,
            peaks,
            lat: &lat,
            gaps: &gaps,
            shared: &shared,
            start,
            measured_at,
            daemons: &daemons,
            resumed: &resumed,
            exit,
            took,
            stop_problem: &stop_problem,
            log: (log_lines, log_warn, log_error),
            daemon_metrics: &daemon_metrics,
        })
    );

    // ----- notes and evidence
    println!();
    println!(
        "notes: matching items added before their feed's first poll are baselined, not expected ({}); \
         {} expected items were pushed out of their feed before any poll saw them; \"in flight\" = \
         added in the last {:.0} s (1.1 × interval + 2 s).",
        lat.not_expected,
        lat.evicted,
        in_flight_window.as_secs_f64()
    );
    if lat.missed > 0 {
        println!(
            "MISSED alerts: {} ({} of them already fetched by the daemon). Oldest (key, appeared at, served at):",
            lat.missed, lat.missed_served
        );
        for (k, a, s) in &lat.oldest_missed {
            println!(
                "  {k}: appeared {a:.1} s, served {}",
                s.map_or_else(|| "never".into(), |s| format!("{s:.1} s"))
            );
        }
    }
    let unexpected = shared.unexpected_keys.lock().unwrap().clone();
    if !unexpected.is_empty() {
        println!(
            "unexpected alert keys (first 10): {}",
            unexpected.join(", ")
        );
    }
    if !log_top.is_empty() {
        println!("daemon stderr, most frequent messages (digits shown as #):");
        for l in &log_top {
            println!("{l}");
        }
    }
    if stale {
        println!(
            "WARNING: the daemon binary is older than files in src/; the numbers may not reflect the current source."
        );
    }
    if o.keep_dir {
        let kept = dir.keep();
        println!("kept {}", kept.display());
    }
    drop(servers);
    let ok = exit.is_some_and(|s| s.success());
    Outcome {
        code: if ok { 0 } else { 1 },
        steady,
    }
}
