//! What only the PostgreSQL store has: the instance lock, claims racing on a shared server,
//! and operator commands on a database without the schema. The contract both stores share is
//! the conformance suite's ([`crate::store::conformance`]).

use super::testing::{fresh, fresh_options};
use super::*;
use crate::store::NewDelivery;
use sqlx::Connection;

/// The instance lock is one per database, and the tests share one: those that take it run
/// one at a time.
static INSTANCE_LOCK_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn delivery(key: &str, sink: &str) -> NewDelivery {
    NewDelivery {
        idem_key: key.into(),
        sink: sink.into(),
        watch: "w".into(),
        item_key: format!("item-{key}"),
        alert_json: "{}".into(),
        canonical_link: None,
    }
}

fn commit(feed: &str, now: Millis, keys: &[&str], deliveries: Vec<NewDelivery>) -> PollCommit {
    PollCommit {
        feed: feed.into(),
        config_url: format!("https://example.org/{feed}"),
        now,
        next_poll_at: now + 60_000,
        item_keys: keys.iter().map(|k| k.to_string()).collect(),
        deliveries,
        repeat_window_ms: 3_600_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_second_daemon_on_the_same_database_is_refused_until_the_first_is_gone() {
    let _one_at_a_time = INSTANCE_LOCK_TESTS.lock().await;
    let Ok(opts) = fresh_options().await else {
        return eprintln!("skipped: no PostgreSQL (see store::postgres::testing)");
    };
    let first = PgStore::open_exclusive_with(opts.clone()).await.unwrap();
    match PgStore::open_exclusive_with(opts.clone()).await {
        Err(StoreError::DbLocked) => {}
        other => panic!("expected the instance lock to refuse, got {other:?}"),
    }
    drop(first);
    // The lock goes with the connection; the server notices the close at once, but give it
    // a moment under load.
    let mut second = None;
    for _ in 0..50 {
        match PgStore::open_exclusive_with(opts.clone()).await {
            Ok(s) => {
                second = Some(s);
                break;
            }
            Err(StoreError::DbLocked) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        second.is_some(),
        "the lock was not released with its connection"
    );
}

#[tokio::test]
async fn concurrent_claims_never_take_the_same_delivery() {
    let Some(s) = fresh().await else { return };
    let ds = (0..200)
        .map(|i| delivery(&format!("k{i}"), "slack"))
        .collect();
    let keys: Vec<String> = (0..200).map(|i| format!("i{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    s.commit_poll(&commit("f", 1_000, &keys, ds)).await.unwrap();
    let claims = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.claim_due("slack", 2_000, 60_000, 40).await.unwrap() })
    });
    let mut ids = Vec::new();
    for c in claims {
        ids.extend(c.await.unwrap().into_iter().map(|d| d.id));
    }
    let distinct: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "a delivery was claimed twice");
    assert_eq!(ids.len(), 200, "every due delivery was claimed by someone");
}

#[tokio::test]
async fn operator_commands_on_a_database_without_tables_say_so() {
    let Ok(opts) = fresh_options().await else {
        return eprintln!("skipped: no PostgreSQL (see store::postgres::testing)");
    };
    match PgStore::open_existing_with(opts.clone()).await {
        Err(StoreError::NoSchema) => {}
        other => panic!("expected NoSchema, got {other:?}"),
    }
    PgStore::open_with(opts.clone()).await.unwrap();
    let s = PgStore::open_existing_with(opts).await.unwrap();
    assert_eq!(s.feed_states().await.unwrap(), vec![]);
}

#[tokio::test]
async fn an_invalid_url_is_reported_without_quoting_it() {
    let err = PgStore::open_exclusive("postgres://user:s3cret@host:notaport/db")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Url(_)), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
}

/// The contract both stores share, each test on a fresh schema of its own.
mod conformance {
    crate::store::store_conformance!(optional: crate::store::postgres::testing::fresh().await);
}

/// The backend pid holding the instance lock, as the server sees it.
async fn lock_holder(s: &PgStore) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND (classid::bigint << 32) + objid::bigint = $1",
    )
    .bind(0x6e65_7773_7761_7463_i64)
    .fetch_optional(&s.pool)
    .await
    .unwrap()
}

async fn terminate(s: &PgStore, pid: i32) {
    let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(done, "could not end backend {pid}");
}

/// Regression: the lock went with its connection (a server restart, a cut) and was never
/// taken again, so a second daemon could start beside the first.
#[tokio::test]
async fn a_lost_lock_connection_is_replaced_and_the_lock_taken_again() {
    let _one_at_a_time = INSTANCE_LOCK_TESTS.lock().await;
    let Ok(opts) = fresh_options().await else {
        return eprintln!("skipped: no PostgreSQL (see store::postgres::testing)");
    };
    let check = Duration::from_millis(200);
    let s = PgStore::open_exclusive_checked(opts.clone(), check)
        .await
        .unwrap();
    let first = lock_holder(&s).await.expect("the lock is held");
    terminate(&s, first).await;
    let mut again = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        again = lock_holder(&s).await.filter(|p| *p != first);
        if again.is_some() {
            break;
        }
    }
    assert!(again.is_some(), "the lock was not taken again");
    assert!(!s.lock_lost().unwrap().is_cancelled());
    assert!(matches!(
        PgStore::open_exclusive_with(opts).await,
        Err(StoreError::DbLocked)
    ));
}

#[tokio::test]
async fn a_lock_taken_by_another_daemon_meanwhile_is_reported_lost() {
    let _one_at_a_time = INSTANCE_LOCK_TESTS.lock().await;
    let Ok(opts) = fresh_options().await else {
        return eprintln!("skipped: no PostgreSQL (see store::postgres::testing)");
    };
    // A probe every 2 s: the other daemon below takes the lock within milliseconds of the
    // first's session ending, long before the first looks.
    let check = Duration::from_secs(2);
    let s = PgStore::open_exclusive_checked(opts.clone(), check)
        .await
        .unwrap();
    let lost = s.lock_lost().unwrap();
    let first = lock_holder(&s).await.expect("the lock is held");
    // The other daemon's connection is open before the first's session ends.
    let mut other = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    terminate(&s, first).await;
    let mut taken = false;
    for _ in 0..500 {
        taken = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(0x6e65_7773_7761_7463_i64)
            .fetch_one(&mut other)
            .await
            .unwrap();
        if taken {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(taken, "the lock was not free after its backend ended");
    tokio::time::timeout(Duration::from_secs(15), lost.cancelled())
        .await
        .expect("the first daemon did not notice it lost the lock");
}

/// Regression: two polls enqueueing alerts of the same watches in opposite orders, with a
/// link both carry, locked each other's day, link and counter rows and the server aborted one
/// of them as a deadlock (its alerts came a poll later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_enqueueing_at_once_never_deadlock() {
    let Some(s) = fresh().await else { return };
    let alert = |key: String, watch: &str| NewDelivery {
        idem_key: key.clone(),
        sink: "slack".into(),
        watch: watch.into(),
        item_key: key,
        alert_json: "{}".into(),
        canonical_link: Some(format!("https://example.org/{watch}")),
    };
    for round in 0..30 {
        let now = 1_000 + round * 1_000_000_000;
        let a = commit(
            "a",
            now,
            &["x"],
            vec![
                alert(format!("a{round}1"), "w1"),
                alert(format!("a{round}2"), "w2"),
            ],
        );
        let b = commit(
            "b",
            now,
            &["y"],
            vec![
                alert(format!("b{round}2"), "w2"),
                alert(format!("b{round}1"), "w1"),
            ],
        );
        let (ra, rb) = tokio::join!(s.commit_poll(&a), s.commit_poll(&b));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        // The shared links: each watch alerts once per round, the other feed's is a repeat.
        assert_eq!(ra.enqueued + rb.enqueued, 2, "round {round}");
        assert_eq!(ra.suppressed + rb.suppressed, 2, "round {round}");
    }
}
