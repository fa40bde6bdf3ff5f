//! Matching at real-article scale: long HTML articles (5-40 KB, ~7 KB typical) and short RSS
//! items, against 1, 1,000 and 10,000 watch terms that include broad ones (everyday news words
//! and two-word phrases hitting 10-100 times per long article).
//!
//! Two measurements per corpus and term count: matching alone (fold + match + snippets over
//! already parsed items) and the full pipeline (parse + HTML→text + fold + match + alert
//! building, i.e. `Alert::new` and its JSON as the daemon stores it). Corpus figures (items,
//! bytes, hits and matches per item) are printed before each group.
//!
//! Run: `cargo bench --bench articles`. Figures go in the README's Performance section.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newswatch::matcher::{Scratch, WatchSet};

mod common;
use common::articles::{Engine, broad_terms, items_of, long_feeds, pipeline, short_feeds};
use common::watch_set_of;

const TERM_COUNTS: [usize; 3] = [1, 1_000, 10_000];

/// The engine as used (hits capped per term and field, automaton walked from word starts), the
/// same with one overlapping search over every byte, and as it was before both (overlapping,
/// every hit recorded), measured side by side on the same build and load.
const ENGINES: [(&str, Engine); 3] = [
    ("", WatchSet::matches_with),
    ("_overlapping", WatchSet::matches_overlapping),
    ("_uncapped", WatchSet::matches_uncapped),
];

fn corpus(c: &mut Criterion, label: &str, docs: Vec<String>) {
    let items = items_of(&docs);
    let doc_bytes: usize = docs.iter().map(String::len).sum();
    let text_bytes: usize = items
        .iter()
        .map(|i| i.title.len() + i.summary.len() + i.content.len())
        .sum();
    for n in TERM_COUNTS {
        let set = watch_set_of(broad_terms(n));
        let mut scratch = Scratch::default();
        let (mut matches, mut hits, mut all_hits) = (0, 0, 0);
        for it in &items {
            for m in set.matches_with(it, None, &mut scratch) {
                matches += 1;
                hits += m.hits.len();
            }
            for m in set.matches_uncapped(it, None, &mut scratch) {
                all_hits += m.hits.len();
            }
        }
        let per = items.len() as f64;
        eprintln!(
            "{label}/{n} terms: {} items, {:.1} KB feed XML and {:.1} KB text per item, \
             {:.2} matches and {:.1} reported hits per item ({:.1} uncapped)",
            items.len(),
            doc_bytes as f64 / per / 1000.0,
            text_bytes as f64 / per / 1000.0,
            matches as f64 / per,
            hits as f64 / per,
            all_hits as f64 / per,
        );
        let mut g = c.benchmark_group(format!("{label}_match"));
        g.throughput(Throughput::Bytes(text_bytes as u64));
        for (suffix, engine) in ENGINES {
            g.bench_function(format!("{n}_terms{suffix}"), |b| {
                b.iter(|| {
                    let mut k = 0;
                    for it in &items {
                        k += engine(&set, it, None, &mut scratch).len();
                    }
                    black_box(k)
                })
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("{label}_pipeline"));
        g.throughput(Throughput::Bytes(doc_bytes as u64));
        for (suffix, engine) in ENGINES {
            g.bench_function(format!("{n}_terms{suffix}"), |b| {
                b.iter(|| black_box(pipeline(&docs, &set, &mut scratch, engine)))
            });
        }
        g.finish();
    }
}

fn long_articles(c: &mut Criterion) {
    // 40 documents of 5 articles: ~200 articles, ~2 MB of HTML.
    corpus(c, "long_articles", long_feeds(40));
}

fn short_items(c: &mut Criterion) {
    // 20 documents of 20 items: 400 short items.
    corpus(c, "short_items", short_feeds(20));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(4));
    targets = long_articles, short_items
}
criterion_main!(benches);
