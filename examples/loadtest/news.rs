//! Synthetic news: the feeds, their items (a seeded share of them with a watched phrase), and
//! the shared record of when each item appeared, was served and was alerted.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Instant, SystemTime};

use rand::Rng;
use rand::rngs::StdRng;

use super::teasers;

/// One item of a feed; its text is derived from (feed, n), so only these few fields are stored.
pub struct Item {
    pub n: u64,
    pub matching: bool,
    pub served: bool,
    /// Seconds since the epoch, for `<pubDate>`.
    pub published: i64,
}

#[derive(Default)]
pub struct Feed {
    /// Newest first.
    pub items: VecDeque<Item>,
    pub next_n: u64,
    pub version: u64,
    /// When the first full (200) response was rendered: the daemon's baseline.
    pub first_served: Option<Instant>,
    /// `next_n` at the first full response: items below it are the baseline.
    pub baseline_n: Option<u64>,
    pub last_request: Option<Instant>,
}

/// What is known about one matching item added during the run.
pub struct Record {
    pub appeared: Instant,
    /// Added after its feed's first full response, so the daemon must alert it.
    pub expected: bool,
    /// First full response containing it.
    pub served: Option<Instant>,
    /// First request for its article page (teaser farm).
    pub page_served: Option<Instant>,
    pub received: Option<Instant>,
    /// The `webhook-id` (idempotency key) it first arrived with.
    pub key: Option<String>,
    /// Pushed out of the feed before any response contained it.
    pub evicted_unserved: bool,
}

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub ok_first: AtomicU64,
    pub ok_changed: AtomicU64,
    pub ok_stale_etag: AtomicU64,
    pub not_modified: AtomicU64,
    pub not_found: AtomicU64,
    pub bytes: AtomicU64,
    pub items_added: AtomicU64,
    pub matching_added: AtomicU64,
    pub expected_added: AtomicU64,
    /// Items (matching or not) added after their feed's baseline.
    pub new_added: AtomicU64,
    /// Of those, the ones a feed response has carried to the daemon.
    pub new_served: AtomicU64,
    pub feeds_first_served: AtomicU64,
    pub hook_requests: AtomicU64,
    pub hook_alerts: AtomicU64,
    pub hook_duplicates: AtomicU64,
    /// Repeats of an alert under another idempotency key than its first arrival's.
    pub hook_new_key: AtomicU64,
    pub hook_unexpected: AtomicU64,
    pub hook_unparsable: AtomicU64,
}

pub struct Shared {
    pub feeds: Vec<Mutex<Feed>>,
    pub records: Mutex<HashMap<String, Record>>,
    /// Milliseconds between consecutive requests for the same feed.
    pub gaps_ms: Mutex<Vec<u32>>,
    pub all_first_served_at: Mutex<Option<Instant>>,
    /// Item keys of alerts that should not have been sent (first few, for evidence).
    pub unexpected_keys: Mutex<Vec<String>>,
    pub c: Counters,
    pub items_per_feed: usize,
    /// The teaser farm's pages (`--teasers`).
    pub farm: Option<teasers::Farm>,
}

pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub const SUBJECTS: &[&str] = &[
    "Parliament",
    "The central bank",
    "Regional officials",
    "The foreign ministry",
    "Farmers",
    "A coalition of NGOs",
    "The defence minister",
    "Energy regulators",
    "Seoul",
    "Kyiv",
    "NATO allies",
    "The European Commission",
];
pub const VERBS: &[&str] = &[
    "announces",
    "rejects",
    "debates",
    "delays",
    "welcomes",
    "questions",
    "reviews",
    "expands",
];
pub const OBJECTS: &[&str] = &[
    "new budget rules",
    "a grain export deal",
    "winter energy subsidies",
    "the ceasefire proposal",
    "troop rotation plans",
    "sanctions on North Korean shipping",
    "a drone production contract",
    "election observers' report",
    "air defence funding",
    "port reconstruction",
];
pub const SENTENCES: &[&str] = &[
    "Officials said the decision followed weeks of negotiations behind closed doors.",
    "Analysts expect the measure to face legal challenges before the end of the year.",
    "The statement gave no timetable, and a spokesperson declined to comment further.",
    "Opposition lawmakers called the move &quot;premature&quot; and demanded a vote.",
    "Troops in the region remain on alert, according to the general staff.",
    "North Korean state media did not mention the talks in its evening bulletin.",
    "Markets reacted calmly; the currency closed almost unchanged against the dollar.",
    "The report, seen by reporters, runs to more than 200 pages with annexes.",
    "Local residents told reporters they had heard explosions overnight.",
    "The ministry said further details would be published next week.",
];
pub const MATCHING_TITLES: &[&str] = &[
    "Intelligence: North Korean troops moved closer to the front line",
    "Zelensky presents Victory Plan to allies in Brussels",
    "Seoul says North Korean troops are training in Russia's far east",
    "Reports of North Korean troops in Kursk raise alarm in Washington",
];
/// `<pubDate>` text of an epoch second.
pub fn rfc2822(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || "Mon, 01 Jan 2024 00:00:00 +0000".into(),
        |d| d.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
    )
}

pub const MATCHING_SENTENCES: &[&str] = &[
    "Ukrainian intelligence said thousands of North Korean troops had arrived by train.",
    "The president's Victory Plan asks partners for long-range weapons and an invitation.",
    "Satellite images appear to show North Korean troops at a training ground.",
];

pub fn item_xml(out: &mut String, feed: usize, it: &Item) {
    let h = splitmix(((feed as u64) << 32) ^ it.n);
    let pick =
        |list: &[&'static str], shift: u32| list[((h >> shift) % list.len() as u64) as usize];
    let in_title = it.matching && h & 1 == 0;
    out.push_str("<item><title>");
    if in_title {
        out.push_str(pick(MATCHING_TITLES, 3));
    } else {
        let _ = write!(
            out,
            "{} {} {}",
            pick(SUBJECTS, 8),
            pick(VERBS, 16),
            pick(OBJECTS, 24)
        );
    }
    let _ = write!(
        out,
        "</title><link>https://news.example/f{feed}/i{n}</link>\
         <guid isPermaLink=\"false\">f{feed}-i{n}</guid><pubDate>",
        n = it.n
    );
    out.push_str(&rfc2822(it.published));
    out.push_str("</pubDate><description>&lt;p&gt;");
    for k in 0..3u32 {
        out.push_str(pick(SENTENCES, 32 + 8 * k));
        out.push(' ');
    }
    if it.matching && !in_title {
        out.push_str(pick(MATCHING_SENTENCES, 56));
    } else {
        out.push_str(pick(SENTENCES, 58));
    }
    out.push_str("&lt;/p&gt;</description></item>");
}

pub fn render_feed(feed: usize, f: &Feed, farm: Option<&teasers::Farm>) -> String {
    let mut out = String::with_capacity(600 + f.items.len() * 700);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Synthetic news {feed}</title><link>https://news.example/f{feed}/</link>\
         <description>Load test feed</description>"
    );
    for it in &f.items {
        match farm {
            Some(farm) => teasers::teaser_item_xml(
                &mut out,
                feed,
                it,
                farm.host_of(feed),
                &rfc2822(it.published),
            ),
            None => item_xml(&mut out, feed, it),
        }
    }
    out.push_str("</channel></rss>\n");
    out
}

pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn item_key(feed: usize, n: u64) -> String {
    format!("f{feed}-i{n}")
}

impl Shared {
    pub fn new(
        feeds: usize,
        items_per_feed: usize,
        match_fraction: f64,
        rng: &mut StdRng,
        farm: Option<teasers::Farm>,
    ) -> Shared {
        let now = now_epoch();
        let feeds = (0..feeds)
            .map(|_| {
                let mut f = Feed::default();
                for n in 0..items_per_feed as u64 {
                    f.items.push_front(Item {
                        n,
                        matching: rng.random_bool(match_fraction),
                        served: false,
                        published: now - 3600 + n as i64 * 60,
                    });
                }
                f.next_n = items_per_feed as u64;
                Mutex::new(f)
            })
            .collect();
        Shared {
            feeds,
            records: Mutex::new(HashMap::new()),
            gaps_ms: Mutex::new(Vec::new()),
            all_first_served_at: Mutex::new(None),
            unexpected_keys: Mutex::new(Vec::new()),
            c: Counters::default(),
            items_per_feed,
            farm,
        }
    }

    /// Add one new item to `feed`; a matching one is recorded with the instant it appeared.
    pub fn add_item(&self, feed: usize, matching: bool) {
        let mut f = self.feeds[feed].lock().unwrap();
        let n = f.next_n;
        f.next_n += 1;
        f.version += 1;
        let appeared = Instant::now();
        f.items.push_front(Item {
            n,
            matching,
            served: false,
            published: now_epoch(),
        });
        let evicted = if f.items.len() > self.items_per_feed {
            f.items.pop_back()
        } else {
            None
        };
        let expected = f.first_served.is_some();
        self.c.items_added.fetch_add(1, Relaxed);
        if expected {
            self.c.new_added.fetch_add(1, Relaxed);
        }
        if matching || evicted.as_ref().is_some_and(|e| e.matching && !e.served) {
            // Lock order: feed, then records (the same as in the feed handler).
            let mut recs = self.records.lock().unwrap();
            if matching {
                self.c.matching_added.fetch_add(1, Relaxed);
                if expected {
                    self.c.expected_added.fetch_add(1, Relaxed);
                }
                recs.insert(
                    item_key(feed, n),
                    Record {
                        appeared,
                        expected,
                        served: None,
                        page_served: None,
                        received: None,
                        key: None,
                        evicted_unserved: false,
                    },
                );
            }
            if let Some(e) = evicted.filter(|e| e.matching && !e.served)
                && let Some(r) = recs.get_mut(&item_key(feed, e.n))
            {
                r.evicted_unserved = true;
            }
        }
    }
}
