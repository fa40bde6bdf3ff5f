//! Matching benchmarks: fold+match throughput with 10,000 watch terms, and the end-to-end cost
//! of one 1.5 KB item (parse + HTML→text + fold + match).
//!
//! Run: `cargo bench --bench matching`. Figures go in the README's Performance section.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newswatch::feed::FeedItem;
use newswatch::feed::parse::{Parsed, parse};
use newswatch::matcher::Scratch;

mod common;
use common::*;

/// ~1 MB of mixed-script news text (Cyrillic, Greek, Korean, Japanese, Chinese, accented Latin).
fn mixed_items() -> Vec<FeedItem> {
    let samples = [
        "Президент Украины Владимир Зеленский представил «План победы» Верховной раде; \
         по данным разведки, около 10 000 северокорейских военных проходят подготовку в России. ",
        "Ο Γενικός Γραμματέας του ΝΑΤΟ προειδοποίησε ότι η αποστολή βορειοκορεατών στρατιωτών \
         στην Ουκρανία θα κλιμάκωνε σημαντικά τη σύγκρουση. ",
        "국가정보원은 북한군 1만2천여 명이 러시아에 파병됐다고 밝혔으며, 북한군이 우크라이나 전선에 \
         투입될 가능성이 있다고 경고했다. ",
        "北朝鮮軍の兵士約1万人がロシア極東で訓練を受けているとウクライナ国防省が発表した。",
        "据报道，朝鲜士兵已抵达俄罗斯远东地区接受训练，北约对此表示严重关切。",
        "Le président Zelensky a présenté son « plan de la victoire » à Bruxelles, où les \
         dirigeants européens se sont réunis à l'été. Ça dépend des États-Unis. ",
    ];
    let mut items = Vec::new();
    let mut s = 11u64;
    let mut total = 0;
    while total < 1_000_000 {
        let mut text = String::new();
        while text.len() < 1500 {
            text.push_str(samples[lcg(&mut s) as usize % samples.len()]);
        }
        total += text.len();
        items.push(item(text));
    }
    items
}

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

/// One RSS document with one ~1.5 KB item (title + HTML description).
fn one_item_feed() -> String {
    let paras: Vec<&str> = SEED
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut html = String::new();
    for p in &paras[1..] {
        if html.len() > 1300 {
            break;
        }
        html.push_str("<p>");
        html.push_str(p.trim());
        html.push_str("</p>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><title>NATO warns North Korean troop transfers would escalate conflict</title>\
         <link>https://example.org/a</link><guid>g1</guid>\
         <pubDate>Sun, 20 Oct 2024 09:30:00 GMT</pubDate>\
         <description><![CDATA[{html}]]></description></item></channel></rss>"
    )
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
