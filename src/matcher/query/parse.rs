//! The recursive-descent parser: [`Token`]s to an [`Expr`], with scopes applied and NEAR
//! operands checked.
//!
//! Owns [`Parser`]; [`super::parse_query`] and [`super::parse_term`] drive it.

use super::lex::{Tok, Token};
use super::{Expr, Field, QueryError, TermKind, TermSpec, err};

/// The deepest nesting we accept; deeper input is certainly not a hand-written query and would
/// otherwise let a hostile config overflow the stack.
pub(super) const MAX_DEPTH: usize = 64;

pub(super) struct Parser {
    pub(super) toks: Vec<Token>,
    pub(super) pos: usize,
    pub(super) end_col: usize,
    pub(super) depth: usize,
    /// The column each line of the query starts at (`[1]` for a query of one line): a place
    /// named in a message is named by its line, as the error's header names it.
    pub(super) line_starts: Vec<usize>,
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    /// Column `col` of the query as a message names it: "column 3" in a query of one line,
    /// "line 2, column 3" in one of several (a column counted across the whole query points
    /// nowhere the reader looks).
    fn place(&self, col: usize) -> String {
        match self.line_starts.partition_point(|&s| s <= col) {
            _ if self.line_starts.len() < 2 => format!("column {col}"),
            line => {
                let start = self.line_starts[line.max(1) - 1];
                format!("line {line}, column {}", col + 1 - start)
            }
        }
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(self.col(), "query nested too deeply"));
        }
        Ok(())
    }

    pub(super) fn parse_or(&mut self) -> Result<Expr, QueryError> {
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
        // Each NEAR of a chain nests the ones before it (`a NEAR b NEAR c` is `(a NEAR b) NEAR
        // c`): counted as a level, so a chain of 4,000 is refused as too deep, not a query that
        // `check` passed and whose first match overflowed the daemon's stack.
        let depth = self.depth;
        while let Some(Tok::Near(n)) = self.peek().map(|t| t.tok.clone()) {
            self.enter()?;
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
        self.depth = depth;
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
                        format!("missing `)` for `(` at {}", self.place(tok.col)),
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

/// Whether `c` is a dash (Unicode's `Dash` property: `-`, hyphens, en and em dashes, the minus
/// sign, their fullwidth and small forms). A word starting with one here is no exclusion.
fn is_dash(c: char) -> bool {
    use icu_properties::props::Dash;
    use icu_properties::{CodePointSetData, CodePointSetDataBorrowed};
    const DASH: CodePointSetDataBorrowed<'static> = CodePointSetData::new::<Dash>();
    DASH.contains(c)
}

fn word_term(w: &str, col: usize, exact: bool) -> Result<TermSpec, QueryError> {
    // A dash that did not parse as NOT (after `title:`, right after a quote, a typographic
    // dash or minus) would fold away and leave the word a required term: the exclusion its
    // writer meant, turned around.
    if w.starts_with(is_dash) && check_has_word(w, col).is_ok() {
        return Err(err(
            col,
            format!(
                "`{w}`: a dash here does not exclude; write the exclusion as `-word`, \
                 `-title:word` or `NOT title:word`, with an ASCII `-` after a space"
            ),
        ));
    }
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

pub(super) fn phrase_term(p: &str, col: usize, exact: bool) -> Result<TermSpec, QueryError> {
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
