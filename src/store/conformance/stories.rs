//! The stories' side of the contract: items grouped into stories are stored with their poll
//! (at the poll's time), read back in grouping order to rebuild the index, and pruned.

use super::{alert, commit, keep_all};
use crate::store::{PruneRules, Store, StoryItemRow};

fn row(watch: &str, story: i64, feed: &str, item: &str, alert: Option<&str>) -> StoryItemRow {
    StoryItemRow {
        watch: watch.into(),
        story,
        feed: feed.into(),
        item_key: item.into(),
        title: format!("title {item}"),
        lead: format!("lead {item}"),
        link: Some(format!("https://{feed}.example/{item}")),
        published: 1_700_000_000,
        alert: alert.map(str::to_string),
        // Set by the store from the poll's time.
        at: 0,
    }
}

/// Two polls' story items: a story opened (with its alert) and joined in one poll at 1000,
/// another watch's story in a second poll at 2000.
async fn two_polls<S: Store>(s: &S) -> Vec<StoryItemRow> {
    let first = vec![
        row("w", 1, "a", "k1", Some("{\"alert\":1}")),
        StoryItemRow {
            link: None,
            ..row("w", 1, "a", "k2", None)
        },
    ];
    let second = vec![row("w2", 7, "b", "x1", Some("{\"alert\":2}"))];
    let mut c = commit("a", 1000, &["k1", "k2"], vec![]);
    c.story_items = first.clone();
    s.commit_poll(&c).await.unwrap();
    let mut c = commit("b", 2000, &["x1"], vec![]);
    c.story_items = second.clone();
    s.commit_poll(&c).await.unwrap();
    let at = |r: StoryItemRow, at| StoryItemRow { at, ..r };
    first
        .into_iter()
        .map(|r| at(r, 1000))
        .chain(second.into_iter().map(|r| at(r, 2000)))
        .collect()
}

pub(crate) async fn story_items_are_read_back_in_grouping_order_from_a_time<S: Store>(s: S) {
    assert!(s.story_items(0).await.unwrap().is_empty());
    let want = two_polls(&s).await;
    assert_eq!(s.story_items(0).await.unwrap(), want);
    assert_eq!(s.story_items(1000).await.unwrap(), want);
    assert_eq!(s.story_items(1001).await.unwrap(), want[2..]);
    assert_eq!(s.story_items(2000).await.unwrap(), want[2..]);
    assert!(s.story_items(2001).await.unwrap().is_empty());
}

pub(crate) async fn story_items_are_pruned_before_stories_before<S: Store>(s: S) {
    let want = two_polls(&s).await;
    let rules = |stories_before| PruneRules {
        stories_before,
        ..keep_all()
    };
    assert_eq!(s.prune(rules(1000)).await.unwrap(), 0);
    assert_eq!(s.story_items(0).await.unwrap(), want);
    assert_eq!(s.prune(rules(1500)).await.unwrap(), 2);
    assert_eq!(s.story_items(0).await.unwrap(), want[2..]);
    // Only story items went: the polls' seen keys are still known.
    assert_eq!(s.known_items("a", &["k1".into()]).await.unwrap().len(), 1);
}

/// Regression (review): a story opened by an alert the commit suppressed as a repeat was
/// stored with that alert, never sent; every later report updated it, and such updates are
/// dropped. The row is stored without it (its next report alerts in its place); a story of
/// another item of the same commit keeps its alert.
pub(crate) async fn a_story_opened_by_a_suppressed_repeat_is_stored_without_its_alert<S: Store>(
    s: S,
) {
    let linked = |item: &str| crate::store::NewDelivery {
        canonical_link: Some("https://a.example/same".into()),
        ..alert(item, "out", "w")
    };
    let mut c = commit("a", 1000, &["k1"], vec![linked("k1")]);
    c.story_items = vec![row("w", 1, "a", "k1", Some("{\"alert\":1}"))];
    s.commit_poll(&c).await.unwrap();
    let mut c = commit(
        "a",
        2000,
        &["k2", "k3"],
        vec![linked("k2"), alert("k3", "out", "w")],
    );
    c.story_items = vec![
        row("w", 2, "a", "k2", Some("{\"alert\":2}")),
        row("w", 3, "a", "k3", Some("{\"alert\":3}")),
    ];
    let out = s.commit_poll(&c).await.unwrap();
    assert_eq!(out.suppressed, 1);
    let alerts: Vec<(String, Option<String>)> = s
        .story_items(0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.item_key, r.alert))
        .collect();
    assert_eq!(
        alerts,
        [
            ("k1".to_string(), Some("{\"alert\":1}".to_string())),
            ("k2".to_string(), None),
            ("k3".to_string(), Some("{\"alert\":3}".to_string())),
        ]
    );
}
