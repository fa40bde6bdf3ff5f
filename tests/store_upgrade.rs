//! The SQLite state across versions and processes: a database made by the first schema is
//! upgraded without losing what protects it, and a daemon that cannot take the state lock
//! changes nothing in the file.

use std::path::Path;
use std::str::FromStr;

use newswatch::store::sqlite::SqliteStore;
use newswatch::store::{PruneRules, Store, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

/// The migrations the program runs, to build databases as older versions left them.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

async fn pool(path: &Path) -> SqlitePool {
    let opts = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(path)
        .create_if_missing(true);
    SqlitePool::connect_with(opts).await.unwrap()
}

/// A state file at schema `version`, as the release that had that schema made it.
async fn old_database(path: &Path, version: i64) -> SqlitePool {
    let pool = pool(path).await;
    MIGRATOR.run_to(version, &pool).await.unwrap();
    pool
}

async fn schema_version(path: &Path) -> i64 {
    let pool = pool(path).await;
    let v = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    v
}

#[tokio::test]
async fn migration_0003_left_last_fetch_at_null_and_pruning_forgot_the_current_items() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newswatch.db");
    let old = old_database(&path, 2).await;
    // Feed `a`: its latest full fetch (t=5000) listed k1 and k2; k-old left the feed long ago;
    // it has answered 304 since (last_success_at 9000). Feed `b` never served an item.
    sqlx::query(
        "INSERT INTO feeds (feed, config_url, last_poll_at, last_success_at, last_result, baselined)
         VALUES ('a', 'https://a.example/rss', 9000, 9000, 'not_modified', 1),
                ('b', 'https://b.example/rss', 9000, 9000, 'ok', 1)",
    )
    .execute(&old)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO seen (feed, item_key, first_seen, last_seen)
         VALUES ('a', 'k-old', 100, 1000), ('a', 'k1', 1000, 5000), ('a', 'k2', 5000, 5000)",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    let check = pool(&path).await;
    let backfilled: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT feed, last_fetch_at FROM feeds ORDER BY feed")
            .fetch_all(&check)
            .await
            .unwrap();
    check.close().await;
    assert_eq!(
        backfilled,
        [("a".to_string(), Some(5000)), ("b".to_string(), None)]
    );

    // Past the retention for everything: only the item that left the feed is forgotten.
    let rules = PruneRules {
        seen_before: 8000,
        links_before: 0,
        sent_before: 0,
        dead_before: 0,
        removed_before: 0,
        stories_before: 0,
    };
    assert_eq!(store.prune(rules).await.unwrap(), 1);
    let known = store
        .known_items("a", &["k-old".into(), "k1".into(), "k2".into()])
        .await
        .unwrap();
    assert!(known.contains("k1") && known.contains("k2"), "{known:?}");
    assert!(!known.contains("k-old"), "{known:?}");
}

#[tokio::test]
async fn migrations_ran_before_the_state_lock_was_taken() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newswatch.db");
    old_database(&path, 2).await.close().await;
    // Another daemon owns the state file (an older release, still running).
    let lock = std::fs::File::create(dir.path().join("newswatch.db.lock")).unwrap();
    lock.try_lock().unwrap();

    match SqliteStore::open_exclusive(&path).await {
        Err(StoreError::Locked { path: p }) => assert!(p.contains("newswatch.db"), "{p}"),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(
        schema_version(&path).await,
        2,
        "a daemon that cannot own the state must not migrate it under the running one"
    );

    drop(lock);
    let store = SqliteStore::open_exclusive(&path).await.unwrap();
    drop(store);
    assert!(schema_version(&path).await > 2);
}

/// Story updates queued by a release that stored no key on them are marked attempted alone by
/// the upgrade: one of them may have been sent (a send cut off by a crash), and folded into a
/// digest of notes it would show twice. Alerts and sent rows are left as they were.
#[tokio::test]
async fn migration_0011_marks_the_pending_story_updates_of_earlier_releases_attempted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newswatch.db");
    let old = old_database(&path, 10).await;
    sqlx::query(
        "INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, state,
           created_at, next_attempt_at, story_key, group_key)
         VALUES ('u1', 's', 'w', 'f', 'i1', '{}', 'pending', 1, 1, 'a1', NULL),
                ('u2', 's', 'w', 'f', 'i2', '{}', 'sent', 1, 1, 'a1', NULL),
                ('a1', 's', 'w', 'f', 'i0', '{}', 'pending', 1, 1, NULL, NULL),
                ('a2', 's', 'w', 'f', 'i3', '{}', 'pending', 1, 1, NULL, 'nw_d_x')",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    drop(store);
    let check = pool(&path).await;
    let keys: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT idem_key, group_key FROM deliveries ORDER BY id")
            .fetch_all(&check)
            .await
            .unwrap();
    check.close().await;
    let want = [
        ("u1", Some("u1")),
        ("u2", None),
        ("a1", None),
        ("a2", Some("nw_d_x")),
    ];
    let want: Vec<(String, Option<String>)> = want
        .iter()
        .map(|(k, g)| (k.to_string(), g.map(str::to_string)))
        .collect();
    assert_eq!(keys, want);
}

/// Regression (review of upgrades): `deliveries retry` and `purge` open the state without
/// migrating it, and never asked whose schema it was: an older binary left on PATH revived
/// rows of a state a newer release had migrated by its older rules (a note it revived looked
/// never attempted and went again in a digest). A state of another release, newer or older,
/// is refused, saying which; nothing in it changes.
#[tokio::test]
async fn operator_commands_that_change_rows_refuse_a_state_of_another_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newswatch.db");
    let cfg = dir.path().join("newswatch.toml");
    std::fs::write(
        &cfg,
        "[daemon]\nstate = \"newswatch.db\"\nlisten = \"off\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"stdout\"\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let newswatch = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(args)
            .args(["-c", cfg])
            .output()
            .unwrap()
    };
    let dead = async || -> i64 {
        let db = pool(&path).await;
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'")
            .fetch_one(&db)
            .await
            .unwrap();
        db.close().await;
        n
    };
    let newest = {
        let db = old_database(&path, i64::MAX).await;
        sqlx::query(
            "INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, state,
                                     attempts, next_attempt_at, created_at)
             VALUES ('k', 'hook', 'w', 'f', 'i', '{}', 'dead', 3, 0, 0)",
        )
        .execute(&db)
        .await
        .unwrap();
        db.close().await;
        schema_version(&path).await
    };
    // This release's own state: the command works.
    let o = newswatch(&["deliveries", "retry", "--dead"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(dead().await, 0, "{}", String::from_utf8_lossy(&o.stdout));
    let db = pool(&path).await;
    sqlx::query("UPDATE deliveries SET state = 'dead'")
        .execute(&db)
        .await
        .unwrap();
    // A newer release migrated it.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (?1, 'from a newer release', 1, x'00', 0)",
    )
    .bind(newest + 1)
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    // `run` and `migrate` too (they said "migration N was previously applied but is missing
    // in the resolved migrations", `run` without naming the file).
    for args in [
        &["deliveries", "retry", "--dead"][..],
        &["deliveries", "purge", "--dead"][..],
        &["run", "--once"][..],
        &["migrate"][..],
    ] {
        let o = newswatch(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "the state was written by a newer newswatch release (its migration {}",
                newest + 1
            )),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("newswatch.db"),
            "{args:?} names the file: {err}"
        );
        assert_eq!(dead().await, 1, "{args:?} changed the state");
    }
    // An older state (its last migration not applied): migrate first.
    let db = pool(&path).await;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= ?1")
        .bind(newest)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let o = newswatch(&["deliveries", "retry", "--dead"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "older than this release (migration {newest} not applied): restart the daemon, or run `newswatch migrate` while it is stopped"
        )),
        "{err}"
    );
    assert_eq!(dead().await, 1);
}
