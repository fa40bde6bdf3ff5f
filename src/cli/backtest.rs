//! `newswatch backtest`: run the configured (or a candidate file's) watches over the item
//! archive and show what they would have sent: the alerts (printed as `try` prints them), a
//! chart of alerts per day, and deliveries per sink after cross-feed link suppression.
//!
//! Opens the state file read-only beside a running daemon (SQLite WAL readers do not block its
//! writer) and never takes the daemon's lock; never creates a state file.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::backtest::{Found, REPEAT_WINDOW, Replay, Report, chart, day};
use crate::matcher::WatchSet;
use crate::plan::Plan;
use crate::semantic::runtime::Semantic;
use crate::store::any::AnyStore;
use crate::store::archive::{ArchiveKeep, ArchiveTotals};
use crate::store::{Millis, Store};

/// Records read per query: big enough to keep the matcher busy, small enough to bound memory.
const PAGE: i64 = 512;

/// What the command was asked.
pub struct Args<'a> {
    pub config: &'a Path,
    pub watches: &'a [String],
    pub since: Option<Duration>,
    pub json: bool,
}

#[derive(Serialize)]
struct JsonWatch<'a> {
    watch: &'a str,
    sinks: &'a [String],
    alerts: Vec<JsonAlert<'a>>,
    /// Matches dropped as repeats of a link the watch alerted within the repeat window.
    suppressed: usize,
    /// A watch with stories: matches that joined an alerted story from a new source (a
    /// story update each, not an alert).
    story_updates: usize,
    /// A watch with stories: matches that joined a story and sent nothing.
    story_quiet: usize,
    per_day: BTreeMap<String, usize>,
    per_sink: &'a BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct JsonAlert<'a> {
    #[serde(flatten)]
    line: super::tryout::JsonLine<'a>,
    first_seen: String,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    since: Option<String>,
    items: usize,
    records: usize,
    /// Records that could not be read (each named on stderr); their items were skipped.
    unreadable: usize,
    first_seen: Option<String>,
    last_seen: Option<String>,
    watches: Vec<JsonWatch<'a>>,
}

fn rfc3339(t: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The watches to replay: all of them, or those named (each must exist).
fn select(plan: &Plan, names: &[String]) -> Result<Option<WatchSet>, String> {
    if names.is_empty() {
        return Ok(None);
    }
    let specs = plan.watches.specs();
    let mut chosen = Vec::new();
    for n in names {
        match specs.iter().find(|s| &s.name == n) {
            Some(s)
                if !chosen
                    .iter()
                    .any(|c: &crate::matcher::WatchSpec| c.name == s.name) =>
            {
                chosen.push(s.clone())
            }
            Some(_) => {}
            None => {
                let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                return Err(format!(
                    "no watch named \"{n}\" in {} (its watches: {})",
                    plan.path.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
    }
    // Compiled again from the validated specs: cannot fail where the whole set compiled.
    WatchSet::compile(chosen)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Below this many items a backtest takes well under a second: no bar to flicker.
const BAR_FROM: i64 = 50_000;

/// A progress bar on stderr for long runs when both outputs are terminals; hidden otherwise.
fn progress(total: i64) -> indicatif::ProgressBar {
    if total < BAR_FROM || !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(0));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} items, {per_sec}, {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

async fn replay(
    store: &AnyStore,
    plan: &Plan,
    engine: &Semantic,
    watches: &WatchSet,
    since: Millis,
) -> Result<Report, String> {
    // Records before `since` are replayed unreported: they tell the link rule what was
    // alerted before the reported range. All of them, not one repeat window's: whether a
    // link alerted depends on its whole history (the daemon remembers a link only when it
    // alerts), so a shorter look-back took a repeat for an alert and then dropped the real
    // alert after it as its repeat.
    let from = 0;
    let total = store
        .archive_totals(from)
        .await
        .map_err(|e| e.to_string())?;
    let bar = progress(total.items);
    let mut replay = Replay::new(watches, &plan.feeds, REPEAT_WINDOW).with_stories(&plan.stories);
    let mut report = Report::new(watches);
    let mut after = 0;
    loop {
        let page = store
            .archive_page(from, after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            let reported = row.first_seen >= since;
            let mut found: Vec<Found> = Vec::new();
            // A record that cannot be read costs its items, not the whole backtest.
            let crate::backtest::Replayed {
                mut matched,
                vectors,
                items: n,
            } = match replay.matched(row) {
                Ok(r) => r,
                Err(e) => {
                    // Counted also before the range: it may have held an alert that makes a
                    // later one a repeat, so the figures in range depend on it too.
                    bar.suspend(|| tell!("newswatch: {e}: its items are skipped"));
                    report.unreadable += 1;
                    continue;
                }
            };
            if plan.semantic.is_some() {
                // The vectors the daemon kept: only items it did not embed are embedded now.
                let stored: Vec<_> = vectors.iter().map(Option::as_ref).collect();
                let (items, keyword): (Vec<_>, Vec<Vec<_>>) = matched
                    .into_iter()
                    .map(|(item, ms)| (item, ms.into_iter().map(|(m, _)| m).collect()))
                    .unzip();
                let refs: Vec<&crate::feed::FeedItem> = items.iter().collect();
                let feed = Some(replay.feed_ref(row));
                let judged = crate::semantic::combine::judge(
                    engine,
                    plan.semantic.as_ref(),
                    watches,
                    feed,
                    &refs,
                    &stored,
                    keyword,
                    crate::semantic::combine::Detail::Matches,
                )
                .await
                .map_err(|e| e.to_string())?;
                matched = items.into_iter().zip(judged.matches).collect();
            }
            replay.emit(row, matched, &mut |f| {
                if reported {
                    found.push(f)
                }
            });
            if reported {
                report.read(row, n);
                for f in found {
                    report.add(watches, f);
                }
            }
            bar.inc(n as u64);
        }
    }
    bar.finish_and_clear();
    Ok(report)
}

/// Why there is nothing to replay, in words an operator can act on. `whole` is the archive
/// from its first record.
fn empty_archive(plan: &Plan, since: Option<Duration>, whole: &ArchiveTotals) -> String {
    let range = match since {
        Some(d) => format!(" from the last {}", humantime::format_duration(d)),
        None => String::new(),
    };
    let mut s = format!("the item archive holds no items{range}: nothing to backtest");
    if plan.daemon.archive == ArchiveKeep::Off {
        s.push_str(&format!(
            " (`archive` is \"off\" in {}: the daemon keeps no item text)",
            plan.path.display()
        ));
    }
    match whole.oldest {
        Some(oldest) if whole.items > 0 => s.push_str(&format!(
            " ({} older items are archived, the first on {}: try a longer --since)",
            whole.items,
            day(oldest)
        )),
        _ if plan.daemon.archive != ArchiveKeep::Off => {
            s.push_str(" (items are archived as the daemon finds new ones; none yet)")
        }
        _ => {}
    }
    s
}

pub async fn run(a: Args<'_>) -> ExitCode {
    // Nothing is sent: sink secrets may be missing from this shell.
    let plan = match crate::plan::load_never_sending(a.config) {
        Ok(p) => p,
        Err(e) => {
            tell!("{e}");
            return ExitCode::from(2);
        }
    };
    let subset = match select(&plan, a.watches) {
        Ok(s) => s,
        Err(e) => {
            tell!("newswatch: {e}");
            return ExitCode::from(2);
        }
    };
    let watches = subset.as_ref().unwrap_or(&plan.watches);
    // Semantic watches judge the archived items as the daemon did, with their model loaded
    // now. A model that cannot be loaded is the configuration's fault (`check` reports it at
    // its `[semantic] model` key): the same exit as an invalid configuration.
    let engine = Semantic::new();
    if let Some(sp) = &plan.semantic
        && let Err(e) = engine.prepare(sp)
    {
        tell!("newswatch: {e}");
        return ExitCode::from(2);
    }
    let at = match super::status::existing_state(&plan) {
        Ok(p) => p,
        Err(e) => {
            tell!("newswatch: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let store = AnyStore::open_read_only(&at)
            .await
            .map_err(|e| format!("cannot read {at}: {e}"))?;
        let since = a.since.map_or(0, |d| {
            crate::store::now_millis()
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        });
        let totals = store.archive_totals(since).await.map_err(|e| {
            // A state file no archiving daemon has opened yet has no archive table.
            if e.to_string().contains("no such table") {
                format!(
                    "{at} has no item archive yet: a daemon of this version creates it on its \
                     next start"
                )
            } else {
                format!("cannot read {at}: {e}")
            }
        })?;
        if totals.items == 0 {
            let whole = store.archive_totals(0).await.map_err(|e| e.to_string())?;
            return Ok((None, empty_archive(&plan, a.since, &whole), since));
        }
        let report = replay(&store, &plan, &engine, watches, since).await?;
        Ok::<_, String>((Some(report), String::new(), since))
    }
    .await;
    let (report, empty, since) = match result {
        Ok(r) => r,
        Err(e) => {
            tell!("newswatch: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let printed = match (&report, a.json) {
        (Some(r), true) => print_json(&mut out, watches, r, a.since.map(|_| since)),
        (Some(r), false) => print_human(&mut out, &plan, watches, r),
        (None, true) => {
            tell!("newswatch: {empty}");
            print_json(
                &mut out,
                watches,
                &Report::new(watches),
                a.since.map(|_| since),
            )
        }
        (None, false) => writeln!(out, "{empty}"),
    };
    super::after_output(printed, ExitCode::SUCCESS)
}

fn print_json(
    out: &mut impl Write,
    watches: &WatchSet,
    r: &Report,
    since: Option<Millis>,
) -> std::io::Result<()> {
    let doc = JsonReport {
        since: since.map(rfc3339),
        items: r.items,
        records: r.records,
        unreadable: r.unreadable,
        first_seen: r.first_seen.map(rfc3339),
        last_seen: r.last_seen.map(rfc3339),
        watches: watches
            .specs()
            .iter()
            .zip(&r.watches)
            .map(|(spec, w)| JsonWatch {
                watch: &spec.name,
                sinks: &spec.sinks,
                alerts: w
                    .alerts
                    .iter()
                    .map(|f| JsonAlert {
                        line: super::tryout::json_line(watches, &f.feed, &f.item, Some(&f.m))
                            .with_meaning(f.meaning.as_ref()),
                        first_seen: rfc3339(f.first_seen),
                    })
                    .collect(),
                suppressed: w.suppressed,
                story_updates: w.story_updates,
                story_quiet: w.story_quiet,
                per_day: w.per_day.iter().map(|(d, n)| (d.to_string(), *n)).collect(),
                per_sink: &w.per_sink,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::other)?;
    writeln!(out)
}

fn print_human(
    out: &mut impl Write,
    plan: &Plan,
    watches: &WatchSet,
    r: &Report,
) -> std::io::Result<()> {
    let color = std::io::stdout().is_terminal();
    // No day read: every archived poll in the range was unreadable. The report is still
    // printed (it printed nothing, and exit 0 read as "no alerts").
    let span = r.first_seen.zip(r.last_seen).map(|(f, l)| (day(f), day(l)));
    match span {
        Some((from, to)) => writeln!(
            out,
            "Backtest of {} over {} archived items ({} poll{}), {from} to {to}\n",
            plan.path.display(),
            r.items,
            r.records,
            if r.records == 1 { "" } else { "s" }
        )?,
        None => writeln!(
            out,
            "Backtest of {}: no archived poll in the range could be read\n",
            plan.path.display()
        )?,
    }
    if r.unreadable > 0 {
        writeln!(
            out,
            "{} archived poll{} could not be read (named above): {} items are missing\n",
            r.unreadable,
            if r.unreadable == 1 { "" } else { "s" },
            if r.unreadable == 1 { "its" } else { "their" }
        )?;
    }
    for (spec, w) in watches.specs().iter().zip(&r.watches) {
        for f in &w.alerts {
            super::tryout::print_human(
                out,
                watches,
                &f.feed,
                &f.item,
                &f.m,
                color,
                super::tryout::Why {
                    meaning: f.meaning.as_ref(),
                    ..super::tryout::Why::default()
                },
            )?;
        }
        let repeats = match w.suppressed {
            0 => String::new(),
            n => format!(", {n} more dropped as repeats of a recently alerted link"),
        };
        let grouped = match (w.story_updates, w.story_quiet) {
            (0, 0) => String::new(),
            (u, q) => format!(
                ", {} more joined an earlier story ({u} story update{})",
                u + q,
                if u == 1 { "" } else { "s" }
            ),
        };
        writeln!(
            out,
            "{}: {} alert{}{repeats}{grouped}",
            spec.name,
            w.alerts.len(),
            if w.alerts.len() == 1 { "" } else { "s" }
        )?;
        if let (false, Some((from, to))) = (w.alerts.is_empty(), span) {
            for line in chart(&w.per_day, from, to) {
                writeln!(out, "  {line}")?;
            }
        }
        let sinks: Vec<String> = spec
            .sinks
            .iter()
            .map(|s| format!("{s} {}", w.per_sink.get(s).copied().unwrap_or(0)))
            .collect();
        writeln!(
            out,
            "  per sink: {}\n",
            if sinks.is_empty() {
                "no sinks".to_string()
            } else {
                sinks.join(", ")
            }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{FeedItem, ItemKey};
    use crate::store::archive::{ArchiveRecord, encode};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{PollCommit, Store};

    const DAY: Millis = 86_400_000;
    const T0: Millis = 1_700_000_000_000;

    fn plan() -> Plan {
        crate::plan::load_str(
            Path::new("t.toml"),
            "[[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[sink]]\nname = \"ops\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"troops\"]\nsinks = [\"out\", \"ops\"]\n\n\
             [[watch]]\nname = \"quiet\"\nterms = [\"nothing matches this\"]\nsinks = [\"ops\"]\n"
                .to_string(),
        )
        .unwrap()
    }

    fn record(key: &str) -> ArchiveRecord {
        let item = FeedItem {
            key: ItemKey(key.into()),
            title: format!("troops {key}"),
            link: Some("https://news.example/same".into()),
            ..FeedItem::default()
        };
        encode(&[(&item, true)], &[]).unwrap().unwrap()
    }

    async fn archived(polls: Vec<(Millis, ArchiveRecord)>) -> AnyStore {
        let store = SqliteStore::in_memory().await.unwrap();
        for (i, (at, rec)) in polls.into_iter().enumerate() {
            store
                .commit_poll(&PollCommit {
                    feed: "a".into(),
                    config_url: "https://a.example/rss".into(),
                    now: at,
                    item_keys: vec![format!("k{i}")],
                    archive: Some(rec),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        AnyStore::Sqlite(store)
    }

    /// Regression: `--since` replayed one repeat window before the range unreported. A link
    /// on days 0, 3 and 8: the daemon alerts days 0 and 8 (day 3 repeats day 0); with the
    /// range from day 7.5 the look-back began at day 0.5, took day 3 for the alert and
    /// dropped day 8's real alert as its repeat.
    #[tokio::test]
    async fn a_since_range_knows_every_earlier_alert_of_a_link() {
        let p = plan();
        let store = archived(vec![
            (T0, record("d0")),
            (T0 + 3 * DAY, record("d3")),
            (T0 + 8 * DAY, record("d8")),
        ])
        .await;
        let r = replay(&store, &p, &Semantic::new(), &p.watches, T0 + 15 * DAY / 2)
            .await
            .unwrap();
        let w = &r.watches[0];
        let keys: Vec<&str> = w.alerts.iter().map(|f| f.item.key.0.as_str()).collect();
        assert_eq!((keys, w.suppressed), (vec!["d8"], 0));
        // Every sink of every watch is counted, the ones that got nothing too.
        assert_eq!(
            serde_json::to_string(&r.watches[1].per_sink).unwrap(),
            r#"{"ops":0}"#
        );
        assert_eq!(r.watches[0].per_sink["ops"], 1);
        // What an alert keeps to the end of the run: what it shows, not the item's texts.
        assert!(w.alerts[0].item.summary.is_empty() && w.alerts[0].item.title == "troops d8");
    }

    /// Regression: one damaged record failed the whole backtest.
    #[tokio::test]
    async fn a_damaged_record_is_skipped_and_counted() {
        let p = plan();
        let mut damaged = record("bad");
        damaged.blob.truncate(damaged.blob.len() / 2);
        let mut later = record("later");
        // Another link: not a repeat of the first alert.
        let item = FeedItem {
            key: ItemKey("later".into()),
            title: "troops later".into(),
            link: Some("https://news.example/other".into()),
            ..FeedItem::default()
        };
        later = encode(&[(&item, true)], &[]).unwrap().unwrap_or(later);
        let store = archived(vec![
            (T0, record("first")),
            (T0 + DAY, damaged),
            (T0 + 2 * DAY, later),
        ])
        .await;
        let r = replay(&store, &p, &Semantic::new(), &p.watches, 0)
            .await
            .unwrap();
        assert_eq!((r.unreadable, r.records, r.items), (1, 2, 2));
        let keys: Vec<&str> = r.watches[0]
            .alerts
            .iter()
            .map(|f| f.item.key.0.as_str())
            .collect();
        assert_eq!(keys, ["first", "later"]);
        // Before the range too: it is named on stderr, so it is counted.
        let r = replay(&store, &p, &Semantic::new(), &p.watches, T0 + 2 * DAY)
            .await
            .unwrap();
        assert_eq!((r.unreadable, r.records), (1, 1));
    }

    /// Regression (review): when every archived poll in the range was unreadable, the report
    /// printed nothing at all (exit 0), not even the unreadable count or a watch's 0 alerts.
    #[tokio::test]
    async fn a_range_of_only_unreadable_records_still_prints_the_report() {
        let p = plan();
        let mut damaged = record("bad");
        damaged.blob.truncate(damaged.blob.len() / 2);
        let store = archived(vec![(T0, record("first")), (T0 + 2 * DAY, damaged)]).await;
        let r = replay(&store, &p, &Semantic::new(), &p.watches, T0 + DAY)
            .await
            .unwrap();
        let mut out = Vec::new();
        print_human(&mut out, &p, &p.watches, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("no archived poll in the range could be read")
                && text.contains("1 archived poll could not be read")
                && text.contains(&format!("{}: 0 alerts", p.watches.specs()[0].name)),
            "{text}"
        );
    }
}
