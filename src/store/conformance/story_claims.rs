//! Story updates in the outbox: held behind their story's alert to the same sink and claimed
//! with its message id, dropped as orphans when that alert never went out, older updates of a
//! story claimed with a newer one, the sent ones read back.

use super::claims::keys;
use super::{commit, delivery, listed};
use crate::store::{ALERT_WAIT, Millis, NewDelivery, NewUpdate, PollCommit, Store};

/// A story update with its alert in one commit: the alert first, then the update.
pub(super) fn story(
    feed: &str,
    now: Millis,
    item: &str,
    alert: Option<&str>,
    update_of: Option<&str>,
) -> PollCommit {
    let mut c = commit(feed, now, &[item], vec![]);
    if let Some(key) = alert {
        c.deliveries = vec![delivery(key, "hook", "w", None)];
    }
    if let Some(story_key) = update_of {
        c.updates = vec![NewUpdate {
            delivery: NewDelivery {
                idem_key: format!("update-{item}"),
                ..delivery(item, "hook", "w", None)
            },
            story_key: story_key.into(),
            alert_item: None,
        }];
    }
    c
}

/// An update edits the message its story's alert was sent as: it is not claimed while that
/// alert is pending (claimed or not), and it is claimed with the alert's message id.
pub(crate) async fn a_story_update_waits_for_its_alert_and_carries_its_message_ref<S: Store>(s: S) {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let out = s
        .commit_poll(&story("b", 2000, "x1", None, Some("alert1")))
        .await
        .unwrap();
    assert_eq!(out.enqueued, 1);
    assert_eq!(s.outbox_summary().await.unwrap().pending, 2);
    let c = s.claim_due("hook", 2000, 62_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["alert1"]);
    assert_eq!(
        (c[0].story_key.as_deref(), c[0].message_ref.as_deref()),
        (None, None)
    );
    // Still waiting while the alert is retried.
    s.mark_retry(&[c[0].id], "HTTP 503", 3000, c[0].claimed_until)
        .await
        .unwrap();
    assert!(
        s.claim_due("hook", 2500, 62_500, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let c = s.claim_due("hook", 3000, 63_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["alert1"]);
    s.mark_sent_ref(c[0].id, 3500, "msg-42").await.unwrap();
    let sent = &listed(&s, "sent").await[0];
    assert_eq!(
        (sent.idem_key.as_str(), sent.sent_at, sent.attempts),
        ("alert1", Some(3500), 2)
    );
    assert_eq!(sent.last_error, None);
    let u = s.claim_due("hook", 3500, 63_500, 10).await.unwrap();
    assert_eq!(keys(&u), ["update-x1"]);
    assert_eq!(
        (u[0].story_key.as_deref(), u[0].message_ref.as_deref()),
        (Some("alert1"), Some("msg-42"))
    );
}

/// The sent updates of a story are read back by its alert's key, whatever their order; a
/// pending one is not among them, nor another story's. A sink's message count holds the
/// updates that sent a message, one edit once, and not those done without one.
pub(crate) async fn the_sent_updates_of_a_story_are_read_back<S: Store>(s: S) {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let with_alert = |mut c: PollCommit, json: &str| {
        c.updates[0].delivery.alert_json = json.into();
        c
    };
    for (feed, now, item, json) in [
        ("b", 2000, "x1", "{\"n\":2}"),
        ("c", 2100, "x2", "{\"n\":3}"),
        ("d", 2200, "x3", "{\"n\":4}"),
    ] {
        s.commit_poll(&with_alert(
            story(feed, now, item, None, Some("alert1")),
            json,
        ))
        .await
        .unwrap();
    }
    s.commit_poll(&story("e", 2300, "y1", None, Some("alert2")))
        .await
        .unwrap();
    assert!(s.sent_updates("alert1").await.unwrap().is_empty());
    let c = s.claim_due("hook", 3000, 63_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["alert1"]);
    s.mark_sent_ref(c[0].id, 3000, "m1").await.unwrap();
    let u = s.claim_due("hook", 3000, 63_000, 10).await.unwrap();
    let id = |k: &str| u.iter().find(|d| d.idem_key == k).map(|d| d.id).unwrap();
    s.mark_sent(&[id("update-x2"), id("update-x1")], 3500)
        .await
        .unwrap();
    let mut sent = s.sent_updates("alert1").await.unwrap();
    sent.sort();
    assert_eq!(sent, ["{\"n\":2}", "{\"n\":3}"]);
    // The alert, and the two updates sent together (one edit): two messages.
    assert_eq!(s.sends_since("hook", 0).await.unwrap().len(), 2);
    // An update done without a message is a sent update of its story, and no message.
    s.mark_quiet(&[id("update-x3")], 3600).await.unwrap();
    assert_eq!(s.sent_updates("alert1").await.unwrap().len(), 3);
    assert_eq!(s.sends_since("hook", 0).await.unwrap().len(), 2);
    assert_eq!(s.sends_since("hook", 3501).await.unwrap().len(), 0);
    assert!(s.sent_updates("alert2").await.unwrap().is_empty());
    // Listed as sent, marked as done without a message (`status` shows it skipped, not as
    // an alert that reached the channel).
    let listed = s.list_deliveries("sent", 10).await.unwrap();
    let quiet: Vec<(&str, bool)> = listed
        .iter()
        .map(|d| (d.idem_key.as_str(), d.quiet))
        .collect();
    assert!(quiet.contains(&("update-x3", true)), "{quiet:?}");
    assert!(quiet.contains(&("update-x1", false)), "{quiet:?}");
    assert!(quiet.contains(&("alert1", false)), "{quiet:?}");
}

/// An update whose story's alert to the same sink is not in the outbox waits for it (the
/// poll that grouped the alert may commit after the update's) until `orphans_until` reaches
/// its creation, [`ALERT_WAIT`] for `claim_due`; then it is claimed flagged as an orphan.
pub(crate) async fn a_story_update_without_its_alert_waits_then_is_an_orphan<S: Store>(s: S) {
    s.commit_poll(&story("b", 2000, "x1", None, Some("alert1")))
        .await
        .unwrap();
    let wait_ends = 2000 + ALERT_WAIT;
    let c = s.claim_due("hook", wait_ends - 1, wait_ends + 60_000, 10);
    assert!(c.await.unwrap().is_empty(), "waits for its alert");
    // The alert's poll commits late: the update follows it as usual, not as an orphan.
    s.commit_poll(&story("a", 2500, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let c = s.claim_due("hook", 2500, 62_500, 10).await.unwrap();
    assert_eq!(keys(&c), ["alert1"]);
    s.mark_sent_ref(c[0].id, 2600, "msg-1").await.unwrap();
    let u = s.claim_due("hook", 2600, 62_600, 10).await.unwrap();
    assert_eq!(keys(&u), ["update-x1"]);
    assert_eq!(
        (u[0].orphan, u[0].message_ref.as_deref()),
        (false, Some("msg-1"))
    );
    s.mark_sent(&[u[0].id], 2700).await.unwrap();
    // An alert that never comes: claimed once the wait is over, as an orphan.
    s.commit_poll(&story("c", 3000, "y1", None, Some("alert9")))
        .await
        .unwrap();
    let early = s.claim_due_orphans("hook", 3000, 63_000, 10, 2999);
    assert!(early.await.unwrap().is_empty());
    let o = s
        .claim_due_orphans("hook", 3000, 63_000, 10, 3000)
        .await
        .unwrap();
    assert_eq!(keys(&o), ["update-y1"]);
    assert_eq!((o[0].orphan, o[0].message_ref.as_deref()), (true, None));
    s.release(&[o[0].id], o[0].claimed_until).await.unwrap();
    let o = s.claim_due("hook", 3000 + ALERT_WAIT, 3000 + ALERT_WAIT + 60_000, 10);
    assert_eq!(keys(&o.await.unwrap()), ["update-y1"]);
}

/// An update whose story alert's item is stored with no delivery to the update's sink (the
/// alert was a suppressed repeat, or the sink was added after it) is not queued: there is no
/// message to edit. One whose alert is there is queued; one whose alert's item is not stored
/// yet is queued to wait for it, from when its poll grouped it.
pub(crate) async fn an_update_of_an_alert_that_never_went_to_its_sink_is_not_queued<S: Store>(
    s: S,
) {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let of = |feed: &str, now, item: &str, story_key: &str, alert: (&str, &str)| {
        let mut c = story(feed, now, item, None, Some(story_key));
        c.updates[0].alert_item = Some((alert.0.to_string(), alert.1.to_string()));
        c
    };
    let c = of("b", 2000, "x1", "alert1-to-another-sink", ("a", "k1"));
    assert_eq!(s.commit_poll(&c).await.unwrap().enqueued, 0);
    let c = of("b", 2100, "x2", "alert1", ("a", "k1"));
    assert_eq!(s.commit_poll(&c).await.unwrap().enqueued, 1);
    let mut c = of("c", 2200, "y1", "alert7", ("d", "k7"));
    c.grouped_at = 900_000;
    assert_eq!(s.commit_poll(&c).await.unwrap().enqueued, 1);
    let c = s.claim_due("hook", 2200, 62_200, 10).await.unwrap();
    assert_eq!(keys(&c), ["alert1"]);
    s.mark_sent(&[c[0].id], 2300).await.unwrap();
    let u = s.claim_due("hook", 2300, 62_300, 10).await.unwrap();
    assert_eq!(keys(&u), ["update-x2"], "y1 waits for its alert");
    s.mark_sent(&[u[0].id], 2400).await.unwrap();
    // Its wait counts from its grouping, not from its poll's start.
    let before = 900_000 + ALERT_WAIT - 1;
    let c = s
        .claim_due("hook", before, before + 60_000, 10)
        .await
        .unwrap();
    assert!(c.is_empty(), "{:?}", keys(&c));
    let after = 900_000 + ALERT_WAIT;
    let c = s
        .claim_due("hook", after, after + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(keys(&c), ["update-y1"]);
    assert!(c[0].orphan);
}

/// Regression: `deliveries retry --dead` revived a story update that had died before a newer
/// update of the same message was sent; sent then, it set the message back to fewer sources.
pub(crate) async fn retry_dead_leaves_an_update_a_newer_edit_covered_dead<S: Store>(s: S) {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    let c = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    s.mark_sent_ref(c[0].id, 1100, "msg-1").await.unwrap();
    // Updates from b (dies), c (sent), d (dies).
    for (feed, item, sent) in [("b", "x1", false), ("c", "y1", true), ("d", "z1", false)] {
        s.commit_poll(&story(feed, 2000, item, None, Some("alert1")))
            .await
            .unwrap();
        let u = s.claim_due("hook", 2000, 62_000, 10).await.unwrap();
        assert_eq!(keys(&u), [format!("update-{item}").as_str()]);
        if sent {
            s.mark_sent(&[u[0].id], 2100).await.unwrap();
        } else {
            let ids = [u[0].id];
            let dead = s.mark_dead(&ids, "HTTP 400", 2100, u[0].claimed_until);
            assert!(dead.await.unwrap());
        }
    }
    assert_eq!(s.retry_dead(5000, &["hook".into()]).await.unwrap(), (1, 1));
    let pending = s.list_deliveries("pending", 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].idem_key, "update-z1", "no newer edit went out");
    assert_eq!(listed(&s, "dead").await[0].idem_key, "update-x1");
}

/// Two stories' alerts sent, then an update of each: claimed (at 2000) and returned.
async fn two_stories_with_an_update_each<S: Store>(s: &S) -> Vec<crate::store::Delivery> {
    s.commit_poll(&story("a", 1000, "k1", Some("alert1"), None))
        .await
        .unwrap();
    s.commit_poll(&story("o", 1000, "k9", Some("alert9"), None))
        .await
        .unwrap();
    let c = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    for d in &c {
        s.mark_sent(&[d.id], 1500).await.unwrap();
    }
    s.commit_poll(&story("b", 2000, "x1", None, Some("alert1")))
        .await
        .unwrap();
    s.commit_poll(&story("p", 2000, "y1", None, Some("alert9")))
        .await
        .unwrap();
    let c = s.claim_due("hook", 2000, 62_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["update-x1", "update-y1"]);
    c
}

/// The older pending updates of a story come with a newer one that is claimed, even while
/// they wait out a retry (the newer carries every source; sent after it, an older one would
/// set the message back); updates of other stories and unclaimed newer ones stay.
pub(crate) async fn older_updates_of_a_story_are_claimed_with_a_newer_one<S: Store>(s: S) {
    let c = two_stories_with_an_update_each(&s).await;
    let retry_at = 1_000_000;
    for d in &c {
        s.mark_retry(&[d.id], "HTTP 503", retry_at, d.claimed_until)
            .await
            .unwrap();
    }
    s.commit_poll(&story("c", 3000, "x2", None, Some("alert1")))
        .await
        .unwrap();
    let c = s.claim_due("hook", 3000, 63_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["update-x1", "update-x2"]);
    // The other story's update still waits for its retry.
    s.release(
        &c.iter().map(|d| d.id).collect::<Vec<_>>(),
        c[0].claimed_until,
    )
    .await
    .unwrap();
    let later = s
        .claim_due("hook", retry_at, retry_at + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(keys(&later), ["update-x1", "update-y1", "update-x2"]);
}

/// Regression: a digest of notes holds updates of several stories; when a newer update of one
/// of them was claimed, its older update came with it but the digest's other rows did not, so
/// the digest was sent again under its key with fewer notes (a receiver that drops repeats of
/// a key dropped the rest). The digest's rows come whole.
pub(crate) async fn a_digest_of_notes_comes_whole_with_a_newer_update_of_one_of_its_stories<
    S: Store,
>(
    s: S,
) {
    let c = two_stories_with_an_update_each(&s).await;
    // Sent together as one digest of notes, which failed: both wait for its retry.
    let ids: Vec<i64> = c.iter().map(|d| d.id).collect();
    s.begin_attempt(&ids, "nw_d_notes").await.unwrap();
    let retry_at = 1_000_000;
    s.mark_retry(&ids, "HTTP 503", retry_at, c[0].claimed_until)
        .await
        .unwrap();
    s.commit_poll(&story("c", 3000, "x2", None, Some("alert1")))
        .await
        .unwrap();
    let c = s.claim_due("hook", 3000, 63_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["update-x1", "update-y1", "update-x2"]);
    let group: Vec<Option<&str>> = c.iter().map(|d| d.group_key.as_deref()).collect();
    assert_eq!(group, [Some("nw_d_notes"), Some("nw_d_notes"), None]);
}

/// A dead digest of notes revived by retry-dead: each update comes back as attempted alone
/// (its own key), so none is folded into a new digest (it may have arrived) and no part of the
/// digest goes again under its key with fewer notes.
pub(crate) async fn retry_dead_revives_the_updates_of_a_digest_of_notes_each_alone<S: Store>(s: S) {
    let c = two_stories_with_an_update_each(&s).await;
    let ids: Vec<i64> = c.iter().map(|d| d.id).collect();
    s.begin_attempt(&ids, "nw_d_notes").await.unwrap();
    let dead = s.mark_dead(&ids, "too old", 2100, c[0].claimed_until);
    assert!(dead.await.unwrap());
    assert_eq!(s.retry_dead(5000, &["hook".into()]).await.unwrap(), (2, 0));
    let c = s.claim_due("hook", 5000, 65_000, 10).await.unwrap();
    let got: Vec<(&str, Option<&str>)> = c
        .iter()
        .map(|d| (d.idem_key.as_str(), d.group_key.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("update-x1", Some("update-x1")),
            ("update-y1", Some("update-y1"))
        ]
    );
}

/// An update whose alert was sent in a digest (no message of its own) or died has nothing to
/// edit: it is claimed (it must not wait forever) without a message id.
pub(crate) async fn a_story_update_of_an_alert_sent_without_a_ref_or_dead_has_no_ref<S: Store>(
    s: S,
) {
    s.commit_poll(&story("a", 1000, "k1", Some("sent-alert"), None))
        .await
        .unwrap();
    s.commit_poll(&story("b", 1000, "k2", Some("dead-alert"), None))
        .await
        .unwrap();
    let c = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["sent-alert", "dead-alert"]);
    s.mark_sent(&[c[0].id], 1500).await.unwrap();
    s.mark_dead(&[c[1].id], "HTTP 400", 1500, c[1].claimed_until)
        .await
        .unwrap();
    s.commit_poll(&story("c", 2000, "x1", None, Some("sent-alert")))
        .await
        .unwrap();
    s.commit_poll(&story("d", 2000, "x2", None, Some("dead-alert")))
        .await
        .unwrap();
    let u = s.claim_due("hook", 2000, 62_000, 10).await.unwrap();
    let got: Vec<(&str, Option<&str>, Option<&str>, bool)> = u
        .iter()
        .map(|d| {
            (
                d.idem_key.as_str(),
                d.story_key.as_deref(),
                d.message_ref.as_deref(),
                d.orphan,
            )
        })
        .collect();
    // Regression: an update of a dead alert was no orphan, and went out (an `alert.updated`
    // for a story the receiver never got, a note under an alert the channel never saw).
    assert_eq!(
        got,
        [
            ("update-x1", Some("sent-alert"), None, false),
            ("update-x2", Some("dead-alert"), None, true)
        ]
    );
}

/// A story opened and updated in one commit: the update comes after its alert in the outbox
/// and waits for it, even in a claim large enough for both.
pub(crate) async fn an_update_committed_with_its_alert_waits_for_it<S: Store>(s: S) {
    let out = s
        .commit_poll(&story("a", 1000, "k1", Some("alert1"), Some("alert1")))
        .await
        .unwrap();
    assert_eq!(out.enqueued, 2);
    let c = s.claim_due("hook", 1000, 61_000, 10).await.unwrap();
    assert_eq!(keys(&c), ["alert1"]);
    s.mark_sent_ref(c[0].id, 1100, "m1").await.unwrap();
    let u = s.claim_due("hook", 1100, 61_100, 10).await.unwrap();
    assert_eq!(keys(&u), ["update-k1"]);
    assert_eq!(u[0].message_ref.as_deref(), Some("m1"));
}
