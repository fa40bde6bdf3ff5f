//! Follow-up notes of story updates in a burst: on a sink that cannot edit and replies
//! (`story_updates = "reply"`), more than `digest_after` waiting rows make the notes of
//! several stories one digest message, formed once and retried as formed, as alerts are.

use std::sync::Mutex;

use super::health::Health;
use super::send::LEASE;
use super::tests::send_claimed;
use super::*;
use crate::deliver::alert::{Alert, StoryRef};
use crate::deliver::digest::{Digest, DigestKind};
use crate::deliver::sink::{SendError, SendFuture, SendOk};
use crate::deliver::update;
use crate::store::sqlite::SqliteStore;
use crate::store::{NewDelivery, NewUpdate, PollCommit};

/// What the sink got: a digest (kind, titles with their source counts, key) or a note alone.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    Digest(DigestKind, Vec<String>, String),
    Note(String, String),
}

/// A chat-like sink: digests of up to four lines; an update is a note unless `edits` and the
/// story's message id is known (none for a story of one source). `fail` makes the next digest fail (retryable or not).
#[derive(Default)]
struct Replier {
    edits: bool,
    reply: bool,
    fail: Mutex<Option<SendError>>,
    got: Mutex<Vec<Got>>,
}

impl Replier {
    fn replying() -> Self {
        Self {
            reply: true,
            ..Self::default()
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn digests(&self) -> Vec<(DigestKind, Vec<String>, String)> {
        self.got()
            .into_iter()
            .filter_map(|g| match g {
                Got::Digest(k, lines, key) => Some((k, lines, key)),
                Got::Note(..) => None,
            })
            .collect()
    }
}

/// `title (n)`: an alert's title and how many sources its story names.
fn shown(a: &Alert) -> String {
    let n = a.story.as_ref().map_or(0, |s| s.sources.len());
    format!("{} ({n})", a.title)
}

impl Sink for Replier {
    fn name(&self) -> &str {
        "chat"
    }

    fn send<'a>(&'a self, _alert: &'a Alert, key: &'a str) -> SendFuture<'a> {
        let reply = SendOk {
            status: Some(200),
            message_ref: self.edits.then(|| format!("m-{key}")),
            ..SendOk::default()
        };
        Box::pin(async move { Ok(reply) })
    }

    fn digests(&self) -> bool {
        true
    }

    fn digest_fit(&self, d: &Digest) -> usize {
        d.items().len().clamp(1, 4)
    }

    fn send_digest<'a>(&'a self, d: &'a Digest<'a>, key: &'a str) -> SendFuture<'a> {
        let lines = d.items().iter().map(shown).collect();
        self.got
            .lock()
            .unwrap()
            .push(Got::Digest(d.kind(), lines, key.to_string()));
        let fail = self.fail.lock().unwrap().take();
        Box::pin(async move { fail.map_or(Ok(SendOk::default()), Err) })
    }

    fn update<'a>(
        &'a self,
        alert: &'a Alert,
        message_ref: Option<&'a str>,
        key: &'a str,
    ) -> SendFuture<'a> {
        if !self.update_sends(alert, message_ref) {
            return Box::pin(async { Ok(SendOk::skipped("silent, or one source")) });
        }
        self.got
            .lock()
            .unwrap()
            .push(Got::Note(shown(alert), key.to_string()));
        Box::pin(async { Ok(SendOk::default()) })
    }

    // As the chat sinks: a story of one source has no note to send.
    fn update_sends(&self, alert: &Alert, message_ref: Option<&str>) -> bool {
        (self.edits && message_ref.is_some()) || (self.reply && update::names_others(alert))
    }

    fn update_is_note(&self, message_ref: Option<&str>) -> bool {
        !(self.edits && message_ref.is_some()) && self.reply
    }
}

fn alert_json(title: &str, sources: usize) -> String {
    let mut a = crate::deliver::template::sample_alert();
    a.title = title.into();
    a.story = Some(StoryRef {
        id: format!("st_{title}"),
        sources: (0..sources).map(|i| format!("feed{i}")).collect(),
        updated_at: None,
    });
    serde_json::to_string(&a).unwrap()
}

fn row(key: &str, alert_json: String) -> NewDelivery {
    NewDelivery {
        idem_key: key.into(),
        sink: "chat".into(),
        watch: "w".into(),
        item_key: key.into(),
        alert_json,
        canonical_link: None,
    }
}

/// The alerts of stories `s0`…, sent: each story's message is on the sink.
async fn alerts_sent(store: &SqliteStore, sink: &Replier, stories: usize) {
    let deliveries = (0..stories)
        .map(|i| row(&format!("s{i}"), alert_json(&format!("s{i}"), 1)))
        .collect();
    commit(store, "first", deliveries, vec![]).await;
    // One at a time (digest_after 100): each alert has a message of its own.
    let now = now_millis();
    let batch = store
        .claim_due("chat", now, now + ms(LEASE), 100)
        .await
        .unwrap();
    assert_eq!(batch.len(), stories);
    send_claimed(store, sink, &mut Health::default(), batch, 100).await;
}

/// An update of story `s{story}` with `sources` sources, keyed `key`.
fn update(key: &str, story: usize, sources: usize) -> NewUpdate {
    NewUpdate {
        delivery: row(key, alert_json(&format!("s{story}"), sources)),
        story_key: format!("s{story}"),
        alert_item: None,
    }
}

async fn commit(
    store: &SqliteStore,
    feed: &str,
    deliveries: Vec<NewDelivery>,
    updates: Vec<NewUpdate>,
) {
    store
        .commit_poll(&PollCommit {
            feed: feed.into(),
            config_url: format!("file:{feed}"),
            now: now_millis(),
            deliveries,
            updates,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Claim what is due now and send it with `digest_after` 5.
async fn drain(store: &SqliteStore, sink: &Replier) -> DrainReportSummary {
    let now = now_millis();
    let batch = store
        .claim_due("chat", now, now + ms(LEASE), 100)
        .await
        .unwrap();
    let (r, _) = send_claimed(store, sink, &mut Health::default(), batch, 5).await;
    (r.sent, r.skipped, r.retry, r.dead)
}

/// (sent, skipped, retry, dead) rows.
type DrainReportSummary = (usize, usize, usize, usize);

/// Regression: with `story_updates = "reply"`, a burst of updates of many stories was a note
/// per story, one message each at the sink's rate, where a burst of alerts is a digest.
#[tokio::test]
async fn reply_notes_of_a_burst_of_story_updates_went_one_message_per_story() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 7).await;
    // Story 0 has two updates waiting: one line, with its newest sources.
    let mut updates: Vec<NewUpdate> = (0..7).map(|i| update(&format!("u{i}"), i, 2)).collect();
    updates.push(update("u0b", 0, 3));
    commit(&store, "second", vec![], updates).await;
    assert_eq!(drain(&store, &sink).await, (8, 0, 0, 0));
    let got = sink.got();
    assert_eq!(
        got.iter()
            .map(|g| match g {
                Got::Digest(k, lines, _) => (*k, lines.clone()),
                Got::Note(l, _) => (DigestKind::Alerts, vec![l.clone()]),
            })
            .collect::<Vec<_>>(),
        [
            (
                DigestKind::Notes,
                vec!["s0 (3)", "s1 (2)", "s2 (2)", "s3 (2)"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            ),
            (
                DigestKind::Notes,
                vec!["s4 (2)", "s5 (2)", "s6 (2)"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            ),
        ],
        "two digests of notes, no note alone"
    );
    // Seven alerts and two messages for a restarted daemon's rate budget.
    assert_eq!(store.sends_since("chat", 0).await.unwrap().len(), 9);
    assert_eq!(store.outbox_summary().await.unwrap().pending, 0);
}

#[tokio::test]
async fn a_digest_of_notes_is_retried_as_it_was_formed() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 8).await;
    let updates: Vec<NewUpdate> = (0..6).map(|i| update(&format!("u{i}"), i, 2)).collect();
    commit(&store, "second", vec![], updates).await;
    *sink.fail.lock().unwrap() = Some(SendError::retryable("HTTP 503"));
    // The first digest failed: the sink pauses, the rest waits.
    assert_eq!(drain(&store, &sink).await, (0, 0, 4, 0));
    let first = sink.digests()[0].clone();
    assert_eq!(first.1.len(), 4);
    // Meanwhile story 7 gets an update: it joins no digest formed before.
    commit(&store, "third", vec![], vec![update("u7", 7, 2)]).await;
    store.retry_pending_now(now_millis()).await.unwrap();
    assert_eq!(drain(&store, &sink).await, (7, 0, 0, 0));
    let digests = sink.digests();
    assert_eq!(digests.len(), 3, "{digests:?}");
    assert_eq!(digests[1], first, "the same notes under the same key");
    assert_eq!(digests[2].1, ["s4 (2)", "s5 (2)", "s7 (2)"]);
    assert_eq!(store.outbox_summary().await.unwrap().pending, 0);
}

#[tokio::test]
async fn a_digest_of_notes_refused_for_good_goes_as_one_note_per_story() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 6).await;
    let mut updates: Vec<NewUpdate> = (0..6).map(|i| update(&format!("u{i}"), i, 2)).collect();
    updates.push(update("u0b", 0, 3));
    commit(&store, "second", vec![], updates).await;
    *sink.fail.lock().unwrap() = Some(SendError::permanent("HTTP 400"));
    assert_eq!(drain(&store, &sink).await, (7, 0, 0, 0));
    let notes: Vec<Got> = sink
        .got()
        .into_iter()
        .filter(|g| matches!(g, Got::Note(..)))
        .collect();
    // The refused digest's four stories one by one, story 0 with its newest update; the last
    // two stories' digest went.
    assert_eq!(
        notes,
        [
            Got::Note("s0 (3)".into(), "u0b".into()),
            Got::Note("s1 (2)".into(), "u1".into()),
            Got::Note("s2 (2)".into(), "u2".into()),
            Got::Note("s3 (2)".into(), "u3".into()),
        ]
    );
    assert_eq!(sink.digests().len(), 2);
}

#[tokio::test]
async fn edits_silent_updates_and_small_bursts_are_not_folded_into_digests() {
    // Edits: each story's message is edited on its own.
    let store = SqliteStore::in_memory().await.unwrap();
    let editor = Replier {
        edits: true,
        reply: true,
        ..Replier::default()
    };
    alerts_sent(&store, &editor, 7).await;
    let updates: Vec<NewUpdate> = (0..7).map(|i| update(&format!("u{i}"), i, 2)).collect();
    commit(&store, "second", vec![], updates).await;
    assert_eq!(drain(&store, &editor).await, (7, 0, 0, 0));
    assert!(editor.digests().is_empty(), "{:?}", editor.got());
    assert_eq!(editor.got().len(), 7);

    // Silent: nothing is sent at all.
    let store = SqliteStore::in_memory().await.unwrap();
    let silent = Replier::default();
    alerts_sent(&store, &silent, 7).await;
    let updates: Vec<NewUpdate> = (0..7).map(|i| update(&format!("u{i}"), i, 2)).collect();
    commit(&store, "second", vec![], updates).await;
    assert_eq!(drain(&store, &silent).await, (0, 7, 0, 0));
    assert!(silent.got().is_empty(), "{:?}", silent.got());

    // Five rows waiting, not more than `digest_after`: five notes.
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 5).await;
    let updates: Vec<NewUpdate> = (0..5).map(|i| update(&format!("u{i}"), i, 2)).collect();
    commit(&store, "second", vec![], updates).await;
    assert_eq!(drain(&store, &sink).await, (5, 0, 0, 0));
    assert!(sink.digests().is_empty(), "{:?}", sink.got());
}

/// A note attempted alone may have arrived (a timeout): it is never folded into a digest of
/// notes later, where it would show twice. So with an update attempted by an earlier version,
/// which stored no key on updates (its attempt is counted).
#[tokio::test]
async fn a_note_once_attempted_alone_is_never_folded_into_a_digest() {
    for key in [Some("u0"), None] {
        let store = SqliteStore::in_memory().await.unwrap();
        let sink = Replier::replying();
        alerts_sent(&store, &sink, 7).await;
        commit(&store, "second", vec![], vec![update("u0", 0, 2)]).await;
        // Attempted alone, and failed.
        let now = now_millis();
        let batch = store
            .claim_due("chat", now, now + ms(LEASE), 100)
            .await
            .unwrap();
        let ids: Vec<i64> = batch.iter().map(|d| d.id).collect();
        let claim = batch[0].claimed_until;
        if key.is_some() {
            let begun = Store::begin_send(&store, "chat", &ids, key, claim, now + 1);
            assert!(begun.await.unwrap());
        }
        Store::mark_retry(&store, &ids, "timeout", now, claim)
            .await
            .unwrap();
        let updates: Vec<NewUpdate> = (1..7).map(|i| update(&format!("u{i}"), i, 2)).collect();
        commit(&store, "third", vec![], updates).await;
        store.retry_pending_now(now_millis()).await.unwrap();
        assert_eq!(drain(&store, &sink).await, (7, 0, 0, 0));
        let got = sink.got();
        assert_eq!(got[0], Got::Note("s0 (2)".into(), "u0".into()), "{got:?}");
        let lines: Vec<String> = sink.digests().into_iter().flat_map(|d| d.1).collect();
        assert_eq!(lines.len(), 6, "{key:?}: {got:?}");
        assert!(!lines.contains(&"s0 (2)".to_string()), "{got:?}");
    }
}

/// Regression: while a digest of notes waited out its retry, a newer update of one of its
/// stories came due; the claim took that story's older row with it but not the digest's
/// other rows, and the digest went again under its key with one note of four.
#[tokio::test]
async fn a_newer_update_of_a_story_in_a_waiting_digest_of_notes_brings_the_digest_whole() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 6).await;
    let updates: Vec<NewUpdate> = (0..6).map(|i| update(&format!("u{i}"), i, 2)).collect();
    commit(&store, "second", vec![], updates).await;
    *sink.fail.lock().unwrap() = Some(SendError::retryable("HTTP 503"));
    assert_eq!(drain(&store, &sink).await, (0, 0, 4, 0));
    let first = sink.digests()[0].clone();
    // Its retry is seconds away; story 0 gets a newer update, due now.
    commit(&store, "third", vec![], vec![update("u0b", 0, 3)]).await;
    drain(&store, &sink).await;
    let digests = sink.digests();
    assert_eq!(digests.len(), 3, "{:?}", sink.got());
    assert_eq!(digests[1], first, "the digest whole, under its key");
    // Then the notes never attempted (released when the sink paused) and the newer update.
    assert_eq!(digests[2].1, ["s4 (2)", "s5 (2)", "s0 (3)"]);
}

/// An update of a story with one source (a second item from the same feed) has no note to
/// show alone, nor a line in a digest of notes.
#[tokio::test]
async fn an_update_with_one_source_is_no_line_of_a_digest_of_notes() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 7).await;
    let mut updates: Vec<NewUpdate> = (0..6).map(|i| update(&format!("u{i}"), i, 2)).collect();
    updates.push(update("u6", 6, 1));
    commit(&store, "second", vec![], updates).await;
    assert_eq!(drain(&store, &sink).await, (6, 1, 0, 0));
    let lines: Vec<String> = sink.digests().into_iter().flat_map(|d| d.1).collect();
    assert_eq!(lines.len(), 6, "{:?}", sink.got());
    assert!(!lines.contains(&"s6 (1)".to_string()), "{:?}", sink.got());
}

/// Regression: an update of a story with one source (a second item from its first feed),
/// alone on a sink that posts notes, sends nothing, yet was marked as sent, not as done
/// without a message: `status` listed it as an alert that reached the channel, and a
/// restarted daemon's rate budget counted a message never posted.
#[tokio::test]
async fn an_update_with_one_source_alone_is_done_without_a_message() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Replier::replying();
    alerts_sent(&store, &sink, 1).await;
    commit(&store, "first", vec![], vec![update("u0", 0, 1)]).await;
    assert_eq!(drain(&store, &sink).await, (0, 1, 0, 0));
    assert!(sink.got().is_empty(), "{:?}", sink.got());
    assert_eq!(store.sends_since("chat", 0).await.unwrap().len(), 1);
    let listed = store.list_deliveries("sent", 10).await.unwrap();
    let quiet: Vec<(&str, bool)> = listed
        .iter()
        .map(|d| (d.idem_key.as_str(), d.quiet))
        .collect();
    assert!(quiet.contains(&("u0", true)), "{quiet:?}");
    assert!(quiet.contains(&("s0", false)), "{quiet:?}");
}
