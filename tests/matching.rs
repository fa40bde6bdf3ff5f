//! Matching semantics end to end: config text → WatchSet, feed bytes → items → matches.

use std::path::Path;

use newswatch::feed::parse::{Parsed, parse};
use newswatch::feed::{FeedItem, ItemKey};
use newswatch::matcher::{Field, Match};
use newswatch::plan::{Plan, load_str};

/// The watches, with the one sink every watch needs (a watch without a sink is a config error).
fn plan(watches: &str) -> Plan {
    let text = format!("{watches}\n[[sink]]\nname = \"out\"\ntype = \"stdout\"\n");
    match load_str(Path::new("test.toml"), text) {
        Ok(p) => p,
        Err(e) => panic!("config should load:\n{e}"),
    }
}

fn item(title: &str, summary: &str) -> FeedItem {
    FeedItem {
        key: ItemKey("k".into()),
        title: title.into(),
        link: None,
        published: None,
        summary: summary.into(),
        content: String::new(),
        categories: vec![],
        authors: vec![],
        body: String::new(),
    }
}

fn watch_names(p: &Plan, item: &FeedItem) -> Vec<String> {
    let mut v: Vec<String> = p
        .watches
        .matches(item, None)
        .iter()
        .map(|m| p.watches.specs()[m.watch].name.clone())
        .collect();
    v.sort();
    v
}

fn one_term(term: &str) -> Plan {
    plan(&format!(
        "[[watch]]\nname = \"w\"\nterms = [{}]\n",
        toml_str(term)
    ))
}

/// A TOML basic string holding `s`.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn matches_text(term: &str, text: &str) -> bool {
    !one_term(term)
        .watches
        .matches(&item("", text), None)
        .is_empty()
}

fn seed_items(file: &str) -> Vec<FeedItem> {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file),
    )
    .unwrap();
    match parse(&bytes, None, None) {
        Ok(Parsed::Feed(f)) => f.items,
        other => panic!("{file} should parse as a feed: {other:?}"),
    }
}

const SEED_WATCHES: &str = r#"
[[watch]]
name = "dprk-troops"
terms = ["North Korean troops", "North Korean soldiers"]

[[watch]]
name = "victory-plan"
terms = ["Victory Plan"]

[[watch]]
name = "army"
terms = ["North Korean army"]

[[watch]]
name = "kim"
terms = ["Kim"]
"#;

fn seed_match<'a>(p: &Plan, matches: &'a [Match], name: &str) -> &'a Match {
    matches
        .iter()
        .find(|m| p.watches.specs()[m.watch].name == name)
        .unwrap_or_else(|| panic!("watch {name} should match"))
}

#[test]
fn seed_article_matches_in_rss_atom_and_json_feed() {
    let p = plan(SEED_WATCHES);
    for file in ["seed.rss", "seed.atom", "seed.json"] {
        let items = seed_items(file);
        assert_eq!(items.len(), 1, "{file}");
        let it = &items[0];
        assert!(it.content.contains("Victory Plan") || it.summary.contains("Victory Plan"));
        let ms = p.watches.matches(it, None);
        let troops = seed_match(&p, &ms, "dprk-troops");
        let terms: Vec<&str> = troops.hits.iter().map(|h| &*h.term).collect();
        assert!(terms.contains(&"North Korean troops"), "{file}: {terms:?}");
        assert!(
            terms.contains(&"North Korean soldiers"),
            "{file}: {terms:?}"
        );
        for h in &troops.hits {
            let text = match h.field {
                Field::Title => &it.title,
                Field::Summary => &it.summary,
                Field::Content => &it.content,
                _ => panic!("unexpected field"),
            };
            assert!(
                text[h.start..h.end].eq_ignore_ascii_case(&h.term),
                "{file}: hit {:?} is `{}`",
                h,
                &text[h.start..h.end]
            );
        }
        let vp = seed_match(&p, &ms, "victory-plan");
        assert!(
            vp.snippet.marked().contains("‘**Victory Plan**’"),
            "{file}: {}",
            vp.snippet.marked()
        );
        assert!(vp.snippet.text.chars().count() <= 210);
        assert!(vp.snippet.marked().contains("Zelensky presented his"));
        // The near-misses in the article must not match.
        assert!(
            !ms.iter().any(|m| p.watches.specs()[m.watch].name == "army"),
            "{file}: 'North Korean army' must not match 'North Korean military personnel'"
        );
    }
}

#[test]
fn kim_does_not_match_kimberly() {
    let p = plan(SEED_WATCHES);
    let it = item(
        "Kimberly Process chair meets diamond traders",
        "The Kimberly Process held talks.",
    );
    assert!(watch_names(&p, &it).is_empty());
    assert_eq!(
        watch_names(&p, &item("", "leader Kim Jong-Un met Putin")),
        vec!["kim"]
    );
}

#[test]
fn phrases_match_across_case_hyphens_and_typographic_quotes() {
    assert!(matches_text(
        "North Korean troops",
        "north-korean TROOPS arrive"
    ));
    assert!(matches_text(
        "North Korean troops",
        "the ‘North Korean troops’ were"
    ));
    assert!(matches_text(
        "North Korean troops",
        "North\n  Korean\ttroops"
    ));
    assert!(matches_text("Victory Plan", "his “Victory Plan”."));
    assert!(!matches_text(
        "North Korean troops",
        "North Korean troopships"
    ));
    assert!(!matches_text("Korean troops", "Koreantroops"));
    assert!(matches_text("Zelenskyy", "Zelénskyy said"));
    assert!(matches_text("don't", "they don’t know"));
}

#[test]
fn overlapping_terms_of_different_watches_are_all_found() {
    let p = plan(
        "[[watch]]\nname = \"long\"\nterms = [\"North Korean troops\"]\n\
         [[watch]]\nname = \"short\"\nterms = [\"Korean troops\"]\n",
    );
    assert_eq!(
        watch_names(&p, &item("", "some North Korean troops")),
        vec!["long", "short"]
    );
}

#[test]
fn a_rejected_candidate_does_not_hide_a_valid_one() {
    // "korean troopsx" fails the boundary check; "troops" inside must still be tried.
    let p = plan(
        "[[watch]]\nname = \"a\"\nterms = [\"Korean troopships\"]\n\
         [[watch]]\nname = \"b\"\nterms = [\"troopships convoy\"]\n",
    );
    assert_eq!(
        watch_names(&p, &item("", "Korean troopshipsx and troopships convoy")),
        vec!["b"]
    );
}

#[test]
fn cyrillic_case_folding_keeps_short_i() {
    assert!(matches_text("Зеленский", "ЗЕЛЕНСКИЙ заявил"));
    assert!(matches_text("ЗЕЛЕНСКИЙ", "сказал зеленский"));
    // й must not be folded to и.
    assert!(!matches_text("Зеленский", "Зеленскии"));
    // Decomposed й (и + U+0306) is the same letter.
    assert!(matches_text("Зеленский", "Зеленски\u{0438}\u{0306}"));
}

#[test]
fn greek_folding() {
    assert!(matches_text("Αθήνα", "ΑΘΗΝΑ: νέα μέτρα"));
    assert!(matches_text("Ελλάδα", "η ελλαδα"));
    assert!(matches_text("Οδυσσεύς", "ΟΔΥΣΣΕΥΣ"));
}

#[test]
fn korean_needs_only_a_left_boundary() {
    assert!(matches_text("북한군", "러시아에 북한군이 파병"));
    assert!(matches_text("북한군", "북한군 1만 명"));
    assert!(!matches_text("북한군", "반북한군 단체"));
}

/// Regression: a zero-width space inside a Thai or Chinese word (publishing systems insert
/// them as line-break hints, invisible on screen) hid the term spanning it, and a term typed
/// with a space between two Chinese or Japanese words never matched the unspaced text.
#[test]
fn unspaced_scripts_match_across_invisible_and_typed_spaces() {
    assert!(matches_text("กรุงเทพมหานคร", "กรุงเทพ\u{200B}มหานครวันนี้"));
    assert!(matches_text(
        "中华人民共和国",
        "中华\u{200B}人民\u{200B}共和国外交部"
    ));
    assert!(matches_text("北朝鮮 軍", "北朝鮮軍がロシアに派遣"));
    // Korean keeps its spaces: "북한 군" is two words, and "북한군" one.
    assert!(!matches_text("북한 군", "북한군이 파병"));
    // Latin words around a zero-width space stay two words.
    assert!(matches_text("Victory", "Victory\u{200B}Plan"));
}

/// Regression: Arabic writes "and", "so", "in", "to" and "like" (و, ف, ب, ل, ك) joined to the
/// next word, and Hebrew "and", "the", "in", "to", "from", "that" and "as", so a watch on a
/// name missed it after each of them: "وروسيا" is "and Russia", "بالأسد" "with al-Assad",
/// "הכנסת" "the Knesset". A term may start after them.
#[test]
fn arabic_and_hebrew_terms_match_after_the_proclitics_joined_to_them() {
    assert!(matches_text("روسيا", "قوات كورية شمالية وروسيا"));
    assert!(matches_text("روسيا", "وصلت بروسيا"));
    assert!(matches_text("روسيا", "ولروسيا"));
    assert!(matches_text("الأسد", "لقاء بالأسد في دمشق"));
    assert!(matches_text("غزة", "قصف بغزة"));
    assert!(matches_text("قوات كورية", "وقوات كورية شمالية"));
    assert!(matches_text("روس*", "والروس وروسيا"));
    // The article is not one: "اسد" (lion) is not "الأسد".
    assert!(!matches_text("اسد", "الأسد"));
    // A word, not a proclitic: three letters at least must be left.
    assert!(!matches_text("لد", "ولد"));
    // Not in Persian, where "برای" is "for", not ب + "رای" ("vote").
    assert!(!matches_text("رای", "برای مردم"));
    assert!(matches_text("رای", "رای مردم"));
    // Hebrew joins "and", "the", "in", "to", "from", "that", "as": "the Knesset", "and from
    // the army", "in the IDF" (its gershayim a separator, as in the term).
    assert!(matches_text("כנסת", "ישיבת הכנסת"));
    assert!(matches_text("צבא", "ומהצבא"));
    assert!(matches_text("צה״ל", "חיילים בצה״ל"));
    assert!(matches_text("צה\"ל", "חיילים בצה״ל"));
    assert!(!matches_text("צבא", "צבאות"));
    // NEAR counts the word the proclitic is part of: "كورية وروسيا" is two words.
    let near = plan("[[watch]]\nname = \"n\"\nquery = 'روسيا NEAR/1 كورية'\n");
    assert_eq!(watch_names(&near, &item("", "قوات كورية وروسيا")), ["n"]);
    assert!(watch_names(&near, &item("", "كورية قوات وروسيا")).is_empty());
    // The hit is the term's letters, not the proclitic, with their marks in the original.
    let p = one_term("روسيا");
    let it = item("", "قوات وَرُوسِيَا");
    let m = p.watches.matches(&it, None);
    let hit = &m[0].hits[0];
    assert_eq!(&it.summary[hit.start..hit.end], "رُوسِيَا");
}

/// Regression: after the proclitic ل, the Arabic article ال is written without its alef:
/// "للجيش" is "for the army", "للأمم المتحدة" "to the United Nations". A watch on "الجيش" or
/// "الأمم المتحدة" missed every such mention, one of the commonest forms in Arabic news.
#[test]
fn an_arabic_term_with_the_article_matches_it_after_lam() {
    assert!(matches_text("الجيش", "الدعم للجيش الروسي"));
    assert!(matches_text("الجيش", "وللجيش"));
    assert!(matches_text("الأمم المتحدة", "رسالة للأمم المتحدة"));
    assert!(matches_text("الجيش*", "للجيشين"));
    // Before a word that starts with ل one lam goes too: "for the committee".
    assert!(matches_text("اللجنة", "تقرير للجنة"));
    // Hebrew's ב, ל, כ swallow the article too; a term written without it matches there (the
    // README's advice), one with it does not.
    assert!(matches_text("כנסת", "פנייה לכנסת"));
    assert!(matches_text("כנסת", "דיון בכנסת"));
    assert!(!matches_text("הכנסת", "פנייה לכנסת"));
    // Not the indefinite "for an army", nor the word without the article.
    assert!(!matches_text("الجيش", "لجيش"));
    assert!(!matches_text("جيش", "للجيشين"));
    // Arabic has no case; an exact-case term reads the same spelling.
    assert!(matches_text("case:الجيش", "الدعم للجيش"));
    assert!(matches_text("case:\"الجيش NATO\"", "للجيش NATO"));
    assert!(!matches_text("case:\"الجيش NATO\"", "للجيش nato"));
    // The hit is the whole spelling, with its marks in the original.
    let p = one_term("الجيش");
    let it = item("", "الدعم لِلْجَيْش");
    let m = p.watches.matches(&it, None);
    let hit = &m[0].hits[0];
    assert_eq!(&it.summary[hit.start..hit.end], "لِلْجَيْش");
}

#[test]
fn japanese_and_chinese_need_no_boundaries() {
    assert!(matches_text("北朝鮮", "北朝鮮軍がロシアに派遣された"));
    assert!(matches_text("朝鲜士兵", "据报道朝鲜士兵已抵达俄罗斯"));
    assert!(matches_text("ウクライナ", "ロシアとウクライナの戦争"));
}

#[test]
fn prefix_and_exact_case_terms() {
    assert!(matches_text("troop*", "the troops left"));
    assert!(matches_text("troop*", "a troop"));
    assert!(!matches_text("troop*", "paratroopers"));
    assert!(matches_text("case:\"US\"", "ahead of US elections"));
    assert!(!matches_text("case:\"US\"", "let us go"));
    assert!(matches_text("case:AIM", "the AIM-120 missile"));
    assert!(!matches_text("case:AIM", "our aim is"));
    let p = one_term("troop*");
    let it = item("", "North Korean troops arrive");
    let m = p.watches.matches(&it, None);
    assert_eq!(&it.summary[m[0].hits[0].start..m[0].hits[0].end], "troops");
}

#[test]
fn exclude_suppresses_a_match() {
    let p =
        plan("[[watch]]\nname = \"w\"\nterms = [\"Korean soldiers\"]\nexclude = [\"football\"]\n");
    assert!(
        watch_names(
            &p,
            &item("Football", "South Korean soldiers of the midfield")
        )
        .is_empty()
    );
    assert_eq!(watch_names(&p, &item("", "Korean soldiers")), vec!["w"]);
}

#[test]
fn queries_with_near_fields_and_not() {
    let p = plan(
        r#"
[[watch]]
name = "near"
query = '"North Korean" NEAR/6 (troops OR soldiers)'

[[watch]]
name = "title-only"
query = 'title:Ukraine AND (Russia OR Kremlin) -football'
"#,
    );
    assert_eq!(
        watch_names(&p, &item("", "soldiers, said to be North Korean, arrived")),
        vec!["near"]
    );
    assert!(
        watch_names(
            &p,
            &item(
                "",
                "North Korean leaders, one two three four five six seven, soldiers"
            )
        )
        .is_empty()
    );
    assert_eq!(
        watch_names(&p, &item("Ukraine update", "Russia said")),
        vec!["title-only"]
    );
    assert!(watch_names(&p, &item("Update", "Ukraine and Russia")).is_empty());
    assert!(watch_names(&p, &item("Ukraine football", "Russia")).is_empty());
}

#[test]
fn fields_limit_where_terms_are_searched() {
    let p = plan(
        "[[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\nfields = [\"title\"]\n\
         [[watch]]\nname = \"cat\"\nquery = 'category:defence AND Ukraine'\n",
    );
    assert!(watch_names(&p, &item("News", "the Victory Plan")).is_empty());
    assert_eq!(watch_names(&p, &item("Victory Plan", "")), vec!["w"]);
    let mut it = item("Ukraine", "");
    it.categories = vec!["World".into(), "Defence".into()];
    let m = p.watches.matches(&it, None);
    assert_eq!(m.len(), 1);
    let h = m[0]
        .hits
        .iter()
        .find(|h| h.field == Field::Category)
        .unwrap();
    assert_eq!(&"World, Defence"[h.start..h.end], "Defence");
}

/// Regression: an item kept only its first 64 categories, so a `category:` watch missed a
/// site that tags each story with a hundred names (its 100th tag here).
#[test]
fn a_category_watch_sees_an_items_hundredth_tag() {
    let tags: String = (1..=100)
        .map(|i| format!("<category>tag {i}</category>"))
        .collect();
    let rss = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><guid>a</guid>\
         <title>Weekly roundup</title>{tags}<category>Kursk offensive</category></item>\
         </channel></rss>"
    );
    let items = match parse(rss.as_bytes(), None, None) {
        Ok(Parsed::Feed(f)) => f.items,
        other => panic!("{other:?}"),
    };
    assert_eq!(items[0].categories.len(), 101);
    let p = plan("[[watch]]\nname = \"kursk\"\nquery = 'category:Kursk'\n");
    assert_eq!(watch_names(&p, &items[0]), ["kursk"]);
}

#[test]
fn feed_scopes_limit_watches() {
    let p = plan(
        r#"
[[feed]]
name = "a"
url = "https://a.example/rss"
tags = ["defence"]

[[feed]]
name = "b"
url = "https://b.example/rss"

[[watch]]
name = "w"
terms = ["troops"]
feeds = ["tag:defence"]
"#,
    );
    let it = item("troops", "");
    let tags = vec!["defence".to_string()];
    let a = newswatch::matcher::FeedRef {
        name: "a",
        tags: &tags,
    };
    let b = newswatch::matcher::FeedRef {
        name: "b",
        tags: &[],
    };
    assert_eq!(p.watches.matches(&it, Some(a)).len(), 1);
    assert_eq!(p.watches.matches(&it, Some(b)).len(), 0);
}

#[test]
fn many_watches_share_one_automaton() {
    let mut toml = String::new();
    for i in 0..2000 {
        toml.push_str(&format!(
            "[[watch]]\nname = \"w{i}\"\nterms = [\"term{i} alpha\", \"Victory Plan\"]\n"
        ));
    }
    let p = plan(&toml);
    // "Victory Plan" is shared by all watches: one pattern, 2001 distinct terms.
    assert_eq!(p.watches.term_count(), 2001);
    assert_eq!(
        p.watches.matches(&item("", "the Victory Plan"), None).len(),
        2000
    );
    assert_eq!(
        p.watches.matches(&item("", "term1999 alpha"), None).len(),
        1
    );
}

#[test]
fn dotted_acronyms_did_not_match_their_acronym() {
    // "U.S." folded to two one-letter words, so a term "US" never matched it.
    for text in [
        "the U.S.-led coalition",
        "talks with the U.S. today",
        "THE U.S.",
    ] {
        assert!(matches_text("US", text), "US in {text:?}");
        assert!(matches_text("case:\"US\"", text), "case:US in {text:?}");
        assert!(matches_text("U.S.", text), "U.S. in {text:?}");
        assert!(
            matches_text("us-led", text) == text.contains("-led"),
            "{text:?}"
        );
    }
    assert!(matches_text("USA", "made in the u.s.a."));
    assert!(matches_text("U.S.A.", "made in the USA"));
    assert!(matches_text("UK", "the U.K. and the E.U. agreed"));
    assert!(matches_text("EU", "the U.K. and the E.U. agreed"));
    // Exact case still tells the acronym from the pronoun; lower-case dotted letters are not US.
    assert!(!matches_text("case:\"US\"", "give us the u.s. figures"));
    assert!(matches_text("case:\"US\"", "give us the U.S. figures"));
    // Not inside longer acronyms.
    assert!(!matches_text("US", "made in the U.S.A."));
    // Initials with spaces and abbreviations stay letters: no new words to collide with.
    assert!(!matches_text("PM", "at 5 p.m. on Monday"));
    assert!(!matches_text("AM", "at 9 a.m."));
    assert!(!matches_text("EG", "e.g. this"));
    assert!(!matches_text("JRR", "J. R. R. Tolkien"));
    assert!(matches_text("JRR", "J.R.R. Tolkien"));
}

#[test]
fn dotted_acronym_hits_map_back_to_the_original() {
    let p = one_term("case:\"US\"");
    let text = "Allies back the U.S.-led plan";
    let matches = p.watches.matches(&item("", text), None);
    let hit = &matches[0].hits[0];
    assert_eq!(&text[hit.start..hit.end], "U.S");
    assert!(
        matches[0].snippet.marked().contains("**U.S**"),
        "{}",
        matches[0].snippet.marked()
    );
}

/// Found by fuzzing (fuzz target `query`): `case:ު` (a lone Thaana vowel sign) folds to
/// nothing; as an empty automaton pattern it "matched" at every byte, and the boundary check
/// sliced the folded text inside a two-byte character and panicked. The parser now refuses such
/// terms; the engine must not panic on them anyway.
#[test]
fn a_term_folding_to_nothing_panicked_inside_a_character() {
    use newswatch::matcher::{
        Condition, Expr, FeedScope, FieldMask, TermKind, TermSpec, WatchSet, WatchSpec,
        parse_query, parse_term,
    };
    let compile = |condition: Condition| {
        WatchSet::compile(vec![WatchSpec {
            name: "w".into(),
            condition,
            exclude: Vec::new(),
            fields: FieldMask::DEFAULT,
            feeds: FeedScope::All,
            sinks: Vec::new(),
        }])
        .unwrap()
    };
    let nothing = TermSpec {
        text: "\u{7AA}\u{FFFD}".into(),
        kind: TermKind::ExactCase,
    };
    let term = |t: &TermSpec| Expr::Term {
        term: t.clone(),
        field: None,
    };
    let text = "ߌ marS Vig-Un a S Vi or y Plan";
    let query = compile(Condition::Query(Expr::And(vec![
        term(&parse_term("O").unwrap()),
        term(&nothing),
    ])));
    assert!(query.matches(&item(text, text), None).is_empty());
    let terms = compile(Condition::Terms(vec![nothing.clone()]));
    assert!(terms.matches(&item(text, text), None).is_empty());
    // NOT of a term that matches nothing holds.
    let not = compile(Condition::Query(Expr::And(vec![
        term(&parse_term("Plan").unwrap()),
        Expr::Not(Box::new(term(&nothing))),
    ])));
    assert_eq!(not.matches(&item(text, text), None).len(), 1);
    // And such a term is refused where it is written.
    assert!(parse_term("\u{7AA}").is_err());
    assert!(parse_query("ti O case:\u{7AA}\u{FFFD}").is_err());
}

/// The hits of a NEAR match are the occurrences that made it true, and all of them: a far
/// occurrence of the same word is not why the item matched (it would be highlighted and
/// reported), and without the near ones the alert would name and highlight nothing.
#[test]
fn near_matches_report_the_occurrences_that_were_near() {
    let p = plan("[[watch]]\nname = \"w\"\nquery = 'troops NEAR/3 border'\n");
    let text = "troops moved from the capital today while more troops reached the border";
    let m = p.watches.matches(&item("", text), None);
    assert_eq!(m.len(), 1, "{m:?}");
    let starts: Vec<usize> = m[0].hits.iter().map(|h| h.start).collect();
    let near_troops = text.rfind("troops").unwrap();
    let border = text.find("border").unwrap();
    assert_eq!(starts, [near_troops, border], "{:?}", m[0].hits);
}

/// `a NEAR/n b` measures the words between the two hits in either order, wherever they sit in
/// the text: late in a long summary as at its start.
#[test]
fn near_distance_is_the_same_late_in_the_text() {
    let p = plan("[[watch]]\nname = \"w\"\nquery = 'troops NEAR/2 border'\n");
    let filler = "one two three four five six seven eight nine ten eleven twelve";
    let near = format!("{filler} troops reached border");
    let far = format!("{filler} troops came to a town on the border");
    let reversed = format!("{filler} border saw troops");
    assert_eq!(watch_names(&p, &item("", &near)), ["w"], "{near}");
    assert!(watch_names(&p, &item("", &far)).is_empty(), "{far}");
    assert_eq!(watch_names(&p, &item("", &reversed)), ["w"], "{reversed}");
}
