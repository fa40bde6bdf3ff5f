//! Quality of story grouping on the labelled story pairs in tests/fixtures/stories/.
//!
//! Two measures, both printed (run with `--nocapture` to see them):
//!
//! 1. Pairs: every labelled pair is scored with the decision alone (document frequencies from all
//!    labelled items); a pair is predicted "same story" when the two items are at most one window
//!    apart and the score reaches the default threshold. The pairs are split into two halves by a
//!    hash of their event: the default threshold was picked on the *tuning* half (the sweep
//!    printed below), the *held-out* half is reported as the honest figure.
//! 2. Clustering: all labelled items are fed in time order into a [`StoryIndex`] with the default
//!    settings, and the stories it forms are compared with the hand-made events.
//!
//! The goal (held-out precision ≥ 0.98 with recall ≥ 0.8) is asserted by
//! `story_grouping_meets_the_goal_on_the_held_out_half`, ignored while it is not met
//! (`cargo test --test story_quality -- --ignored` shows how far off it is). The other tests'
//! floors are today's measured figures, rounded down: they catch a change that makes grouping
//! worse.

use std::collections::HashMap;

use newswatch::story::{
    DEFAULT_THRESHOLD, DEFAULT_WINDOW, Signature, StoryConfig, StoryId, StoryIndex, StoryItem,
    Vocabulary, score,
};

/// The goal of the issue: never hide a different story, group most reports of one.
const GOAL_PRECISION: f64 = 0.98;
const GOAL_RECALL: f64 = 0.8;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stories");

struct Item {
    id: String,
    title: String,
    lead: String,
    url: String,
    published: i64,
}

struct Pair {
    a: String,
    b: String,
    same: bool,
    kind: String,
    doubtful: bool,
    half: Half,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Half {
    Tuning,
    HeldOut,
}

fn read(name: &str) -> String {
    let path = format!("{DIR}/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn items() -> Vec<Item> {
    read("items.jsonl")
        .lines()
        .enumerate()
        .map(|(n, line)| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("items.jsonl:{}: {e}", n + 1));
            let field = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("items.jsonl:{}: no {k}", n + 1))
                    .to_string()
            };
            let published = chrono::DateTime::parse_from_rfc3339(&field("published"))
                .unwrap_or_else(|e| panic!("items.jsonl:{}: published: {e}", n + 1))
                .timestamp();
            Item {
                id: field("id"),
                title: field("title"),
                lead: field("lead"),
                url: field("url"),
                published,
            }
        })
        .collect()
}

/// FNV-1a: a fixed split that does not depend on the standard hasher's seed.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn pairs() -> Vec<Pair> {
    read("pairs.tsv")
        .lines()
        .skip(1)
        .enumerate()
        .map(|(n, line)| {
            let f: Vec<&str> = line.split('\t').collect();
            assert!(f.len() >= 8, "pairs.tsv:{}: expected 8+ fields", n + 2);
            // Both events of a pair decide its half, so an event's pairs mostly stay together.
            let key = f[6].min(f[7]);
            Pair {
                a: f[1].to_string(),
                b: f[2].to_string(),
                same: f[3] == "same_story",
                kind: f[4].to_string(),
                doubtful: f[5] == "1",
                half: if fnv(key).is_multiple_of(2) {
                    Half::Tuning
                } else {
                    Half::HeldOut
                },
            }
        })
        .collect()
}

/// item id → event id, from the `E` lines of events.tsv.
fn events() -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in read("events.tsv").lines().filter(|l| l.starts_with("E\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 5, "events.tsv: short E line: {line}");
        for item in f[4].split_whitespace() {
            out.insert(item.to_string(), f[1].to_string());
        }
    }
    out
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Counts {
    fn add(&mut self, same: bool, predicted: bool) {
        match (same, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => {}
        }
    }
    fn precision(&self) -> f64 {
        let p = self.tp + self.fp;
        if p == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(p)
        }
    }
    fn recall(&self) -> f64 {
        let p = self.tp + self.fn_;
        if p == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(p)
        }
    }
    fn line(&self) -> String {
        format!(
            "precision {:.3} recall {:.3} (tp {} fp {} fn {})",
            self.precision(),
            self.recall(),
            self.tp,
            self.fp,
            self.fn_
        )
    }
}

/// Which pairs a figure counts.
#[derive(Clone, Copy)]
enum Subset {
    All,
    NoFollowups,
    NoDoubtful,
}

impl Subset {
    fn keeps(self, p: &Pair) -> bool {
        match self {
            Subset::All => true,
            Subset::NoFollowups => p.kind != "hard_followup",
            Subset::NoDoubtful => !p.doubtful,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Subset::All => "all pairs",
            Subset::NoFollowups => "without hard_followup",
            Subset::NoDoubtful => "without doubtful",
        }
    }
}

struct Scored {
    pair: Pair,
    score: f64,
}

fn count(scored: &[Scored], half: Option<Half>, subset: Subset, threshold: f64) -> Counts {
    let mut c = Counts::default();
    for s in scored {
        if half.is_some_and(|h| h != s.pair.half) || !subset.keeps(&s.pair) {
            continue;
        }
        c.add(s.pair.same, s.score >= threshold);
    }
    c
}

/// Every labelled pair with its score (0 when the two items are more than a window apart).
fn scored() -> Vec<Scored> {
    let items = items();
    let by_id: HashMap<&str, &Item> = items.iter().map(|i| (i.id.as_str(), i)).collect();
    let signatures: HashMap<&str, Signature> = items
        .iter()
        .map(|i| (i.id.as_str(), Signature::new(&i.title, &i.lead)))
        .collect();
    let mut vocab = Vocabulary::new();
    for i in &items {
        vocab.add(i.published, signatures[i.id.as_str()].term_ids());
    }
    let window = i64::try_from(DEFAULT_WINDOW.as_secs()).unwrap_or(i64::MAX);
    let pairs = pairs();
    assert!(pairs.len() >= 300, "only {} labelled pairs", pairs.len());
    pairs
        .into_iter()
        .map(|p| {
            let (a, b) = (by_id[p.a.as_str()], by_id[p.b.as_str()]);
            let gap = b.published - a.published;
            let s = if gap.abs() > window {
                0.0
            } else {
                score(
                    &signatures[p.a.as_str()],
                    &signatures[p.b.as_str()],
                    gap,
                    &vocab,
                )
            };
            Scored { pair: p, score: s }
        })
        .collect()
}

#[test]
fn story_pairs_precision_and_recall() {
    let scored = scored();

    // The default threshold is the one with the best F0.5 (precision counted twice as much as
    // recall: a hidden different story costs more than a repeated alert) on the tuning half.
    println!("threshold sweep on the tuning half (all pairs | without hard_followup):");
    let mut best = (0.0, 0.0);
    let mut strict = None;
    for t in (5..=60).map(|t| f64::from(t) / 100.0) {
        let all = count(&scored, Some(Half::Tuning), Subset::All, t);
        let nf = count(&scored, Some(Half::Tuning), Subset::NoFollowups, t);
        let (p, r) = (all.precision(), all.recall());
        let f = if p + r == 0.0 {
            0.0
        } else {
            1.25 * p * r / (0.25 * p + r)
        };
        if f > best.1 {
            best = (t, f);
        }
        // The precision-first point: the lowest threshold reaching the precision goal.
        if strict.is_none() && p >= GOAL_PRECISION {
            strict = Some(t);
        }
        println!(
            "  {t:.2}: P {p:.3} R {r:.3} F0.5 {f:.3} | P {:.3} R {:.3}",
            nf.precision(),
            nf.recall()
        );
    }
    println!("best F0.5 on the tuning half at threshold {:.2}", best.0);
    if let Some(t) = strict {
        println!(
            "precision-first threshold {t:.2} (lowest reaching precision {GOAL_PRECISION} on the \
             tuning half), held-out: {}",
            count(&scored, Some(Half::HeldOut), Subset::All, t).line()
        );
    }
    println!("at the default threshold {DEFAULT_THRESHOLD}:");
    let mut figures = HashMap::new();
    for half in [Some(Half::Tuning), Some(Half::HeldOut), None] {
        for subset in [Subset::All, Subset::NoFollowups, Subset::NoDoubtful] {
            let c = count(&scored, half, subset, DEFAULT_THRESHOLD);
            let h = half.map_or("both halves", |h| {
                if h == Half::Tuning {
                    "tuning"
                } else {
                    "held-out"
                }
            });
            println!("  {h:11} {:22} {}", subset.name(), c.line());
            figures.insert((format!("{half:?}"), subset.name()), c);
        }
    }
    let held_out = figures[&(format!("{:?}", Some(Half::HeldOut)), Subset::All.name())];
    let both = figures[&("None".to_string(), Subset::All.name())];
    assert!(
        (best.0 - DEFAULT_THRESHOLD).abs() < 0.005,
        "the default threshold {DEFAULT_THRESHOLD} is no longer the best F0.5 on the tuning half ({:.2})",
        best.0
    );
    // What the decision reaches today, measured, rounded down: the goal (precision 0.98 at
    // recall 0.8) is NOT met; see the README's "Stories" section. A change that makes grouping
    // worse fails here; one that makes it better should raise these floors.
    let without_followups = figures[&("None".to_string(), Subset::NoFollowups.name())];
    assert!(
        held_out.precision() >= 0.78 && held_out.recall() >= 0.77,
        "held-out: {}",
        held_out.line()
    );
    assert!(
        both.precision() >= 0.80 && both.recall() >= 0.78,
        "both halves: {}",
        both.line()
    );
    assert!(
        without_followups.precision() >= 0.93 && without_followups.recall() >= 0.78,
        "without follow-ups: {}",
        without_followups.line()
    );
}

/// The goal, on the held-out half at the default threshold.
#[test]
#[ignore = "goal not met yet: held-out precision 0.786, recall 0.779 (README, Stories)"]
fn story_grouping_meets_the_goal_on_the_held_out_half() {
    let c = count(
        &scored(),
        Some(Half::HeldOut),
        Subset::All,
        DEFAULT_THRESHOLD,
    );
    assert!(
        c.precision() >= GOAL_PRECISION && c.recall() >= GOAL_RECALL,
        "held-out: {}",
        c.line()
    );
}

#[test]
fn story_index_clusters_events() {
    let mut items = items();
    items.sort_by(|a, b| a.published.cmp(&b.published).then(a.id.cmp(&b.id)));
    let events = events();
    let mut index = StoryIndex::new(StoryConfig::default());
    let mut story_of: HashMap<&str, StoryId> = HashMap::new();
    for i in &items {
        let item = StoryItem {
            title: &i.title,
            lead: &i.lead,
            link: Some(&i.url),
            published: i.published,
        };
        story_of.insert(i.id.as_str(), index.assign(&item).story());
    }
    // Every two items that both belong to an event: same event vs same story.
    let labelled: Vec<&Item> = items
        .iter()
        .filter(|i| events.contains_key(&i.id))
        .collect();
    let mut all = Counts::default();
    for (n, a) in labelled.iter().enumerate() {
        for b in &labelled[n + 1..] {
            let same = events[&a.id] == events[&b.id];
            all.add(same, story_of[a.id.as_str()] == story_of[b.id.as_str()]);
        }
    }
    // The labelled pairs only, as the index grouped them.
    let mut on_pairs = Counts::default();
    for p in pairs() {
        on_pairs.add(p.same, story_of[p.a.as_str()] == story_of[p.b.as_str()]);
    }
    let stories: std::collections::HashSet<_> = story_of.values().collect();
    println!(
        "clustering {} items into {} stories (events: {}):",
        items.len(),
        stories.len(),
        events
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    println!("  item pairs of all events  {}", all.line());
    println!("  labelled pairs            {}", on_pairs.line());
    // Floors: today's measured figures, rounded down (a regression guard, not the goal).
    assert!(
        all.precision() >= 0.57 && all.recall() >= 0.67,
        "{}",
        all.line()
    );
    assert!(
        on_pairs.precision() >= 0.77 && on_pairs.recall() >= 0.68,
        "{}",
        on_pairs.line()
    );
}
