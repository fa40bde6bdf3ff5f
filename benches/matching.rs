//! Matching benchmarks: fold+match throughput with 10,000 watch terms, and the end-to-end cost
//! of one 1.5 KB item (parse + HTML→text + fold + match).
//!
//! Run: `cargo bench --bench matching`. Figures go in the README's Performance section.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newswatch::feed::parse::{Parsed, parse};
use newswatch::matcher::Scratch;

mod common;
use common::*;

fn throughput(c: &mut Criterion) {
    let set = watch_set(10_000);
    let (kind, bytes) = set.automaton_stats();
    eprintln!(
        "automaton: {kind}, {:.1} MiB",
        bytes as f64 / (1 << 20) as f64
    );
    let dense = watch_set_of(dense_terms(10_000));
    let mut g = c.benchmark_group("fold_match_10k_terms");
    for (name, set, items) in [
        ("english", &set, english_items()),
        ("mixed_script", &set, mixed_items()),
        ("arabic_hebrew", &set, arabic_hebrew_items()),
        ("english_dense_hits", &dense, english_items()),
    ] {
        let bytes: usize = items.iter().map(|i| i.summary.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        let mut scratch = Scratch::default();
        let matches: usize = items
            .iter()
            .map(|it| set.matches_with(it, None, &mut scratch).len())
            .sum();
        eprintln!(
            "{name}: {} items of ~1.5 KB, {bytes} bytes, {matches} matches ({:.2} per item), {} terms",
            items.len(),
            matches as f64 / items.len() as f64,
            set.term_count()
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                for it in &items {
                    n += set.matches_with(it, None, &mut scratch).len();
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

fn per_item(c: &mut Criterion) {
    let set = watch_set(10_000);
    let doc = one_item_feed();
    let mut scratch = Scratch::default();
    let mut g = c.benchmark_group("per_item_1_5kb");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("parse_html_fold_match", |b| {
        b.iter(|| {
            let Ok(Parsed::Feed(f)) = parse(black_box(doc.as_bytes()), None, None) else {
                panic!("benchmark feed parses");
            };
            let mut n = 0;
            for it in &f.items {
                n += set.matches_with(it, None, &mut scratch).len();
            }
            black_box(n)
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| black_box(parse(black_box(doc.as_bytes()), None, None).is_ok()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = throughput, per_item
}
criterion_main!(benches);
