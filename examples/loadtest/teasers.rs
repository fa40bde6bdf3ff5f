//! The teaser farm of `loadtest --teasers`: feeds whose items carry only a title and one
//! sentence, and article pages (`/article/{feed}/{n}`) that carry the story, served from many
//! loopback hosts as real publishers' pages are.
//!
//! Owns [`Farm`] (the page hosts, the page counters) and the page HTML. The feed server
//! (`super::serve::serve_feed`) renders teaser items through [`teaser_item_xml`]; `/article/...` is
//! answered by [`serve_article`] on every listener. A matching item's watched phrase is only in
//! a middle paragraph of its page, so the daemon alerts it only if it fetched that page.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Outcome;
use super::measure::Window;
use super::news::{
    Counters, Item, MATCHING_SENTENCES, OBJECTS, SENTENCES, SUBJECTS, Shared, VERBS, splitmix,
};
use super::opts::Opts;

/// More sentences for article paragraphs (none contains a watched phrase).
const MORE: &[&str] = &[
    "The agency's figures, published on Tuesday, were revised twice within a month.",
    "Diplomats from three countries met again on Friday without a joint statement.",
    "A senior official, speaking on condition of anonymity, described the talks as difficult.",
    "The proposal would need the approval of both chambers before it could take effect.",
    "Independent monitors said they had not been given access to the sites in question.",
    "Prices for wheat and maize rose for a third consecutive week on the exchange.",
    "The governor said repairs to the damaged substation would take at least ten days.",
    "Humanitarian groups warned that funding for the winter programme was running short.",
];

const SECTIONS: &[&str] = &[
    "World", "Europe", "Asia", "Politics", "Business", "Markets", "Climate", "Opinion", "Sport",
    "Culture", "Science", "Video",
];

/// The page hosts and what the farm saw of the daemon's page requests.
pub(super) struct Farm {
    /// `ip:port` of each page host; feed i's pages are on `hosts[i % len]`.
    pub(super) hosts: Vec<String>,
    /// How long each page takes to answer (a real site is not instant).
    pub(super) delay: Duration,
    /// Pages are padded with scripts to about this size, as real ones are.
    pub(super) page_bytes: usize,
    pub(super) requests: AtomicU64,
    /// Requests for an item of its feed's baseline (the daemon must never fetch those).
    pub(super) baseline: AtomicU64,
    pub(super) not_found: AtomicU64,
    pub(super) bytes: AtomicU64,
    in_flight: AtomicU64,
    pub(super) max_in_flight: AtomicU64,
    /// Requests per article: more than one is a repeat.
    pub(super) per_article: Mutex<HashMap<(usize, u64), u32>>,
    /// Per host index: when its last page was asked for.
    last_by_host: Mutex<HashMap<usize, Instant>>,
    /// Seconds between consecutive page requests to one host.
    pub(super) host_gaps: Mutex<Vec<f64>>,
}

impl Farm {
    pub(super) fn new(hosts: Vec<String>, delay: Duration, page_bytes: usize) -> Farm {
        Farm {
            hosts,
            delay,
            page_bytes,
            requests: AtomicU64::new(0),
            baseline: AtomicU64::new(0),
            not_found: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            per_article: Mutex::new(HashMap::new()),
            last_by_host: Mutex::new(HashMap::new()),
            host_gaps: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn host_of(&self, feed: usize) -> &str {
        &self.hosts[feed % self.hosts.len()]
    }

    /// Distinct articles asked for, and the requests beyond the first for each.
    pub(super) fn distinct_and_repeats(&self) -> (usize, u64) {
        let m = self.per_article.lock().unwrap();
        let repeats = m.values().map(|&c| u64::from(c.saturating_sub(1))).sum();
        (m.len(), repeats)
    }
}

/// Bind `n` listeners on 127.0.1.1 … 127.0.1.n (all of 127/8 is loopback on Linux).
pub(super) async fn bind_hosts(n: usize) -> Result<Vec<tokio::net::TcpListener>, String> {
    let mut out = Vec::with_capacity(n);
    for k in 1..=n {
        let ip = format!("127.0.{}.{}", 1 + (k - 1) / 254, 1 + (k - 1) % 254);
        let l = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .map_err(|e| format!("cannot bind {ip}: {e}"))?;
        out.push(l);
    }
    Ok(out)
}

fn pick(h: u64, list: &[&'static str], shift: u32) -> &'static str {
    list[((h >> (shift % 64)) % list.len() as u64) as usize]
}

fn headline(out: &mut String, h: u64) {
    let _ = write!(
        out,
        "{} {} {}",
        pick(h, SUBJECTS, 8),
        pick(h, VERBS, 16),
        pick(h, OBJECTS, 24)
    );
}

/// `count` list items linking other stories (their headlines name no watched phrase).
fn headline_links(o: &mut String, seed: u64, count: u64, href: &str) {
    for r in 0..count {
        let _ = write!(o, "<li><a href=\"{href}\">");
        headline(o, splitmix(seed + r));
        o.push_str("</a></li>");
    }
}

/// `<title>`, `<link>` to the farm's page and a one-sentence `<description>`: no watched phrase.
pub(super) fn teaser_item_xml(
    out: &mut String,
    feed: usize,
    it: &Item,
    host: &str,
    pub_date: &str,
) {
    let h = splitmix(((feed as u64) << 32) ^ it.n);
    out.push_str("<item><title>");
    headline(out, h);
    let _ = write!(
        out,
        "</title><link>http://{host}/article/{feed}/{n}</link>\
         <guid isPermaLink=\"false\">f{feed}-i{n}</guid><pubDate>{pub_date}</pubDate>\
         <description>&lt;p&gt;{}&lt;/p&gt;</description></item>",
        pick(h, SENTENCES, 32),
        n = it.n
    );
}

/// A news page: head with style and scripts, cookie banner, navigation, the article (5–8
/// paragraphs; a matching one names a watched phrase in a middle paragraph), related stories,
/// a comment thread up to half of `size` bytes, footer, and scripts at the end of the body up
/// to about `size` (the page itself is about 6 KB).
pub(super) fn render_article(feed: usize, n: u64, matching: bool, size: usize) -> String {
    let h = splitmix(((feed as u64) << 32) ^ n);
    let mut title = String::new();
    headline(&mut title, h);
    let mut o = String::with_capacity(14_000);
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} | Synthetic News {feed}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta property=\"og:title\" content=\"{title}\"><meta property=\"og:type\" content=\"article\">\
         <link rel=\"canonical\" href=\"/article/{feed}/{n}\"><style>"
    );
    for sel in [
        "body", "header", "nav", "article", "aside", "footer", ".banner", ".byline",
    ] {
        let _ = write!(
            o,
            "{sel}{{margin:0 auto;max-width:72rem;padding:1rem 2rem;font-family:Georgia,serif;color:#222;line-height:1.5}}"
        );
    }
    let _ = write!(
        o,
        "</style><script type=\"application/ld+json\">{{\"@context\":\"https://schema.org\",\
         \"@type\":\"NewsArticle\",\"headline\":\"{title}\",\"datePublished\":\"2026-01-01T00:00:00Z\"}}</script>\
         <script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}\
         gtag('js',new Date());gtag('config','X-{feed}');</script></head><body>\
         <div class=\"banner\" id=\"cookies\"><p>We use cookies to improve your experience and to show \
         you relevant advertising. <button>Accept all</button> <button>Manage choices</button></p></div>\
         <header><a href=\"/\" class=\"logo\">Synthetic News {feed}</a><nav><ul>"
    );
    for s in SECTIONS {
        let _ = write!(o, "<li><a href=\"/{s}\">{s}</a></li>");
    }
    let _ = write!(
        o,
        "</ul></nav></header><main><article><h1>{title}</h1>\
         <p class=\"byline\">By Staff Reporter · Updated 2 hours ago · 4 min read</p>"
    );
    let paragraphs = 5 + (h % 4) as usize;
    let middle = paragraphs / 2;
    for p in 0..paragraphs {
        o.push_str("<p>");
        let hp = splitmix(h ^ (p as u64 + 1));
        let sentences = 3 + (hp % 2) as usize;
        for s in 0..sentences {
            if matching && p == middle && s == 1 {
                o.push_str(pick(hp, MATCHING_SENTENCES, 40));
            } else if s % 2 == 0 {
                o.push_str(pick(hp, SENTENCES, 8 * s as u32));
            } else {
                o.push_str(pick(hp, MORE, 8 * s as u32));
            }
            o.push(' ');
        }
        o.push_str("</p>");
        if p == 1 {
            o.push_str(
                "<figure><img src=\"/img/lead.jpg\" alt=\"\"><figcaption>Photograph: agency pool.\
                 </figcaption></figure><div class=\"ad\">Advertisement</div>",
            );
        }
    }
    o.push_str(
        "<p class=\"tags\">Topics: <a href=\"/world\">World</a> <a href=\"/politics\">Politics</a></p>\
         </article><aside><h2>Related stories</h2><ul>",
    );
    headline_links(&mut o, h ^ 0xA5, 6, "/article/related");
    o.push_str("</ul><h2>Most read</h2><ol>");
    headline_links(&mut o, h ^ 0x5A, 5, "/article/popular");
    o.push_str("</ol></aside>");
    // Half of the padding is markup (a comment thread), half scripts: a real page's DOM is
    // far bigger than its article, and the extractor walks all of it.
    let mut c = 0u64;
    while o.len() < size / 2 {
        if c == 0 {
            o.push_str("<section class=\"comments\"><h2>Comments</h2>");
        }
        let hc = splitmix(h ^ (0xC0 + c));
        let _ = write!(
            o,
            "<div class=\"comment\" id=\"c{c}\"><div class=\"meta\"><span class=\"author\">reader{}</span> \
             <time>{} hours ago</time></div><p>{}</p><div class=\"actions\"><button>Reply</button> \
             <button>Like ({})</button> <a href=\"#report\">Report</a></div></div>",
            hc % 9000,
            1 + hc % 23,
            pick(hc, MORE, 12),
            hc % 97,
        );
        c += 1;
    }
    if c > 0 {
        o.push_str("</section>");
    }
    o.push_str("</main><footer><ul>");
    for l in [
        "About us",
        "Contact",
        "Careers",
        "Advertise",
        "Terms of use",
        "Privacy policy",
        "Cookie settings",
        "Accessibility",
        "Newsletters",
        "RSS feeds",
    ] {
        let _ = write!(o, "<li><a href=\"/info\">{l}</a></li>");
    }
    let _ = write!(
        o,
        "</ul><p>© 2026 Synthetic News {feed}. All rights reserved. Reproduction without \
         permission is prohibited.</p></footer>"
    );
    let mut slot = 0;
    while o.len() + 40 < size {
        if slot % 40 == 0 {
            o.push_str(if slot == 0 {
                "<script>"
            } else {
                "</script><script>"
            });
        }
        let _ = writeln!(
            o,
            "window.__ads=window.__ads||[];window.__ads.push({{id:\"slot-{slot}\",sizes:[[300,250],[728,90]],\
             lazy:true,targeting:{{section:\"world\",feed:{feed}}}}});"
        );
        slot += 1;
    }
    if slot > 0 {
        o.push_str("</script>");
    }
    o.push_str("</body></html>\n");
    o
}

/// One page being answered; counts itself out when the answer is done or abandoned.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// `/article/{feed}/{n}` on any of the farm's listeners.
pub(super) async fn serve_article(
    State(s): State<std::sync::Arc<Shared>>,
    UrlPath((feed, n)): UrlPath<(usize, u64)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(farm) = s.farm.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = Instant::now();
    farm.requests.fetch_add(1, Relaxed);
    let Some(f) = s.feeds.get(feed) else {
        farm.not_found.fetch_add(1, Relaxed);
        return StatusCode::NOT_FOUND.into_response();
    };
    // Which host was asked (by the Host header), for the per-host spacing.
    let host_idx = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| farm.hosts.iter().position(|x| x == h));
    if let Some(i) = host_idx
        && let Some(prev) = farm.last_by_host.lock().unwrap().insert(i, now)
    {
        farm.host_gaps
            .lock()
            .unwrap()
            .push(now.duration_since(prev).as_secs_f64());
    }
    let (known, matching, baseline) = {
        let f = f.lock().unwrap();
        let baseline = f.baseline_n.is_none_or(|b| n < b);
        match f.items.iter().find(|it| it.n == n) {
            Some(it) => (true, it.matching, baseline),
            // Pushed out of the feed already: a recorded key is a matching item.
            None => (
                n < f.next_n,
                s.records
                    .lock()
                    .unwrap()
                    .contains_key(&super::news::item_key(feed, n)),
                baseline,
            ),
        }
    };
    if !known {
        farm.not_found.fetch_add(1, Relaxed);
        return StatusCode::NOT_FOUND.into_response();
    }
    if baseline {
        farm.baseline.fetch_add(1, Relaxed);
    }
    *farm
        .per_article
        .lock()
        .unwrap()
        .entry((feed, n))
        .or_insert(0) += 1;
    if matching
        && let Some(r) = s
            .records
            .lock()
            .unwrap()
            .get_mut(&super::news::item_key(feed, n))
    {
        r.page_served.get_or_insert(now);
    }
    let body = render_article(feed, n, matching, farm.page_bytes);
    farm.bytes.fetch_add(body.len() as u64, Relaxed);
    let inflight = farm.in_flight.fetch_add(1, Relaxed) + 1;
    farm.max_in_flight.fetch_max(inflight, Relaxed);
    // Counted down on drop too: a daemon that gives up on a page drops this future mid-sleep.
    let _leaving = InFlight(&farm.in_flight);
    if !farm.delay.is_zero() {
        tokio::time::sleep(farm.delay).await;
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Aborts the farm's tasks (servers, generator) when one run ends.
pub(super) struct AbortOnDrop(pub Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// The daemon's page deadline as configured (its default, 10 s, unless `--page-timeout`).
pub(super) fn page_timeout(o: &Opts) -> Duration {
    o.page_timeout
        .as_deref()
        .and_then(|v| humantime::parse_duration(v).ok())
        .unwrap_or(Duration::from_secs(10))
}

pub(super) fn setup_lines(o: &Opts) -> String {
    format!(
        "  teasers : every feed full_text = \"auto\" (full_text_min_chars 500, the default); items carry a \
         title and one sentence,\n            \
         the watched phrase is only on the article page; pages on {} loopback hosts 127.0.1.x \
         (feed i → host i % {}), each answering in {} ms with about {} KB of HTML (half of it comments and scripts);\n            \
         page_rate {}, page_timeout {}",
        o.page_hosts,
        o.page_hosts,
        o.page_delay_ms,
        o.page_kb,
        o.page_rate
            .as_deref()
            .unwrap_or("1/s per host (the daemon's default)"),
        o.page_timeout
            .as_deref()
            .unwrap_or("10s per poll (the daemon's default)"),
    )
}

/// `newswatch_pages_total` and `newswatch_page_seconds` from the daemon's `/metrics`.
pub(super) async fn scrape_page_metrics(addr: &str) -> String {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => return format!("(no metrics: {e})"),
    };
    let text = match client.get(format!("http://{addr}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => return format!("(no metrics from {addr}: {e})"),
    };
    let mut results = Vec::new();
    let (mut sum, mut count) = (None, None);
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("newswatch_pages_total{result=\"")
            && let Some((label, v)) = rest.split_once("\"} ")
        {
            results.push(format!("{label} {v}"));
        } else if let Some(v) = l.strip_prefix("newswatch_page_seconds_sum ") {
            sum = v.trim().parse::<f64>().ok();
        } else if let Some(v) = l.strip_prefix("newswatch_page_seconds_count ") {
            count = v.trim().parse::<f64>().ok();
        }
    }
    results.sort();
    let mean = match (sum, count) {
        (Some(s), Some(c)) if c > 0.0 => {
            format!("; newswatch_page_seconds mean {:.1} ms", s / c * 1e3)
        }
        _ => String::new(),
    };
    if results.is_empty() {
        return format!("no newswatch_pages_total series{mean}");
    }
    format!("newswatch_pages_total: {}{mean}", results.join(", "))
}

/// The page rows of the summary.
pub(super) fn report(
    farm: &Farm,
    c: &Counters,
    steady: Option<Window>,
    daemon_metrics: &str,
) -> String {
    let mut t = String::new();
    let pages = farm.requests.load(Relaxed);
    let new_added = c.new_added.load(Relaxed);
    let new_served = c.new_served.load(Relaxed);
    let per = |n: u64| {
        if n == 0 {
            "–".to_string()
        } else {
            format!("{:.3}", pages as f64 / n as f64)
        }
    };
    let (distinct, repeats) = farm.distinct_and_repeats();
    let baseline = farm.baseline.load(Relaxed);
    let _ = writeln!(t, "\n| full text (teaser farm) | value | goal |");
    let _ = writeln!(t, "|---|---|---|");
    let _ = writeln!(
        t,
        "| article pages requested · per new item the daemon was served · per new item added | {pages} · {} ({new_served} items) · {} ({new_added} items) | ≤ 1.5 per new item: {} |",
        per(new_served),
        per(new_added),
        super::report::verdict((new_served > 0).then_some(pages as f64 <= 1.5 * new_served as f64)),
    );
    let _ = writeln!(
        t,
        "| distinct articles · repeat requests · pages of baseline items · 404 | {distinct} · {repeats} · {baseline} · {} | repeats 0, baseline 0 |",
        farm.not_found.load(Relaxed)
    );
    if let Some(w) = steady {
        let _ = writeln!(
            t,
            "| steady state: pages/s · daemon CPU s per page (all of its CPU ÷ pages; an upper bound) | {:.2} · {} | |",
            w.rate(w.pages),
            super::report::opt_fmt((w.pages > 0).then(|| w.cpu_s / w.pages as f64), 4),
        );
    }
    let gaps = super::measure::Dist::of(farm.host_gaps.lock().unwrap().clone());
    let close = farm
        .host_gaps
        .lock()
        .unwrap()
        .iter()
        .filter(|g| **g < 0.9)
        .count();
    let _ = writeln!(
        t,
        "| gap between two pages of one host | {} ; {close} under 0.9 s | ≥ 1 s at page_rate 1/s |",
        gaps.show()
    );
    let _ = writeln!(
        t,
        "| most pages in flight at once (all hosts) · mean page size | {} · {:.1} KB | |",
        farm.max_in_flight.load(Relaxed),
        farm.bytes.load(Relaxed) as f64 / pages.max(1) as f64 / 1024.0
    );
    let _ = writeln!(t, "| the daemon's own count | {daemon_metrics} | |");
    t
}

/// `--compare`: the daemon CPU the pages added, from the two runs' steady states.
pub(super) fn compare_report(plain: &Outcome, teaser: &Outcome) -> String {
    let mut t = String::from("\n## added CPU per page (--compare)\n\n");
    let (Some(p), Some(q)) = (plain.steady, teaser.steady) else {
        t.push_str("no steady state in one of the runs: nothing to compare\n");
        return t;
    };
    let plain_rate = p.cpu_s / p.secs;
    let teaser_rate = q.cpu_s / q.secs;
    let pages_rate = q.rate(q.pages);
    let _ = writeln!(t, "| steady state | without teasers | with teasers |");
    let _ = writeln!(t, "|---|---|---|");
    let _ = writeln!(
        t,
        "| window | {:.0}–{:.0} s | {:.0}–{:.0} s |",
        p.from, p.to, q.from, q.to
    );
    let _ = writeln!(
        t,
        "| daemon CPU | {:.2} s ({:.2}% of a core) | {:.2} s ({:.2}% of a core) |",
        p.cpu_s,
        p.core_pct(),
        q.cpu_s,
        q.core_pct()
    );
    let _ = writeln!(
        t,
        "| polls/s · new items/s · alerts/s | {:.1} · {:.2} · {:.2} | {:.1} · {:.2} · {:.2} |",
        p.rate(p.polls),
        p.rate(p.items),
        p.rate(p.alerts),
        q.rate(q.polls),
        q.rate(q.items),
        q.rate(q.alerts)
    );
    let _ = writeln!(t, "| article pages/s | – | {pages_rate:.2} |");
    if pages_rate > 0.0 {
        let _ = writeln!(
            t,
            "\n**added daemon CPU per page: {:.2} ms** ((CPU/s with teasers − CPU/s without) ÷ pages/s)",
            (teaser_rate - plain_rate) / pages_rate * 1e3
        );
    } else {
        t.push_str("\nno pages were fetched: nothing to divide by\n");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_page_names_a_phrase_and_a_plain_one_does_not() {
        for n in 0..50 {
            let m = render_article(7, n, true, 40_000);
            assert!(super::super::WATCH_TERMS.iter().any(|t| m.contains(t)));
            assert!((39_000..42_000).contains(&m.len()), "{}", m.len());
            let p = render_article(7, n, false, 0);
            assert!(!super::super::WATCH_TERMS.iter().any(|t| p.contains(t)));
        }
    }
}
