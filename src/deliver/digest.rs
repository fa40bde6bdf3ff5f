//! Digests: one message for a burst of alerts to one sink, one line per alert.
//!
//! Owns [`Digest`] (the alerts of one digest message and what they stand for), [`digest_key`]
//! and [`largest_fit`]. The dispatcher decides when a burst is a digest (more than
//! `digest_after` alerts, or follow-up notes of story updates, waiting) and asks the sink,
//! through [`crate::deliver::Sink::digest_fit`], how many of them one message can carry within
//! the platform's limits; the sinks build their digest payloads from [`Digest::headline`] and
//! [`Digest::line`].

use sha2::{Digest as _, Sha256};

use crate::deliver::alert::Alert;
use crate::deliver::render::{self, Markup};
use crate::deliver::update;

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

/// Whether a stored group key is a digest's ([`digest_key`]) rather than one row's own
/// idempotency key (which never has the `nw_d_` prefix).
pub fn is_digest_key(key: &str) -> bool {
    key.starts_with("nw_d_")
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

/// What the lines of a digest stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestKind {
    /// New alerts: each line an alert's title, watch and feed.
    Alerts,
    /// Follow-up notes of story updates (`story_updates = "reply"` where the message cannot be
    /// edited): each line a story's first alert, with every source that reported it so far.
    Notes,
}

/// The alerts of one digest message, and what they stand for.
#[derive(Debug, Clone, Copy)]
pub struct Digest<'a> {
    alerts: &'a [Alert],
    kind: DigestKind,
}

impl<'a> Digest<'a> {
    /// A digest of new alerts.
    pub fn alerts(alerts: &'a [Alert]) -> Self {
        Self {
            alerts,
            kind: DigestKind::Alerts,
        }
    }

    /// A digest of story-update notes: `alerts` are the stories' first alerts, each naming
    /// every source so far ([`Alert::story`]).
    pub fn notes(alerts: &'a [Alert]) -> Self {
        Self {
            alerts,
            kind: DigestKind::Notes,
        }
    }

    pub fn items(&self) -> &'a [Alert] {
        self.alerts
    }

    pub fn kind(&self) -> DigestKind {
        self.kind
    }

    /// The first `n` lines as a digest of their own (for fitting a burst into messages).
    pub fn first(&self, n: usize) -> Digest<'a> {
        Digest {
            alerts: &self.alerts[..n.min(self.alerts.len())],
            kind: self.kind,
        }
    }

    /// `12 new alerts · dprk-troops, victory-plan`, or `3 story updates · dprk-troops` (plain
    /// text: escape it for the platform).
    pub fn headline(&self) -> String {
        let mut watches: Vec<&str> = Vec::new();
        for a in self.alerts {
            if !watches.contains(&a.watch.as_str()) {
                watches.push(&a.watch);
            }
        }
        let names = render::truncate_chars(&watches.join(", "), 200).into_owned();
        let n = self.alerts.len();
        let s = if n == 1 { "" } else { "s" };
        match self.kind {
            DigestKind::Alerts => format!("{n} new alert{s} · {names}"),
            DigestKind::Notes => format!("{n} story update{s} · {names}"),
        }
    }

    /// One line: `• <title linked> — watch · feed` for an alert, `• <title linked> — Also
    /// reported by BBC (2 sources)` for a note; feed text escaped for `markup`.
    pub fn line(&self, alert: &Alert, markup: Markup) -> String {
        let title = markup.linked_title(alert, LINE_TITLE_MAX);
        format!("• {title} — {}", self.tail(alert, markup))
    }

    /// What a line says after its title, escaped for `markup` (Teams builds its lines from
    /// runs, so it takes this apart from the title).
    pub fn tail(&self, alert: &Alert, markup: Markup) -> String {
        match self.kind {
            DigestKind::Alerts => format!(
                "{} · {}",
                markup.bold(&markup.text(&alert.watch)),
                markup.text(&alert.feed)
            ),
            // A note is made only for a story with more than one source; the watch stands in
            // for the sources line should one ever have none.
            DigestKind::Notes => update::sources_line(alert, markup)
                .unwrap_or_else(|| markup.bold(&markup.text(&alert.watch))),
        }
    }
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
    fn a_digest_of_notes_names_each_storys_sources_instead_of_its_watch() {
        let mut alerts = test_alerts(2, "dprk-troops");
        alerts[0].story = Some(crate::deliver::alert::StoryRef {
            id: "st_1".into(),
            sources: vec!["demo".into(), "Reuters".into(), "B<B>C".into()],
            updated_at: None,
        });
        let notes = Digest::notes(&alerts);
        assert_eq!(notes.headline(), "2 story updates · dprk-troops");
        assert_eq!(
            Digest::notes(&alerts[..1]).headline(),
            "1 story update · dprk-troops"
        );
        let line = notes.line(&alerts[0], Markup::Html);
        assert!(
            line.ends_with(" — Also reported by Reuters and B&lt;B&gt;C (3 sources)"),
            "{line}"
        );
        assert!(!line.contains("dprk-troops"), "{line}");
        // A note without sources (never made) shows the watch rather than nothing.
        assert!(
            notes
                .line(&alerts[1], Markup::Html)
                .ends_with("— <b>dprk-troops</b>")
        );
        // Alerts keep their line.
        let alert = Digest::alerts(&alerts);
        assert_eq!(alert.headline(), "2 new alerts · dprk-troops");
        assert!(
            alert
                .line(&alerts[0], Markup::Html)
                .ends_with("<b>dprk-troops</b> · demo-world")
        );
        assert_eq!(alert.first(1).items().len(), 1);
        assert_eq!(alert.first(9).items().len(), 2);
    }

    #[test]
    fn digest_keys_depend_on_every_alert() {
        assert_eq!(digest_key(["a", "b"]), digest_key(["a", "b"]));
        assert_ne!(digest_key(["a", "b"]), digest_key(["a", "c"]));
        assert_ne!(digest_key(["ab"]), digest_key(["a", "b"]));
        assert!(is_digest_key(&digest_key(["a"])));
        let own = crate::deliver::alert::idempotency_key("w", "s", "f", "i");
        assert!(!is_digest_key(&own), "{own}");
    }
}
