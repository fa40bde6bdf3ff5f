//! A deterministic corpus that looks like real feeds carrying whole articles: RSS documents
//! whose items hold HTML articles of 5-40 KB in `content:encoded` (about 7 KB typical), next
//! to documents of short RSS items, and watch term sets with broad terms (single everyday news
//! words and two-word phrases that hit 10-100 times per long article) mixed into the
//! synthetic ones of [`super::terms`].

use std::hint::black_box;

use newswatch::deliver::Alert;
use newswatch::feed::FeedItem;
use newswatch::feed::parse::{Parsed, parse};
use newswatch::matcher::{FeedRef, Match, Scratch, WatchSet};

use super::{SEED, VOCAB, lcg, terms};

/// Everyday news words; drawn with a skewed distribution so the first ones hit dozens of times
/// per long article, as "Ukraine" or "the war" do in real coverage.
pub const BROAD: &[&str] = &[
    "Ukraine",
    "Russia",
    "war",
    "government",
    "president",
    "minister",
    "military",
    "sanctions",
    "officials",
    "forces",
    "security",
    "attack",
    "election",
    "economy",
    "talks",
    "border",
    "troops",
    "police",
    "court",
    "energy",
    "parliament",
    "ceasefire",
    "missile",
    "drone",
    "aid",
    "refugees",
    "prices",
    "inflation",
    "protest",
    "crisis",
];

/// Two-word phrases the generator writes, and that broad watch terms look for.
pub const BROAD_PHRASES: &[&str] = &[
    "the war",
    "prime minister",
    "security forces",
    "peace talks",
    "foreign minister",
    "military aid",
    "air defence",
    "front line",
    "interest rates",
    "energy prices",
];

const FILLER: &[&str] = &[
    "the",
    "a",
    "of",
    "in",
    "on",
    "and",
    "to",
    "with",
    "after",
    "before",
    "said",
    "that",
    "would",
    "could",
    "has",
    "have",
    "was",
    "were",
    "new",
    "first",
    "last",
    "week",
    "year",
    "on Monday",
    "on Tuesday",
    "according to",
    "people",
    "country",
    "region",
    "city",
    "report",
    "statement",
    "plans",
    "support",
    "against",
    "over",
    "more than",
    "about",
    "its",
    "their",
];

/// One sentence of 12-24 words: filler, broad words (skewed towards the first of the list),
/// now and then a broad phrase or a watch-list vocabulary word.
fn sentence(s: &mut u64, out: &mut String) {
    let n = 12 + (lcg(s) % 13) as usize;
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        let r = lcg(s) % 100;
        let w = if r < 22 {
            // Squaring a uniform draw skews towards index 0.
            let u = (lcg(s) % 1000) as usize;
            BROAD[u * u * BROAD.len() / 1_000_000]
        } else if r < 26 {
            BROAD_PHRASES[lcg(s) as usize % BROAD_PHRASES.len()]
        } else if r < 30 {
            VOCAB[lcg(s) as usize % VOCAB.len()]
        } else {
            FILLER[lcg(s) as usize % FILLER.len()]
        };
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push_str(w);
        }
    }
    out.push_str(if lcg(s).is_multiple_of(9) { "?" } else { "." });
}

/// An HTML article of about `target` bytes: paragraphs of generated sentences and of the seed
/// article, with links, emphasis, entities, a figure and an inline script (dropped by
/// HTML→text).
pub fn article_html(s: &mut u64, target: usize) -> String {
    let paras: Vec<&str> = SEED
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut html = String::with_capacity(target + 512);
    html.push_str(
        "<div class=\"article-body\"><script>window.dataLayer=window.dataLayer||[];</script>",
    );
    while html.len() < target {
        match lcg(s) % 10 {
            0 => {
                html.push_str("<p>");
                html.push_str(paras[lcg(s) as usize % paras.len()].trim());
                html.push_str("</p>\n");
            }
            1 => html.push_str(
                "<figure><img src=\"https://img.example.org/a.jpg\" alt=\"\"><figcaption>Photo: \
                 Reuters &ndash; file</figcaption></figure>\n",
            ),
            _ => {
                html.push_str("<p>");
                let k = 2 + lcg(s) % 4;
                for j in 0..k {
                    if j > 0 {
                        html.push(' ');
                    }
                    if lcg(s).is_multiple_of(6) {
                        html.push_str("<a href=\"https://example.org/x\">");
                        sentence(s, &mut html);
                        html.push_str("</a>");
                    } else if lcg(s).is_multiple_of(8) {
                        html.push_str("<strong>");
                        sentence(s, &mut html);
                        html.push_str("</strong> &mdash;");
                    } else {
                        sentence(s, &mut html);
                    }
                }
                html.push_str("</p>\n");
            }
        }
    }
    html.push_str("</div>");
    html
}

fn title(s: &mut u64) -> String {
    let mut t = String::new();
    sentence(s, &mut t);
    t.truncate(t.char_indices().nth(90).map_or(t.len(), |(i, _)| i));
    t.trim_end_matches('.').to_string()
}

fn rss(items: &[String]) -> String {
    let mut doc = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>t</title>\
         <link>https://example.org/</link><description>d</description>",
    );
    for it in items {
        doc.push_str(it);
    }
    doc.push_str("</channel></rss>");
    doc
}

/// Article sizes in bytes of HTML: 5-40 KB, most near 7 KB (as on news sites' full-content
/// feeds).
const SIZES: &[usize] = &[
    5_000, 5_500, 6_000, 6_500, 7_000, 7_000, 7_500, 8_000, 9_000, 12_000, 20_000, 40_000,
];

/// RSS documents of 5 items each, every item a long HTML article in `content:encoded` with a
/// one-sentence description: `docs` documents.
pub fn long_feeds(docs: usize) -> Vec<String> {
    let mut s = 2024u64;
    let mut n = 0;
    (0..docs)
        .map(|_| {
            let items: Vec<String> = (0..5)
                .map(|_| {
                    n += 1;
                    let size = SIZES[lcg(&mut s) as usize % SIZES.len()];
                    let mut desc = String::new();
                    sentence(&mut s, &mut desc);
                    format!(
                        "<item><title>{}</title><link>https://example.org/a/{n}</link>\
                         <guid>g{n}</guid><pubDate>Sun, 20 Oct 2024 09:30:00 GMT</pubDate>\
                         <description>{desc}</description>\
                         <content:encoded><![CDATA[{}]]></content:encoded></item>",
                        title(&mut s),
                        article_html(&mut s, size)
                    )
                })
                .collect();
            rss(&items)
        })
        .collect()
}

/// RSS documents of 20 short items each (title and a 1-3 sentence description): `docs`
/// documents.
pub fn short_feeds(docs: usize) -> Vec<String> {
    let mut s = 77u64;
    let mut n = 0;
    (0..docs)
        .map(|_| {
            let items: Vec<String> = (0..20)
                .map(|_| {
                    n += 1;
                    let mut desc = String::new();
                    for _ in 0..1 + lcg(&mut s) % 3 {
                        sentence(&mut s, &mut desc);
                        desc.push(' ');
                    }
                    format!(
                        "<item><title>{}</title><link>https://example.org/s/{n}</link>\
                         <guid>s{n}</guid><pubDate>Sun, 20 Oct 2024 09:30:00 GMT</pubDate>\
                         <description>{desc}</description></item>",
                        title(&mut s)
                    )
                })
                .collect();
            rss(&items)
        })
        .collect()
}

/// `n` distinct terms: the broad words and phrases first (all of them once `n` allows), then
/// the synthetic terms of [`terms`]. One term is "Ukraine", the broadest.
pub fn broad_terms(n: usize) -> Vec<String> {
    let mut out: Vec<String> = BROAD
        .iter()
        .chain(BROAD_PHRASES)
        .map(|t| t.to_string())
        .take(n)
        .collect();
    let mut seen: std::collections::HashSet<String> =
        out.iter().map(|t| t.to_lowercase()).collect();
    for t in terms(n + out.len()) {
        if out.len() >= n {
            break;
        }
        if seen.insert(t.to_lowercase()) {
            out.push(t);
        }
    }
    out
}

/// A matching entry point of [`WatchSet`]: the production one or a reference engine.
pub type Engine = fn(&WatchSet, &FeedItem, Option<FeedRef<'_>>, &mut Scratch) -> Vec<Match>;

/// Every item of the benchmark documents, parsed.
pub fn items_of(docs: &[String]) -> Vec<FeedItem> {
    docs.iter()
        .flat_map(|d| match parse(d.as_bytes(), None, None) {
            Ok(Parsed::Feed(f)) => f.items,
            _ => panic!("benchmark feed parses"),
        })
        .collect()
}

/// Parse every document, match every item, build and encode every alert; returns the bytes of
/// alert JSON so nothing is optimised away.
pub fn pipeline(docs: &[String], set: &WatchSet, scratch: &mut Scratch, engine: Engine) -> usize {
    let now = chrono::DateTime::from_timestamp(1_730_000_000, 0).unwrap_or_default();
    let mut n = 0;
    for d in docs {
        let Ok(Parsed::Feed(f)) = parse(black_box(d.as_bytes()), None, None) else {
            panic!("benchmark feed parses");
        };
        for it in &f.items {
            for m in engine(set, it, None, scratch) {
                let alert = Alert::new(&set.specs()[m.watch].name, "bench", it, &m, now);
                n += alert.to_json().len();
            }
        }
    }
    n
}
