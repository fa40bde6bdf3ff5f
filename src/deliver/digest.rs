//! Digests: one message for a burst of alerts to one sink, one line per alert.
//!
//! Owns [`digest_key`], [`largest_fit`], [`headline`] and [`line()`]. The dispatcher decides
//! when a burst is a digest (more than `digest_after` alerts waiting) and asks the sink, through
//! [`crate::deliver::Sink::digest_fit`], how many of them one message can carry within the
//! platform's limits; the sinks build their digest payloads from these lines.

use sha2::{Digest, Sha256};

use crate::deliver::alert::Alert;
use crate::deliver::render::{self, Markup};

/// Longest title in a digest line, in characters: a digest is a list to scan, not to read.
pub const LINE_TITLE_MAX: usize = 160;

/// The idempotency key of a digest: derived from its alerts' keys, so a retry of the same
/// digest carries the same key (Matrix `txnId`, Google Chat `requestId`).
pub fn digest_key<'a>(keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("nw_d_{hex}")
}

/// The largest `n` in `1..=len` for which `fits(n)` holds, assuming that a prefix fits whenever
/// a longer one does; 1 when even a single alert does not "fit" (it is then sent alone, where
/// the single-alert path cuts it to size).
pub fn largest_fit(len: usize, fits: impl Fn(usize) -> bool) -> usize {
    if len <= 1 || fits(len) {
        return len.max(1);
    }
    let (mut lo, mut hi) = (1usize, len);
    // Invariant: `hi` does not fit; `lo` fits or is 1.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `12 new alerts · dprk-troops, victory-plan` (plain text: escape it for the platform).
pub fn headline(alerts: &[Alert]) -> String {
    let mut watches: Vec<&str> = Vec::new();
    for a in alerts {
        if !watches.contains(&a.watch.as_str()) {
            watches.push(&a.watch);
        }
    }
    let names = render::truncate_chars(&watches.join(", "), 200).into_owned();
    let n = alerts.len();
    format!("{n} new alert{} · {names}", if n == 1 { "" } else { "s" })
}

/// One digest line: `• <title linked> — watch · feed`, feed text escaped for `markup`.
pub fn line(alert: &Alert, markup: Markup) -> String {
    let title = markup.linked_title(alert, LINE_TITLE_MAX);
    format!(
        "• {title} — {} · {}",
        markup.bold(&markup.text(&alert.watch)),
        markup.text(&alert.feed)
    )
}

/// `n` alerts of `watch` whose digest lines differ in length (titles of 1 to 160
/// characters), for the platforms' digest tests.
#[cfg(test)]
pub(crate) fn test_alerts(n: usize, watch: &str) -> Vec<Alert> {
    (0..n)
        .map(|i| Alert {
            title: format!("{i} {}", "w".repeat(i * 37 % 160)),
            watch: watch.to_string(),
            ..crate::deliver::template::sample_alert()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_fit_bisects() {
        assert_eq!(largest_fit(30, |n| n <= 12), 12);
        assert_eq!(largest_fit(30, |_| true), 30);
        assert_eq!(largest_fit(30, |_| false), 1);
        assert_eq!(largest_fit(0, |_| false), 1);
    }

    #[test]
    fn digest_keys_depend_on_every_alert() {
        assert_eq!(digest_key(["a", "b"]), digest_key(["a", "b"]));
        assert_ne!(digest_key(["a", "b"]), digest_key(["a", "c"]));
        assert_ne!(digest_key(["ab"]), digest_key(["a", "b"]));
    }
}
