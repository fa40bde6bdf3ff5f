//! Grouping one claimed batch of a sink into units: what each request carries.
//!
//! Owns [`Claimed`] (a delivery with its alert decoded), [`Unit`], [`plan_units`] (alerts:
//! singles, stored digests, new digests of a burst; story updates: one unit per story) and
//! [`fold_notes`] (the follow-up notes of a burst of story updates, as digests), with the
//! story helpers they share. Called by [`super::send::send_batch`] only; the store calls made
//! here are the decoding's dead letters and [`find_superseded`]'s read.

use std::collections::HashMap;

use super::outbox::Outbox;
use super::record::unrecorded;
use super::send::DrainReport;
use crate::deliver::alert::Alert;
use crate::deliver::digest::{Digest, digest_key, is_digest_key};
use crate::deliver::sink::Sink;
use crate::store::{Delivery, now_millis};

/// A claimed delivery with its alert decoded.
pub(super) struct Claimed {
    pub(super) d: Delivery,
    pub(super) alert: Alert,
    /// A story update whose story's message already shows as many sources
    /// ([`find_superseded`]): done without a message.
    pub(super) superseded: bool,
}

/// What one request carries: indices into the claimed batch, and the key it goes under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unit {
    pub(super) members: Vec<usize>,
    pub(super) key: String,
    /// A digest (sent with `send_digest`), even if only one of its rows is left.
    pub(super) digest: bool,
    /// Its key is stored on its rows before the send: a unit never attempted (its key
    /// must not change on a retry), an alert an older release tried without storing a key
    /// (its own, as it went then), and every story update (the key marks its rows
    /// attempted).
    pub(super) fresh: bool,
    /// Story updates of one story (sent with `update`): the last carries every source so
    /// far, so one edit stands for all of them. With `digest`: the updates of several
    /// stories, sent as one digest of their follow-up notes.
    pub(super) update: bool,
}

/// Decode claimed deliveries; an unreadable stored alert is a dead letter at once.
pub(super) async fn decode<S: Outbox>(
    store: &S,
    sink: &str,
    batch: Vec<Delivery>,
    report: &mut DrainReport,
) -> Vec<Claimed> {
    let mut out = Vec::with_capacity(batch.len());
    for d in batch {
        match serde_json::from_str::<Alert>(&d.alert_json) {
            Ok(alert) => out.push(Claimed {
                d,
                alert,
                superseded: false,
            }),
            Err(e) => {
                let msg = format!("stored alert is unreadable: {e}");
                // Said only once it is true: a store error leaves the row claimed, to be
                // claimed again when its lease runs out, and that is what the log says.
                match store
                    .mark_dead(&[d.id], &msg, now_millis(), d.claimed_until)
                    .await
                {
                    Ok(true) => {
                        tracing::error!(sink, delivery = d.id, error = %msg, "dead letter");
                        report.dead += 1;
                    }
                    Ok(false) => unrecorded(sink, &[d.id]),
                    Err(store_error) => tracing::error!(
                        sink,
                        delivery = d.id,
                        error = %msg,
                        %store_error,
                        "unreadable delivery not recorded as a dead letter; retried when its claim runs out"
                    ),
                }
            }
        }
    }
    out
}

/// Of the updates of one story, the one that shows it newest: the most sources (grouping
/// order; polls commit in any order, so the outbox order can differ), then the latest in the
/// outbox.
pub(super) fn newest_update(items: &[Claimed], members: &[usize]) -> usize {
    members
        .iter()
        .copied()
        .max_by_key(|&i| (story_sources(&items[i].alert), i))
        .unwrap_or(0)
}

/// How many sources an update's alert names.
fn story_sources(a: &Alert) -> usize {
    a.story.as_ref().map_or(0, |s| s.sources.len())
}

/// The members of a digest of notes by story, in outbox order: each story's rows.
pub(super) fn by_story(items: &[Claimed], members: &[usize]) -> Vec<Vec<usize>> {
    let mut stories: Vec<Vec<usize>> = Vec::new();
    for &i in members {
        let key = items[i].d.story_key.as_deref();
        match stories
            .iter_mut()
            .find(|s| items[s[0]].d.story_key.as_deref() == key)
        {
            Some(s) => s.push(i),
            None => stories.push(vec![i]),
        }
    }
    stories
}

/// The notes a digest of notes shows: each story's newest update.
pub(super) fn notes_of(items: &[Claimed], members: &[usize]) -> Vec<Alert> {
    by_story(items, members)
        .iter()
        .map(|s| items[newest_update(items, s)].alert.clone())
        .collect()
}

/// Makes the newest update of each update unit name every source its story is known to have:
/// those of the unit's other updates and of the updates of the story already sent (two
/// instances, each grouping a different report as the story's next source, each showed only
/// its own, and the second edit took the first's source off the message). Marks it
/// superseded when the message already shows them all (an update grouped earlier can reach
/// the outbox after a later one went out, and sent, it would set the message back to fewer
/// sources). A store that cannot tell leaves the update as it is, to be sent: showing it
/// again is better than not at all. (A digest of notes of the same batch does not count: it
/// may yet fail for good, and the update would be lost.)
pub(super) async fn find_superseded<S: Outbox>(
    store: &S,
    sink: &str,
    items: &mut [Claimed],
    units: &[Unit],
) {
    // A digest of notes formed before is sent as it was formed (its retry carries the same
    // notes).
    for u in units.iter().filter(|u| u.update && !u.digest) {
        let newest = newest_update(items, &u.members);
        let Some(story) = items[newest].d.story_key.clone() else {
            continue;
        };
        let others: Vec<Alert> = u
            .members
            .iter()
            .filter(|&&i| i != newest)
            .map(|&i| items[i].alert.clone())
            .collect();
        merge_sources(&mut items[newest].alert, &others);
        match store.sent_updates(&story).await {
            Ok(sent) => {
                let sent = decoded(&sent);
                // What the message shows: every source of the edits sent (each named those
                // before it), which is more than any one stored update holds.
                let shown: std::collections::HashSet<&str> = sent
                    .iter()
                    .filter_map(|a| a.story.as_ref())
                    .flat_map(|s| s.sources.iter().map(String::as_str))
                    .collect();
                let c = &mut items[newest];
                merge_sources(&mut c.alert, &sent);
                c.superseded = !shown.is_empty() && shown.len() >= story_sources(&c.alert);
            }
            Err(e) => tracing::warn!(sink, delivery = items[newest].d.id, error = %e,
                "cannot read the story's sent updates; sending this one"),
        }
    }
}

/// Makes each story alert about to go out (alone or in a digest) name the sources its
/// story's updates done already hold: an alert revived from the dead letters (or one that
/// failed until its updates stopped waiting for it) went out naming its first feed only,
/// and the updates, done without a message to edit, never showed the others. A store that
/// cannot tell leaves the alert as it is.
/// Before the batch is cut into units, so a digest's fit counts the sources it shows.
pub(super) async fn show_known_sources<S: Outbox>(store: &S, sink: &str, items: &mut [Claimed]) {
    // Story alerts: a story (grouped) and no story key (that marks an update); not one of a
    // digest formed before, which is sent again as it was formed (and fitted).
    for c in items.iter_mut().filter(|c| {
        c.alert.story.is_some()
            && c.d.story_key.is_none()
            && c.d.group_key.as_ref().is_none_or(|g| *g == c.d.idem_key)
    }) {
        match store.sent_updates(&c.d.idem_key).await {
            Ok(done) => merge_sources(&mut c.alert, &decoded(&done)),
            Err(e) => tracing::warn!(sink, delivery = c.d.id, error = %e,
                "cannot read the story's updates; sending the alert as it was queued"),
        }
    }
}

/// The stored alerts (JSON) of a story's updates ([`Outbox::sent_updates`]) that decode.
fn decoded(stored: &[String]) -> Vec<Alert> {
    stored
        .iter()
        .filter_map(|j| serde_json::from_str::<Alert>(j).ok())
        .collect()
}

/// Adds to `alert`'s story the sources of `others` (updates of the same story) it does not
/// name yet, after its own, in the order they come.
fn merge_sources(alert: &mut Alert, others: &[Alert]) {
    let Some(story) = alert.story.as_mut() else {
        return;
    };
    for other in others.iter().filter_map(|a| a.story.as_ref()) {
        for source in &other.sources {
            if !story.sources.contains(source) {
                story.sources.push(source.clone());
            }
        }
    }
}

/// Group a claimed batch into units, in outbox order. Stored groups are kept as they were
/// formed; alerts never attempted become digests when more than `digest_after` wait and the
/// sink combines them (as many per message as `fit` says), else singles.
pub(super) fn plan_units(
    items: &[Claimed],
    digests: bool,
    digest_after: usize,
    fit: impl Fn(&[Alert]) -> usize,
) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut groups: HashMap<&str, usize> = HashMap::new();
    let mut fresh: Vec<usize> = Vec::new();
    let mut stories: HashMap<&str, usize> = HashMap::new();
    for (i, c) in items.iter().enumerate() {
        if let Some(story) = c.d.story_key.as_deref() {
            // A digest of notes formed before goes again as it was, under its key.
            if let Some(k) = c.d.group_key.as_deref().filter(|k| is_digest_key(k)) {
                join_digest(&mut units, &mut groups, k, i, true);
                continue;
            }
            // Updates of one story waiting together are one edit, under the newest's key,
            // stored on all of them before each send: it marks them attempted (a note once
            // attempted is never folded into a digest) and counts them as one request.
            match stories.get(story) {
                Some(&u) => units[u].members.push(i),
                None => {
                    stories.insert(story, units.len());
                    units.push(Unit {
                        members: vec![i],
                        key: c.d.idem_key.clone(),
                        digest: false,
                        fresh: true,
                        update: true,
                    });
                }
            }
            continue;
        }
        match c.d.group_key.as_deref() {
            Some(k) if k == c.d.idem_key => units.push(Unit {
                members: vec![i],
                key: k.to_string(),
                digest: false,
                fresh: false,
                update: false,
            }),
            Some(k) => join_digest(&mut units, &mut groups, k, i, false),
            // Attempted with no key stored: queued and tried by a release that stored none
            // (before the outbox's groups). Its try may have reached the platform: it goes
            // alone, under its own key, as it went then; folded into a digest, its key
            // changed and a receiver that drops repeats by key (Matrix's transaction id,
            // the webhook's idempotency key) showed it twice.
            None if c.d.attempts > 0 => units.push(Unit {
                members: vec![i],
                key: c.d.idem_key.clone(),
                digest: false,
                fresh: true,
                update: false,
            }),
            None => fresh.push(i),
        }
    }
    for &u in stories.values() {
        units[u].key = items[newest_update(items, &units[u].members)]
            .d
            .idem_key
            .clone();
    }
    let digesting = digests && items.len() > digest_after;
    let size = |rest: &[usize]| {
        if digesting {
            fit(&rest
                .iter()
                .map(|&i| items[i].alert.clone())
                .collect::<Vec<_>>())
        } else {
            1
        }
    };
    for run in runs(&fresh, size) {
        let members = run.to_vec();
        units.push(if let [single] = run {
            Unit {
                key: items[*single].d.idem_key.clone(),
                members,
                digest: false,
                fresh: true,
                update: false,
            }
        } else {
            Unit {
                key: digest_key(members.iter().map(|&i| items[i].d.idem_key.as_str())),
                members,
                digest: true,
                fresh: true,
                update: false,
            }
        });
    }
    units.sort_by_key(|u| u.members[0]);
    units
}

/// Adds row `i` to the digest formed before under `key` (its unit in `groups`), starting that
/// unit at its first row: of alerts, or with `update` of story-update notes.
fn join_digest<'a>(
    units: &mut Vec<Unit>,
    groups: &mut HashMap<&'a str, usize>,
    key: &'a str,
    i: usize,
    update: bool,
) {
    match groups.get(key) {
        Some(&u) => units[u].members.push(i),
        None => {
            groups.insert(key, units.len());
            units.push(Unit {
                members: vec![i],
                key: key.to_string(),
                digest: true,
                fresh: false,
                update,
            });
        }
    }
}

/// Folds the follow-up notes of a burst into digests, as [`plan_units`] folds alerts: when the
/// sink digests and more than `digest_after` rows wait, the story updates never attempted that
/// would each post a note (the sink cannot edit the story's message, and `story_updates =
/// "reply"`) go as digests of notes, as many per message as the sink fits. Edits, updates
/// sent as nothing, and notes attempted before keep their own unit. Run after
/// [`find_superseded`]: a note already shown is not one to send.
pub(super) fn fold_notes(
    items: &[Claimed],
    units: Vec<Unit>,
    sink: &dyn Sink,
    digest_after: usize,
) -> Vec<Unit> {
    if !sink.digests() || items.len() <= digest_after {
        return units;
    }
    // Never attempted: no key stored (this version stores one before each send) and no
    // attempt counted (an earlier version stored none on updates).
    let never_attempted = |u: &Unit| {
        u.members
            .iter()
            .all(|&i| items[i].d.group_key.is_none() && items[i].d.attempts == 0)
    };
    let is_note = |u: &Unit| {
        if !u.update || u.digest || !never_attempted(u) {
            return false;
        }
        let c = &items[newest_update(items, &u.members)];
        !c.d.orphan
            && !c.superseded
            && story_sources(&c.alert) > 1
            && sink.update_is_note(c.d.message_ref.as_deref())
    };
    let (notes, mut out): (Vec<Unit>, Vec<Unit>) = units.into_iter().partition(is_note);
    let size = |rest: &[Unit]| {
        let alerts: Vec<Alert> = rest
            .iter()
            .map(|u| items[newest_update(items, &u.members)].alert.clone())
            .collect();
        sink.digest_fit(&Digest::notes(&alerts))
    };
    for run in runs(&notes, size) {
        if let [single] = run {
            out.push(single.clone());
            continue;
        }
        let mut members: Vec<usize> = run.iter().flat_map(|u| u.members.iter().copied()).collect();
        members.sort_unstable();
        out.push(Unit {
            key: digest_key(members.iter().map(|&i| items[i].d.idem_key.as_str())),
            members,
            digest: true,
            fresh: true,
            update: true,
        });
    }
    out.sort_by_key(|u| u.members[0]);
    out
}

/// `pending` cut into runs, in order, each as long as `fit` says the start of what is left
/// goes in one message (at least one): the alerts of a digest, the notes of a digest of
/// notes.
fn runs<T>(pending: &[T], fit: impl Fn(&[T]) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = pending;
    while !rest.is_empty() {
        let (run, tail) = rest.split_at(fit(rest).clamp(1, rest.len()));
        out.push(run);
        rest = tail;
    }
    out
}
