//! The long-article matching pipeline run a fixed number of times, for instruction counts.
//!
//! ```sh
//! cargo build --release --example matchcost
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/matchcost 10000 pipeline 0
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/matchcost 10000 pipeline 2
//! ```
//!
//! Wall-clock benchmarks (`cargo bench --bench articles`) on a shared 2-core machine move by
//! ±20 % from one run to the next; the number of instructions does not. Arguments: how many
//! terms (1, 1000 or 10000, as in the benchmark), what to run per pass (`pipeline`: parse,
//! match, build and encode every alert; `match`: match parsed items; `encode`: encode alerts
//! built beforehand) and how many passes over the benchmark's 200 long articles. The
//! difference between N passes and 0 passes, divided by 200 × N, is the cost per article
//! without the setup (generating the corpus, compiling the watch set). Two more modes run the
//! matching benchmark's inputs (`cargo bench --bench matching`) with its watch set: `mixed`
//! folds and matches its mixed-script megabyte once a pass (`rtl`: its Arabic and Hebrew one),
//! `item` parses and matches its one-item document 1,000 times a pass.

use std::hint::black_box;
use std::process::ExitCode;

use newswatch::deliver::Alert;
use newswatch::feed::parse::{Parsed, parse};
use newswatch::matcher::{Scratch, WatchSet};

#[path = "../benches/common/mod.rs"]
mod common;
use common::articles::{broad_terms, items_of, long_feeds, pipeline};
use common::{arabic_hebrew_items, mixed_items, one_item_feed, watch_set, watch_set_of};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(terms), Some(mode), Some(passes)) = (
        args.first().and_then(|a| a.parse::<usize>().ok()),
        args.get(1).map(String::as_str),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: matchcost <terms> pipeline|match|encode|mixed|rtl|item <passes>");
        return ExitCode::from(2);
    };
    let docs = long_feeds(40);
    // The long-article modes use the articles benchmark's broad terms, the other two the
    // matching benchmark's watch set.
    let set = if matches!(mode, "mixed" | "rtl" | "item") {
        watch_set(terms)
    } else {
        watch_set_of(broad_terms(terms))
    };
    let mut scratch = Scratch::default();
    let items = items_of(&docs);
    let mixed = match mode {
        "mixed" => mixed_items(),
        "rtl" => arabic_hebrew_items(),
        _ => Vec::new(),
    };
    let one = one_item_feed();
    let built: Vec<Alert> = if mode == "encode" {
        let now = chrono::DateTime::from_timestamp(1_730_000_000, 0).unwrap_or_default();
        items
            .iter()
            .flat_map(|it| {
                set.matches_with(it, None, &mut scratch)
                    .iter()
                    .map(|m| Alert::new(&set.specs()[m.watch].name, "bench", it, m, now))
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut n = 0usize;
    for _ in 0..passes {
        n += match mode {
            "pipeline" => pipeline(&docs, &set, &mut scratch, WatchSet::matches_with),
            "match" => items
                .iter()
                .map(|it| set.matches_with(it, None, &mut scratch).len())
                .sum(),
            "encode" => built.iter().map(|a| a.to_json().len()).sum(),
            // The matching benchmark's inputs: its mixed-script megabyte, folded and matched
            // once per pass, and its one-item document, parsed and matched 1,000 times.
            "mixed" | "rtl" => mixed
                .iter()
                .map(|it| set.matches_with(it, None, &mut scratch).len())
                .sum(),
            "item" => (0..1000)
                .map(|_| match parse(black_box(one.as_bytes()), None, None) {
                    Ok(Parsed::Feed(f)) => f
                        .items
                        .iter()
                        .map(|it| set.matches_with(it, None, &mut scratch).len())
                        .sum(),
                    _ => 0,
                })
                .sum(),
            other => {
                eprintln!("unknown mode {other:?}: pipeline, match, encode, mixed or item");
                return ExitCode::from(2);
            }
        };
    }
    println!(
        "{} articles, {passes} passes, {}",
        items.len(),
        black_box(n)
    );
    ExitCode::SUCCESS
}
