//! Pages already fetched, by canonical link: one article linked from several feeds (or
//! twice from one) is fetched once, and two polls asking for it at the same moment share
//! the one fetch.
//!
//! Owns [`PageCache`] and [`Slot`]. A slot holds the page's outcome once known; a fetch that
//! was abandoned (its poll skipped it) leaves the slot empty for the next asker.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// What a page gave: its article text, or nothing (failed, empty, refused). Both are kept: a
/// page that failed is not fetched again for another feed's copy of the item.
pub type Outcome = Option<Arc<str>>;

/// One link's outcome, filled by whoever fetches it first.
pub type Slot = Arc<OnceCell<Outcome>>;

/// Links remembered at most (the oldest go first): with article texts of 5-20 KB, some
/// 5-20 MB at most.
pub const CAPACITY: usize = 1024;
/// How long a link is remembered: longer than any feed's copy of an item lags another's.
pub const TTL: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Default)]
pub struct PageCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: HashMap<String, (Instant, Slot)>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
}

impl PageCache {
    /// The slot for `link`, made empty when the link is new (or forgotten).
    pub fn slot(&self, link: &str) -> Slot {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, slot)) = inner.slots.get(link)
            && now.saturating_duration_since(*at) < TTL
        {
            return slot.clone();
        }
        let slot = Slot::default();
        if inner
            .slots
            .insert(link.to_string(), (now, slot.clone()))
            .is_none()
        {
            inner.order.push_back(link.to_string());
        }
        while inner.slots.len() > CAPACITY {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            inner.slots.remove(&old);
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_link_maps_to_one_slot_until_it_expires_or_is_evicted() {
        let c = PageCache::default();
        let a = c.slot("https://x.example/a");
        a.set(Some(Arc::from("text"))).unwrap();
        let again = c.slot("https://x.example/a");
        assert_eq!(again.get(), Some(&Some(Arc::from("text"))));
        tokio::time::advance(TTL).await;
        assert_eq!(c.slot("https://x.example/a").get(), None);
        for i in 0..CAPACITY {
            c.slot(&format!("https://x.example/{i}")).set(None).unwrap();
        }
        // The re-made /a slot was the oldest: evicted; the newest is kept.
        assert_eq!(c.slot("https://x.example/a").get(), None);
        let last = format!("https://x.example/{}", CAPACITY - 1);
        assert_eq!(c.slot(&last).get(), Some(&None));
        assert!(c.inner.lock().unwrap().slots.len() <= CAPACITY);
    }

    /// `TTL` was only compared with itself: a cache that forgot pages after an hour (`6 +
    /// 3600` s) passed, and the same article linked from a slower feed was fetched again.
    #[tokio::test(start_paused = true)]
    async fn a_page_is_remembered_for_six_hours() {
        let c = PageCache::default();
        c.slot("https://x.example/a").set(None).unwrap();
        tokio::time::advance(Duration::from_secs(6 * 3600 - 1)).await;
        assert_eq!(c.slot("https://x.example/a").get(), Some(&None));
    }

    /// Eviction one link early (`>=` for `>`) passed: exactly `CAPACITY` links are kept.
    #[tokio::test(start_paused = true)]
    async fn exactly_capacity_links_are_remembered() {
        let c = PageCache::default();
        for i in 0..CAPACITY {
            c.slot(&format!("https://x.example/{i}")).set(None).unwrap();
        }
        assert_eq!(c.slot("https://x.example/0").get(), Some(&None));
    }
}
