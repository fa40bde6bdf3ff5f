//! The query tokenizer: characters to [`Token`]s with their 1-based columns.
//!
//! Owns [`Tok`] and [`Token`]; only the parser beside it consumes them.

use super::{Field, QueryError, err};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

/// The query's characters, with the syntax typed on a CJK keyboard (an IME writes fullwidth
/// forms) as its ASCII form: `（北朝鮮 OR 韓国）`, `title：北朝鮮` and `troop＊` were read as
/// text, so a group's parentheses did not group and a scope or a prefix was a word no item
/// holds. Only where it reads as syntax, since the same characters are common in CJK text:
/// `（` that opens a word (after a space, a parenthesis or the start) and the `）` that closes
/// it; `：` after `case` or a field name (`速報：北朝鮮` stays the text it was, not an unknown
/// field; `東京（共同）` the phrase). Fullwidth quotes are quotes already ([`is_quote`]).
fn syntax_chars(input: &str) -> Vec<char> {
    let mut chars: Vec<char> = input.chars().collect();
    let mut open = 0usize;
    let mut word_start = 0;
    for i in 0..chars.len() {
        let after_break = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(';
        match chars[i] {
            '（' if after_break => {
                chars[i] = '(';
                open += 1;
            }
            '）' if open > 0 => {
                chars[i] = ')';
                open -= 1;
            }
            '＊' => chars[i] = '*',
            '：' => {
                let word: String = chars[word_start..i].iter().collect();
                let word = word.trim_start_matches('-').to_lowercase();
                if word == "case" || Field::from_name(&word).is_some() {
                    chars[i] = ':';
                }
            }
            _ => {}
        }
        if chars[i].is_whitespace() || matches!(chars[i], '(' | ')' | ':') || is_quote(chars[i]) {
            word_start = i + 1;
        }
    }
    chars
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// 1-based column of the token's first character.
    pub(super) col: usize,
}

pub(super) fn tokenize(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars = syntax_chars(input);
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
            c if is_quote(c) => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && !is_quote(chars[j]) {
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
                    && !matches!(chars[j], '(' | ')')
                    && !is_quote(chars[j])
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
                if let Some(op) = operator_in_another_case(&word) {
                    return Err(err(
                        col,
                        format!(
                            "`{word}` would be a word every match must contain: operators are \
                             upper case (`{op}`); quote it (\"{word}\") to match the word"
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

/// The operator `word` spells in lower or mixed case (`or`, `And`, `near/5`), if it does.
/// Read as words, `Russia or Ukraine` required the word "or" and matched almost nothing, and
/// `check` said it was fine: the commonest query a new user writes missed every item.
fn operator_in_another_case(word: &str) -> Option<String> {
    let upper = word.to_ascii_uppercase();
    let operator = matches!(upper.as_str(), "AND" | "OR" | "NOT" | "NEAR")
        || upper
            .strip_prefix("NEAR/")
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    (operator && upper != word).then_some(upper)
}

/// `-` is a NOT prefix only when it starts a word (`-football`), not inside one.
fn out_allows_prefix_not(chars: &[char], i: usize) -> bool {
    let prev_is_space = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(';
    let next_starts_operand = chars
        .get(i + 1)
        .is_some_and(|c| !c.is_whitespace() && *c != ')');
    prev_is_space && next_starts_operand
}

/// The double quotes a phrase may be written in, any of them closing it: ASCII, English
/// `“…”`, German `„…“`, French and Russian `«…»`, fullwidth `＂…＂`. Before, `«План победы»`
/// was two words, each required anywhere in the item.
pub(super) fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„' | '‟' | '«' | '»' | '＂')
}
