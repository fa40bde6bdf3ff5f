//! The report: the tables printed at the end of a run, with each figure beside its goal.

use std::fmt::Write as _;
use std::process::ExitStatus;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::fleet::Fleet;
use super::measure::{Dist, Extremes, Latency, Sample, Window, cpu_model, percentile};
use super::news::Shared;
use super::opts::Opts;
use super::{io, steady, teasers};

/// Everything a run measured, as the summary table shows it.
pub struct Measured<'a> {
    pub o: &'a Opts,
    pub command: &'a str,
    pub cores: usize,
    /// Seconds from the start until every feed had been served in full once.
    pub all_first: Option<f64>,
    /// Seconds from the start to the steady state.
    pub warm_end: f64,
    pub whole: Option<Window>,
    pub steady: Option<Window>,
    /// The last full poll interval.
    pub full_rate: Option<Window>,
    pub hwm_kb: u64,
    pub last: Sample,
    pub peaks: Option<Extremes>,
    pub lat: &'a Latency,
    pub gaps: &'a Dist,
    pub shared: &'a Shared,
    pub start: Instant,
    pub measured_at: Instant,
    pub daemons: &'a Fleet,
    pub resumed: &'a Resumed,
    pub exit: Option<ExitStatus>,
    pub took: Duration,
    pub stop_problem: &'a str,
    /// Lines, warnings and errors in the daemons' logs.
    pub log: (usize, usize, usize),
    pub daemon_metrics: &'a str,
}

/// The summary tables, in Markdown.
pub fn summary(m: &Measured<'_>) -> String {
    let Measured {
        o,
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
        lat,
        gaps,
        shared,
        start,
        measured_at,
        daemons,
        resumed,
        exit,
        took,
        stop_problem,
        log: (log_lines, log_warn, log_error),
        daemon_metrics,
    } = m;
    let (start, measured_at) = (*start, *measured_at);
    let (cores, all_first, warm_end, whole, steady, full_rate, hwm_kb, last) = (
        *cores, *all_first, *warm_end, *whole, *steady, *full_rate, *hwm_kb, *last,
    );
    let interval_f = o.interval as f64;
    let c = &shared.c;
    let goal_config = o.feeds >= 10_000 && o.interval <= 60;
    let pct_for_goal = steady.map(|w| w.core_pct());
    let mut t = String::new();
    let _ = writeln!(t, "\n## newswatch load benchmark\n");
    let _ = writeln!(t, "`{command}`\n");
    let _ = writeln!(
        t,
        "{} feeds × {} items on 127.0.0.1 (ETag/304), poll_interval {} s, {} new items/s ({:.0}% with a watched phrase), \
         daemon run {} s. `per_host_concurrency = 64`, `max_concurrent_fetches = 64` (all feeds share one host). \
         Machine: {cores} cores ({}); the load generator runs in the same machine and shares those cores. \
         Steady state = after {:.0} s (all first fetches served at {}; minimum warm-up {} s).\n",
        o.feeds,
        o.items_per_feed,
        o.interval,
        o.rate,
        o.match_fraction * 100.0,
        o.duration,
        cpu_model(),
        warm_end,
        all_first.map_or_else(|| "never".into(), |t| format!("{t:.1} s")),
        o.warmup,
    );
    let head = |w: Option<Window>| {
        w.map_or_else(|| "–".into(), |w| format!("{:.0}–{:.0} s", w.from, w.to))
    };
    let _ = writeln!(
        t,
        "| metric | whole run ({}) | steady state ({}) | last interval ({}) | goal |",
        head(whole),
        head(steady),
        head(full_rate)
    );
    let _ = writeln!(t, "|---|---|---|---|---|");
    let row = |t: &mut String, name: &str, f: &dyn Fn(&Window) -> String, goal: &str| {
        let cell = |w: Option<Window>| w.as_ref().map_or_else(|| "–".into(), f);
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} | {goal} |",
            cell(whole),
            cell(steady),
            cell(full_rate)
        );
    };
    row(
        &mut t,
        "polls/s (200 · 304)",
        &|w| {
            format!(
                "{:.1} ({:.1} · {:.1})",
                w.rate(w.polls),
                w.rate(w.ok),
                w.rate(w.not_modified)
            )
        },
        &format!("{:.1} at this config", o.feeds as f64 / interval_f),
    );
    row(
        &mut t,
        "new items/s",
        &|w| format!("{:.2}", w.rate(w.items)),
        "",
    );
    row(
        &mut t,
        "alerts/s",
        &|w| format!("{:.2}", w.rate(w.alerts)),
        "",
    );
    row(
        &mut t,
        "daemon CPU seconds",
        &|w| format!("{:.2}", w.cpu_s),
        "",
    );
    let goal_cpu = if goal_config {
        format!(
            "< 10% (10k feeds, 60 s, mostly 304): {}",
            verdict(pct_for_goal.map(|p| p < 10.0))
        )
    } else {
        "< 10% at 10k feeds / 60 s (n/a here)".into()
    };
    row(
        &mut t,
        "daemon CPU, % of one core",
        &|w| format!("{:.2}%", w.core_pct()),
        &goal_cpu,
    );
    row(
        &mut t,
        "daemon CPU s per 1,000 polls",
        &|w| opt_fmt(w.per_1000(w.polls), 3),
        "",
    );
    row(
        &mut t,
        "daemon CPU s per 1,000 new items",
        &|w| opt_fmt(w.per_1000(w.items), 2),
        "",
    );
    row(
        &mut t,
        "daemon disk writes (state database)",
        &|w| io::rate_line(w.write_bytes, w.secs, w.polls),
        "",
    );
    if o.state.is_some() {
        row(
            &mut t,
            "PostgreSQL server CPU, % of one core",
            &|w| format!("{:.2}%", 100.0 * w.pg_cpu_s / w.secs),
            "(every `postgres` process)",
        );
        row(
            &mut t,
            "PostgreSQL CPU s per 1,000 polls",
            &|w| {
                opt_fmt(
                    (w.polls > 0).then(|| w.pg_cpu_s * 1000.0 / w.polls as f64),
                    3,
                )
            },
            "",
        );
    }
    row(
        &mut t,
        "load generator CPU, % of one core",
        &|w| format!("{:.1}%", w.self_pct()),
        "(shares the machine)",
    );
    let _ = writeln!(t);
    let _ = writeln!(t, "| result | value | goal |");
    let _ = writeln!(t, "|---|---|---|");
    let _ = writeln!(
        t,
        "| peak RSS (VmHWM) | {:.1} MB (RSS at end {:.1} MB) | < 64 MB: {} |",
        mb(hwm_kb),
        mb(last.rss_kb),
        verdict((hwm_kb > 0).then_some(hwm_kb < 64 * 1024))
    );
    if let Some(p) = &peaks {
        let _ = writeln!(
            t,
            "| steady state, busiest 5 s · quietest 5 s (polls/s) | {:.0} at {:.0}–{:.0} s · {:.0} at {:.0}–{:.0} s | flat ≈ {:.0} |",
            p.busiest.rate(p.busiest.polls),
            p.busiest.from,
            p.busiest.to,
            p.quietest.rate(p.quietest.polls),
            p.quietest.from,
            p.quietest.to,
            o.feeds as f64 / interval_f
        );
        let _ = writeln!(
            t,
            "| steady state, most daemon CPU in 5 s | {:.1}% of one core at {:.0}–{:.0} s ({:.0} polls/s) | |",
            p.most_cpu.core_pct(),
            p.most_cpu.from,
            p.most_cpu.to,
            p.most_cpu.rate(p.most_cpu.polls)
        );
    }
    // Teasers: the page adds its host's turn and the fetch; the goal allows 5 s for that.
    let lat_goal = interval_f + if o.teasers { 5.0 } else { 1.0 };
    let _ = writeln!(
        t,
        "| latency appeared → webhook | {} | p99 < {lat_goal:.0} s: {} |",
        lat.total.show(),
        verdict((lat.total.n > 0).then_some(lat.total.p99 < lat_goal))
    );
    let _ = writeln!(
        t,
        "| … of the items added in the steady state (after {warm_end:.0} s) | {} | |",
        steady::latency_since(
            shared,
            start + Duration::from_secs_f64(warm_end),
            measured_at
        )
        .show()
    );
    let _ = writeln!(
        t,
        "| … of which: waiting for the next poll | {} | ±10% jitter alone gives p50 ≈ {:.1} s, p99 ≈ {:.1} s |",
        lat.wait.show(),
        0.5 * interval_f,
        1.0368 * interval_f
    );
    let _ = writeln!(
        t,
        "| … of which: fetch → match → store → webhook | {} | |",
        lat.processing.show()
    );
    if o.teasers {
        let _ = writeln!(
            t,
            "| … … feed response → article page requested | {} | |",
            lat.to_page.show()
        );
        let _ = writeln!(
            t,
            "| … … article page requested → webhook | {} | |",
            lat.page_to_hook.show()
        );
    }
    let _ = writeln!(
        t,
        "| interval between polls of one feed | {} | {:.0}–{:.0} s (±10%) |",
        gaps.show(),
        0.9 * interval_f,
        1.1 * interval_f
    );
    let _ = writeln!(
        t,
        "| matching items: expected · received · in flight at end · **missed** | {} · {} · {} · {} | missed = 0 |",
        lat.expected, lat.received, lat.in_flight, lat.missed
    );
    let _ = writeln!(
        t,
        "| alerts not expected (baseline items) · duplicates · unparsable | {} · {} · {} | 0 · 0 · 0 |",
        c.hook_unexpected.load(Relaxed),
        c.hook_duplicates.load(Relaxed),
        c.hook_unparsable.load(Relaxed)
    );
    if daemons.len() > 1 {
        let _ = writeln!(
            t,
            "| instances · daemon CPU per instance (steady) · repeats under a new key | {} · {} · {} | 0 new keys |",
            daemons.len(),
            steady.map_or_else(
                || "–".into(),
                |w| format!("{:.2}%", w.core_pct() / daemons.len() as f64)
            ),
            c.hook_new_key.load(Relaxed)
        );
    }
    if !daemons.kills.is_empty() {
        let _ = writeln!(
            t,
            "| kills (SIGKILL + restart) · first alert after each kill in the steady state, s (max · p99 · each) | {} · {} | ≤ lease + 5 s |",
            daemons.kills.len(),
            resumed.summary()
        );
    }
    let _ = writeln!(
        t,
        "| responses: 200 first fetch · 200 changed · 200 without If-None-Match · 304 · 404 | {} · {} · {} · {} · {} | |",
        c.ok_first.load(Relaxed),
        c.ok_changed.load(Relaxed),
        c.ok_stale_etag.load(Relaxed),
        c.not_modified.load(Relaxed),
        c.not_found.load(Relaxed)
    );
    let _ = writeln!(
        t,
        "| SIGTERM → exit | {:.2} s, {} | exit 0 |",
        took.as_secs_f64(),
        match &exit {
            Some(st) if st.success() => "exit 0".to_string(),
            Some(st) => format!("**{st}**"),
            None => format!("**{stop_problem}**"),
        }
    );
    let _ = writeln!(
        t,
        "| daemon stderr (RUST_LOG=warn) | {log_lines} lines: {log_warn} WARN, {log_error} ERROR | 0 |"
    );
    if let Some(farm) = &shared.farm {
        t.push_str(&teasers::report(farm, c, steady, daemon_metrics));
    }
    t
}

pub fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

pub fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "**MISSED**",
        None => "n/a",
    }
}

pub fn opt_fmt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.prec$}"))
}

pub fn progress_line(w: &Window, last: &Sample, s: &Shared) -> String {
    let recs = s.records.lock().unwrap();
    let expected = recs.values().filter(|r| r.expected).count();
    let received = recs
        .values()
        .filter(|r| r.expected && r.received.is_some())
        .count();
    drop(recs);
    format!(
        "t={:>4.0}s  polls/s {:>7.1} (200 {:>6.1} · 304 {:>7.1})  items/s {:>5.2}  alerts/s {:>5.2}  \
         pages/s {:>5.2}  daemon CPU {:>5.1}% of a core  RSS {:>5.1} MB  loadgen CPU {:>5.1}%  alerts {received}/{expected} expected  first fetches {}/{}",
        last.t,
        w.rate(w.polls),
        w.rate(w.ok),
        w.rate(w.not_modified),
        w.rate(w.items),
        w.rate(w.alerts),
        w.rate(w.pages),
        w.core_pct(),
        mb(last.rss_kb),
        w.self_pct(),
        s.c.feeds_first_served.load(Relaxed),
        s.feeds.len(),
    )
}

/// For each kill: seconds from the kill to the first alert received after it (a kill of the
/// instance sending the sink's queue pauses deliveries until its sink lease runs out).
pub struct Resumed(Vec<f64>);

impl Resumed {
    pub fn summary(&self) -> String {
        if self.0.is_empty() {
            return "–".into();
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        // ∞: no alert came after it before the run ended.
        let each: Vec<String> = self.0.iter().map(|x| format!("{x:.1}")).collect();
        format!(
            "{:.1} · {:.1} · {}",
            v[v.len() - 1],
            percentile(&v, 99.0),
            each.join(" ")
        )
    }
}

pub fn resumed_after_kills(s: &Shared, kills: &[(Instant, usize)], steady: Instant) -> Resumed {
    let recs = s.records.lock().unwrap();
    let mut received: Vec<Instant> = recs.values().filter_map(|r| r.received).collect();
    received.sort();
    Resumed(
        kills
            .iter()
            .filter(|(k, _)| *k >= steady)
            .map(|(k, _)| {
                let i = received.partition_point(|r| r <= k);
                received
                    .get(i)
                    .map_or(f64::INFINITY, |r| r.duration_since(*k).as_secs_f64())
            })
            .collect(),
    )
}
