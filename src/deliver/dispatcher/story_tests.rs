//! Story updates in the outbox: an update waits for the alert it edits, edits the message
//! that alert was sent as, and updates of one story waiting together are one edit.

use std::sync::Mutex;

use super::health::Health;
use super::send::LEASE;
use super::tests::send_claimed;
use super::*;
use crate::deliver::alert::{Alert, StoryRef};
use crate::deliver::sink::{SendError, SendFuture, SendOk};
use crate::store::sqlite::SqliteStore;
use crate::store::{NewDelivery, NewUpdate, PollCommit};

/// An update as the sink got it: key, message ref, sources.
type Update = (String, Option<String>, Vec<String>);

/// A sink that answers every send with a message id ("m-" + key), fails sends of alerts
/// titled "flaky" once, and records updates: (key, message ref, sources). An update keyed
/// "same…" is answered as the platform answers an edit that changes nothing: done, skipped.
#[derive(Default)]
struct Editor {
    sent: Mutex<Vec<String>>,
    /// The story sources each sent alert named.
    sent_sources: Mutex<Vec<Vec<String>>>,
    updates: Mutex<Vec<Update>>,
    failed_once: Mutex<bool>,
}

impl Sink for Editor {
    fn name(&self) -> &str {
        "ed"
    }

    fn send<'a>(&'a self, alert: &'a Alert, key: &'a str) -> SendFuture<'a> {
        let mut failed = self.failed_once.lock().unwrap();
        if alert.title == "flaky" && !*failed {
            *failed = true;
            return Box::pin(async { Err(SendError::retryable("HTTP 503")) });
        }
        if alert.title == "refused" && !*failed {
            *failed = true;
            return Box::pin(async { Err(SendError::permanent("HTTP 400")) });
        }
        self.sent.lock().unwrap().push(key.to_string());
        self.sent_sources
            .lock()
            .unwrap()
            .push(alert.story.as_ref().map_or(vec![], |s| s.sources.clone()));
        let reply = SendOk {
            status: Some(200),
            message_ref: Some(format!("m-{key}")),
            ..SendOk::default()
        };
        Box::pin(async move { Ok(reply) })
    }

    fn update<'a>(
        &'a self,
        alert: &'a Alert,
        message_ref: Option<&'a str>,
        key: &'a str,
    ) -> SendFuture<'a> {
        let sources = alert.story.as_ref().map_or(vec![], |s| s.sources.clone());
        self.updates.lock().unwrap().push((
            key.to_string(),
            message_ref.map(str::to_string),
            sources,
        ));
        if key.starts_with("same") {
            return Box::pin(async { Ok(SendOk::skipped("message is not modified")) });
        }
        Box::pin(async { Ok(SendOk::default()) })
    }
}

fn story_alert(title: &str, sources: &[&str]) -> String {
    let mut a = crate::deliver::template::sample_alert();
    a.title = title.into();
    a.story = Some(StoryRef {
        id: "story_1".into(),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        updated_at: None,
    });
    serde_json::to_string(&a).unwrap()
}

fn row(key: &str, alert_json: String) -> NewDelivery {
    NewDelivery {
        idem_key: key.into(),
        sink: "ed".into(),
        watch: "w".into(),
        item_key: key.into(),
        alert_json,
        canonical_link: None,
    }
}

fn update(key: &str, sources: &[&str]) -> NewUpdate {
    NewUpdate {
        delivery: row(key, story_alert("story", sources)),
        story_key: "alert".into(),
        alert_item: None,
    }
}

/// One poll of feed `feed`: an alert (if `alert_title`) and updates of its story.
async fn poll(store: &SqliteStore, feed: &str, alert_title: Option<&str>, updates: Vec<NewUpdate>) {
    store
        .commit_poll(&PollCommit {
            feed: feed.into(),
            config_url: format!("file:{feed}"),
            now: now_millis(),
            deliveries: alert_title
                .map(|t| vec![row("alert", story_alert(t, &["a"]))])
                .unwrap_or_default(),
            updates,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Claim what is due now and send it; the keys claimed, in order.
async fn drain(store: &SqliteStore, sink: &Editor) -> Vec<String> {
    let now = now_millis();
    let batch = store
        .claim_due("ed", now, now + ms(LEASE), 100)
        .await
        .unwrap();
    let keys = batch.iter().map(|d| d.idem_key.clone()).collect();
    send_claimed(store, sink, &mut Health::default(), batch, 100).await;
    keys
}

/// Claim what is due once an update's wait for its alert is over.
async fn claim_after_the_wait(store: &SqliteStore) -> Vec<crate::store::Delivery> {
    let later = now_millis() + crate::store::ALERT_WAIT + 1;
    store
        .claim_due("ed", later, later + ms(LEASE), 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_update_waits_for_its_alert_and_edits_the_message_it_was_sent_as() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("flaky"), vec![update("u2", &["a", "b"])]).await;
    // The alert fails once: while it is pending, its update is not even claimed.
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    assert!(sink.updates.lock().unwrap().is_empty());
    // Due again (its retry time moved to now): sent, with its message id kept.
    store.retry_pending_now(now_millis()).await.unwrap();
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    assert_eq!(*sink.sent.lock().unwrap(), ["alert"]);
    // Now the update goes, editing that message.
    assert_eq!(drain(&store, &sink).await, ["u2"]);
    assert_eq!(
        *sink.updates.lock().unwrap(),
        [(
            "u2".to_string(),
            Some("m-alert".to_string()),
            vec!["a".to_string(), "b".to_string()]
        )]
    );
    assert!(drain(&store, &sink).await.is_empty(), "the update is done");
}

#[tokio::test]
async fn updates_of_one_story_waiting_together_are_one_edit_with_every_source() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    poll(&store, "c", None, vec![update("u3", &["a", "b", "c"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u2", "u3"]);
    let updates = sink.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1, "one edit for both: {updates:?}");
    assert_eq!(updates[0].0, "u3", "under the newest update's key");
    assert_eq!(updates[0].1.as_deref(), Some("m-alert"));
    assert_eq!(updates[0].2, ["a", "b", "c"]);
    assert!(drain(&store, &sink).await.is_empty(), "both rows are done");
    assert_eq!(store.outbox_summary().await.unwrap().sent, 3);
    // Two messages (the alert, one edit) for a restarted daemon's rate budget.
    assert_eq!(store.sends_since("ed", 0).await.unwrap().len(), 2);
}

/// Regression: an edit the platform answered "not modified" (done, skipped) was marked as
/// done without a request, so a restarted daemon's rate budget left it out; it was a request.
#[tokio::test]
async fn an_edit_answered_not_modified_counts_as_a_message_for_the_rate() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    poll(&store, "b", None, vec![update("same2", &["a", "b"])]).await;
    assert_eq!(drain(&store, &sink).await, ["same2"]);
    assert_eq!(sink.updates.lock().unwrap().len(), 1);
    assert_eq!(store.sends_since("ed", 0).await.unwrap().len(), 2);
}

/// Regression: updates of one story were merged only when they waited in one batch; an
/// older one waiting out a retry was sent after the newer one and set the message back to
/// fewer sources. Now it is claimed with the newer one, due or not, and goes as its edit.
#[tokio::test]
async fn an_older_update_waiting_out_a_retry_goes_with_the_newer_one_not_after_it() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    // u2's edit failed; its retry is an hour away.
    let now = now_millis();
    let claimed = store
        .claim_due("ed", now, now + ms(LEASE), 100)
        .await
        .unwrap();
    let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 1);
    Store::mark_retry(
        &store,
        &ids,
        "HTTP 503",
        now + 3_600_000,
        claimed[0].claimed_until,
    )
    .await
    .unwrap();
    poll(&store, "c", None, vec![update("u3", &["a", "b", "c"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u2", "u3"]);
    let updates = sink.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1, "one edit for both: {updates:?}");
    assert_eq!(updates[0].0, "u3");
    assert_eq!(updates[0].2, ["a", "b", "c"]);
    assert_eq!(store.outbox_summary().await.unwrap().pending, 0);
}

/// Regression: an update committed before its story's alert (a slower poll of another feed
/// grouped the alert first and committed it later) was claimed at once, with no message to
/// edit: dropped as silent, or a follow-up note ahead of the alert it follows.
#[tokio::test]
async fn an_update_committed_before_its_alert_waits_for_it() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    assert!(drain(&store, &sink).await.is_empty(), "waits for its alert");
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    assert_eq!(drain(&store, &sink).await, ["u2"]);
    let updates = sink.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].1.as_deref(), Some("m-alert"), "edits the alert");
}

#[tokio::test]
async fn an_update_whose_alert_never_came_is_dropped_unsent_after_the_wait() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    // The alert was never queued here (suppressed as a repeat of its link, the sink added
    // after it, its poll's commit lost).
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    let batch = claim_after_the_wait(&store).await;
    assert_eq!(batch.len(), 1);
    assert!(batch[0].orphan, "claimed as an orphan");
    let (report, _) = send_claimed(&store, &sink, &mut Health::default(), batch, 100).await;
    assert!(sink.updates.lock().unwrap().is_empty(), "nothing to edit");
    assert!(sink.sent.lock().unwrap().is_empty(), "and no note either");
    assert_eq!(
        (report.sent, report.skipped, report.retry, report.dead),
        (0, 1, 0, 0),
        "done, but not counted as sent"
    );
    let sum = store.outbox_summary().await.unwrap();
    assert_eq!((sum.pending, sum.sent, sum.dead), (0, 1, 0));
}

/// Regression: a story alert revived from the dead letters went out naming its first feed
/// only: the update that came while it was dead had been done without a message (nothing to
/// edit), and the story's other source was never shown. The alert names them now.
#[tokio::test]
async fn a_revived_story_alert_names_the_sources_its_updates_held() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("refused"), vec![]).await;
    drain(&store, &sink).await;
    assert_eq!(store.outbox_summary().await.unwrap().dead, 1);
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    let batch = claim_after_the_wait(&store).await;
    assert!(batch[0].orphan, "its alert is dead: nothing to edit");
    send_claimed(&store, &sink, &mut Health::default(), batch, 100).await;
    assert!(sink.updates.lock().unwrap().is_empty());
    store
        .retry_dead(now_millis(), &["ed".into()])
        .await
        .unwrap();
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    assert_eq!(*sink.sent_sources.lock().unwrap(), [vec!["a", "b"]]);
}

/// Regression: of the updates of one story waiting together, the one latest in the outbox
/// was sent as the edit; polls commit in any order, so it could carry fewer sources than an
/// earlier row, and the message showed two sources of three.
#[tokio::test]
async fn the_edit_shows_the_update_with_the_most_sources_whatever_the_commit_order() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "c", None, vec![update("u3", &["a", "b", "c"])]).await;
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    assert_eq!(drain(&store, &sink).await, ["u3", "u2"]);
    let updates = sink.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1, "one edit for both: {updates:?}");
    assert_eq!(updates[0].0, "u3");
    assert_eq!(updates[0].2, ["a", "b", "c"]);
}

/// Regression: only updates claimed together were ordered by their sources. An update grouped
/// before another (2 sources, then 3) whose poll committed after the other was sent edited the
/// message back to 2 sources.
#[tokio::test]
async fn an_update_committed_after_a_newer_one_went_out_does_not_set_the_message_back() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    poll(&store, "c", None, vec![update("u3", &["a", "b", "c"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u3"]);
    poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
    let now = now_millis();
    let batch = store
        .claim_due("ed", now, now + ms(LEASE), 100)
        .await
        .unwrap();
    assert_eq!(batch.len(), 1, "u2 is done");
    let (report, _) = send_claimed(&store, &sink, &mut Health::default(), batch, 100).await;
    assert_eq!((report.sent, report.skipped), (0, 1));
    let updates = sink.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1, "only u3 edited the message: {updates:?}");
    assert_eq!(updates[0].2, ["a", "b", "c"]);
    // A later update with more sources edits it again.
    poll(&store, "d", None, vec![update("u4", &["a", "b", "c", "d"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u4"]);
    assert_eq!(sink.updates.lock().unwrap().len(), 2);
}

/// Regression (review): two instances (or a cache rebuilt after a failed commit) each grouped
/// another report as a story's second source. Their updates had one key, so the store kept
/// one; with their own keys, the second edit showed its own source only and took the
/// first's off the message. Each edit names every source sent so far.
#[tokio::test]
async fn updates_grouped_apart_with_as_many_sources_each_add_theirs() {
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Editor::default();
    poll(&store, "a", Some("story"), vec![]).await;
    assert_eq!(drain(&store, &sink).await, ["alert"]);
    poll(&store, "b", None, vec![update("u2-b", &["a", "b"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u2-b"]);
    poll(&store, "c", None, vec![update("u2-c", &["a", "c"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u2-c"]);
    // Claimed together, each with its own sources: one edit naming all of them.
    poll(&store, "d", None, vec![update("u3-d", &["a", "b", "d"])]).await;
    poll(&store, "e", None, vec![update("u3-e", &["a", "c", "e"])]).await;
    assert_eq!(drain(&store, &sink).await, ["u3-d", "u3-e"]);
    let shown: Vec<Vec<String>> = sink
        .updates
        .lock()
        .unwrap()
        .iter()
        .map(|u| u.2.clone())
        .collect();
    assert_eq!(
        shown,
        [
            vec!["a", "b"],
            vec!["a", "c", "b"],
            vec!["a", "c", "e", "b", "d"],
        ]
    );
    // A late update naming only sources the message shows (more than any one sent update
    // names) is done without an edit (review: it was sent again, the same edit).
    poll(
        &store,
        "f",
        None,
        vec![update("u4-late", &["a", "b", "c", "d"])],
    )
    .await;
    let now = now_millis();
    let batch = store
        .claim_due("ed", now, now + ms(LEASE), 100)
        .await
        .unwrap();
    let (report, _) = send_claimed(&store, &sink, &mut Health::default(), batch, 100).await;
    assert_eq!((report.sent, report.skipped), (0, 1));
    assert_eq!(sink.updates.lock().unwrap().len(), 3);
}

/// Regression: a story update's delivery latency was counted from the story's first match
/// (the alert it carries), hours or days before; it counts from when the update was queued.
#[test]
fn an_update_counts_its_latency_from_its_queueing_not_the_storys_first_match() {
    let recorded = crate::ops::metrics::Recorded::new();
    let store = recorded.unrecorded(SqliteStore::in_memory()).unwrap();
    let sink = Editor::default();
    // The story's alert (its sample match time is years ago) goes out unrecorded.
    recorded.unrecorded(async {
        poll(&store, "a", Some("story"), vec![]).await;
        assert_eq!(drain(&store, &sink).await, ["alert"]);
    });
    recorded.run(async {
        poll(&store, "b", None, vec![update("u2", &["a", "b"])]).await;
        assert_eq!(drain(&store, &sink).await, ["u2"]);
    });
    let text = recorded.text();
    let value = |name: &str| super::tests::sample(&text, name);
    assert_eq!(value("newswatch_delivery_latency_seconds_count"), 1.0);
    let sum = value("newswatch_delivery_latency_seconds_sum");
    assert!(sum < 60.0, "an update sent at once took {sum} s");
}

/// A sink that cannot edit and sends no notes (Slack's default): records when each alert went.
#[derive(Default)]
struct Silent {
    sent: Mutex<Vec<(String, std::time::Instant)>>,
}

impl Sink for Silent {
    fn name(&self) -> &str {
        "ed"
    }

    fn send<'a>(&'a self, alert: &'a Alert, _key: &'a str) -> SendFuture<'a> {
        self.sent
            .lock()
            .unwrap()
            .push((alert.title.clone(), std::time::Instant::now()));
        Box::pin(async { Ok(SendOk::default()) })
    }

    fn update_sends(&self, _alert: &Alert, _message_ref: Option<&str>) -> bool {
        false
    }

    fn update<'a>(
        &'a self,
        _alert: &'a Alert,
        _message_ref: Option<&'a str>,
        _key: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async { Ok(SendOk::skipped("this sink shows no story updates")) })
    }
}

/// Regression: a story update sent as nothing (a sink that cannot edit, with the default
/// silent `story_updates`) waited for and took a token of the sink's rate, so a burst of
/// updates queued before an alert held it back by one rate interval each (ntfy at 12 a
/// minute: 140 silent updates were 12 minutes).
#[tokio::test]
async fn updates_sent_as_nothing_take_none_of_the_sinks_rate() {
    use super::send::Pace;
    use super::tests::{Limits, run_batch};
    use crate::deliver::rate::{Bucket, Rate};
    let store = SqliteStore::in_memory().await.unwrap();
    let sink = Silent::default();
    let stories = ["s1", "s2", "s3"];
    store
        .commit_poll(&PollCommit {
            feed: "a".into(),
            config_url: "file:a".into(),
            now: now_millis(),
            deliveries: stories
                .iter()
                .map(|k| row(k, story_alert(k, &["a"])))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut pace = Pace {
        bucket: Some(Bucket::new(Rate::new(1, Duration::from_millis(500)))),
        digest_after: 100,
        concurrency: 1,
        beat: None,
    };
    async fn batch(store: &SqliteStore, sink: &Silent, pace: &mut Pace) -> DrainReport {
        let now = now_millis();
        let claimed = store
            .claim_due("ed", now, now + ms(LEASE), 100)
            .await
            .unwrap();
        let (mut health, mut hold) = (Health::default(), Hold::default());
        let limits = Limits::default();
        run_batch(store, sink, pace, &mut health, &mut hold, claimed, limits)
            .await
            .0
    }
    assert_eq!(batch(&store, &sink, &mut pace).await.sent, 3);
    // Each story reported again by another feed, then a new alert.
    let updates = stories
        .iter()
        .map(|k| NewUpdate {
            delivery: row(&format!("{k}-update"), story_alert(k, &["a", "b"])),
            story_key: (*k).into(),
            alert_item: None,
        })
        .collect();
    for (feed, deliveries, updates) in [
        ("b", vec![], updates),
        ("c", vec![row("late", story_alert("late", &["c"]))], vec![]),
    ] {
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
    let report = batch(&store, &sink, &mut pace).await;
    assert_eq!((report.skipped, report.sent), (3, 1), "{report:?}");
    // Regression: a restarted daemon's rate budget counts the four alerts, not the updates
    // done without a message (and, before, not the edits that were messages either).
    assert_eq!(store.sends_since("ed", 0).await.unwrap().len(), 4);
    let sent = sink.sent.lock().unwrap().clone();
    let gap = sent[3].1 - sent[2].1;
    // One token after the last alert (500 ms), not four.
    assert!(
        gap < Duration::from_millis(1000),
        "the alert after 3 silent updates waited {gap:?}"
    );
}
