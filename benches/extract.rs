//! Article extraction speed on the real pages of `tests/fixtures/articles/` (52 pages, 5.8 MB
//! of HTML after stripping scripts and styles): `text::article::extract_article` on each page
//! in turn, one core. Criterion reports the time per pass over the whole set, as MB/s of HTML
//! (group `extract_bytes`) and as pages/s (group `extract_pages`).
//!
//! Run: `cargo bench --bench extract`. Figures go in the README's "Full text: article
//! extraction" section.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newswatch::text::article::extract_article;

// Shared with the quality test, which also reads the fields this benchmark does not.
#[allow(dead_code)]
#[path = "../tests/article_quality/corpus.rs"]
mod corpus;

fn extract_all(pages: &[corpus::Page]) -> usize {
    pages
        .iter()
        .map(|p| match extract_article(black_box(&p.html)) {
            Ok(a) => a.text.len(),
            Err(e) => panic!("{}: {e}", p.name),
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let pages = corpus::pages();
    let bytes: usize = pages.iter().map(|p| p.html.len()).sum();
    let text = extract_all(&pages);
    println!(
        "corpus: {} pages, {:.2} MB of HTML, {:.2} MB of article text extracted",
        pages.len(),
        bytes as f64 / 1e6,
        text as f64 / 1e6
    );
    for (group, throughput) in [
        ("extract_bytes", Throughput::Bytes(bytes as u64)),
        ("extract_pages", Throughput::Elements(pages.len() as u64)),
    ] {
        let mut g = c.benchmark_group(group);
        g.throughput(throughput);
        g.bench_function("all_pages", |b| b.iter(|| extract_all(&pages)));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(8));
    targets = bench
}
criterion_main!(benches);
