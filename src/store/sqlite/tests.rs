//! The SQLite store against an in-memory database: the [`Store`] contract's suite, and what
//! only this backend promises (the archive prune's statement batches).
//!
//! The rest of the SQLite-only tests sit beside the code they pin: the commit and 304 writers
//! (`feeds`, `polls`, `batch`), the outbox's query plans and prune batches (`outbox`).

use super::upkeep::PRUNE_BATCH;
use super::*;
use crate::store::conformance::archived;

/// The whole [`Store`] contract, each test on its own fresh in-memory database.
mod conformance {
    crate::store::store_conformance!(
        crate::store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap()
    );
}

/// The archive prune deletes in statements of [`PRUNE_BATCH`] rows (the one connection is
/// shared) and takes every batch, not only the first.
#[tokio::test]
async fn archive_prune_removes_records_first_seen_before_the_cut_in_batches() {
    let s = SqliteStore::in_memory().await.unwrap();
    // More than one prune batch of old records, and one recent.
    for i in 0..(PRUNE_BATCH + 3) {
        s.commit_poll(&archived("a", 1000 + i, &[&format!("k{i}")]))
            .await
            .unwrap();
    }
    s.commit_poll(&archived("a", 1_000_000, &["new"]))
        .await
        .unwrap();
    let n = s.prune_archive(500_000).await.unwrap();
    assert_eq!(n, PRUNE_BATCH as u64 + 3);
    let t = s.archive_totals(0).await.unwrap();
    assert_eq!((t.records, t.items), (1, 1));
    // "off" prunes everything.
    let off = crate::store::archive::ArchiveKeep::Off.prune_before(2_000_000);
    assert_eq!(s.prune_archive(off).await.unwrap(), 1);
    assert_eq!(s.archive_totals(0).await.unwrap().records, 0);
}

/// The arm a backend without a database uses: on `None`, a test is skipped, not failed.
mod conformance_skipped {
    crate::store::store_conformance!(@tests (optional) None::<crate::store::sqlite::SqliteStore>;
        feeds::commit_marks_seen_and_enqueues_once);
}

/// Regression: the state file (feed URLs with their credentials, the alerts waiting to be
/// sent) was created with the process's umask: run from a shell, 0644, readable by every local
/// user, and its `-wal` and `-shm` files with it. Only the owner reads them now.
#[tokio::test]
async fn the_state_file_and_its_companions_are_its_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/newswatch.db");
    let store = SqliteStore::open_exclusive(&path).await.unwrap();
    store.feed_states().await.unwrap();
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}: {mode:o}");
    }
}

/// Regression (review of upgrades): the lock was the state's path as written plus `.lock`;
/// two configurations naming one state file, one through a symbolic link to it, took two
/// locks, and two daemons polled and sent everything twice. The owner through a link locks
/// beside the link and beside the file.
#[tokio::test]
async fn one_state_file_named_through_a_link_has_one_owner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newswatch.db");
    let link = dir.path().join("link.db");
    let owner = SqliteStore::open_exclusive(&path).await.unwrap();
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let second = |p: std::path::PathBuf| async move {
        match SqliteStore::open_exclusive(&p).await {
            Err(StoreError::Locked { .. }) => {}
            Err(e) => panic!("{}: expected Locked, got {e}", p.display()),
            Ok(_) => panic!("{}: a second owner of the state", p.display()),
        }
    };
    second(link.clone()).await;
    drop(owner);
    let owner = SqliteStore::open_exclusive(&link).await.unwrap();
    second(path.clone()).await;
    drop(owner);
    // A release that locked beside the link only, still running during an upgrade.
    let older = std::fs::File::create(dir.path().join("link.db.lock")).unwrap();
    older.try_lock().unwrap();
    second(link).await;
}

/// A renamed feed's first poll looks its old name up by URL: through an index, since in a
/// first round of thousands of new feeds each asks once (a scan of every feed each was
/// quadratic in the number of feeds).
#[tokio::test]
async fn the_lookup_of_feeds_by_url_reads_an_index() {
    let s = SqliteStore::in_memory().await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {}",
        super::feeds::FEEDS_AT_URL
    )))
    .bind("https://a.example/rss")
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let text: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("USING INDEX feeds_by_config_url (config_url=?)")),
        "{text:#?}"
    );
}
