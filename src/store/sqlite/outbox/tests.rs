//! What only the SQLite outbox promises: the status queries' plans, and a prune that takes a
//! large backlog whole in statement batches with the trigger-kept counts still right. The
//! outbox's contract itself is checked by the store's conformance suite.

use crate::store::conformance::{add, keep_all};
use crate::store::sqlite::SqliteStore;
use crate::store::{PruneRules, Store};

async fn count(s: &SqliteStore, state: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = ?1")
        .bind(state)
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

/// The trigger-kept counts agree with the table.
async fn counts_agree(s: &SqliteStore) {
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!(
        (sum.pending, sum.sent, sum.dead),
        (
            count(s, "pending").await,
            count(s, "sent").await,
            count(s, "dead").await
        )
    );
}

/// `/metrics` and `status` must not scan the outbox: the plans use indexes or tiny tables.
#[tokio::test]
async fn summary_queries_use_indexes() {
    let s = SqliteStore::in_memory().await.unwrap();
    add(&s, "a", 1000, &["k1"], "chat").await;
    for sql in [
        "SELECT MIN(created_at) FROM deliveries WHERE state = 'pending'",
        "SELECT id FROM deliveries WHERE state = 'dead' ORDER BY id DESC LIMIT 50",
        "DELETE FROM deliveries WHERE state = 'sent' AND sent_at < 5",
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&s.pool)
                .await
                .unwrap();
        let text: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            text.iter().all(|t| !t.starts_with("SCAN deliveries")),
            "{sql}: {text:?}"
        );
        assert!(text.iter().any(|t| t.contains("INDEX")), "{sql}: {text:?}");
    }
}

/// Pruning goes in batches (the connection is shared); every batch is taken, not only the
/// first.
#[tokio::test]
async fn a_large_backlog_is_pruned_whole_in_batches() {
    let s = SqliteStore::in_memory().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 12001)
         INSERT INTO deliveries (idem_key, sink, watch, feed, item_key, alert, state, created_at,
                                 next_attempt_at, sent_at)
         SELECT 'k' || i, 's', 'w', 'f', 'k' || i, '{}', 'sent', 1, 1, 1 FROM k",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let removed = s
        .prune(PruneRules {
            sent_before: 10,
            ..keep_all()
        })
        .await
        .unwrap();
    assert_eq!(removed, 12_001);
    counts_agree(&s).await;
}
