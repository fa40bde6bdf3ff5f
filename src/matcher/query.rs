//! The watch query language: tokenizer, recursive-descent parser and AST.
//!
//! Owns [`Expr`], [`TermSpec`], [`Field`] and [`QueryError`]. The config layer calls
//! [`parse_query`] for a watch's `query` and [`parse_term`] for each entry of `terms`/`exclude`;
//! the compiled [`crate::matcher::WatchSet`] consumes the resulting AST.
//!
//! Grammar (operators upper-case; NEAR binds tightest, then NOT, AND, OR; juxtaposition is AND):
//! ```text
//! query = or ;          or  = and { "OR" and } ;      and = unary { ["AND"] unary } ;
//! unary = ("NOT" | "-") unary | near ;                near = atom { "NEAR/" n atom } ;
//! atom  = '"' phrase '"' | word | word "*" | 'case:' ( word | '"' phrase '"' )
//!       | field ":" atom | "(" query ")" ;
//! ```
//! Errors carry a 1-based column (in characters) so `newswatch check` can point at it.

use std::fmt;

/// A field of a feed item that a term can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Summary,
    Content,
    Category,
    Author,
    /// The article page's main text, for feeds with `full_text` (empty otherwise).
    Body,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Category,
        Field::Author,
        Field::Body,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Category => "category",
            Field::Author => "author",
            Field::Body => "body",
        }
    }

    pub fn from_name(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of fields, as a bit mask over [`Field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldMask(pub(crate) u8);

impl FieldMask {
    /// title, summary, content and the article page's body: what a watch searches unless told
    /// otherwise.
    pub const DEFAULT: FieldMask = FieldMask(0b10_0111);

    pub fn of(fields: &[Field]) -> FieldMask {
        FieldMask(fields.iter().fold(0, |m, f| m | f.bit()))
    }
    pub fn single(field: Field) -> FieldMask {
        FieldMask(field.bit())
    }
    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }
    pub fn union(self, other: FieldMask) -> FieldMask {
        FieldMask(self.0 | other.0)
    }
}

/// How a term matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermKind {
    /// Whole words on word boundaries, case and diacritics folded.
    Phrase,
    /// The last word may continue (`troop*` matches "troops").
    Prefix,
    /// Like `Phrase`, but letter case must match exactly (`case:"US"`).
    ExactCase,
    /// Exact case and prefix (`case:NATO*`).
    ExactCasePrefix,
}

impl TermKind {
    pub fn is_prefix(self) -> bool {
        matches!(self, TermKind::Prefix | TermKind::ExactCasePrefix)
    }
    pub fn is_exact_case(self) -> bool {
        matches!(self, TermKind::ExactCase | TermKind::ExactCasePrefix)
    }
}

/// One term as the user wrote it (without quotes, `*` or `case:`), and how it matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TermSpec {
    pub text: String,
    pub kind: TermKind,
}

impl fmt::Display for TermSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.kind.is_prefix() { "*" } else { "" };
        if self.kind.is_exact_case() {
            write!(f, "case:\"{}{star}\"", self.text)
        } else {
            write!(f, "{}{star}", self.text)
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A term, optionally restricted to one field.
    Term {
        term: TermSpec,
        field: Option<Field>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// Holds when a hit of `left` and a hit of `right`, in one field, are within `distance` words.
    Near {
        left: Box<Expr>,
        right: Box<Expr>,
        distance: u32,
    },
}

impl Expr {
    /// Every term in the expression, in order, with its field scope.
    pub fn terms(&self) -> Vec<(&TermSpec, Option<Field>)> {
        let mut out = Vec::new();
        self.collect_terms(&mut out);
        out
    }

    fn collect_terms<'a>(&'a self, out: &mut Vec<(&'a TermSpec, Option<Field>)>) {
        match self {
            Expr::Term { term, field } => out.push((term, *field)),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.collect_terms(out)),
            Expr::Not(e) => e.collect_terms(out),
            Expr::Near { left, right, .. } => {
                left.collect_terms(out);
                right.collect_terms(out);
            }
        }
    }

    /// True when some part of the expression is negated (`NOT`): it vetoes items.
    pub fn negates(&self) -> bool {
        match self {
            Expr::Term { .. } => false,
            Expr::And(v) | Expr::Or(v) => v.iter().any(Expr::negates),
            Expr::Not(_) => true,
            Expr::Near { left, right, .. } => left.negates() || right.negates(),
        }
    }

    /// True when the expression can only hold if at least one of its terms was found.
    /// A query such as `NOT football` would alert on every item; we refuse it.
    ///
    /// The only item with none of the terms is the one where every term is absent: the
    /// expression requires a hit exactly when it is false there. (Taking every `NOT` as
    /// needing no hit refused `NOT NOT a`, which is `a`, as "only excludes".)
    pub fn requires_hit(&self) -> bool {
        !self.holds_with_no_term()
    }

    /// The expression's value on an item where none of its terms is present.
    fn holds_with_no_term(&self) -> bool {
        match self {
            Expr::Term { .. } | Expr::Near { .. } => false,
            Expr::And(v) => v.iter().all(Expr::holds_with_no_term),
            Expr::Or(v) => v.iter().any(Expr::holds_with_no_term),
            Expr::Not(e) => !e.holds_with_no_term(),
        }
    }
}

/// A query syntax error, pointing at a 1-based character column of the query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

mod lex;
mod parse;

use lex::{Tok, tokenize};
#[cfg(test)]
use parse::MAX_DEPTH;
use parse::{Parser, phrase_term};

fn err(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
    }
}

/// Parse a watch's `query`.
pub fn parse_query(input: &str) -> Result<Expr, QueryError> {
    let toks = tokenize(input)?;
    let end_col = input.chars().count() + 1;
    if toks.is_empty() {
        return Err(err(1, "empty query"));
    }
    let line_starts = std::iter::once(1)
        .chain(
            input
                .chars()
                .enumerate()
                .filter(|&(_, c)| c == '\n')
                .map(|(i, _)| i + 2),
        )
        .collect();
    let mut p = Parser {
        toks,
        pos: 0,
        end_col,
        depth: 0,
        line_starts,
    };
    let e = p.parse_or()?;
    if let Some(t) = p.peek() {
        let what = match t.tok {
            Tok::RParen => "unexpected `)` (no matching `(`)",
            _ => "unexpected token",
        };
        return Err(err(t.col, what));
    }
    if !e.requires_hit() {
        return Err(err(
            1,
            "the query can match without any of its terms present (it only excludes); \
             add a term that must appear",
        ));
    }
    Ok(e)
}

/// Parse one entry of a watch's `terms` or `exclude` list: a phrase (quotes optional),
/// `word*`, or `case:"US"`. Operators are not interpreted here: "Trump AND Putin" is a phrase.
pub fn parse_term(input: &str) -> Result<TermSpec, QueryError> {
    let s = input.trim();
    // In any case, as a query takes it: `Case:"NATO"` was the phrase "case nato".
    let case_kept = s.get(..5).filter(|p| p.eq_ignore_ascii_case("case:"));
    if let Some(rest) = case_kept.and_then(|_| s.get(5..)) {
        let inner = strip_quotes(rest.trim());
        return phrase_term(inner, 6, true);
    }
    // `title:football` here would be the phrase "title football", which no item holds: an
    // exclusion that never excludes, a term that never matches.
    if let Some((scope, _)) = s.split_once(':') {
        let scope = scope.to_lowercase();
        if Field::from_name(&scope).is_some() {
            return Err(err(
                1,
                format!(
                    "`{scope}:` scopes a term only in `query` (`-{scope}:word`); here the \
                     watch's `fields` say where its terms are looked for (quote the entry if \
                     the colon is part of the text)"
                ),
            ));
        }
    }
    phrase_term(strip_quotes(s), 1, false)
}

fn strip_quotes(s: &str) -> &str {
    for (open, close) in [
        ('"', '"'),
        ('“', '”'),
        ('„', '“'),
        ('«', '»'),
        ('＂', '＂'),
        ('\'', '\''),
    ] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Expr {
        Expr::Term {
            term: TermSpec {
                text: text.into(),
                kind: TermKind::Phrase,
            },
            field: None,
        }
    }

    #[test]
    fn juxtaposition_is_and_and_or_binds_loosest() {
        let e = parse_query("a b OR c").unwrap();
        assert_eq!(e, Expr::Or(vec![Expr::And(vec![t("a"), t("b")]), t("c")]));
    }

    #[test]
    fn near_binds_tighter_than_not_and_and() {
        let near = Expr::Near {
            left: Box::new(t("a")),
            right: Box::new(t("b")),
            distance: 3,
        };
        let e = parse_query("NOT a NEAR/3 b AND c").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![Expr::Not(Box::new(near.clone())), t("c")])
        );
        let e = parse_query("c OR a NEAR/3 b").unwrap();
        assert_eq!(e, Expr::Or(vec![t("c"), near]));
        // Only a negation: it would match every item without the terms.
        assert_eq!(parse_query("NOT a NEAR/3 b").unwrap_err().column, 1);
    }

    #[test]
    fn phrases_prefixes_case_and_fields() {
        let e = parse_query(r#"title:"North Korean" troop* case:US content:(a OR b)"#).unwrap();
        let terms = e.terms();
        assert_eq!(terms.len(), 5);
        assert_eq!(terms[0].0.text, "North Korean");
        assert_eq!(terms[0].1, Some(Field::Title));
        assert_eq!(terms[1].0.kind, TermKind::Prefix);
        assert_eq!(terms[2].0.kind, TermKind::ExactCase);
        assert_eq!(terms[3].1, Some(Field::Content));
        assert_eq!(terms[4].1, Some(Field::Content));
    }

    #[test]
    fn dash_is_not_only_at_word_start() {
        let e = parse_query("troops -football").unwrap();
        assert_eq!(
            e,
            Expr::And(vec![t("troops"), Expr::Not(Box::new(t("football")))])
        );
        let e = parse_query("Jong-Un").unwrap();
        assert_eq!(e, t("Jong-Un"));
    }

    #[test]
    fn near_operands_may_be_or_groups() {
        assert!(parse_query(r#""North Korean" NEAR/6 (troops OR soldiers)"#).is_ok());
        let e = parse_query("a NEAR/2 (b AND c)").unwrap_err();
        assert_eq!(e.column, 10);
    }

    #[test]
    fn errors_point_at_the_column() {
        assert_eq!(parse_query("a AND (b OR").unwrap_err().column, 12);
        assert_eq!(parse_query("a )").unwrap_err().column, 3);
        assert_eq!(parse_query("a \"open").unwrap_err().column, 3);
        assert_eq!(parse_query("titel:x").unwrap_err().column, 1);
        assert_eq!(parse_query("x NEAR/0 y").unwrap_err().column, 3);
        assert_eq!(parse_query("x NEAR y").unwrap_err().column, 3);
        assert_eq!(parse_query("OR x").unwrap_err().column, 1);
        assert_eq!(parse_query("NOT x").unwrap_err().column, 1);
        assert_eq!(parse_query("").unwrap_err().column, 1);
        assert_eq!(parse_query("tr*ops").unwrap_err().column, 1);
    }

    #[test]
    fn term_entries_are_literal_phrases() {
        let p = parse_term("North Korean troops").unwrap();
        assert_eq!(p.text, "North Korean troops");
        assert_eq!(p.kind, TermKind::Phrase);
        assert_eq!(parse_term("\"Victory Plan\"").unwrap().text, "Victory Plan");
        assert_eq!(parse_term("troop*").unwrap().kind, TermKind::Prefix);
        let c = parse_term("case:\"US\"").unwrap();
        assert_eq!((c.text.as_str(), c.kind), ("US", TermKind::ExactCase));
        assert!(parse_term("!!!").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let q = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_query(&q).is_err());
        let q = format!("{}a", "NOT ".repeat(10_000));
        assert!(parse_query(&q).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,80}") {
            let _ = parse_query(&s);
            let _ = parse_term(&s);
        }

        #[test]
        fn parser_never_panics_on_query_like_input(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("AND".to_string()),
                    proptest::strategy::Just("OR".to_string()),
                    proptest::strategy::Just("NOT".to_string()),
                    proptest::strategy::Just("-".to_string()),
                    proptest::strategy::Just("(".to_string()),
                    proptest::strategy::Just(")".to_string()),
                    proptest::strategy::Just("\"".to_string()),
                    proptest::strategy::Just("NEAR/3".to_string()),
                    proptest::strategy::Just("title:".to_string()),
                    proptest::strategy::Just("case:".to_string()),
                    "[a-zé*]{1,6}",
                ],
                0..20,
            )
        ) {
            let q = parts.join(" ");
            if let Err(e) = parse_query(&q) {
                proptest::prop_assert!(e.column >= 1 && e.column <= q.chars().count() + 1);
            }
        }
    }
}

#[cfg(test)]
mod syntax_tests;
