//! The query language piece by piece: field names and masks, term kinds and how a term is
//! shown, the tokenizer's edges (quotes, `-`, `field:`, `NEAR/n`), scopes, the nesting limit
//! and the column of every error. Exact results, so a change to any of them fails here and not
//! only in a matching test. Written against mutation testing (docs/testing.md).

use super::*;

fn word(text: &str, kind: TermKind, field: Option<Field>) -> Expr {
    Expr::Term {
        term: TermSpec {
            text: text.into(),
            kind,
        },
        field,
    }
}

fn t(text: &str) -> Expr {
    word(text, TermKind::Phrase, None)
}

fn scoped(text: &str, field: Field) -> Expr {
    word(text, TermKind::Phrase, Some(field))
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn near(left: Expr, right: Expr, distance: u32) -> Expr {
    Expr::Near {
        left: Box::new(left),
        right: Box::new(right),
        distance,
    }
}

/// The error of a query that must not parse: (column, message).
fn error(q: &str) -> (usize, String) {
    match parse_query(q) {
        Ok(e) => panic!("`{q}` parsed as {e:?}, expected an error"),
        Err(e) => (e.column, e.message),
    }
}

#[test]
fn every_field_round_trips_through_its_name_and_display() {
    for f in Field::ALL {
        assert_eq!(Field::from_name(f.name()), Some(f), "{f:?}");
        assert_eq!(f.to_string(), f.name(), "{f:?}");
    }
    assert_eq!(Field::Category.to_string(), "category");
    assert_eq!(format!("[{}]", Field::Author), "[author]");
    assert_eq!(Field::from_name("titel"), None);
}

#[test]
fn each_field_has_a_bit_of_its_own() {
    let mut seen = 0u8;
    for f in Field::ALL {
        let bit = f.bit();
        assert_eq!(bit.count_ones(), 1, "{f} has bit mask {bit:#b}");
        assert_eq!(seen & bit, 0, "{f} shares its bit {bit:#b}");
        seen |= bit;
    }
}

#[test]
fn a_field_mask_holds_exactly_the_fields_put_in_it() {
    let check = |m: FieldMask, want: &[Field]| {
        for f in Field::ALL {
            assert_eq!(m.contains(f), want.contains(&f), "{f} in {m:?}");
        }
    };
    // Named twice: a mask is a set, not a parity.
    let m = FieldMask::of(&[Field::Title, Field::Category, Field::Title]);
    check(m, &[Field::Title, Field::Category]);
    check(FieldMask::of(&[]), &[]);
    let a = FieldMask::single(Field::Author);
    check(a, &[Field::Author]);
    check(m.union(a), &[Field::Title, Field::Category, Field::Author]);
    check(m.union(m), &[Field::Title, Field::Category]);
    check(
        FieldMask::DEFAULT,
        &[Field::Title, Field::Summary, Field::Content, Field::Body],
    );
}

#[test]
fn term_kinds_say_whether_they_are_prefixes_and_exact_case() {
    let kinds = [
        (TermKind::Phrase, false, false),
        (TermKind::Prefix, true, false),
        (TermKind::ExactCase, false, true),
        (TermKind::ExactCasePrefix, true, true),
    ];
    for (kind, prefix, exact) in kinds {
        assert_eq!(kind.is_prefix(), prefix, "{kind:?}");
        assert_eq!(kind.is_exact_case(), exact, "{kind:?}");
    }
}

#[test]
fn a_term_is_shown_the_way_it_is_written_in_the_config() {
    let shown = [
        ("troop*", "troop*"),
        ("\"North Korean\"", "North Korean"),
        ("\"north kor\"*", "north kor*"),
        ("case:US", "case:\"US\""),
        ("case:NATO*", "case:\"NATO*\""),
        ("case:\"Victory Plan\"", "case:\"Victory Plan\""),
    ];
    for (query, want) in shown {
        let e = parse_query(query).unwrap();
        assert_eq!(e.terms()[0].0.to_string(), want, "{query}");
    }
}

#[test]
fn case_and_prefix_combine_into_four_kinds() {
    let kinds = [
        ("nato", TermKind::Phrase),
        ("nato*", TermKind::Prefix),
        ("case:NATO", TermKind::ExactCase),
        ("case:NATO*", TermKind::ExactCasePrefix),
        ("\"north kor\"*", TermKind::Prefix),
        ("\"north kor*\"", TermKind::Prefix),
        ("case:\"North Kor\"*", TermKind::ExactCasePrefix),
    ];
    for (query, kind) in kinds {
        let e = parse_query(query).unwrap();
        assert_eq!(e.terms()[0].0.kind, kind, "{query}");
    }
    // The star is not part of the text, nor the space before a star inside the quotes.
    assert_eq!(
        parse_query("nato*").unwrap(),
        word("nato", TermKind::Prefix, None)
    );
    assert_eq!(
        parse_query("\"north kor *\"").unwrap(),
        word("north kor", TermKind::Prefix, None)
    );
    assert_eq!(
        parse_query("\"  Victory Plan \"").unwrap(),
        t("Victory Plan")
    );
}

#[test]
fn a_quoted_phrase_ends_at_its_closing_quote_whichever_kind() {
    assert_eq!(
        parse_query("“Victory Plan” troops").unwrap(),
        Expr::And(vec![t("Victory Plan"), t("troops")])
    );
    // A phrase directly followed by a word: the word is a term of its own.
    assert_eq!(
        parse_query("\"a b\"c").unwrap(),
        Expr::And(vec![t("a b"), t("c")])
    );
    assert_eq!(
        parse_query("x \"a b\"").unwrap(),
        Expr::And(vec![t("x"), t("a b")])
    );
    // Regression: the quotes of other languages made two words, each required anywhere.
    for q in [
        "«План победы» troops",
        "„Victory Plan“ troops",
        "＂Victory Plan＂ troops",
    ] {
        let phrase = q.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let inner: String = phrase
            .chars()
            .skip(1)
            .take(phrase.chars().count() - 2)
            .collect();
        assert_eq!(
            parse_query(q).unwrap(),
            Expr::And(vec![t(&inner), t("troops")]),
            "{q}"
        );
    }
    // `*` after the quotes belongs to the phrase; the next term is separate.
    assert_eq!(
        parse_query("\"a b\"* c").unwrap(),
        Expr::And(vec![word("a b", TermKind::Prefix, None), t("c")])
    );
}

#[test]
fn a_dash_negates_only_at_the_start_of_a_word() {
    assert_eq!(
        parse_query("(-football troops)").unwrap(),
        Expr::And(vec![not(t("football")), t("troops")])
    );
    assert_eq!(
        parse_query("-football troops").unwrap(),
        Expr::And(vec![not(t("football")), t("troops")])
    );
    assert_eq!(parse_query("Jong-Un").unwrap(), t("Jong-Un"));
    assert_eq!(
        parse_query("troops x-").unwrap(),
        Expr::And(vec![t("troops"), t("x-")])
    );
    // Glued to the end of a phrase or a group, a dash does not negate, and the word it
    // starts is refused: it would be a required term, the writer's exclusion turned around.
    assert_eq!(error("x \"a b\"-c").0, 8);
    assert_eq!(error("(a)-b").0, 4);
    // A dash followed by a space or `)` is a word of its own, with nothing to match.
    assert_eq!(error("troops - football").0, 8);
    assert_eq!(error("(troops -)").0, 9);
    assert!(error("troops -").1.contains("no letters or digits"));
}

#[test]
fn field_names_are_case_insensitive_and_unknown_ones_are_named() {
    assert_eq!(
        parse_query("TITLE:x Author:y").unwrap(),
        Expr::And(vec![scoped("x", Field::Title), scoped("y", Field::Author)])
    );
    assert_eq!(
        parse_query("CASE:US").unwrap(),
        word("US", TermKind::ExactCase, None)
    );
    let (col, msg) = error("troops http://x");
    assert_eq!(col, 8);
    assert!(msg.contains("unknown field `http:`"), "{msg}");
}

/// Regression: `Russia or Ukraine` was read as three required words, "or" among them: it
/// matched almost nothing and `check` said it was fine. An operator word in another case is
/// an error naming the operator; quoted, it is the word.
#[test]
fn operators_are_upper_case_and_other_cases_are_errors() {
    for (q, col, op) in [
        ("Russia or Ukraine", 8, "`OR`"),
        ("a and b", 3, "`AND`"),
        ("a Not b", 3, "`NOT`"),
        ("a near/5 b", 3, "`NEAR/5`"),
        ("a (b Or c)", 6, "`OR`"),
    ] {
        let (c, msg) = error(q);
        assert_eq!(c, col, "{q}: {msg}");
        assert!(msg.contains(op) && msg.contains("quote it"), "{q}: {msg}");
    }
    assert_eq!(
        parse_query("a \"and\" b").unwrap(),
        Expr::And(vec![t("a"), t("and"), t("b")])
    );
    assert_eq!(
        parse_query("a or* b").unwrap(),
        Expr::And(vec![t("a"), word("or", TermKind::Prefix, None), t("b")]),
        "a prefix is no operator"
    );
    assert_eq!(
        parse_query("a AND b OR c AND d").unwrap(),
        Expr::Or(vec![
            Expr::And(vec![t("a"), t("b")]),
            Expr::And(vec![t("c"), t("d")])
        ])
    );
    assert_eq!(
        parse_query("a OR b OR c").unwrap(),
        Expr::Or(vec![t("a"), t("b"), t("c")])
    );
    assert_eq!(
        parse_query("NEARBY").unwrap(),
        t("NEARBY"),
        "only NEAR/n is the operator"
    );
}

#[test]
fn near_distances_run_from_1_to_1000() {
    assert_eq!(parse_query("a NEAR/1 b").unwrap(), near(t("a"), t("b"), 1));
    assert_eq!(
        parse_query("a NEAR/1000 b").unwrap(),
        near(t("a"), t("b"), 1000)
    );
    for bad in ["a NEAR/1001 b", "a NEAR/0 b", "a NEAR/x b", "a NEAR/ b"] {
        let (col, msg) = error(bad);
        assert_eq!(col, 3, "{bad}");
        assert!(msg.contains("from 1 to 1000"), "{bad}: {msg}");
    }
}

#[test]
fn near_chains_to_the_left_and_checks_each_operand() {
    assert_eq!(
        parse_query("a NEAR/2 b NEAR/3 c").unwrap(),
        near(near(t("a"), t("b"), 2), t("c"), 3)
    );
    assert_eq!(
        parse_query("(a OR b) NEAR/4 c").unwrap(),
        near(Expr::Or(vec![t("a"), t("b")]), t("c"), 4)
    );
    // The left operand is checked too, and the error points at it.
    let (col, msg) = error("x (a AND b) NEAR/2 c");
    assert_eq!(col, 3);
    assert!(msg.contains("NEAR/n operands"), "{msg}");
    assert_eq!(error("x (a OR (b c)) NEAR/2 c").0, 3);
    assert_eq!(error("a NEAR/2 (b OR (c d))").0, 10);
    assert_eq!(error("a NEAR/2 (-b)").0, 10);
    let (col, msg) = error("a NEAR/2");
    assert_eq!(col, 9);
    assert!(msg.contains("expected a term"), "{msg}");
}

#[test]
fn a_scope_reaches_every_term_inside_its_group_and_inner_scopes_win() {
    assert_eq!(
        parse_query("title:(content:x y -z)").unwrap(),
        Expr::And(vec![
            scoped("x", Field::Content),
            scoped("y", Field::Title),
            not(scoped("z", Field::Title)),
        ])
    );
    assert_eq!(
        parse_query("summary:(a NEAR/2 (b OR c))").unwrap(),
        near(
            scoped("a", Field::Summary),
            Expr::Or(vec![
                scoped("b", Field::Summary),
                scoped("c", Field::Summary)
            ]),
            2
        )
    );
    assert_eq!(
        parse_query("title:content:x").unwrap(),
        scoped("x", Field::Content)
    );
    assert_eq!(
        parse_query("author:case:Kim").unwrap(),
        word("Kim", TermKind::ExactCase, Some(Field::Author))
    );
    // A scope applies to one atom, not to what follows it.
    assert_eq!(
        parse_query("title:a b").unwrap(),
        Expr::And(vec![scoped("a", Field::Title), t("b")])
    );
}

#[test]
fn terms_are_listed_in_order_with_their_scopes() {
    let e = parse_query("a (title:b OR -c) NEAR/2 d").unwrap_err();
    assert_eq!(e.column, 3, "a NOT inside a NEAR operand group is refused");
    let e = parse_query("a OR (title:b -c) x NEAR/2 author:d").unwrap();
    let terms: Vec<(&str, Option<Field>)> = e
        .terms()
        .into_iter()
        .map(|(s, f)| (s.text.as_str(), f))
        .collect();
    assert_eq!(
        terms,
        [
            ("a", None),
            ("b", Some(Field::Title)),
            ("c", None),
            ("x", None),
            ("d", Some(Field::Author)),
        ]
    );
}

#[test]
fn a_query_that_only_excludes_is_refused() {
    for q in ["NOT a", "-a", "a OR NOT b", "NOT a OR b", "NOT (a b)"] {
        let (col, msg) = error(q);
        assert_eq!(col, 1, "{q}");
        assert!(msg.contains("only excludes"), "{q}: {msg}");
    }
    for q in [
        "a -b",
        "-b a",
        "(a OR b) -c",
        "a NEAR/2 b -c",
        "(a -b) OR c",
    ] {
        assert!(parse_query(q).is_ok(), "{q}");
    }
    assert!(t("a").requires_hit());
    assert!(near(t("a"), t("b"), 1).requires_hit());
    assert!(!not(t("a")).requires_hit());
    assert!(Expr::And(vec![not(t("a")), t("b")]).requires_hit());
    assert!(!Expr::And(vec![not(t("a")), not(t("b"))]).requires_hit());
    assert!(Expr::Or(vec![t("a"), t("b")]).requires_hit());
    assert!(!Expr::Or(vec![t("a"), not(t("b"))]).requires_hit());
    // Regression: every NOT was taken as needing no hit, so `NOT NOT a` (which is `a`) was
    // refused as a query that "only excludes".
    assert!(not(not(t("a"))).requires_hit());
    assert!(!not(not(not(t("a")))).requires_hit());
    assert!(not(Expr::Or(vec![not(t("a")), not(t("b"))])).requires_hit());
    assert!(parse_query("NOT NOT a").is_ok());
}

#[test]
fn nesting_is_accepted_up_to_the_limit_and_refused_past_it() {
    // Each level of NOT is one level of depth, the query itself another.
    let ok = format!("a {}b", "NOT ".repeat(MAX_DEPTH - 1));
    assert!(parse_query(&ok).is_ok(), "{} NOTs", MAX_DEPTH - 1);
    let deep = format!("a {}b", "NOT ".repeat(MAX_DEPTH));
    let (_, msg) = error(&deep);
    assert!(msg.contains("nested too deeply"), "{msg}");
    // Depth is given back when a group closes: many groups side by side are not deep.
    let wide = "(a) ".repeat(4 * MAX_DEPTH);
    assert!(parse_query(&wide).is_ok());
    let wide = "title:a ".repeat(4 * MAX_DEPTH);
    assert!(parse_query(&wide).is_ok());
    let wide = "-a b ".repeat(4 * MAX_DEPTH);
    assert!(parse_query(&wide).is_ok());
}

/// Regression: a chain of NEARs nests each one in the next (`a NEAR b NEAR c` is `(a NEAR b)
/// NEAR c`), but only parentheses and NOT counted as depth: a chain of 4,000 passed `check`
/// and `try`, and the daemon's first match of it overflowed its stack, at every start (a
/// reload of a longer one killed a running daemon). Each NEAR of a chain is a level now.
#[test]
fn a_long_near_chain_is_too_deep_not_a_stack_overflow() {
    let chain = |n: usize| vec!["troops"; n].join(" NEAR/3 ");
    let e = parse_query(&chain(4_000)).unwrap_err();
    assert!(e.message.contains("nested too deeply"), "{}", e.message);
    assert!(parse_query(&chain(40_000)).is_err());
    // Within the bound, and depth given back after the chain: many chains side by side.
    assert!(parse_query(&chain(MAX_DEPTH - 2)).is_ok());
    let wide = vec![format!("({})", chain(20)); 20].join(" OR ");
    assert!(parse_query(&wide).is_ok());
    // A chain inside groups counts with them.
    let nested = format!("{}{}{}", "(".repeat(20), chain(40), ")".repeat(20));
    assert!(parse_query(&nested).is_err());
}

/// Regression: in a query written over several lines, "missing `)` for `(` at column N"
/// counted N across the whole query, while the error's header names the line and its column.
#[test]
fn a_multi_line_query_names_the_unclosed_parenthesis_by_its_line() {
    let e = parse_query("troops AND\n  (Kursk OR\n   Kyiv").unwrap_err();
    assert_eq!(e.message, "missing `)` for `(` at line 2, column 3");
    let e = parse_query("(troops AND\nKursk").unwrap_err();
    assert_eq!(e.message, "missing `)` for `(` at line 1, column 1");
}

#[test]
fn every_error_names_its_column_in_characters() {
    let cases = [
        ("é AND", 6, "expected a term"),
        ("é (b", 5, "missing `)` for `(` at column 3"),
        ("éé )", 4, "unexpected `)`"),
        ("a)", 2, "unexpected `)` (no matching `(`)"),
        ("a OR", 5, "expected a term"),
        ("a AND OR b", 7, "operator without a left-hand term"),
        ("AND a", 1, "operator without a left-hand term"),
        ("a NOT", 6, "expected a term"),
        ("NEAR/2 a", 1, "NEAR/n needs a term on each side"),
        ("a NEAR/2 NEAR/2 b", 10, "NEAR/n needs a term on each side"),
        ("a NOT )", 7, "unexpected `)`"),
        ("a NEAR b", 3, "NEAR needs a distance"),
        ("a case:", 3, "`case:` must be followed by a word or phrase"),
        (
            "a case:(b)",
            8,
            "`case:` must be followed by a word or a quoted phrase",
        ),
        ("a title:", 9, "expected a term"),
        ("é \"open", 3, "unclosed quote"),
        ("a tr*ops", 3, "only allowed at the end of a word"),
        ("a \"no*rth\"", 3, "only allowed at the end of a phrase"),
        ("a *", 3, "no letters or digits"),
        ("a \"!!\"", 3, "no letters or digits"),
        ("a case:\"!!\"", 8, "no letters or digits"),
        ("a case:x*y", 8, "only allowed at the end of a word"),
        ("   ", 1, "empty query"),
    ];
    for (q, col, msg) in cases {
        let (got_col, got_msg) = error(q);
        assert_eq!(got_col, col, "column of `{q}` ({got_msg})");
        assert!(got_msg.contains(msg), "`{q}`: {got_msg}");
    }
}

#[test]
fn a_query_error_displays_its_column_and_message() {
    let e = parse_query("a )").unwrap_err();
    assert_eq!(e.to_string(), "column 3: unexpected `)` (no matching `(`)");
}

#[test]
fn term_entries_strip_one_pair_of_quotes_of_any_kind() {
    for entry in [
        "Victory Plan",
        "\"Victory Plan\"",
        "“Victory Plan”",
        "„Victory Plan“",
        "«Victory Plan»",
        "'Victory Plan'",
        "  \"Victory Plan\"  ",
    ] {
        let p = parse_term(entry).unwrap();
        assert_eq!(
            (p.text.as_str(), p.kind),
            ("Victory Plan", TermKind::Phrase),
            "{entry}"
        );
    }
    // Unbalanced quotes are kept as written (and fold away when matched).
    assert_eq!(parse_term("\"Victory Plan").unwrap().text, "\"Victory Plan");
    let c = parse_term("case: 'NATO*'").unwrap();
    assert_eq!(
        (c.text.as_str(), c.kind),
        ("NATO", TermKind::ExactCasePrefix)
    );
    let e = parse_term("case:\"!!\"").unwrap_err();
    assert_eq!(e.column, 6);
    // Regression (review): only `case:` in lower case was read, so `CASE:"NATO"` in `terms`
    // was the phrase "case nato" (and `Case:US` in `exclude` never excluded), while a query
    // takes `CASE:` in any case.
    for entry in ["CASE:\"NATO\"", "Case:NATO", "cAsE: NATO"] {
        let c = parse_term(entry).unwrap();
        assert_eq!(
            (c.text.as_str(), c.kind),
            ("NATO", TermKind::ExactCase),
            "{entry}"
        );
    }
    let e = parse_term("a*b").unwrap_err();
    assert_eq!(e.column, 1);
    // Operators are not read in a term entry.
    let p = parse_term("Trump AND (Putin)").unwrap();
    assert_eq!(
        (p.text.as_str(), p.kind),
        ("Trump AND (Putin)", TermKind::Phrase)
    );
}

/// Regression: a dash that did not parse as NOT (after `title:`, right after a quote, a
/// typographic dash) folded away and left its word a required term: `troops title:-football`
/// alerted on football and nothing else.
#[test]
fn a_dash_that_is_not_an_exclusion_is_an_error_not_a_term() {
    for (q, col) in [
        ("troops title:-football", 14),
        ("\"North Korea\"-football", 14),
        ("troops –football", 8),
        ("troops −football", 8),
        // Regression: dashes outside a fixed list (fullwidth and small hyphen-minus, the
        // horizontal bar) were not seen, and their word became a required term.
        ("troops －football", 8),
        ("troops ﹣football", 8),
        ("troops ―football", 8),
    ] {
        let (c, m) = error(q);
        assert_eq!(c, col, "{q}: {m}");
        assert!(m.contains("does not exclude"), "{q}: {m}");
    }
    // The exclusions as written to be.
    assert_eq!(
        parse_query("troops -title:football").unwrap(),
        Expr::And(vec![t("troops"), not(scoped("football", Field::Title))])
    );
    assert_eq!(
        parse_query("troops NOT title:football").unwrap(),
        Expr::And(vec![t("troops"), not(scoped("football", Field::Title))])
    );
    // A dash inside a word is no exclusion, and no error.
    assert_eq!(parse_query("Jean-Luc").unwrap(), t("Jean-Luc"));
}

/// Regression: `title:football` in `terms` or `exclude` was the phrase "title football",
/// which no item holds: an exclusion that never excluded, and `check` said nothing.
#[test]
fn a_field_scope_in_a_terms_entry_is_an_error() {
    for entry in ["title:football", "Summary: x", "category:sport"] {
        let e = parse_term(entry).unwrap_err();
        assert!(
            e.message.contains("only in `query`"),
            "{entry}: {}",
            e.message
        );
    }
    // Quoted, the colon is text; an unknown word before it is text too.
    assert_eq!(
        parse_term("\"title: football\"").unwrap().text,
        "title: football"
    );
    assert_eq!(parse_term("Re: talks").unwrap().text, "Re: talks");
    assert_eq!(parse_term("case:US").unwrap().kind, TermKind::ExactCase);
}

/// Regression (review): fullwidth parentheses, colon and asterisk (what a CJK keyboard types)
/// were text: `ミサイル （北朝鮮 OR 韓国）` fired on any item naming 韓国, `title：北朝鮮` was
/// the phrase "title 北朝鮮", `troop＊` the word "troop".
#[test]
fn fullwidth_query_syntax_reads_as_its_ascii_form() {
    for (fullwidth, ascii) in [
        ("ミサイル （北朝鮮 OR 韓国）", "ミサイル (北朝鮮 OR 韓国)"),
        ("title：北朝鮮", "title:北朝鮮"),
        ("troop＊ AND Kursk", "troop* AND Kursk"),
        ("-title：北朝鮮 CASE：NATO", "-title:北朝鮮 CASE:NATO"),
        // Where they read as text, they stay text (review: `速報：北朝鮮` had become an unknown
        // field, `東京（共同）` two terms).
        ("速報：北朝鮮", "\"速報：北朝鮮\""),
        ("東京（共同）", "\"東京（共同）\""),
    ] {
        assert_eq!(
            format!("{:?}", parse_query(fullwidth).unwrap()),
            format!("{:?}", parse_query(ascii).unwrap()),
            "{fullwidth}"
        );
    }
}
