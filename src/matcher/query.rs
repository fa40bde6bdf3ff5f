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

    /// True when the expression can only hold if at least one of its terms was found.
    /// A query such as `NOT football` would alert on every item; we refuse it.
    pub fn requires_hit(&self) -> bool {
        match self {
            Expr::Term { .. } | Expr::Near { .. } => true,
            Expr::And(v) => v.iter().any(Expr::requires_hit),
            Expr::Or(v) => v.iter().all(Expr::requires_hit),
            Expr::Not(_) => false,
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

/// The deepest nesting we accept; deeper input is certainly not a hand-written query and would
/// otherwise let a hostile config overflow the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    Scope(String),
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based column of the token's first character.
    col: usize,
}

fn err(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Token {
                    tok: Tok::LParen,
                    col,
                });
                i += 1;
            }
            ')' => {
                out.push(Token {
                    tok: Tok::RParen,
                    col,
                });
                i += 1;
            }
            '"' | '“' | '”' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && !matches!(chars[j], '"' | '“' | '”') {
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(err(col, "unclosed quote"));
                }
                let mut phrase: String = chars[start..j].iter().collect();
                // A trailing `*` inside the quotes makes the last word a prefix.
                let mut tok_text = std::mem::take(&mut phrase);
                if j + 1 < chars.len() && chars[j + 1] == '*' {
                    tok_text.push('*');
                    j += 1;
                }
                out.push(Token {
                    tok: Tok::Phrase(tok_text),
                    col,
                });
                i = j + 1;
            }
            '-' if out_allows_prefix_not(&chars, i) => {
                out.push(Token { tok: Tok::Not, col });
                i += 1;
            }
            _ => {
                let start = i;
                let mut j = i;
                while j < chars.len()
                    && !chars[j].is_whitespace()
                    && !matches!(chars[j], '(' | ')' | '"' | '“' | '”')
                {
                    if chars[j] == ':' {
                        break;
                    }
                    j += 1;
                }
                let word: String = chars[start..j].iter().collect();
                if j < chars.len() && chars[j] == ':' {
                    let lower = word.to_lowercase();
                    if lower == "case" || Field::from_name(&lower).is_some() {
                        out.push(Token {
                            tok: Tok::Scope(lower),
                            col,
                        });
                        i = j + 1;
                        continue;
                    }
                    return Err(err(
                        col,
                        format!(
                            "unknown field `{word}:` (fields are title, summary, content, \
                             category, author, body; `case:` for exact case; quote the text to \
                             search for a colon)"
                        ),
                    ));
                }
                let tok = match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    w if w.starts_with("NEAR/") => {
                        let n = &w[5..];
                        match n.parse::<u32>() {
                            Ok(n) if (1..=1000).contains(&n) => Tok::Near(n),
                            _ => {
                                return Err(err(
                                    col,
                                    format!(
                                        "`{w}`: NEAR needs a distance from 1 to 1000, like NEAR/5"
                                    ),
                                ));
                            }
                        }
                    }
                    "NEAR" => {
                        return Err(err(col, "NEAR needs a distance, like NEAR/5"));
                    }
                    _ => Tok::Word(word),
                };
                out.push(Token { tok, col });
                i = j;
            }
        }
    }
    Ok(out)
}

/// `-` is a NOT prefix only when it starts a word (`-football`), not inside one.
fn out_allows_prefix_not(chars: &[char], i: usize) -> bool {
    let prev_is_space = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(';
    let next_starts_operand = chars
        .get(i + 1)
        .is_some_and(|c| !c.is_whitespace() && *c != ')');
    prev_is_space && next_starts_operand
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end_col: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(self.col(), "query nested too deeply"));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Expr, QueryError> {
        self.enter()?;
        let mut items = vec![self.parse_and()?];
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::Or)) {
            self.pos += 1;
            items.push(self.parse_and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn starts_unary(tok: &Tok) -> bool {
        matches!(
            tok,
            Tok::Word(_) | Tok::Phrase(_) | Tok::Scope(_) | Tok::LParen | Tok::Not
        )
    }

    fn parse_and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.parse_unary()?];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::And) => {
                    self.pos += 1;
                    items.push(self.parse_unary()?);
                }
                Some(t) if Self::starts_unary(t) => items.push(self.parse_unary()?),
                _ => break,
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn parse_unary(&mut self) -> Result<Expr, QueryError> {
        if matches!(self.peek().map(|t| &t.tok), Some(Tok::Not)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.parse_unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_near()
    }

    fn parse_near(&mut self) -> Result<Expr, QueryError> {
        let first_col = self.col();
        let mut left = self.parse_atom(None)?;
        while let Some(Tok::Near(n)) = self.peek().map(|t| t.tok.clone()) {
            self.pos += 1;
            let right_col = self.col();
            let right = self.parse_atom(None)?;
            check_near_operand(&left, first_col)?;
            check_near_operand(&right, right_col)?;
            left = Expr::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance: n,
            };
        }
        Ok(left)
    }

    fn parse_atom(&mut self, scope: Option<Field>) -> Result<Expr, QueryError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(err(self.end_col, "expected a term, a phrase or `(` here"));
        };
        self.pos += 1;
        match tok.tok {
            Tok::Word(w) => {
                word_term(&w, tok.col, false).map(|term| Expr::Term { term, field: scope })
            }
            Tok::Phrase(p) => {
                phrase_term(&p, tok.col, false).map(|term| Expr::Term { term, field: scope })
            }
            Tok::Scope(s) if s == "case" => {
                let Some(next) = self.peek().cloned() else {
                    return Err(err(tok.col, "`case:` must be followed by a word or phrase"));
                };
                self.pos += 1;
                let term = match next.tok {
                    Tok::Word(w) => word_term(&w, next.col, true)?,
                    Tok::Phrase(p) => phrase_term(&p, next.col, true)?,
                    _ => {
                        return Err(err(
                            next.col,
                            "`case:` must be followed by a word or a quoted phrase",
                        ));
                    }
                };
                Ok(Expr::Term { term, field: scope })
            }
            Tok::Scope(s) => {
                let field = Field::from_name(&s).ok_or_else(|| err(tok.col, "unknown field"))?;
                self.enter()?;
                // The innermost scope wins: `title:(content:x)` searches content.
                let e = self.parse_atom(Some(field))?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::LParen => {
                self.enter()?;
                let inner = self.parse_or()?;
                self.depth -= 1;
                match self.peek() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {
                        self.pos += 1;
                        Ok(match scope {
                            Some(f) => apply_scope(inner, f),
                            None => inner,
                        })
                    }
                    _ => Err(err(
                        self.col(),
                        format!("missing `)` for `(` at column {}", tok.col),
                    )),
                }
            }
            Tok::RParen => Err(err(tok.col, "unexpected `)`")),
            Tok::And | Tok::Or => Err(err(
                tok.col,
                "operator without a left-hand term (write AND/OR between two terms)",
            )),
            Tok::Not => Err(err(tok.col, "NOT needs a term after it")),
            Tok::Near(_) => Err(err(tok.col, "NEAR/n needs a term on each side")),
        }
    }
}

/// Give every unscoped term inside `e` the field `f` (inner scopes win).
fn apply_scope(e: Expr, f: Field) -> Expr {
    match e {
        Expr::Term { term, field } => Expr::Term {
            term,
            field: field.or(Some(f)),
        },
        Expr::And(v) => Expr::And(v.into_iter().map(|x| apply_scope(x, f)).collect()),
        Expr::Or(v) => Expr::Or(v.into_iter().map(|x| apply_scope(x, f)).collect()),
        Expr::Not(x) => Expr::Not(Box::new(apply_scope(*x, f))),
        Expr::Near {
            left,
            right,
            distance,
        } => Expr::Near {
            left: Box::new(apply_scope(*left, f)),
            right: Box::new(apply_scope(*right, f)),
            distance,
        },
    }
}

/// NEAR compares word positions of hits, so each side must be something that has hits:
/// a term or an OR-group of terms.
fn check_near_operand(e: &Expr, col: usize) -> Result<(), QueryError> {
    let ok = match e {
        Expr::Term { .. } | Expr::Near { .. } => true,
        Expr::Or(v) => v.iter().all(|x| matches!(x, Expr::Term { .. })),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(err(
            col,
            "NEAR/n operands must be words, phrases, prefixes or (a OR b) groups of those",
        ))
    }
}

/// A term must keep at least one letter or digit after folding: a lone combining mark (it
/// folds to nothing) or punctuation would never match anything.
fn check_has_word(text: &str, col: usize) -> Result<(), QueryError> {
    if !crate::text::fold::fold_term(text).is_empty() {
        Ok(())
    } else {
        Err(err(
            col,
            format!("`{text}` has no letters or digits to match"),
        ))
    }
}

fn word_term(w: &str, col: usize, exact: bool) -> Result<TermSpec, QueryError> {
    let (text, prefix) = match w.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (w, false),
    };
    if text.contains('*') {
        return Err(err(
            col,
            "`*` is only allowed at the end of a word (`troop*`)",
        ));
    }
    check_has_word(text, col)?;
    Ok(TermSpec {
        text: text.to_string(),
        kind: kind_of(prefix, exact),
    })
}

fn phrase_term(p: &str, col: usize, exact: bool) -> Result<TermSpec, QueryError> {
    let trimmed = p.trim();
    let (text, prefix) = match trimmed.strip_suffix('*') {
        Some(stem) => (stem.trim_end(), true),
        None => (trimmed, false),
    };
    if text.contains('*') {
        return Err(err(
            col,
            "`*` is only allowed at the end of a phrase (`\"north kor*\"`)",
        ));
    }
    check_has_word(text, col)?;
    Ok(TermSpec {
        text: text.to_string(),
        kind: kind_of(prefix, exact),
    })
}

fn kind_of(prefix: bool, exact: bool) -> TermKind {
    match (prefix, exact) {
        (false, false) => TermKind::Phrase,
        (true, false) => TermKind::Prefix,
        (false, true) => TermKind::ExactCase,
        (true, true) => TermKind::ExactCasePrefix,
    }
}

/// Parse a watch's `query`.
pub fn parse_query(input: &str) -> Result<Expr, QueryError> {
    let toks = tokenize(input)?;
    let end_col = input.chars().count() + 1;
    if toks.is_empty() {
        return Err(err(1, "empty query"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end_col,
        depth: 0,
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
    if let Some(rest) = s.strip_prefix("case:") {
        let inner = strip_quotes(rest.trim());
        return phrase_term(inner, 6, true);
    }
    phrase_term(strip_quotes(s), 1, false)
}

fn strip_quotes(s: &str) -> &str {
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\'')] {
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
