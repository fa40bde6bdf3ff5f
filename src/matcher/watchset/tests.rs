//! The watch set's recording and reporting of hits, tested beside the code: the cap per (term,
//! field) and what it costs, a term recorded in full for a `NEAR` but reported capped
//! elsewhere, word distances late in a field, offsets into category and author lists, and a
//! scratch reused across items. The end-to-end behaviour is in `tests/matching*.rs`; these
//! pin what those cannot see. Written against mutation testing (docs/testing.md).

use super::*;
use crate::matcher::query::parse_query;
use crate::matcher::snippet::field_text;

fn watch(name: &str, query: &str) -> WatchSpec {
    WatchSpec {
        name: name.into(),
        condition: Condition::Query(parse_query(query).unwrap()),
        exclude: Vec::new(),
        fields: FieldMask::DEFAULT,
        feeds: FeedScope::All,
        sinks: Vec::new(),
    }
}

fn set(watches: &[(&str, &str)]) -> WatchSet {
    WatchSet::compile(watches.iter().map(|(n, q)| watch(n, q)).collect()).unwrap()
}

fn item(title: &str, summary: &str, content: &str) -> FeedItem {
    let mut it = FeedItem::titled("k", title);
    it.summary = summary.into();
    it.content = content.into();
    it
}

/// (field, start, end) of each hit of the match of watch `w`.
fn spans(matches: &[Match], w: usize) -> Vec<(Field, usize, usize)> {
    let m = matches.iter().find(|m| m.watch == w);
    let m = m.unwrap_or_else(|| panic!("watch {w} did not match: {matches:?}"));
    m.hits.iter().map(|h| (h.field, h.start, h.end)).collect()
}

/// "drone drone ... drone" (n times): occurrence i spans 6i..6i+5.
fn drones(n: usize) -> String {
    vec!["drone"; n].join(" ")
}

fn drone_spans(field: Field, n: usize) -> Vec<(Field, usize, usize)> {
    (0..n).map(|i| (field, 6 * i, 6 * i + 5)).collect()
}

#[test]
fn hits_are_recorded_only_up_to_the_cap_and_the_reference_reports_them_all() {
    let ws = set(&[("w", "drone")]);
    let it = item("", "", &drones(12));
    let mut scratch = Scratch::default();
    let capped = ws.matches_with(&it, None, &mut scratch);
    assert_eq!(spans(&capped, 0), drone_spans(Field::Content, HIT_CAP));
    assert_eq!(
        scratch.hits.len(),
        HIT_CAP,
        "a term hitting 12 times must cost {HIT_CAP} recorded hits"
    );
    let all = ws.matches_uncapped(&it, None, &mut Scratch::default());
    assert_eq!(spans(&all, 0), drone_spans(Field::Content, 12));
    assert_eq!(ws.matches(&it, None).len(), 1);
}

#[test]
fn the_cap_counts_per_field_and_restarts_with_each_item() {
    let ws = set(&[("w", "drone")]);
    let mut scratch = Scratch::default();
    // One hit in the title: its count must not carry into the summary.
    let it = item("drone", &drones(10), &drones(10));
    let got = spans(&ws.matches_with(&it, None, &mut scratch), 0);
    let mut want = vec![(Field::Title, 0, 5)];
    want.extend(drone_spans(Field::Summary, HIT_CAP));
    want.extend(drone_spans(Field::Content, HIT_CAP));
    assert_eq!(got, want);
    // One hit in the last field scanned: its count must not carry into the next item.
    let first = item("", "", "drone");
    assert_eq!(
        spans(&ws.matches_with(&first, None, &mut scratch), 0),
        [(Field::Content, 0, 5)]
    );
    let next = item(&drones(10), "", "");
    assert_eq!(
        spans(&ws.matches_with(&next, None, &mut scratch), 0),
        drone_spans(Field::Title, HIT_CAP)
    );
}

#[test]
fn a_term_recorded_in_full_for_a_near_is_reported_capped_outside_it() {
    // "drone" sits in watch 1's NEAR, so every occurrence is recorded; watch 0 uses it alone
    // and reports the first HIT_CAP of them.
    let ws = set(&[("plain", "drone"), ("near", "drone NEAR/2 kyiv")]);
    let got = ws.matches(&item("", "", &drones(12)), None);
    assert_eq!(got.len(), 1, "only `plain` matches: {got:?}");
    assert_eq!(spans(&got, 0), drone_spans(Field::Content, HIT_CAP));
}

#[test]
fn near_sees_an_occurrence_past_the_cap() {
    let ws = set(&[("w", "kyiv NEAR/1 drone")]);
    let text = format!("{} kyiv drone", ["kyiv"; 10].join(" "));
    let got = ws.matches(&item("", "", &text), None);
    // Only the 11th "kyiv" (at 50, after ten recorded ones) is next to the drone (at 55).
    assert_eq!(
        spans(&got, 0),
        [(Field::Content, 50, 54), (Field::Content, 55, 60)]
    );
}

#[test]
fn near_distance_counts_words_exactly_late_in_a_field() {
    let filler = (0..20)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let text = format!("{filler} alpha x y beta tail");
    let within = |d: u32| {
        let ws = set(&[("w", &format!("alpha NEAR/{d} beta"))]);
        !ws.matches(&item("", "", &text), None).is_empty()
    };
    assert!(within(3), "alpha and beta are 3 words apart");
    assert!(!within(2), "alpha and beta are more than 2 words apart");
    let reversed = set(&[("w", "beta NEAR/3 alpha")]);
    assert_eq!(reversed.matches(&item("", "", &text), None).len(), 1);
    let reversed = set(&[("w", "beta NEAR/2 alpha")]);
    assert!(reversed.matches(&item("", "", &text), None).is_empty());
}

/// Regression: word positions counted spaces only, so in Chinese, Japanese or Thai a whole
/// clause was one word and any two hits in it were at distance 0: `北朝鮮 NEAR/1 ロシア`
/// matched two terms 28 characters apart. Each char of an unspaced script is a word now.
#[test]
fn near_counts_the_chars_of_an_unspaced_script_as_words() {
    let text = "北朝鮮は本日新型ミサイルの発射実験を行ったと発表し専門家は昨年ロシアから技術が流入した可能性を指摘した";
    let near = |d: u32, text: &str| {
        let ws = set(&[("w", &format!("北朝鮮 NEAR/{d} ロシア"))]);
        !ws.matches(&item("", "", text), None).is_empty()
    };
    // 28 characters between them: 29 words apart.
    assert!(!near(1, text));
    assert!(!near(28, text));
    assert!(near(29, text));
    // One char between them: two words apart, as "a x b" in spaced text; adjacent, one.
    assert!(near(2, "北朝鮮とロシア"));
    assert!(!near(1, "北朝鮮とロシア"));
    assert!(near(1, "北朝鮮ロシア"));
    // Spaced text around unspaced words: the spaces count once.
    assert!(near(2, "北朝鮮 と ロシア"));
    assert!(!near(1, "北朝鮮 と ロシア"));
}

/// Regression: each category (or author) counted its words from 0, so two hits in two
/// entries, however far apart the list put them, were "near".
#[test]
fn near_never_holds_across_two_list_entries() {
    let ws = set(&[("w", "category:sport NEAR/1 category:politics")]);
    let mut it = item("", "", "");
    it.categories = vec!["sport".into(), "economy".into(), "politics".into()];
    assert!(ws.matches(&it, None).is_empty());
    it.categories = vec!["sport politics".into()];
    assert_eq!(ws.matches(&it, None).len(), 1);
}

#[test]
fn list_hits_point_into_the_entries_joined_with_commas() {
    let ws = set(&[
        ("second", "category:politics"),
        ("third", "category:economy"),
        ("author", "author:\"kim jong\""),
    ]);
    let mut it = item("", "", "");
    it.categories = vec!["World".into(), "Politics".into(), "Economy".into()];
    it.authors = vec!["Ann Lee".into(), "Kim Jong".into()];
    let got = ws.matches(&it, None);
    assert_eq!(spans(&got, 0), [(Field::Category, 7, 15)]);
    assert_eq!(spans(&got, 1), [(Field::Category, 17, 24)]);
    assert_eq!(spans(&got, 2), [(Field::Author, 9, 17)]);
    let joined = field_text(&it, Field::Category);
    assert_eq!(&joined[17..24], "Economy");
    let joined = field_text(&it, Field::Author);
    assert_eq!(&joined[9..17], "Kim Jong");
}

#[test]
fn a_phrase_never_spans_two_list_entries() {
    let ws = set(&[("w", "category:\"world politics\"")]);
    let mut it = item("", "", "");
    it.categories = vec!["World".into(), "Politics".into()];
    assert!(ws.matches(&it, None).is_empty());
}

#[test]
fn exact_case_hits_count_toward_the_cap_only_when_the_case_matches() {
    // Six lower-case "us" before the capitals: they are candidates, not hits, so the cap still
    // leaves room for HIT_CAP real ones.
    let text = format!("{} {}", ["us"; 6].join(" "), ["US"; 10].join(" "));
    let ws = set(&[("w", "case:US")]);
    let got = spans(&ws.matches(&item("", "", &text), None), 0);
    let want: Vec<_> = (0..HIT_CAP)
        .map(|i| (Field::Content, 18 + 3 * i, 20 + 3 * i))
        .collect();
    assert_eq!(got, want);
    assert_eq!(ws.specs().len(), 1);
    assert_eq!(ws.specs()[0].name, "w");
}

#[test]
fn a_term_needs_a_word_boundary_only_where_its_script_puts_spaces() {
    let found = |query: &str, text: &str| {
        !set(&[("w", query)])
            .matches(&item("", text, ""), None)
            .is_empty()
    };
    // Latin: a boundary on both sides.
    assert!(found("kim", "leader Kim Jong-Un"));
    assert!(found("kim", "kim"));
    assert!(!found("kim", "the Kimberly Process"));
    assert!(!found("kim", "Ekim said"));
    // A prefix: on the left only.
    assert!(found("troop*", "troopships"));
    assert!(!found("troop*", "antitroops"));
    // Korean particles attach on the right: a boundary on the left only.
    assert!(found("북한군", "러시아에 북한군이 파병"));
    assert!(!found("북한군", "반북한군 단체"));
    // Chinese and Japanese are written without spaces: no boundary at all.
    assert!(found("北朝鮮", "北朝鮮軍がロシアに派遣された"));
    assert!(found("ウクライナ", "ロシアとウクライナの戦争"));
}

#[test]
fn a_watch_scoped_to_other_feeds_is_not_evaluated() {
    let mut scoped = watch("scoped", "drone");
    scoped.feeds = FeedScope::Some {
        names: vec!["kyiv-post".into()],
        tags: vec!["ukraine".into()],
    };
    let ws = WatchSet::compile(vec![scoped, watch("all", "drone")]).unwrap();
    let it = item("drone", "", "");
    let tags = ["ukraine".to_string()];
    let names = |feed: Option<FeedRef<'_>>| -> Vec<&str> {
        let ms = ws.matches(&it, feed);
        ms.iter()
            .map(|m| ws.specs()[m.watch].name.as_str())
            .collect()
    };
    let other = FeedRef {
        name: "bbc",
        tags: &[],
    };
    assert_eq!(names(Some(other)), ["all"]);
    let named = FeedRef {
        name: "kyiv-post",
        tags: &[],
    };
    assert_eq!(names(Some(named)), ["scoped", "all"]);
    let tagged = FeedRef {
        name: "bbc",
        tags: &tags,
    };
    assert_eq!(names(Some(tagged)), ["scoped", "all"]);
    assert_eq!(
        names(None),
        ["scoped", "all"],
        "no feed: every watch applies"
    );
}

/// Regression: in a run of unspaced script every character starts a word that ends where the
/// run ends, and each was read to the end of the run for boundaries inside it, though no
/// pattern is that long: 20,000 unbroken Chinese characters took 0.8 s to match (release
/// build), a 256 KB article body minutes. (Timed only loosely: the bug was quadratic.) Since
/// unspaced characters start no word, the same cut is reached through a Latin letter between
/// each two of them.
#[test]
fn a_long_run_of_unspaced_script_is_read_once() {
    // Enough terms for the word table, one of them Chinese.
    let query: Vec<String> = (0..20)
        .map(|n| format!("\"term{n} word\""))
        .chain(["北韩".to_string()])
        .collect();
    let ws = set(&[("w", &query.join(" OR "))]);
    let text = format!("{}北韩", "中".repeat(200_000));
    let started = std::time::Instant::now();
    assert_eq!(ws.matches(&item("", &text, ""), None).len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Chinese characters start no word now, but a Latin letter between each two does, and
    // each such word runs to the end of the text.
    let text = format!("{}北韩", "a中".repeat(100_000));
    let started = std::time::Instant::now();
    assert_eq!(ws.matches(&item("", &text, ""), None).len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
