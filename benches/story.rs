//! Story grouping benchmark: the cost of assigning one new item to a story (candidate lookup +
//! decision + recording it) with 1,000 and with 100,000 live stories in the window.
//!
//! The window is in steady state: items arrive evenly spread over `story_window`, so as many
//! stories expire as start, and the index holds the given number of stories throughout the
//! measurement. A quarter of the items rewrite a recent story (same names, half its words), the
//! rest report new events drawn from a Zipf-distributed vocabulary of 50,000 words and 20,000
//! names. `signature_only` is the share of the cost that is folding and hashing the text.
//!
//! Run: `cargo bench --bench story`. Figures go in the README's "Stories" section.
//! `STORY_BENCH_SIZES=1000,20000 cargo bench --bench story` measures other window sizes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use newswatch::story::{DEFAULT_WINDOW, Signature, StoryConfig, StoryIndex, StoryItem};

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "ba", "de", "fu", "go", "hi", "jo", "ke", "li",
    "mu", "na", "po", "ri",
];

/// A pronounceable made-up word for rank `n` (distinct per `n`).
fn word(mut n: usize, capital: bool) -> String {
    let mut w = String::new();
    for _ in 0..3 {
        w.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    while n > 0 {
        w.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    if capital {
        w[..1].make_ascii_uppercase();
    }
    w
}

struct Gen {
    state: u64,
    /// Cumulative Zipf weights of the word ranks.
    words: Vec<f64>,
    names: Vec<f64>,
    /// (title, lead) of recent items, for rewrites.
    recent: Vec<(String, String)>,
}

fn zipf(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    (1..=n)
        .map(|r| {
            acc += 1.0 / r as f64;
            acc
        })
        .collect()
}

impl Gen {
    fn new(seed: u64) -> Self {
        Self {
            state: seed,
            words: zipf(50_000),
            names: zipf(20_000),
            recent: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.state >> 33
    }

    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }

    fn draw(&mut self, names: bool) -> String {
        let u = self.unit();
        let table = if names { &self.names } else { &self.words };
        let x = u * table[table.len() - 1];
        let rank = table.partition_point(|&c| c < x);
        word(rank + if names { 1_000_000 } else { 0 }, names)
    }

    fn sentence(&mut self, words: usize, names: usize) -> String {
        let mut out = vec!["The".to_string()];
        for i in 0..words {
            out.push(self.draw(false));
            if i < names {
                out.push(self.draw(true));
            }
        }
        out.join(" ")
    }

    /// The next item: a rewrite of a recent one (one in four) or a new event.
    fn item(&mut self) -> (String, String) {
        if !self.recent.is_empty() && self.next().is_multiple_of(4) {
            let k = (self.next() as usize) % self.recent.len();
            let (title, lead) = self.recent[k].clone();
            let keep = |s: &str, g: &mut Self| {
                s.split(' ')
                    .map(|w| {
                        if w.starts_with(char::is_uppercase) || g.next().is_multiple_of(2) {
                            w.to_string()
                        } else {
                            g.draw(false)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            return (keep(&title, self), keep(&lead, self));
        }
        let item = (self.sentence(8, 2), self.sentence(20, 3));
        if self.recent.len() < 64 {
            self.recent.push(item.clone());
        } else {
            let k = (self.next() as usize) % self.recent.len();
            self.recent[k] = item.clone();
        }
        item
    }
}

fn assign(c: &mut Criterion) {
    let mut g = c.benchmark_group("story_assign");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    let window = i64::try_from(DEFAULT_WINDOW.as_secs()).unwrap_or(i64::MAX);
    // `cargo test --all-targets` runs this once, unoptimised, as a smoke test: filling a window
    // of 100,000 stories takes tens of minutes there, so only `cargo bench` (which passes
    // `--bench`) measures that size.
    let measuring = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("STORY_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) if measuring => vec![1_000, 100_000],
        Err(_) => vec![1_000],
    };
    for stories in sizes {
        let mut source = Gen::new(7);
        let mut index = StoryIndex::new(StoryConfig::default());
        // About 4 items per 3 stories (one in four joins a story): spread them over one window.
        let items = stories * 4 / 3;
        let step = window as f64 / items as f64;
        let mut n = 0u64;
        let at = |n: &mut u64| {
            *n += 1;
            (*n as f64 * step) as i64
        };
        let started = std::time::Instant::now();
        for _ in 0..items {
            let (title, lead) = source.item();
            let published = at(&mut n);
            index.assign(&StoryItem {
                title: &title,
                lead: &lead,
                link: None,
                published,
            });
        }
        eprintln!(
            "{stories}: {} live stories after warm-up ({items} assignments, {:.1} µs each)",
            index.len(),
            started.elapsed().as_secs_f64() * 1e6 / items as f64
        );
        g.bench_with_input(BenchmarkId::from_parameter(stories), &stories, |b, _| {
            b.iter_batched(
                || {
                    let (title, lead) = source.item();
                    (title, lead, at(&mut n))
                },
                |(title, lead, published)| {
                    black_box(index.assign(&StoryItem {
                        title: &title,
                        lead: &lead,
                        link: None,
                        published,
                    }))
                },
                BatchSize::SmallInput,
            )
        });
        eprintln!("{stories}: {} live stories after measuring", index.len());
    }
    g.finish();

    let mut source = Gen::new(7);
    c.bench_function("story_signature_only", |b| {
        b.iter_batched(
            || source.item(),
            |(title, lead)| black_box(Signature::new(&title, &lead)),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, assign);
criterion_main!(benches);
