//! What a batch records in the metrics, read from a recorder local to the test (the latency
//! of each sent row: see also `store_failure_tests.rs` for rows that fail).

use super::health::Health;
use super::tests::{Fake, commit, send_claimed};
use crate::store::sqlite::SqliteStore;
use crate::store::{NewDelivery, Store, now_millis};

/// Regression (review of the metrics): a digest recorded its oldest row's latency for every
/// row it carried, so one alert queued an hour before a burst of fresh ones put the whole
/// burst at an hour in `newswatch_delivery_latency_seconds` (p50 and p99 far past the real
/// ones). Each row counts its own time from its match.
#[test]
fn a_digest_records_each_rows_own_latency() {
    let recorded = crate::ops::metrics::Recorded::new();
    let hour = 3_600_000;
    let (before, after) = recorded.run(async {
        let store = SqliteStore::in_memory().await.unwrap();
        let now = now_millis();
        let mut alert = crate::deliver::template::sample_alert();
        let deliveries: Vec<NewDelivery> = [("old", now - hour), ("new1", now), ("new2", now)]
            .into_iter()
            .map(|(key, matched)| {
                alert.item_key = key.into();
                alert.title = key.into();
                alert.matched_at = chrono::DateTime::from_timestamp_millis(matched).unwrap();
                NewDelivery {
                    idem_key: key.into(),
                    sink: "fake".into(),
                    watch: "w".into(),
                    item_key: key.into(),
                    alert_json: serde_json::to_string(&alert).unwrap(),
                    canonical_link: None,
                }
            })
            .collect();
        let keys = deliveries.iter().map(|d| d.item_key.clone()).collect();
        commit(&store, keys, deliveries, now).await;
        let batch = store
            .claim_due("fake", now, now + 60_000, 100)
            .await
            .unwrap();
        let sink = Fake::default();
        let before = now_millis();
        let (report, _) = send_claimed(&store, &sink, &mut Health::default(), batch, 1).await;
        assert_eq!(report.sent, 3);
        assert_eq!(sink.digests.lock().unwrap().len(), 1, "sent as one digest");
        (before - now, now_millis() - now)
    });
    let text = recorded.text();
    let value = |name: &str| super::tests::sample(&text, name);
    assert_eq!(value("newswatch_delivery_latency_seconds_count"), 3.0);
    // An hour for the old row and next to nothing for the two fresh ones; not three hours.
    let sum = value("newswatch_delivery_latency_seconds_sum");
    let (low, high) = ((hour + 3 * before) as f64, (hour + 3 * after) as f64);
    assert!(
        (low / 1000.0 - 0.001..=high / 1000.0 + 0.001).contains(&sum),
        "latencies summing to {sum} s, not between {low} and {high} ms"
    );
}
