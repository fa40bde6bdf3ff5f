//! Backtest throughput: archived items per second through the whole replay loop (zstd
//! decompression, decoding, matching against 1,000 watch terms, the link rule), and the
//! archive's size per 1,000 items, per item and per poll.
//!
//! Run: `cargo bench --bench backtest`. Figures go in the README's Performance section.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newswatch::backtest::{REPEAT_WINDOW, Replay};
use newswatch::feed::{FeedItem, ItemKey};
use newswatch::store::archive::{ArchiveDecoder, ArchiveRow, encode};

mod common;
use common::*;

/// New items per poll in the replayed archive (a busy feed's usual poll finds one to three).
const PER_POLL: usize = 2;

/// News-like text without long repeats: an order-1 word chain over the seed article, so zstd
/// finds the short matches real prose has, not whole repeated paragraphs.
struct Chain {
    words: Vec<&'static str>,
    at: std::collections::HashMap<&'static str, Vec<usize>>,
}

impl Chain {
    fn new() -> Chain {
        let words: Vec<&str> = SEED.split_whitespace().collect();
        let mut at: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for (i, w) in words.iter().enumerate().take(words.len() - 1) {
            at.entry(w).or_default().push(i);
        }
        Chain { words, at }
    }

    fn prose(&self, s: &mut u64, bytes: usize) -> String {
        let w = &self.words;
        let mut out = String::new();
        let mut i = lcg(s) as usize % (w.len() - 1);
        while out.len() < bytes {
            out.push_str(w[i]);
            out.push(' ');
            // Continue after another occurrence of this word, or anywhere at the end.
            let places = &self.at[w[i]];
            let k = places[lcg(s) as usize % places.len()] + 1;
            i = if k + 1 >= w.len() {
                lcg(s) as usize % (w.len() - 1)
            } else {
                k
            };
        }
        out
    }
}

/// `n` items like a news feed's: a headline, a link, a ~1 KB summary, categories, an author.
fn items(n: usize, chain: bool) -> Vec<FeedItem> {
    let mut s = 3u64;
    let english = english_items();
    let chain_text = Chain::new();
    (0..n)
        .map(|i| {
            let summary = if chain {
                chain_text.prose(&mut s, 1000)
            } else {
                english[i % english.len()].summary.clone()
            };
            FeedItem {
                key: ItemKey(format!("https://news.example/2026/11/{i}-{}", name(&mut s))),
                title: chain_text.prose(&mut s, 70),
                link: Some(format!("https://news.example/2026/11/{i}-{}", name(&mut s))),
                published: chrono::DateTime::from_timestamp(1_764_000_000 + i as i64 * 60, 0),
                summary,
                content: String::new(),
                categories: vec!["World".into(), name(&mut s)],
                authors: vec![format!("{} {}", name(&mut s), name(&mut s))],
                body: String::new(),
            }
        })
        .collect()
}

fn rows(items: &[FeedItem], per_poll: usize) -> Vec<ArchiveRow> {
    items
        .chunks(per_poll)
        .enumerate()
        .map(|(i, chunk)| {
            let refs: Vec<(&FeedItem, bool)> = chunk.iter().map(|it| (it, true)).collect();
            let rec = encode(&refs, &[]).expect("compresses").expect("items");
            ArchiveRow {
                id: i as i64 + 1,
                feed: format!("feed{}", i % 100),
                first_seen: 1_764_000_000_000 + i as i64 * 1000,
                items: rec.items,
                raw_len: rec.raw_len,
                blob: rec.blob,
            }
        })
        .collect()
}

/// Encoded and compressed bytes per 1,000 items, for the README.
fn sizes() {
    let corpus = items(10_000, true);
    for per_poll in [1, 2, 5, 20] {
        let r = rows(&corpus, per_poll);
        let raw: usize = r.iter().map(|r| r.raw_len as usize).sum();
        let zst: usize = r.iter().map(|r| r.blob.len()).sum();
        eprintln!(
            "archive, {per_poll} item(s) per poll: {:.0} KiB per 1,000 items encoded, {:.0} KiB \
             compressed (ratio {:.2})",
            raw as f64 / 10.0 / 1024.0,
            zst as f64 / 10.0 / 1024.0,
            raw as f64 / zst as f64
        );
    }
}

/// CPU time this thread has run, from Linux's scheduler statistics (nanoseconds); zero where
/// they are not available, which makes the `_cpu_time` figures meaningless there.
fn thread_cpu() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

fn replay(c: &mut Criterion) {
    sizes();
    let set = watch_set(1_000);
    let mut g = c.benchmark_group("backtest_1k_terms");
    for (name, chain) in [("seed_paragraphs", false), ("word_chain", true)] {
        let corpus = items(20_000, chain);
        let r = rows(&corpus, PER_POLL);
        let bytes: usize = corpus.iter().map(|i| i.title.len() + i.summary.len()).sum();
        let mut found = 0usize;
        let mut rp = Replay::new(&set, &[], REPEAT_WINDOW);
        for row in &r {
            rp.record(row, &mut |_| found += 1).expect("replays");
        }
        eprintln!(
            "{name}: {} items of ~{} bytes in {} records, {found} alerts, {} terms",
            corpus.len(),
            bytes / corpus.len(),
            r.len(),
            set.term_count()
        );
        g.throughput(Throughput::Elements(corpus.len() as u64));
        // A fresh replay each time: link memory as a backtest starts it.
        let run = || {
            let mut rp = Replay::new(&set, &[], REPEAT_WINDOW);
            let mut n = 0usize;
            for row in &r {
                n += rp
                    .record(row, &mut |f| drop(black_box(f)))
                    .expect("replays");
            }
            black_box(n)
        };
        g.bench_function(name, |b| b.iter(run));
        // The same on this thread's CPU time: the figure per core, whatever else the machine
        // runs at the time (wall time on a shared machine counts the waits for a core too).
        g.bench_function(format!("{name}_cpu_time"), |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu();
                for _ in 0..iters {
                    run();
                }
                thread_cpu().saturating_sub(start)
            })
        });
        // Of which decompression and decoding alone.
        g.bench_function(format!("{name}_decode_only_cpu_time"), |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu();
                let mut dec = ArchiveDecoder::default();
                let mut out = Vec::new();
                for _ in 0..iters {
                    for row in &r {
                        out.clear();
                        dec.decode(row, &mut out).expect("decodes");
                    }
                    black_box(&out);
                }
                thread_cpu().saturating_sub(start)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = replay
}
criterion_main!(benches);
