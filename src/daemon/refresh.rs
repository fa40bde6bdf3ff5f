//! One feed, one poll, as a script: fetch → parse → find new items → match → store + enqueue.
//!
//! Owns [`refresh_feed`] and [`Refreshed`]; the scheduling arithmetic ([`next_after_success`],
//! [`next_after_failure`]) is in `schedule`, which new items may alert (a new address, a
//! baseline) in `intake`. The scheduler calls it per due feed; everything it writes (the
//! new items' archived text included) goes through one [`Store::commit_poll`] transaction,
//! so a crash at any point loses nothing.

use std::time::Duration;

use crate::config::secret::{redact_url, shown_error};
use crate::config::{FeedPlan, FeedSource, OnNewFeed};
use crate::daemon::stories::{Found, Grouped, Stories};
use crate::deliver::{Alert, idempotency_key};
use crate::feed::FeedItem;
use crate::feed::fetch::{Fetcher, Validators};
use crate::feed::limits::Permits;
use crate::feed::page::Pages;
use crate::feed::poll::{Polled, poll};
use crate::feed::repair::Repair;
use crate::matcher::FeedRef;
use crate::plan::Plan;
use crate::semantic::combine::{self, Detail};
use crate::semantic::runtime::Semantic;
use crate::semantic::score::ItemVector;
use crate::store::{
    FailureRecord, FeedState, Millis, NewDelivery, NewUpdate, PollCommit, Store, StoreError,
    own_link, shared_links,
};

/// How long the same watch stays quiet about the same canonical link.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// Consecutive HTML answers after which a feed link found on the page is followed (at once
/// on a feed's first poll, when its URL has never served a feed).
pub const HTML_POLLS_TO_MOVE: u32 = 3;

/// One poll's result: what happened, and how long until the next poll (the scheduler waits on
/// a monotonic clock; the stored `next_poll_at` is for restarts and status). The feed's new
/// state is in the store, its one copy.
#[derive(Debug, Clone)]
pub struct PollResult {
    pub outcome: Refreshed,
    pub next_in: Duration,
    /// How long the feed took to fetch and parse (not its article pages, matching or commit):
    /// `newswatch_fetch_duration_seconds`.
    pub fetched_in: Duration,
    /// Where the poll stored that the feed lives from now on, when it changed that.
    pub relocated: Option<Relocated>,
}

/// A change of where a feed is polled, stored by a successful poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relocated {
    /// Moved to this URL (a permanent redirect, or the feed an HTML page links to).
    To(url::Url),
    /// A move undone: the configured URL answered for the failing new one.
    BackToConfig,
}

/// The outcome of one poll, for logs, metrics and the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    NotModified,
    Ok {
        items: usize,
        new_items: usize,
        enqueued: usize,
        suppressed: usize,
        baseline: bool,
    },
    Failed {
        error: String,
    },
}

fn ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// After this many failed polls in a row of a moved feed's new URL, every other poll asks the
/// configured URL instead: a move is undone when the new URL broke and the old one answers
/// again (a redirect put up by mistake, a new host that went away).
const MOVED_FALLBACK_AFTER: u32 = 3;

/// Where to fetch, and whether it is the configured URL standing in for a failing moved one:
/// a permanent redirect's new URL while the configured URL is unchanged, except on every
/// other poll once the new URL has failed [`MOVED_FALLBACK_AFTER`] times in a row.
pub(crate) fn poll_source(feed: &FeedPlan, state: Option<&FeedState>) -> (FeedSource, bool) {
    match (moved_to(feed, state), state.map_or(0, |s| s.failures)) {
        (Some(_), failures) if failures >= MOVED_FALLBACK_AFTER && failures % 2 == 1 => {
            (feed.source.clone(), true)
        }
        (Some(url), _) => (FeedSource::Http(url), false),
        (None, _) => (feed.source.clone(), false),
    }
}

/// The URL a permanent redirect moved `feed` to, while its configured URL is the one the
/// move was found on (a changed URL forgets the move).
pub(crate) fn moved_to(feed: &FeedPlan, state: Option<&FeedState>) -> Option<url::Url> {
    state
        .filter(|s| s.config_url == feed.source.to_string())
        .and_then(|s| s.moved_url.as_deref())
        .and_then(|u| url::Url::parse(u).ok())
}

/// Say what was repaired in a feed's document: a warning when items were dropped (past the
/// item cap, or cut in half by a truncated download), so they do not vanish without a trace,
/// or read without some of their fields;
/// the rest at debug level (many feeds need the same small repair on every poll).
fn log_repairs(feed: &FeedPlan, repairs: &[Repair]) {
    if repairs.is_empty() {
        return;
    }
    let list = repairs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if repairs.iter().any(|r| {
        matches!(
            r,
            Repair::TooManyItems | Repair::PartialItem | Repair::UnreadableItems
        )
    }) {
        tracing::warn!(feed = %feed.name, repairs = %list, "items dropped from the feed's document");
    } else if repairs.contains(&Repair::UnreadableFields) {
        // Read on their titles and summaries: a watch on their other text cannot see them.
        tracing::warn!(feed = %feed.name, repairs = %list, "items read without some of their fields");
    } else {
        tracing::debug!(feed = %feed.name, repairs = %list, "the feed's document was repaired");
    }
}

fn validators(feed: &FeedPlan, state: Option<&FeedState>) -> Validators {
    match state.filter(|s| s.config_url == feed.source.to_string()) {
        Some(s) => Validators {
            etag: s.etag.clone(),
            last_modified: s.last_modified.clone(),
        },
        None => Validators::default(),
    }
}

/// What decides about a poll's matches after the keywords: story grouping and the semantic
/// watches' model.
#[derive(Clone, Copy)]
pub struct Judges<'a> {
    pub stories: &'a Stories,
    pub semantic: &'a Semantic,
}

/// What a poll fetches with: the feed fetcher, and the article pages' state (pacing, cache).
#[derive(Clone, Copy)]
pub struct Net<'a> {
    pub fetcher: &'a Fetcher,
    pub pages: &'a Pages,
}

/// Poll one feed and record the result. `permits` (the feed host's and a global fetch slot)
/// are dropped as soon as the feed is fetched: its article pages take their own.
/// Tests: a feed of this name panics in its poll, as a bug would. The poll task's recovery
/// is otherwise out of reach (the parser guards itself), and a test of its helper alone
/// passed with the recovery gone.
#[cfg(test)]
pub(crate) const PANICS_FOR_TESTS: &str = "panics-in-its-poll";

pub async fn refresh_feed<S: Store>(
    store: &S,
    net: Net<'_>,
    judges: Judges<'_>,
    plan: &Plan,
    feed: &FeedPlan,
    state: Option<&FeedState>,
    permits: Permits,
) -> Result<PollResult, StoreError> {
    #[cfg(test)]
    if feed.name == PANICS_FOR_TESTS {
        panic!("a bug in the poll of {}", feed.name);
    }
    let now = crate::store::now_millis();
    let config_url = feed.source.to_string();
    // A different URL may be a different document: its backlog is baselined like a new
    // feed's, instead of alerting everything in it (unless it is mostly items seen: below).
    let baselined = state.is_some_and(|s| s.baselined && s.config_url == config_url);
    let (failures, html_streak) = FeedState::streaks_at(state, &config_url);

    let (source, fallback) = poll_source(feed, state);
    // A feed link on an HTML page is followed when this URL has never served a feed, or has
    // served HTML several polls in a row: one soft-404 or home page must not re-point a feed.
    let follow = !baselined || html_streak + 1 >= HTML_POLLS_TO_MOVE;
    // The stored validators are the moved URL's: the configured one is asked for its body.
    let validators = if fallback {
        Validators::default()
    } else {
        validators(feed, state)
    };
    let fetch_started = std::time::Instant::now();
    let polled = poll(net.fetcher, &source, &validators, follow, feed.source.url()).await;
    let fetched_in = fetch_started.elapsed();
    drop(permits);
    let done = |outcome: Refreshed, at: Millis| PollResult {
        outcome,
        next_in: Duration::from_millis((at - now).max(0) as u64),
        fetched_in,
        relocated: None,
    };
    // A failed poll, with the count of HTML pages in a row it leaves.
    let failed = |html_streak| Failed {
        config_url: &config_url,
        failures,
        html_streak,
        now,
        fetched_in,
    };
    let (mut doc, body, discovered) = match polled {
        Err(e) => {
            let html_streak = match e {
                crate::feed::poll::PollError::HtmlPage { .. } => html_streak + 1,
                _ => html_streak,
            };
            return failed(html_streak)
                .record(store, plan, feed, &e.to_string(), e.retry_after())
                .await;
        }
        Ok(Polled::NotModified { max_age }) => {
            let at = next_after_success(plan, feed, now, &[max_age], false);
            crate::store::within(store.record_not_modified(&feed.name, &config_url, now, at))
                .await?;
            return Ok(done(Refreshed::NotModified, at));
        }
        Ok(Polled::Feed {
            feed: doc,
            body,
            discovered,
        }) => (doc, body, discovered),
    };

    log_repairs(feed, &doc.repairs);
    let renamed = match intake::renamed_from(store, plan, feed, state, &config_url).await {
        Ok(renamed) => renamed,
        Err(e) => {
            let what = "cannot look up the feed this one may have been renamed from";
            return failed(0).store_failed(store, plan, feed, what, e).await;
        }
    };
    if let Some(old) = &renamed {
        tracing::info!(feed = %feed.name, renamed_from = %old.feed,
            "a renamed feed's first poll: going on from what it had seen under its old name");
    }
    // An item alone under an id the feed gave several items before is keyed as it was then.
    let known_shared = renamed
        .as_ref()
        .or(state)
        .map_or(&[][..], |s| &s.shared_ids[..]);
    crate::feed::item::key_known_shared(&mut doc.items, known_shared);
    let shared_ids = crate::feed::item::remember_shared(&doc.shared_ids, known_shared);
    let doc_keys = DocKeys::of(&doc.items);
    let seen_as = renamed.as_ref().map_or(feed.name.as_str(), |old| &old.feed);
    let known = match crate::store::within(store.known_items(seen_as, &doc_keys.lookup)).await {
        Ok(known) => known,
        Err(e) => {
            let what = "cannot read which of this poll's items were seen";
            return failed(0).store_failed(store, plan, feed, what, e).await;
        }
    };
    let mut known = known;
    // (A feed that never polled successfully has seen nothing under any spelling.)
    let has_seen = renamed
        .as_ref()
        .or(state)
        .is_some_and(|s| s.last_success_at.is_some());
    let respellings = doc_keys.respellings(&doc.items, &doc_keys.known(&doc.items, &known));
    if has_seen && !respellings.is_empty() {
        let alts: Vec<String> = respellings.iter().map(|(_, alt)| alt.clone()).collect();
        match crate::store::within(store.known_items(seen_as, &alts)).await {
            Ok(seen) => known.extend(
                respellings
                    .into_iter()
                    .filter(|(_, alt)| seen.contains(alt))
                    .map(|(key, _)| key),
            ),
            Err(e) => {
                let what = "cannot read which of this poll's items were seen";
                return failed(0).store_failed(store, plan, feed, what, e).await;
            }
        }
    }
    let is_known = doc_keys.known(&doc.items, &known);
    let intake = Intake::judge(
        plan,
        &Address {
            state: renamed.as_ref().or(state),
            baselined,
            discovered: discovered.is_some(),
            moved_to: body.moved_to.as_ref().map(url::Url::as_str),
            fallback,
        },
        doc_keys.firsts.len(),
        is_known.iter().filter(|k| **k).count(),
        now,
    );
    let baseline = intake.baseline;

    // The new items, each once, and whether each will be matched.
    let mut fresh: Vec<(usize, bool)> = doc_keys
        .firsts
        .iter()
        .zip(&is_known)
        .filter(|(_, known)| !**known)
        .map(|(&i, _)| (i, intake.alertable(&doc.items[i])))
        .collect();
    fill_bodies(
        net.pages,
        plan,
        feed,
        &source,
        &body,
        &mut doc.items,
        &fresh,
    )
    .await;
    // Pages went in the document's order, newest first (their time and text budget favour
    // the latest news); matches and alerts go oldest first.
    keys::oldest_first(&doc.items, &mut fresh);
    let picked: Vec<usize> = fresh.iter().filter(|(_, a)| *a).map(|&(i, _)| i).collect();
    let keyword = matching::match_new(plan, feed, &mut doc.items, picked).await;
    let items = &doc.items;

    let feed_ref = FeedRef {
        name: &feed.name,
        tags: &feed.tags,
    };
    let nowdt = chrono::DateTime::from_timestamp_millis(now).unwrap_or_else(chrono::Utc::now);
    // Every new item goes to the archive with whether it was matched, so a backtest matches
    // exactly the items this poll did (a baselined backlog is archived, never alertable).
    let new_items: Vec<(&FeedItem, bool)> = fresh.iter().map(|&(i, a)| (&items[i], a)).collect();
    let alertable: Vec<&FeedItem> = new_items
        .iter()
        .filter(|(_, a)| *a)
        .map(|(it, _)| *it)
        .collect();
    // Semantic watches judge the same items by meaning (on their own threads). When they
    // cannot, the poll fails and commits nothing: its items are judged again next time.
    let judged = match combine::judge(
        judges.semantic,
        plan.semantic.as_ref(),
        &plan.watches,
        Some(feed_ref),
        &alertable,
        &[],
        keyword,
        Detail::Matches,
    )
    .await
    {
        Ok(j) => j,
        Err(e) => {
            return failed(html_streak)
                .record(store, plan, feed, &e.to_string(), None)
                .await;
        }
    };
    // The vectors go to the archive beside their items (the baselined backlog has none).
    let mut made = judged.vectors.into_iter();
    let vectors: Vec<Option<ItemVector>> = new_items
        .iter()
        .map(|(_, a)| if *a { made.next().flatten() } else { None })
        .collect();
    // Read from the whole document, and only when something matched (a URL parse per item).
    let shared = if judged.matches.iter().any(|m| !m.is_empty()) {
        shared_links(items)
    } else {
        Default::default()
    };
    let mut found = Vec::new();
    // Each match's watch (index into the specs), beside `found` and what it becomes.
    let mut watch_of = Vec::new();
    for (it, matches) in alertable.iter().zip(judged.matches) {
        for (m, meaning) in matches {
            let spec = &plan.watches.specs()[m.watch];
            watch_of.push(m.watch);
            let mut alert = Alert::new(&spec.name, &feed.name, it, &m, nowdt);
            alert.meaning = meaning;
            found.push(Found {
                watch: &spec.name,
                item: it,
                link: it
                    .link
                    .as_deref()
                    .filter(|l| own_link(Some(l), &shared).is_some()),
                alert,
            });
        }
    }
    // Which matches open a story and which update one (watches with `stories` only).
    let (grouped, story_items, generation) = match judges
        .stories
        .group(store, plan, &feed.name, now, found)
        .await
    {
        Ok(g) => g,
        Err(e) => {
            let what = "cannot read the stories to group this poll's matches";
            return failed(0).store_failed(store, plan, feed, what, e).await;
        }
    };
    let grouped_at = crate::store::now_millis();
    // From here to the commit, a failure or a panic must not leave the grouping cached.
    let grouping = judges.stories.uncommitted(story_items.len(), generation);
    // Counted once the poll is stored: a poll whose commit fails matches its items again
    // next time, and counted here they were counted twice.
    let counted: Vec<(&str, Option<&'static str>)> = grouped
        .iter()
        .zip(&watch_of)
        .map(|(g, &w)| {
            let watch = plan.watches.specs()[w].name.as_str();
            (watch, plan.stories.contains_key(watch).then(|| g.outcome()))
        })
        .collect();
    let mut deliveries = Vec::new();
    let mut updates = Vec::new();
    for (g, w) in grouped.into_iter().zip(watch_of) {
        let sinks = &plan.watches.specs()[w].sinks;
        let alert = match g {
            Grouped::Alert(a) => a,
            Grouped::Quiet => continue,
            Grouped::Update(u) => {
                let alert_json = u.alert.to_json();
                for sink in sinks {
                    updates.push(NewUpdate {
                        delivery: NewDelivery {
                            idem_key: u.key(sink),
                            sink: sink.clone(),
                            watch: u.alert.watch.clone(),
                            item_key: u.item_key.clone(),
                            alert_json: alert_json.clone(),
                            canonical_link: None,
                        },
                        story_key: u.story_key(sink),
                        alert_item: Some((u.alert.feed.clone(), u.alert.item_key.clone())),
                    });
                }
                continue;
            }
        };
        let alert_json = alert.to_json();
        let canonical = own_link(alert.link.as_deref(), &shared);
        for sink in sinks {
            deliveries.push(NewDelivery {
                idem_key: idempotency_key(&alert.watch, sink, &feed.name, &alert.item_key),
                sink: sink.clone(),
                watch: alert.watch.clone(),
                item_key: alert.item_key.clone(),
                alert_json: alert_json.clone(),
                canonical_link: canonical.clone(),
            });
        }
    }

    let moved_to = body.moved_to.as_ref().or(discovered.as_ref()).cloned();
    let moved_url = moved_to.as_ref().map(|u| u.to_string());
    if let Some(u) = &moved_url {
        tracing::warn!(feed = %feed.name, from = %source.redacted(), to = %redact_url(u),
            "feed moved (permanent redirect or page feed link); polling the new URL from now on");
    }
    let back_to_config = fallback && moved_url.is_none();
    if back_to_config {
        tracing::warn!(feed = %feed.name, url = %source.redacted(), failures,
            "the moved feed's new URL kept failing and the configured URL answers: polling it again");
    }
    let at = next_after_success(plan, feed, now, &[body.max_age, doc.ttl], baseline);
    // Compressed here, outside the transaction. A record that cannot be made costs the
    // backtest those items, never the poll.
    let archive = if plan.daemon.archive.is_on() {
        let vectors: Vec<Option<&ItemVector>> = vectors.iter().map(Option::as_ref).collect();
        crate::store::archive::encode(&new_items, &vectors).unwrap_or_else(|e| {
            tracing::error!(feed = %feed.name, error = %e, "items not archived");
            None
        })
    } else {
        None
    };
    // (A document cut at the item cap is closed by the repairs too, the same way each time:
    // that is no truncated download, and its validators are kept.)
    let capped = doc.repairs.contains(&Repair::TooManyItems);
    let truncated = doc.repairs.iter().any(|r| match r {
        Repair::TruncatedTag | Repair::PartialItem => true,
        Repair::UnclosedElements => !capped,
        _ => false,
    });
    let commit = PollCommit {
        feed: feed.name.clone(),
        config_url: config_url.clone(),
        moved_url,
        back_to_config,
        // A baseline of a cut-off document has not seen the backlog past the cut: the next
        // poll, of the whole document, would alert all of it (years-old items of a new
        // feed). Not with `on_new_feed = "all"`, whose baseline withholds nothing.
        baseline_incomplete: baseline && truncated && plan.daemon.on_new_feed != OnNewFeed::All,
        shared_ids,
        // A document cut off by the end of its download is not remembered as this version
        // of the feed: asked conditionally, the server would answer 304 and the whole
        // document (with the item dropped from the end of this one) would wait for a change.
        etag: body.validators.etag.filter(|_| !truncated),
        last_modified: body.validators.last_modified.filter(|_| !truncated),
        now,
        next_poll_at: at,
        seen_from: renamed.map(|old| old.feed),
        item_keys: doc_keys.stored(&doc.items, &known),
        deliveries,
        repeat_window_ms: ms(REPEAT_WINDOW),
        archive,
        updates,
        story_items,
        grouped_at,
    };
    // On failure `grouping` is dropped: the stories' cache grouped items that are not stored,
    // and is rebuilt before next use.
    let out = match crate::store::within(store.commit_poll(&commit)).await {
        Ok(out) => out,
        Err(e) => {
            // Nothing of the poll is stored, so nothing is lost: its items are new again next
            // time.
            return failed(0)
                .store_failed(store, plan, feed, "cannot store this poll", e)
                .await;
        }
    };
    for (watch, story) in counted {
        crate::ops::metrics::record_match(watch);
        if let Some(outcome) = story {
            crate::ops::metrics::record_story_item(watch, outcome);
        }
    }
    if out.unsent_story_alerts > 0 {
        // A story was opened by an alert the store suppressed as a repeat (and stored
        // without it): the cache, which holds that alert, is rebuilt from the store. (Any
        // suppressed repeat beside any story opened used to rebuild it, reading 30 days of
        // story rows under its lock at most polls of a busy day.)
        drop(grouping);
    } else {
        grouping.committed();
    }
    let outcome = Refreshed::Ok {
        items: doc.items.len(),
        new_items: out.new_items,
        enqueued: out.enqueued,
        suppressed: out.suppressed,
        baseline,
    };
    let relocated = match moved_to {
        Some(u) => Some(Relocated::To(u)),
        None if back_to_config => Some(Relocated::BackToConfig),
        None => None,
    };
    Ok(PollResult {
        relocated,
        ..done(outcome, at)
    })
}

mod bodies;
use bodies::fill_bodies;
mod failed;
use failed::Failed;
mod intake;
use intake::{Address, Intake};
mod keys;
use keys::DocKeys;
pub(crate) use keys::oldest_items_first;
mod matching;
mod schedule;

pub use schedule::{HINT_CAP, interval, next_after_failure, next_after_success};
#[cfg(test)]
mod address_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod rename_tests;
#[cfg(test)]
mod repeat_tests;
#[cfg(test)]
mod story_tests;
#[cfg(test)]
mod tests;
