//! The sink lease's send marks against a real PostgreSQL (beside `lease_tests.rs`, whose
//! helpers they share): a send in flight is never started or claimed twice across a
//! takeover, a late write of an old holder leaves the new holder's claims alone, and story
//! updates never overtake older ones being sent.

use super::PgStore;
use super::lease_tests::{LEASE, LEASE_MS, claim, commit, holds, t0, two, two_claimed_by};
use crate::store::lease::Claim;
use crate::store::{Store, now_millis};

/// Whether `s` may start sending `row` alone (no new key), marked until `mark`.
async fn starts(s: &PgStore, row: &crate::store::Delivery, mark: i64) -> bool {
    s.begin_send("slack", &[row.id], None, row.claimed_until, mark)
        .await
        .unwrap()
}

/// Regression: a takeover gave back every claim of the previous holder at once, so a send
/// that holder had in flight when its lease ran out (the database stalled past the lease, the
/// send still going) was sent a second time by the taker; chat platforms show it twice. A row
/// marked as being sent stays claimed until its mark passes; the others go at once.
#[tokio::test]
async fn a_takeover_does_not_resend_a_send_still_in_flight_at_the_old_holder() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let in_flight = &claimed[0];
    let mark = t + 130_000;
    assert!(
        starts(&a, in_flight, mark).await,
        "the holder marks its send"
    );
    // a's lease runs out while the send is in flight; b takes the sink over.
    let later = t + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    let keys = |v: &[crate::store::Delivery]| -> Vec<String> {
        v.iter().map(|d| d.idem_key.clone()).collect()
    };
    assert_eq!(
        keys(&taken),
        keys(&claimed[1..]),
        "only the row not in flight"
    );
    // a may not mark another send: the sink is b's now.
    assert!(!starts(&a, &claimed[1], later + 130_000).await);
    // b marks its own send of the other row.
    assert!(starts(&b, &taken[0], later + 130_000).await);
    // a's send never answered (or a died with it): once its mark has passed, b sends it.
    assert!(
        b.claim_due("slack", mark - 1, mark + 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after_mark = b
        .claim_due("slack", mark + 1, mark + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(keys(&after_mark), keys(&claimed[..1]));
}

/// Regression: a batch that outlived its sink lease and got the lease back (the instance that
/// had taken the sink over stopped meanwhile) started a send of a row that instance had
/// claimed and was still sending, and replaced the key it was sent under: the receiver got it
/// twice, the second time under a new key. A send starts only under the claim its batch took
/// the rows with.
#[tokio::test]
async fn a_batch_that_got_the_lease_back_does_not_start_rows_claimed_elsewhere_meanwhile() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let row = &claimed[1];
    // a stalls past its lease; b takes the sink over and starts sending the row.
    let later = t + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    let Some(theirs) = taken.iter().find(|d| d.id == row.id) else {
        panic!("the taker claims the row");
    };
    let mark = later + 130_000;
    assert!(
        b.begin_send(
            "slack",
            &[row.id],
            Some("nw_d_b"),
            theirs.claimed_until,
            mark
        )
        .await
        .unwrap()
    );
    // b stops cleanly while its send is out; a comes back and gets the lease again.
    b.release_leases().await.unwrap();
    assert!(holds(&a, "slack", later + 1_000).await);
    assert!(
        !a.begin_send(
            "slack",
            &[row.id],
            Some("nw_d_a"),
            row.claimed_until,
            later + 131_000
        )
        .await
        .unwrap(),
        "a's claim on the row was taken over: its send must not start"
    );
    let (key, until): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT group_key, sending_until FROM deliveries WHERE id = $1")
            .bind(row.id)
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert_eq!((key.as_deref(), until), (Some("nw_d_b"), Some(mark)));
    // The row b was sending is not claimed before its mark passes, by a either.
    assert!(
        a.claim_due("slack", later + 2_000, later + 302_000, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.id != row.id)
    );
}

/// Regression: a clock step moved claims and retry times but not the marks of sends in
/// flight: stepped forward, a mark passed early and a takeover could send again a send still
/// in flight; stepped back, the row (and newer updates of its story) waited an extra step.
#[tokio::test]
async fn a_clock_step_moves_the_marks_of_sends_in_flight_too() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let mark = t + 130_000;
    assert!(starts(&a, &claimed[0], mark).await);
    let step = 3_600_000;
    a.shift_times(step).await.unwrap();
    // Whatever clears the claim, the mark holds the row for the time it had left.
    let claim = claimed[0].claimed_until + step;
    a.release(&[claimed[0].id, claimed[1].id], claim)
        .await
        .unwrap();
    let moved = mark + step;
    let before = a
        .claim_due("slack", moved - 1, moved + 300_000, 10)
        .await
        .unwrap();
    assert!(before.iter().all(|d| d.id != claimed[0].id));
    let after = a
        .claim_due("slack", moved + 1, moved + 300_000, 10)
        .await
        .unwrap();
    assert!(after.iter().any(|d| d.id == claimed[0].id));
}

/// Regression: the old holder's late release of its unsent rows, after a takeover, cleared the
/// new holder's claim on them: its next claim took them a second time, and its start of the
/// first batch failed the claim check (the batch stopped, and said the sink had passed to
/// another instance). A release gives back only the claim it names.
#[tokio::test]
async fn a_late_release_by_the_old_holder_leaves_the_new_holders_claim() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let later = t + LEASE_MS + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    // a stops its batch at last and gives back what it did not send.
    let ids = [claimed[0].id, claimed[1].id];
    a.release(&ids, claimed[0].claimed_until).await.unwrap();
    assert!(
        b.claim_due("slack", later + 1, later + 300_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "b's claim holds"
    );
    assert!(starts(&b, &taken[0], later + 130_000).await);
}

/// A send recorded while another instance took the sink over is not marked again: its row is
/// no longer pending.
#[tokio::test]
async fn a_row_recorded_as_sent_cannot_be_marked_for_another_send() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    assert_eq!(claim(&a, "f", "h", t, 8).await, Claim::Granted);
    a.commit_poll(&commit("f", t, "x", "slack")).await.unwrap();
    assert!(holds(&a, "slack", t).await);
    let claimed = a.claim_due("slack", t, t + 300_000, 10).await.unwrap();
    let id = claimed[0].id;
    assert!(
        a.begin_send("slack", &[id], None, claimed[0].claimed_until, t + 130_000)
            .await
            .unwrap()
    );
    a.mark_sent(&[id], t + 1_000).await.unwrap();
    assert!(
        !a.begin_send("slack", &[id], None, claimed[0].claimed_until, t + 140_000)
            .await
            .unwrap()
    );
}

/// A row being sent stays unclaimed until its mark passes even when its claim was cleared
/// (the old holder's late release of its batch, after a takeover), and a clean stop gives
/// back the claims of a stopping instance except the rows it is still sending.
#[tokio::test]
async fn a_row_being_sent_is_not_claimed_until_its_mark_passes_whoever_clears_its_claim() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let now = now_millis();
    let claimed = two_claimed_by(&a, now).await;
    let mark = now + 130_000;
    assert!(starts(&a, &claimed[0], mark).await);
    // A clean stop: the row not being sent goes at once, the other waits for its mark.
    a.release_leases().await.unwrap();
    assert!(holds(&b, "slack", now + 1).await);
    let taken = b
        .claim_due("slack", now + 1, now + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, claimed[1].id);
    // Whatever clears the claim (here a release of the claim the clean stop left, which runs
    // to the mark), the mark still holds the row.
    a.release(&[claimed[0].id], mark).await.unwrap();
    assert!(
        b.claim_due("slack", now + 2, now + 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after = b
        .claim_due("slack", mark + 1, mark + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, claimed[0].id);
}

/// A start is all or nothing: with one row of the unit recorded elsewhere, neither its mark
/// nor its key is written; otherwise the key of a first attempt is stored with the mark.
#[tokio::test]
async fn a_start_is_recorded_for_the_whole_unit_or_not_at_all() {
    let Some((a, _b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let ids = [claimed[0].id, claimed[1].id];
    a.mark_sent(&ids[1..], t).await.unwrap();
    assert!(
        !a.begin_send(
            "slack",
            &ids,
            Some("nw_d_1"),
            claimed[0].claimed_until,
            t + 130_000
        )
        .await
        .unwrap()
    );
    let (key, mark): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT group_key, sending_until FROM deliveries WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert_eq!((key, mark), (None, None));
    assert!(
        a.begin_send(
            "slack",
            &ids[..1],
            Some("nw_d_2"),
            claimed[0].claimed_until,
            t + 130_000
        )
        .await
        .unwrap()
    );
    let key: Option<String> = sqlx::query_scalar("SELECT group_key FROM deliveries WHERE id = $1")
        .bind(ids[0])
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(key.as_deref(), Some("nw_d_2"));
}

/// An update of a story (to "slack"), committed by `s` with a poll of `feed` at `t`.
async fn update(s: &PgStore, feed: &str, t: i64, n: usize) {
    assert_eq!(claim(s, feed, "h", t, 8).await, Claim::Granted);
    let mut c = commit(feed, t, &format!("u{n}"), "slack");
    let delivery = c.deliveries.remove(0);
    c.updates = vec![crate::store::NewUpdate {
        delivery,
        story_key: "f0-x".into(),
        alert_item: None,
    }];
    s.commit_poll(&c).await.unwrap();
}

/// Regression: updates of a story that a stopped holder was sending were held until their
/// mark passed, while a newer update of the story went at once; sent after it, the older ones
/// would set the message back to fewer sources. The newer update now waits, and then all go
/// together.
#[tokio::test]
async fn a_newer_story_update_waits_for_older_ones_a_stopped_holder_was_sending() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    // The story's alert, sent.
    assert_eq!(claim(&a, "f0", "h", t, 8).await, Claim::Granted);
    a.commit_poll(&commit("f0", t, "x", "slack")).await.unwrap();
    assert!(holds(&a, "slack", t).await);
    let alert = a.claim_due("slack", t, t + 300_000, 10).await.unwrap();
    a.mark_sent(&[alert[0].id], t).await.unwrap();
    // Two updates, claimed and being sent by a when it stops answering.
    update(&a, "f1", t + 1_000, 1).await;
    update(&a, "f2", t + 2_000, 2).await;
    let sending = a
        .claim_due("slack", t + 3_000, t + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(sending.len(), 2);
    let ids: Vec<i64> = sending.iter().map(|d| d.id).collect();
    let mark = t + 133_000;
    assert!(
        a.begin_send("slack", &ids, None, sending[0].claimed_until, mark)
            .await
            .unwrap()
    );
    // A newer update comes while b holds the sink: it waits for the older ones.
    let later = t + LEASE_MS + 10_000;
    assert!(holds(&b, "slack", later).await);
    update(&b, "f3", later, 3).await;
    assert!(
        b.claim_due("slack", later, later + 300_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let all = b
        .claim_due("slack", mark + 1, mark + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        3,
        "the three updates go together, the newest carrying them"
    );
}

/// Regression: the old holder's failure, recorded after its send's mark had passed and the
/// taker had claimed the row and started sending it, cleared the taker's claim and mark: the
/// taker's next claim (or a third instance's) took the row again while its send was in flight,
/// and the receiver got it twice. A failure is recorded only under the claim it names.
#[tokio::test]
async fn an_old_holders_late_failure_leaves_the_takers_send_alone() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    let mark = t + 130_000;
    assert!(starts(&a, &claimed[0], mark).await);
    // a stalls past its lease and its mark; b takes the sink over and sends both rows.
    let later = mark + 1;
    assert!(holds(&b, "slack", later).await);
    let taken = b
        .claim_due("slack", later, later + 300_000, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    let theirs = taken.iter().find(|d| d.id == claimed[0].id);
    let Some(theirs) = theirs else {
        panic!("the taker claims the row a had in flight");
    };
    assert!(starts(&b, theirs, later + 130_000).await);
    // a's send answers at last, with an error: a records it under its own claim.
    let ids = [claimed[0].id, claimed[1].id];
    let claim = claimed[0].claimed_until;
    assert!(!a.mark_retry(&ids, "HTTP 503", later, claim).await.unwrap());
    assert!(!a.mark_dead(&ids, "HTTP 400", later, claim).await.unwrap());
    // b's claims and mark hold: nothing is claimed again while b sends.
    assert!(
        b.claim_due("slack", later + 1_000, later + 301_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (attempts, error): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM deliveries WHERE id = $1")
            .bind(claimed[0].id)
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert_eq!((attempts, error), (0, None));
    b.mark_sent(&[theirs.id], later + 2_000).await.unwrap();
}

/// Regression: the rate count of an instance taking a sink over (see `Store::sends_since`)
/// left out the rows the old holder was still sending; they are marked sent only after the
/// count, so the new holder started with their share of the budget as well.
#[tokio::test]
async fn rows_another_instance_is_sending_count_in_the_sinks_messages() {
    let Some((a, b)) = two(LEASE).await else {
        return;
    };
    let t = t0();
    let claimed = two_claimed_by(&a, t).await;
    assert_eq!(b.sends_since("slack", 0).await.unwrap().len(), 0);
    let id = claimed[0].id;
    assert!(
        a.begin_send("slack", &[id], None, claimed[0].claimed_until, t + 130_000)
            .await
            .unwrap()
    );
    assert_eq!(b.sends_since("slack", 0).await.unwrap().len(), 1);
    a.mark_sent(&[id], now_millis()).await.unwrap();
    assert_eq!(b.sends_since("slack", 0).await.unwrap().len(), 1);
}
