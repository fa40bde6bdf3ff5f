//! Sending one claimed batch of one sink: grouping into units, pacing, recording.
//!
//! Owns [`Pace`], [`send_batch`] and [`DrainReport`]; the store calls a batch makes are
//! [`Outbox`]. A *unit* is what one request carries:
//! one alert, a digest of several, a story's update, or a digest of the follow-up notes of
//! several stories' updates. A digest is formed once, from rows never attempted
//! before; its key is stored on its rows before the first send ([`crate::store::Store::begin_send`]), so
//! a retry (after a timeout, a crash, a restart) sends the same alerts under the same key, and
//! an alert or a note once attempted alone is never folded into a digest. A unit's rows are recorded
//! together, in one transaction. Up to `concurrency` units are in flight at once (webhooks;
//! chat sinks send one at a time, in order).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use super::outbox::Outbox;
use super::record::record;
use super::units::{
    Claimed, Unit, by_story, decode, find_superseded, fold_notes, newest_update, notes_of,
    plan_units, show_known_sources,
};
use crate::deliver::alert::Alert;
use crate::deliver::digest::Digest;
use crate::deliver::dispatcher::Hold;
use crate::deliver::dispatcher::health::Health;
use crate::deliver::rate::Bucket;
use crate::deliver::sink::{SendError, SendOk, Sink};
use crate::ops::liveness::Beat;
use crate::store::{Delivery, Millis, now_millis};

/// How long a claim holds a delivery; longer than any single send.
pub const LEASE: Duration = Duration::from_secs(300);
/// How long a send's mark ([`crate::store::Store::begin_send`]) outlasts the send limit: room for clocks
/// that differ between machines.
pub const SEND_MARK_MARGIN: Duration = Duration::from_secs(10);
/// How often a waiting worker shows it is alive.
pub const TICK: Duration = Duration::from_secs(1);

pub fn ms(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Counts of sends, for `run --once` and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: usize,
    /// Story updates done without a message: nothing to show on the sink.
    pub skipped: usize,
    pub retry: usize,
    pub dead: usize,
}

/// How a sink's worker sends: its rate limit, digest threshold and concurrency.
pub struct Pace {
    pub bucket: Option<Bucket>,
    /// A burst of more than this many waiting alerts is sent as digests.
    pub digest_after: usize,
    /// Units in flight at once.
    pub concurrency: usize,
    /// The worker's liveness beat, bumped while waiting so the watchdog sees a worker that
    /// waits on purpose as alive.
    pub beat: Option<Beat>,
}

/// Sleep `wait` in slices of at most [`TICK`], bumping `beat` at each; false when cancelled
/// first.
pub async fn nap(wait: Duration, beat: Option<&Beat>, token: &CancellationToken) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(b) = beat {
            b.bump();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return !token.is_cancelled();
        }
        tokio::select! {
            _ = token.cancelled() => return false,
            _ = tokio::time::sleep(left.min(TICK)) => {}
        }
    }
}

impl Pace {
    /// Wait until the rate limit has a token, without taking it ([`Pace::take`] does, once
    /// nothing before the send can put the unit back); false when cancelled first.
    async fn ready(&mut self, token: &CancellationToken) -> bool {
        let Some(b) = self.bucket.as_mut() else {
            return !token.is_cancelled();
        };
        loop {
            let wait = b.wait_time();
            if wait.is_zero() {
                return !token.is_cancelled();
            }
            if !nap(wait, self.beat.as_ref(), token).await {
                return false;
            }
        }
    }

    /// Take the token [`Pace::ready`] waited for.
    fn take(&mut self) {
        if let Some(b) = self.bucket.as_mut() {
            b.take();
        }
    }
}

/// Everything `send_batch` needs besides the batch.
pub struct BatchContext<'a, S> {
    pub store: &'a S,
    pub sink: &'a dyn Sink,
    pub max_age: Duration,
    /// How long the batch's claim holds ([`LEASE`]; shorter in tests): past half of it,
    /// nothing more is launched.
    pub lease: Duration,
    /// How long one send may take ([`SEND_LIMIT`](crate::deliver::sink::SEND_LIMIT); shorter
    /// in tests).
    pub send_limit: Duration,
    pub token: &'a CancellationToken,
}

/// Send a unit. It never touches the store: sends in flight are polled only while the
/// batch loop waits for them, and the store has one connection, so a send holding it while
/// the loop records another result would deadlock.
async fn attempt<S: Outbox>(
    cx: &BatchContext<'_, S>,
    items: &[Claimed],
    unit: Unit,
    deadline: tokio::time::Instant,
) -> (Unit, Result<SendOk, SendError>, Millis) {
    // When the request went out: a failure of one sent before the sink paused is part of the
    // failures that paused it (see `Health::failure`).
    let started = now_millis();
    let send = async {
        // First polled past its deadline (the loop was held up): too late to start within
        // the time its mark allows.
        if tokio::time::Instant::now() >= deadline {
            return Err(SendError::retryable(
                "not started within the send limit".to_string(),
            ));
        }
        if unit.update && unit.digest {
            let notes = notes_of(items, &unit.members);
            cx.sink.send_digest(&Digest::notes(&notes), &unit.key).await
        } else if unit.update {
            // The newest update: the story's alert with every source so far.
            let c = &items[newest_update(items, &unit.members)];
            if c.d.orphan {
                // The story's alert never reached this sink (suppressed as a repeat, the sink
                // added since, its poll lost, or dead): no message to edit or follow up.
                return Ok(SendOk::skipped(
                    "the story's alert never went to this sink: nothing to update",
                ));
            }
            if c.superseded {
                return Ok(SendOk::skipped(
                    "an update of this story with as many sources went out already",
                ));
            }
            cx.sink
                .update(&c.alert, c.d.message_ref.as_deref(), &unit.key)
                .await
        } else if unit.digest {
            let alerts: Vec<Alert> = unit
                .members
                .iter()
                .map(|&i| items[i].alert.clone())
                .collect();
            cx.sink
                .send_digest(&Digest::alerts(&alerts), &unit.key)
                .await
        } else {
            let c = &items[unit.members[0]];
            cx.sink.send(&c.alert, &unit.key).await
        }
    };
    // A send that never ends would hold its unit, and a stop, for good: bounded, it is a
    // retryable failure like a timeout.
    let result = tokio::time::timeout_at(deadline, send)
        .await
        .unwrap_or_else(|_| {
            Err(SendError::retryable(format!(
                "no answer within {} s",
                cx.send_limit.as_secs_f32()
            )))
        });
    (unit, result, started)
}

/// Whether `unit` is a story update done without a request (see [`attempt`]): no message of
/// its story's alert on this sink, an update with as many sources gone already, or a sink that
/// neither edits nor sends a note (see [`Sink::update_sends`]).
pub(super) fn sends_nothing(sink: &dyn Sink, items: &[Claimed], unit: &Unit) -> bool {
    if !unit.update || unit.digest {
        return false;
    }
    let c = &items[newest_update(items, &unit.members)];
    c.d.orphan || c.superseded || !sink.update_sends(&c.alert, c.d.message_ref.as_deref())
}

/// Await `step` (a launch's wait: the rate limit, the database) while the sends in flight go
/// on, their answers kept in `answered`: their deadlines run, and a send not polled makes no
/// progress.
async fn driving<T, F: Future>(
    step: impl Future<Output = T>,
    in_flight: &mut FuturesUnordered<F>,
    answered: &mut VecDeque<F::Output>,
) -> T {
    let mut step = std::pin::pin!(step);
    loop {
        tokio::select! {
            out = &mut step => return out,
            Some(a) = in_flight.next(), if !in_flight.is_empty() => answered.push_back(a),
        }
    }
}

/// Send one claimed batch of a sink. Stops launching on a pause (see [`Health`]), on
/// cancellation, when the claim runs short, or when the sink's lease (`hold`) is lost or
/// cannot be renewed; sends in flight finish and are recorded, and whatever was not
/// attempted is released. Returns when the sink should pause until, if it should.
pub async fn send_batch<S: Outbox>(
    cx: &BatchContext<'_, S>,
    pace: &mut Pace,
    health: &mut Health,
    hold: &mut Hold,
    batch: Vec<Delivery>,
    report: &mut DrainReport,
) -> Option<Millis> {
    let name = cx.sink.name();
    let claimed_at = now_millis();
    let mut items = decode(cx.store, name, batch, report).await;
    show_known_sources(cx.store, name, &mut items).await;
    let sink = cx.sink;
    let units = plan_units(&items, sink.digests(), pace.digest_after, |a| {
        sink.digest_fit(&Digest::alerts(a))
    });
    find_superseded(cx.store, name, &mut items, &units).await;
    let items = items;
    let units = fold_notes(&items, units, sink, pace.digest_after);
    let mut queue: VecDeque<Unit> = units.into();
    let mut in_flight = FuturesUnordered::new();
    // Answers that came while the loop was launching another send.
    let mut answered = VecDeque::new();
    let mut pause: Option<Millis> = None;
    let mut stop = false;
    loop {
        // An answer waiting is recorded first: a failure pauses the sink before more go out.
        while !stop
            && pause.is_none()
            && answered.is_empty()
            && in_flight.len() < pace.concurrency.max(1)
        {
            let Some(unit) = queue.pop_front() else {
                break;
            };
            // The sink's lease is checked last, after the rate limit's wait: another instance
            // that took the sink over sends these rows itself. Sends already out go on
            // meanwhile: their time runs.
            // A unit done without a request takes none of the sink's rate: silent story
            // updates queued before an alert held it back by a token each.
            let quiet = sends_nothing(cx.sink, &items, &unit);
            let ready = if quiet {
                !cx.token.is_cancelled()
            } else {
                driving(pace.ready(cx.token), &mut in_flight, &mut answered).await
            };
            if now_millis() - claimed_at > ms(cx.lease) / 2
                || !ready
                || driving(hold.renew(cx.store, name), &mut in_flight, &mut answered)
                    .await
                    .is_some()
            {
                queue.push_front(unit);
                stop = true;
                break;
            }
            // An answer came during the waits: it is recorded first (a failure pauses the
            // sink), then this unit goes if the sink may still send. The rate limit's token
            // is taken only once the unit goes, so a unit put back costs the sink none of its
            // rate.
            if !answered.is_empty() {
                queue.push_front(unit);
                continue;
            }
            let ids: Vec<i64> = unit.members.iter().map(|&i| items[i].d.id).collect();
            // Every row of a batch was claimed at once, with the same end.
            let claim = unit
                .members
                .first()
                .map_or(0, |&i| items[i].d.claimed_until);
            // The send is cut at its deadline, and its mark outlasts that by a margin for
            // clocks that differ between machines: a takeover leaves the rows alone until then.
            let deadline = tokio::time::Instant::now() + cx.send_limit;
            let until = now_millis() + ms(cx.send_limit) + ms(SEND_MARK_MARGIN);
            // Without the stored key a retry could regroup; unmarked, a send could be repeated
            // by an instance taking the sink over.
            let key = unit.fresh.then_some(unit.key.as_str());
            let begun = cx.store.begin_send(name, &ids, key, claim, until);
            match driving(begun, &mut in_flight, &mut answered).await {
                // The start took half the send's time (the database struggling): give the
                // unit back rather than count a send the receiver never saw as its failure.
                // Its rows come back when their mark passes.
                Ok(true) if tokio::time::Instant::now() + cx.send_limit / 2 > deadline => {
                    tracing::warn!(sink = name, "recording the start of a send took too long");
                    queue.push_front(unit);
                    stop = true;
                    break;
                }
                // An answer came while the start was recorded: the same as during the
                // waits above (a receiver that just failed is not sent another alert first).
                // The unit goes again under the same claim and key; if the sink pauses, its
                // rows come back when their mark passes.
                Ok(true) if !answered.is_empty() => {
                    queue.push_front(unit);
                    continue;
                }
                Ok(true) => {}
                Ok(false) => {
                    // Another instance holds the sink now, or has claimed or recorded these
                    // rows: ask the store again before the next send.
                    tracing::warn!(sink = name, "the sink's rows passed to another instance");
                    hold.forget();
                    queue.push_front(unit);
                    pause = Some(now_millis() + ms(TICK));
                    break;
                }
                Err(e) => {
                    tracing::error!(sink = name, error = %e, "cannot record the start of a send");
                    queue.push_front(unit);
                    pause = Some(now_millis() + ms(TICK));
                    break;
                }
            }
            if !quiet {
                pace.take();
            }
            in_flight.push(attempt(cx, &items, unit, deadline));
        }
        // The worker is alive while it waits for its sends: each is cut at the send limit, so
        // a send that takes long is not a stuck worker, and the watchdog must not see one.
        let answer = match answered.pop_front() {
            Some(a) => Some(a),
            None => loop {
                tokio::select! {
                    next = in_flight.next() => break next,
                    _ = tokio::time::sleep(TICK) => {}
                }
                if let Some(beat) = &pace.beat {
                    beat.bump();
                }
            },
        };
        if let Some(beat) = &pace.beat {
            beat.bump();
        }
        let Some((unit, result, started)) = answer else {
            break;
        };
        if let Err(SendError::Permanent { message }) = &result
            && unit.digest
        {
            // A digest refused for good: its alerts go one by one, so a single bad alert
            // (or a gone webhook) is classified on its own. The digest never arrived, so
            // nothing is repeated under another key.
            if unit.update {
                tracing::warn!(sink = name, updates = unit.members.len(), error = %message,
                    "digest of notes refused; sending one note per story");
                // Notes: one per story, each under its newest update's key (stored, so a
                // retry is that note again, not the digest).
                for story in by_story(&items, &unit.members).into_iter().rev() {
                    queue.push_front(Unit {
                        key: items[newest_update(&items, &story)].d.idem_key.clone(),
                        members: story,
                        digest: false,
                        fresh: true,
                        update: true,
                    });
                }
                continue;
            }
            tracing::warn!(sink = name, alerts = unit.members.len(), error = %message,
                "digest refused; sending its alerts one by one");
            for &i in unit.members.iter().rev() {
                queue.push_front(Unit {
                    members: vec![i],
                    key: items[i].d.idem_key.clone(),
                    digest: false,
                    fresh: true,
                    update: false,
                });
            }
            continue;
        }
        if let Some(at) = record(cx, &items, &unit, (&result, started), health, report).await {
            pause = Some(pause.map_or(at, |p: Millis| p.max(at)));
        }
    }
    let unsent: Vec<i64> = queue
        .iter()
        .flat_map(|u| u.members.iter().map(|&i| items[i].d.id))
        .collect();
    // Every row of a batch was claimed at once, with the same end.
    let claim = items.first().map_or(0, |c| c.d.claimed_until);
    if !unsent.is_empty()
        && let Err(e) = cx.store.release(&unsent, claim).await
    {
        // Nothing is lost: the rows stay claimed until their lease runs out.
        tracing::warn!(sink = name, rows = unsent.len(), error = %e,
            "could not hand back unsent deliveries; they wait for their claim to run out");
    }
    pause
}
