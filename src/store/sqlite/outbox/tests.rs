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

/// Regression (review of costs at scale): a sink's claim read every pending row of the sink,
/// twice (its first rows sorted out of `deliveries_due`; its stories' older updates asked of
/// each pending row), 45 ms a claim with 50,000 waiting, on the one connection, for each of
/// the thousands of claims that drain them. Every branch is found by an index on a few rows.
#[tokio::test]
async fn a_claim_reads_no_more_than_the_rows_it_claims() {
    let s = SqliteStore::in_memory().await.unwrap();
    add(&s, "a", 1000, &["k1"], "chat").await;
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {}",
        super::CLAIM
    )))
    .bind("chat")
    .bind(5000)
    .bind(65_000)
    .bind(16)
    .bind(5000)
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let text: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("USING INDEX deliveries_pending_by_sink (sink=?)")),
        "{text:#?}"
    );
    assert!(
        text.iter().all(|t| !t.contains("deliveries_due")
            && !t.contains("deliveries_by_state")
            && !t.starts_with("SCAN deliveries")
            && !t.starts_with("SCAN d ")
            && !t.starts_with("SCAN o ")
            && !t.contains("USE TEMP B-TREE FOR ORDER BY")),
        "{text:#?}"
    );
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
