//! Differential test of the matcher: a slow, plain reading of the matching rules (README "How
//! text is compared" and "Terms") against the engine (one automaton, boundary checks on folded
//! bytes, exact-case checks on the original span), on generated items and terms and on every
//! item of the feeds under tests/fixtures/. Any disagreement fails with the item and the term.
//!
//! Both sides use the same fold (`text::fold`, tested on its own against models of its rules);
//! what is compared is everything after it: word boundaries, phrases, prefixes, exact case,
//! unspaced scripts and Hangul, fields.
//!
//! The reference reads folded text as a list of tokens, each with how it joins the previous one:
//! words are separated by spaces; within a word every char of a script written without spaces
//! (Han, Kana, Thai...) is a token of its own, and a run of Hangul is a token apart from a run of
//! other letters glued to it. A term matches where its tokens equal consecutive tokens of the
//! text with the same joins, except that the last token only has to *start* the text's token when
//! the term is a prefix (`troop*`) or ends in Hangul (Korean particles attach on the right).
//! In Arabic text (an Arabic letter, no Persian or Urdu one), the term's first token may also
//! equal what is left of a word of Arabic letters after one or two leading proclitics (و, ف, ب,
//! ل, ك), when at least three letters are left; in Hebrew text (a Hebrew letter, no Yiddish
//! ligature), of a word of Hebrew letters after one to three (ו, ה, ב, כ, ל, מ, ש), when at
//! least two are left. A word is what lies between spaces. For a term whose first token is the
//! Arabic article ال and Arabic letters, a first token (or what is left of it after the
//! proclitics) spelled "لل" and more, the article after ل without its alef, also reads as the
//! article, a ل and the rest, and, when the rest does not start with ل, as the article and the
//! rest ("للجيش" as "الجيش", "للجنة" as "اللجنة" and "الجنة").

use newswatch::feed::{FeedItem, ItemKey, Parsed, parse};
use newswatch::matcher::{
    Condition, FeedScope, FieldMask, HIT_CAP, Match, Scratch, TermKind, TermSpec, WatchSet,
    WatchSpec, parse_term,
};
use newswatch::text::fold::{fold_keep_case, fold_term};
use newswatch::text::script::{is_hangul, is_unspaced};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Start,
    Space,
    Glued,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unspaced,
    Hangul,
    Other,
}

fn class(c: char) -> Class {
    if is_unspaced(c) {
        Class::Unspaced
    } else if is_hangul(c) {
        Class::Hangul
    } else {
        Class::Other
    }
}

/// Folded text as tokens with their joins (see the module docs).
fn tokens(folded: &str) -> Vec<(Join, String)> {
    let mut out: Vec<(Join, String)> = Vec::new();
    for (w, word) in folded.split(' ').filter(|w| !w.is_empty()).enumerate() {
        let mut prev: Option<Class> = None;
        for c in word.chars() {
            let k = class(c);
            let same_token = prev.is_some_and(|p| p == k && k != Class::Unspaced);
            if same_token {
                if let Some(last) = out.last_mut() {
                    last.1.push(c);
                }
            } else {
                let join = match (prev, w) {
                    (Some(_), _) => Join::Glued,
                    (None, 0) => Join::Start,
                    (None, _) => Join::Space,
                };
                out.push((join, c.to_string()));
            }
            prev = Some(k);
        }
    }
    out
}

/// One language's proclitics, for the reference reading: its letters, the proclitics, how
/// many a word may start with, how many letters must be left, and the letters that mark a
/// text as another language written in the same script.
struct Proclitics {
    letters: std::ops::RangeInclusive<char>,
    proclitics: &'static str,
    max: usize,
    min_rest: usize,
    other: std::ops::RangeInclusive<char>,
}

const LANGUAGES: [Proclitics; 2] = [
    Proclitics {
        letters: '\u{621}'..='\u{64A}',
        proclitics: "وفبلك",
        max: 2,
        min_rest: 3,
        other: '\u{671}'..='\u{6FF}',
    },
    Proclitics {
        letters: '\u{5D0}'..='\u{5EA}',
        proclitics: "והבכלמש",
        max: 3,
        min_rest: 2,
        other: '\u{5F0}'..='\u{5F2}',
    },
];

/// Which of [`LANGUAGES`] folded text is written in: one of its letters, none of the others.
fn written_in(folded_text: &str) -> Vec<bool> {
    LANGUAGES
        .iter()
        .map(|lang| {
            folded_text.chars().any(|c| lang.letters.contains(&c))
                && !folded_text.chars().any(|c| lang.other.contains(&c))
        })
        .collect()
}

/// The ways a term's first token may read a text token: the token itself and, when it is a
/// whole word of a language the text is written in (`written_in`), the word without its
/// leading proclitics, one, two (or three), as long as enough letters are left.
/// `article_term`: the term's first token is the Arabic article and Arabic letters.
fn first_token_readings(
    whole_word: bool,
    token: &str,
    written_in: &[bool],
    article_term: bool,
) -> Vec<String> {
    let mut out = vec![token.to_string()];
    let letters: Vec<char> = token.chars().collect();
    for (lang, &written_in) in LANGUAGES.iter().zip(written_in) {
        if !(written_in && whole_word && letters.iter().all(|c| lang.letters.contains(c))) {
            continue;
        }
        for strip in 1..=lang.max {
            let proclitics = letters
                .iter()
                .take(strip)
                .all(|c| lang.proclitics.contains(*c));
            if proclitics && letters.len() >= strip + lang.min_rest {
                out.push(letters[strip..].iter().collect());
            } else {
                break;
            }
        }
    }
    if !article_term {
        return out;
    }
    let contracted: Vec<String> = out
        .iter()
        .filter_map(|reading| reading.strip_prefix("لل"))
        .filter(|rest| !rest.is_empty())
        .flat_map(|rest| {
            let article = (!rest.starts_with('ل')).then(|| format!("ال{rest}"));
            article.into_iter().chain([format!("الل{rest}")])
        })
        .collect();
    out.extend(contracted);
    out
}

/// Number of places where `term` matches `text` by the reference reading.
fn reference_count(term: &TermSpec, text: &str) -> usize {
    let fold = |s: &str| {
        if term.kind.is_exact_case() {
            fold_keep_case(s)
        } else {
            fold_term(s)
        }
    };
    let want = tokens(&fold(&term.text));
    let have = tokens(&fold(text));
    let Some((_, last)) = want.last() else {
        return 0;
    };
    let open_end = term.kind.is_prefix() || last.chars().next_back().is_some_and(is_hangul);
    let n = want.len();
    let languages = written_in(&fold(text));
    let article_term = want[0].1.strip_prefix("ال").is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| LANGUAGES[0].letters.contains(&c))
    });
    (0..have.len().saturating_sub(n - 1))
        .map(|i| {
            let (first_join, first) = &have[i];
            let whole_word = *first_join != Join::Glued
                && have.get(i + 1).is_none_or(|(join, _)| *join != Join::Glued);
            first_token_readings(whole_word, first, &languages, article_term)
                .iter()
                .filter(|reading| {
                    want.iter().enumerate().all(|(k, (join, token))| {
                        let (text_join, text_token) = &have[i + k];
                        let text_token = if k == 0 { *reading } else { text_token };
                        let join_ok = k == 0 || join == text_join;
                        let token_ok = if k == n - 1 && open_end {
                            text_token.starts_with(token.as_str())
                        } else {
                            text_token == token
                        };
                        join_ok && token_ok
                    })
                })
                .count()
        })
        .sum()
}

fn item(title: &str, summary: &str, content: &str) -> FeedItem {
    FeedItem {
        key: ItemKey("k".into()),
        title: title.into(),
        link: None,
        published: None,
        summary: summary.into(),
        content: content.into(),
        categories: Vec::new(),
        authors: Vec::new(),
        body: String::new(),
    }
}

fn engine(term: &TermSpec) -> WatchSet {
    engine_among(term, 0)
}

/// The engine with `term` in a set of `fillers` more terms that no text holds: from 16
/// patterns on, the engine looks words up in a table at each word start instead of running one
/// search over the text (`matcher/watchset/search.rs`), and both must agree with the reference.
fn engine_among(term: &TermSpec, fillers: usize) -> WatchSet {
    let spec = |name: String, terms: Vec<TermSpec>| WatchSpec {
        name,
        condition: Condition::Terms(terms),
        exclude: Vec::new(),
        fields: FieldMask::DEFAULT,
        feeds: FeedScope::All,
        sinks: Vec::new(),
    };
    let mut specs = vec![spec("w".into(), vec![term.clone()])];
    if fillers > 0 {
        let absent = (0..fillers)
            .map(|i| TermSpec {
                text: format!("absentword{i}"),
                kind: TermKind::Phrase,
            })
            .collect();
        specs.push(spec("fillers".into(), absent));
    }
    match WatchSet::compile(specs) {
        Ok(set) => set,
        Err(e) => panic!("{term}: {e}"),
    }
}

/// The word-table engine (see [`engine_among`]).
fn wide_engine(term: &TermSpec) -> WatchSet {
    engine_among(term, 20)
}

/// Compares engine and reference on one item for one term: per field (title, summary, content,
/// the default fields), the number of hits, every one of them when the engine records them all,
/// and up to `HIT_CAP` as it reports them. `Err` describes the disagreement.
fn compare(set: &WatchSet, term: &TermSpec, it: &FeedItem) -> Result<(), String> {
    let all = set.matches_uncapped(it, None, &mut Scratch::default());
    let capped = set.matches(it, None);
    for (name, text) in [
        ("title", &it.title),
        ("summary", &it.summary),
        ("content", &it.content),
    ] {
        let count = |ms: &[Match]| {
            ms.iter()
                .flat_map(|m| &m.hits)
                .filter(|h| h.field.name() == name)
                .count()
        };
        let (engine_hits, reported) = (count(&all), count(&capped));
        let reference_hits = reference_count(term, text);
        if reported != reference_hits.min(HIT_CAP) {
            return Err(format!(
                "term {term} in {name} {text:?}: {reported} hits reported, reference \
                 {reference_hits} (cap {HIT_CAP})"
            ));
        }
        if engine_hits != reference_hits {
            return Err(format!(
                "term {term} ({:?}) in {name} {text:?}: engine {engine_hits} hits, reference \
                 {reference_hits} (folded text {:?}, folded term {:?})",
                term.kind,
                fold_term(text),
                fold_term(&term.text)
            ));
        }
    }
    Ok(())
}

#[test]
fn reference_examples() {
    let t = |s: &str| parse_term(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let cases: [(&str, &str, usize); 38] = [
        ("Kim", "Kim Jong-Un met Kimberly", 1),
        (
            "North Korean troops",
            "‘North-Korean TROOPS’ and north korean troops",
            2,
        ),
        ("troop*", "troops, a troop, paratroopers", 2),
        ("case:\"US\"", "let us see the U.S. and US", 2),
        ("US", "let us see the U.S. and US", 3),
        ("북한군", "북한군이 반북한군", 1),
        ("北朝鮮", "北朝鮮軍が", 1),
        ("朝鮮", "北朝鮮軍が", 1),
        ("Zelenskyy", "Zelénskyy", 1),
        ("USA", "u.s.a. U.S.A", 2),
        ("US", "U.S.A.", 0),
        ("PM", "5 p.m.", 0),
        ("kim", "kim이", 1),
        ("kim이", "kim이다", 1),
        ("a b", "ab a b", 1),
        ("case:NATO*", "NATO's NATOs natoish", 2),
        // Arabic proclitics: "and Russia", "in Russia", "and in Russia", "with al-Assad".
        ("روسيا", "روسيا وروسيا بروسيا وبروسيا", 4),
        ("الأسد", "بالأسد والأسد الأسد", 3),
        ("روس*", "وروسيا الروسي", 1),
        ("قوات روسية", "وقوات روسية", 1),
        // Three letters left at least; not in Persian text; not the article.
        ("لد", "ولد", 0),
        ("رای", "برای", 0),
        ("روسيا", "وروسيا برای", 0),
        ("اسد", "الاسد", 0),
        // The article after ل loses its alef (and a lam before ل): "for the army", "and to the
        // United Nations", "for the committee"; not the article's lam alone, not a Hebrew word.
        ("الجيش", "للجيش وللجيش الجيش لجيش", 3),
        ("الأمم المتحدة", "وللأمم المتحدة", 1),
        ("اللجنة", "للجنة واللجنة", 2),
        ("الجنة", "للجنة", 1),
        ("الجيش*", "للجيشين", 1),
        ("الجيش", "للجيشی", 0),
        ("الجيش*", "للجيشی", 1),
        // Glued to Hangul or Han, the word is not Arabic letters only.
        ("روسيا", "وروسيا이 وروسيا北", 0),
        // Hebrew: "the Knesset", "and the army", "in the IDF".
        ("כנסת", "הכנסת וכנסת כנסת", 3),
        ("צבא", "והצבא ומהצבא", 2),
        ("צה״ל", "בצה״ל", 1),
        ("ירושלים", "בירושלים", 1),
        ("ירושלים", "בירושלים ײִדיש", 0),
        ("צבא", "צבאות", 0),
    ];
    for (term, text, want) in cases {
        assert_eq!(reference_count(&t(term), text), want, "{term} in {text:?}");
        let term = t(term);
        assert_eq!(compare(&engine(&term), &term, &item("", text, "")), Ok(()));
        assert_eq!(
            compare(&wide_engine(&term), &term, &item("", text, "")),
            Ok(())
        );
    }
}

/// Words and punctuation that exercise the rules: near-misses, acronyms, scripts, quotes.
const VOCABULARY: &[&str] = &[
    "Kim",
    "Kimberly",
    "kim",
    "North",
    "Korean",
    "korean",
    "troops",
    "troop",
    "TROOPS",
    "paratroopers",
    "U.S.",
    "US",
    "us",
    "u.s.a.",
    "U.K.",
    "e.g.",
    "J.",
    "R.",
    "p.m.",
    "NATO",
    "NATO's",
    "Zelénskyy",
    "Zelenskyy",
    "ЗЕЛЕНСКИЙ",
    "Зеленский",
    "й",
    "Αθήνα",
    "北朝鮮",
    "朝鮮",
    "軍",
    "が",
    "북한군",
    "북한군이",
    "이",
    "반북한군",
    "ไทย",
    "Straße",
    "STRASSE",
    "ﬁre",
    "fire",
    "İstanbul",
    "ＵＳ",
    "½",
    "a",
    "b",
    "C++",
    "Victory",
    "Plan",
    "Ukrai\u{AD}ne",
    "Ukraine",
    "روسيا",
    "وروسيا",
    "بروسيا",
    "وبروسيا",
    "الأسد",
    "بالأسد",
    "ولد",
    "وبلد",
    "كامل",
    "امل",
    "برای",
    "הכנסת",
    "כנסת",
    "והצבא",
    "צבא",
    "בצה״ל",
    "ירושלים",
    "ומירושלים",
    "ײִדיש",
    "לירושלים",
    "שבכנסת",
    "כשהצבא",
    "لروسيا",
    "الجيش",
    "للجيش",
    "وللجيش",
    "لجيش",
    "اللجنة",
    "للجنة",
];

const SEPARATORS: &[&str] = &[
    " ", " ", " ", "", "-", ". ", ".", "’", "‘", " — ", "\n", "/", "'s ",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(VOCABULARY),
            prop::sample::select(SEPARATORS),
        ),
        0..12,
    )
    .prop_map(|parts| parts.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
}

fn term() -> impl Strategy<Value = TermSpec> {
    (
        prop::collection::vec(prop::sample::select(VOCABULARY), 1..3),
        prop::sample::select(&[" ", "", "-"][..]),
        prop::sample::select(
            &[
                TermKind::Phrase,
                TermKind::Phrase,
                TermKind::Prefix,
                TermKind::ExactCase,
                TermKind::ExactCasePrefix,
            ][..],
        ),
    )
        .prop_map(|(words, sep, kind)| TermSpec {
            text: words.join(sep),
            kind,
        })
        .prop_filter("folds to nothing", |t| !fold_term(&t.text).is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn engine_agrees_with_the_reference_on_generated_items(
        term in term(),
        title in text(),
        summary in text(),
        content in text(),
    ) {
        let it = item(&title, &summary, &content);
        for set in [engine(&term), wide_engine(&term)] {
            if let Err(disagreement) = compare(&set, &term, &it) {
                prop_assert!(false, "{}", disagreement);
            }
        }
    }
}

/// Every item of every feed fixture, against the seed terms and against each word and each
/// pair of adjacent words of the item's own title (as phrase, prefix and exact-case terms).
#[test]
fn engine_agrees_with_the_reference_on_the_fixture_feeds() {
    let mut items = Vec::new();
    let mut paths = Vec::new();
    collect(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut paths,
    );
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap_or_default();
        if let Ok(Parsed::Feed(feed)) = parse(&bytes, None, None) {
            items.extend(
                feed.items
                    .into_iter()
                    .map(|i| (path.display().to_string(), i)),
            );
        }
    }
    assert!(items.len() >= 30, "too few fixture items: {}", items.len());
    let mut terms: Vec<TermSpec> = [
        "North Korean troops",
        "North Korean soldiers",
        "Victory Plan",
        "Kim",
        "Kiev",
        "troop*",
        "case:\"US\"",
        "U.S.",
        "North Korea*",
    ]
    .iter()
    .filter_map(|t| parse_term(t).ok())
    .collect();
    for (_, it) in &items {
        let words: Vec<&str> = it.title.split_whitespace().collect();
        let mut phrases: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        phrases.extend(words.windows(2).map(|w| w.join(" ")));
        for phrase in phrases {
            for kind in [TermKind::Phrase, TermKind::Prefix, TermKind::ExactCase] {
                let term = TermSpec {
                    text: phrase.clone(),
                    kind,
                };
                if !fold_term(&term.text).is_empty() && !terms.contains(&term) {
                    terms.push(term);
                }
            }
        }
    }
    let mut compared = 0;
    let mut matched = 0;
    let mut disagreements = Vec::new();
    for term in &terms {
        for (set, wide) in [(engine(term), false), (wide_engine(term), true)] {
            for (file, it) in &items {
                compared += 1;
                matched += usize::from(!set.matches(it, None).is_empty());
                if let Err(d) = compare(&set, term, it) {
                    let engine = if wide { "word table" } else { "one search" };
                    disagreements.push(format!("{file} item {:?} ({engine}): {d}", it.title));
                }
            }
        }
    }
    println!("{compared} (term, item) pairs compared, {matched} matched");
    assert!(matched >= 100, "too few matches to compare: {matched}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
