//! What is measured: the daemon's CPU, memory and disk writes from `/proc`, samples taken each
//! second and the windows between them, and the latency from an item's appearance to its alert.

use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::fleet;
use super::news::Shared;

/// utime + stime of a process (all threads), in clock ticks.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: field 3 (state) is f[0], so utime (14) is f[11], stime (15) f[12].
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// utime + stime + cutime + cstime: with the CPU of its ended children (a server's backends
/// whose connections closed, e.g. those of a killed instance).
pub fn cpu_ticks_with_children(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11..15)?
        .iter()
        .map(|v| v.parse::<u64>().ok())
        .sum::<Option<u64>>()
}

/// CPU of every process named `postgres` (the server and its backends, the ended ones
/// counted in the server's children's time, so the sum never drops).
pub fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "postgres")
        })
        .filter_map(|pid| cpu_ticks_with_children(&pid))
        .sum()
}

/// A `kB` field of `/proc/PID/status` (VmHWM, VmRSS).
pub fn status_kb(pid: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

pub fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

// ---------------------------------------------------------------------------------------------
// Samples and windows

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Seconds since the daemon was started.
    pub t: f64,
    pub daemon_ticks: u64,
    pub self_ticks: u64,
    /// Every PostgreSQL server process of the machine (`--state postgres://…`).
    pub pg_ticks: u64,
    pub requests: u64,
    pub ok: u64,
    pub not_modified: u64,
    pub items: u64,
    pub alerts: u64,
    /// Article page requests (teaser farm).
    pub pages: u64,
    pub rss_kb: u64,
    /// The daemon's disk writes so far (`/proc/PID/io`).
    pub write_bytes: u64,
}

pub fn sample(s: &Shared, start: Instant, daemons: &fleet::Fleet, postgres: bool) -> Sample {
    let c = &s.c;
    Sample {
        t: start.elapsed().as_secs_f64(),
        daemon_ticks: daemons.cpu_ticks(),
        self_ticks: cpu_ticks("self").unwrap_or(0),
        pg_ticks: if postgres { postgres_ticks() } else { 0 },
        requests: c.requests.load(Relaxed),
        ok: c.ok_first.load(Relaxed) + c.ok_changed.load(Relaxed) + c.ok_stale_etag.load(Relaxed),
        not_modified: c.not_modified.load(Relaxed),
        items: c.items_added.load(Relaxed),
        alerts: c.hook_alerts.load(Relaxed),
        pages: s.farm.as_ref().map_or(0, |f| f.requests.load(Relaxed)),
        rss_kb: daemons.max_kb("VmRSS"),
        write_bytes: daemons.write_bytes(),
    }
}

/// Rates and CPU over [a, b] (the samples nearest inside those bounds).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub secs: f64,
    pub polls: u64,
    pub ok: u64,
    pub not_modified: u64,
    pub items: u64,
    pub alerts: u64,
    pub pages: u64,
    pub cpu_s: f64,
    pub self_cpu_s: f64,
    pub pg_cpu_s: f64,
    pub write_bytes: u64,
}

impl Window {
    pub fn between(samples: &[Sample], from: f64, to: f64, tck: f64) -> Option<Window> {
        let a = samples.iter().find(|s| s.t >= from - 0.05)?;
        let b = samples.iter().rev().find(|s| s.t <= to + 0.05)?;
        if b.t - a.t < 0.5 {
            return None;
        }
        Some(Window {
            from: a.t,
            to: b.t,
            secs: b.t - a.t,
            polls: b.requests - a.requests,
            ok: b.ok - a.ok,
            not_modified: b.not_modified - a.not_modified,
            items: b.items - a.items,
            alerts: b.alerts - a.alerts,
            pages: b.pages - a.pages,
            cpu_s: (b.daemon_ticks - a.daemon_ticks) as f64 / tck,
            self_cpu_s: (b.self_ticks - a.self_ticks) as f64 / tck,
            // Server processes come and go (a connection's backend ends): never below zero.
            pg_cpu_s: b.pg_ticks.saturating_sub(a.pg_ticks) as f64 / tck,
            write_bytes: b.write_bytes.saturating_sub(a.write_bytes),
        })
    }
    pub fn rate(&self, n: u64) -> f64 {
        n as f64 / self.secs
    }
    pub fn core_pct(&self) -> f64 {
        100.0 * self.cpu_s / self.secs
    }
    pub fn self_pct(&self) -> f64 {
        100.0 * self.self_cpu_s / self.secs
    }
    pub fn per_1000(&self, n: u64) -> Option<f64> {
        (n > 0).then(|| self.cpu_s * 1000.0 / n as f64)
    }
}

/// The busiest and quietest `width`-second windows within [from, to], by polls; and the
/// window with the most daemon CPU.
pub struct Extremes {
    pub busiest: Window,
    pub quietest: Window,
    pub most_cpu: Window,
}

pub fn extremes(samples: &[Sample], from: f64, to: f64, width: f64, tck: f64) -> Option<Extremes> {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= from - 0.05 && s.t <= to + 0.05)
        .collect();
    let mut windows = Vec::new();
    for (i, a) in inside.iter().enumerate() {
        if let Some(b) = inside[i..].iter().find(|b| b.t >= a.t + width - 0.05)
            && let Some(w) = Window::between(samples, a.t, b.t, tck)
        {
            windows.push(w);
        }
    }
    let by = |f: fn(&Window) -> f64| move |a: &&Window, b: &&Window| f(a).total_cmp(&f(b));
    let busiest = *windows.iter().max_by(by(|w| w.rate(w.polls)))?;
    let quietest = *windows.iter().min_by(by(|w| w.rate(w.polls)))?;
    let most_cpu = *windows.iter().max_by(by(Window::core_pct))?;
    Some(Extremes {
        busiest,
        quietest,
        most_cpu,
    })
}

// ---------------------------------------------------------------------------------------------
// Latency

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub struct Dist {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Dist {
    pub fn of(mut v: Vec<f64>) -> Dist {
        v.sort_by(f64::total_cmp);
        Dist {
            n: v.len(),
            p50: percentile(&v, 50.0),
            p99: percentile(&v, 99.0),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
    /// Seconds, shown in s (or in ms when everything is under a second).
    pub fn show(&self) -> String {
        if self.n == 0 {
            return "no samples".into();
        }
        if self.max < 1.0 {
            return format!(
                "p50 {:.1} ms · p99 {:.1} ms · max {:.1} ms (n = {})",
                self.p50 * 1e3,
                self.p99 * 1e3,
                self.max * 1e3,
                self.n
            );
        }
        format!(
            "p50 {:.2} s · p99 {:.2} s · max {:.2} s (n = {})",
            self.p50, self.p99, self.max, self.n
        )
    }
}

pub struct Latency {
    pub total: Dist,
    pub wait: Dist,
    pub processing: Dist,
    /// Teaser farm: feed response → first page request, and page request → webhook.
    pub to_page: Dist,
    pub page_to_hook: Dist,
    pub expected: usize,
    pub received: usize,
    pub in_flight: usize,
    pub missed: usize,
    pub missed_served: usize,
    pub evicted: usize,
    pub not_expected: usize,
    pub oldest_missed: Vec<(String, f64, Option<f64>)>,
}

pub fn latency(s: &Shared, at: Instant, in_flight_window: Duration, start: Instant) -> Latency {
    let recs = s.records.lock().unwrap();
    let (mut total, mut wait, mut processing) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to_page, mut page_to_hook) = (Vec::new(), Vec::new());
    let mut l = Latency {
        total: Dist::of(Vec::new()),
        wait: Dist::of(Vec::new()),
        processing: Dist::of(Vec::new()),
        to_page: Dist::of(Vec::new()),
        page_to_hook: Dist::of(Vec::new()),
        expected: 0,
        received: 0,
        in_flight: 0,
        missed: 0,
        missed_served: 0,
        evicted: 0,
        not_expected: 0,
        oldest_missed: Vec::new(),
    };
    let mut missed = Vec::new();
    for (key, r) in recs.iter() {
        if !r.expected {
            l.not_expected += 1;
            continue;
        }
        if r.appeared > at {
            continue;
        }
        l.expected += 1;
        match r.received.filter(|t| *t <= at) {
            Some(rcv) => {
                l.received += 1;
                total.push(rcv.duration_since(r.appeared).as_secs_f64());
                if let Some(sv) = r.served {
                    wait.push(sv.duration_since(r.appeared).as_secs_f64());
                    processing.push(rcv.saturating_duration_since(sv).as_secs_f64());
                    if let Some(pg) = r.page_served {
                        to_page.push(pg.saturating_duration_since(sv).as_secs_f64());
                        page_to_hook.push(rcv.saturating_duration_since(pg).as_secs_f64());
                    }
                }
            }
            None if r.evicted_unserved => l.evicted += 1,
            None if at.duration_since(r.appeared) <= in_flight_window => l.in_flight += 1,
            None => {
                l.missed += 1;
                if r.served.is_some() {
                    l.missed_served += 1;
                }
                missed.push((
                    key.clone(),
                    r.appeared.duration_since(start).as_secs_f64(),
                    r.served.map(|sv| sv.duration_since(start).as_secs_f64()),
                ));
            }
        }
    }
    missed.sort_by(|a, b| a.1.total_cmp(&b.1));
    missed.truncate(5);
    l.oldest_missed = missed;
    l.total = Dist::of(total);
    l.wait = Dist::of(wait);
    l.processing = Dist::of(processing);
    l.to_page = Dist::of(to_page);
    l.page_to_hook = Dist::of(page_to_hook);
    l
}
