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
/// Bytes of article text remembered at most (the oldest go first): article texts are cut at
/// 256 KiB, and 1,024 of those would be 256 MB.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
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
        let text_len = |s: &Slot| s.get().and_then(Option::as_ref).map_or(0, |t| t.len());
        let mut bytes: usize = inner.slots.values().map(|(_, s)| text_len(s)).sum();
        while inner.slots.len() > CAPACITY || bytes > MAX_BYTES {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some((_, s)) = inner.slots.remove(&old) {
                bytes -= text_len(&s);
            }
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

    /// Regression: the cache was bounded by count only, and article texts are up to 256 KiB
    /// each: 1,024 of them held 256 MB.
    #[tokio::test(start_paused = true)]
    async fn texts_are_remembered_up_to_a_total_size() {
        let c = PageCache::default();
        let text: Arc<str> = Arc::from("x".repeat(MAX_BYTES / 4));
        for i in 0..4 {
            c.slot(&format!("https://x.example/{i}"))
                .set(Some(text.clone()))
                .unwrap();
        }
        let kept = |c: &PageCache, i: usize| {
            c.slot(&format!("https://x.example/{i}"))
                .get()
                .is_some_and(Option::is_some)
        };
        // Exactly the budget: all four kept.
        assert!(kept(&c, 3));
        c.slot("https://x.example/4").set(Some(text)).unwrap();
        // Over it at the next asker: the oldest goes, only as many as needed.
        c.slot("https://x.example/5");
        assert!(kept(&c, 1) && kept(&c, 4));
        assert!(!kept(&c, 0));
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
