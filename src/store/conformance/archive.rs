//! The archive's side of the contract (`newswatch backtest`): a poll's new items stored with
//! its commit, read back in commit order page by page, totalled, and pruned by age.

use super::{archived, commit};
use crate::store::Millis;
use crate::store::Store;
use crate::store::archive::ArchiveKeep;

pub(crate) async fn a_polls_new_items_are_archived_with_its_commit_and_read_back_in_commit_order<
    S: Store,
>(
    s: S,
) {
    s.commit_poll(&archived("a", 1000, &["k1", "k2"]))
        .await
        .unwrap();
    s.commit_poll(&archived("b", 2000, &["k3"])).await.unwrap();
    // A commit without an archive record adds none.
    s.commit_poll(&commit("a", 3000, &["k1"], vec![]))
        .await
        .unwrap();
    let t = s.archive_totals(0).await.unwrap();
    assert_eq!((t.records, t.items, t.oldest), (2, 3, Some(1000)));
    assert!(t.bytes > 0);
    let rows = s.archive_page(0, 0, 10).await.unwrap();
    let order: Vec<(&str, Millis, u32)> = rows
        .iter()
        .map(|r| (r.feed.as_str(), r.first_seen, r.items))
        .collect();
    assert_eq!(order, [("a", 1000, 2), ("b", 2000, 1)]);
    assert!(rows[0].id < rows[1].id, "a later commit has a larger id");
    // Paging by id, and `since`.
    let next = s.archive_page(0, rows[0].id, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].feed, "b");
    assert_eq!(s.archive_page(1500, 0, 10).await.unwrap().len(), 1);
    let mut items = Vec::new();
    crate::store::archive::ArchiveDecoder::default()
        .decode(&rows[0], &mut items)
        .unwrap();
    let keys: Vec<&str> = items.iter().map(|i| i.item.key.0.as_str()).collect();
    assert_eq!(keys, ["k1", "k2"]);
}

/// `limit` bounds a page, `after_id` continues it; the totals count only records first seen
/// at or after `since`, and the stored bytes are the records' blobs.
pub(crate) async fn archive_pages_and_totals_start_at_since<S: Store>(s: S) {
    let empty = s.archive_totals(0).await.unwrap();
    assert_eq!(
        (empty.records, empty.items, empty.bytes, empty.oldest),
        (0, 0, 0, None)
    );
    let commits = [
        archived("a", 1000, &["k1"]),
        archived("b", 2000, &["k2", "k3"]),
        archived("a", 3000, &["k4", "k5", "k6"]),
    ];
    for c in &commits {
        s.commit_poll(c).await.unwrap();
    }
    let first = s.archive_page(0, 0, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|r| r.first_seen).collect::<Vec<_>>(),
        [1000, 2000]
    );
    let rest = s.archive_page(0, first[1].id, 2).await.unwrap();
    assert_eq!(
        rest.iter().map(|r| r.first_seen).collect::<Vec<_>>(),
        [3000]
    );
    assert!(s.archive_page(0, rest[0].id, 2).await.unwrap().is_empty());
    // Each row is the record committed, byte for byte.
    let blobs: Vec<(u32, u32, &[u8])> = commits
        .iter()
        .map(|c| {
            let a = c.archive.as_ref().unwrap();
            (a.items, a.raw_len, a.blob.as_slice())
        })
        .collect();
    let all = s.archive_page(0, 0, 10).await.unwrap();
    let got: Vec<(u32, u32, &[u8])> = all
        .iter()
        .map(|r| (r.items, r.raw_len, r.blob.as_slice()))
        .collect();
    assert_eq!(got, blobs);
    let t = s.archive_totals(2000).await.unwrap();
    let bytes = (blobs[1].2.len() + blobs[2].2.len()) as i64;
    assert_eq!(
        (t.records, t.items, t.bytes, t.oldest),
        (2, 5, bytes, Some(2000))
    );
    let t = s.archive_totals(3001).await.unwrap();
    assert_eq!((t.records, t.items, t.oldest), (0, 0, None));
}

pub(crate) async fn archive_prune_removes_records_first_seen_before_the_cut<S: Store>(s: S) {
    for (feed, at) in [("a", 1000), ("b", 2000), ("a", 3000)] {
        s.commit_poll(&archived(feed, at, &[&format!("k{at}")]))
            .await
            .unwrap();
    }
    assert_eq!(s.prune_archive(1000).await.unwrap(), 0);
    assert_eq!(s.prune_archive(2000).await.unwrap(), 1);
    let t = s.archive_totals(0).await.unwrap();
    assert_eq!((t.records, t.items, t.oldest), (2, 2, Some(2000)));
    let left: Vec<Millis> = s
        .archive_page(0, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.first_seen)
        .collect();
    assert_eq!(left, [2000, 3000]);
    // "off" prunes everything.
    let off = ArchiveKeep::Off.prune_before(10_000);
    assert_eq!(s.prune_archive(off).await.unwrap(), 2);
    assert_eq!(s.archive_totals(0).await.unwrap().records, 0);
    // Pruning the archive forgets no seen key.
    assert_eq!(
        s.known_items("a", &["k1000".into()]).await.unwrap().len(),
        1
    );
}
