//! Where a big configuration file is cut so that it is parsed a piece at a time.
//!
//! Owns [`cut`]: byte ranges covering the file, each (after the first) starting at a
//! `[[feed]]`, `[[sink]]` or `[[watch]]` header. The TOML parser keeps every token, every
//! parse event and the whole tree of the document at once, about 2 KB per `[[feed]]` table:
//! 200 MB for a file of 100,000 feeds, held while the daemon starts. Parsed a piece at a time,
//! that cost is one piece's, and the pieces' arrays of tables are simply concatenated.
//!
//! That is the same document only when no table is split across pieces: every header whose
//! first key is `feed`, `sink` or `watch` must be exactly `[[feed]]` (and so on), every other
//! top-level name (`[daemon]`, a misspelt table) must have all its headers in one piece, and
//! nothing may be assigned at the top level before the first header (`feed = [...]` there
//! would make `[[feed]]` an error). Any doubt, and the file is one piece, read as before:
//! small files (under [`PIECE_BYTES`]) always are.

use std::collections::HashMap;
use std::ops::Range;

use toml_parser::Source;
use toml_parser::lexer::{Token, TokenKind};

/// A piece ends at the first array-of-tables header past this many bytes from its start.
pub const PIECE_BYTES: usize = 256 * 1024;

/// The names whose `[[name]]` tables may be spread over pieces.
const SPLIT: [&str; 3] = ["feed", "sink", "watch"];

/// One table header at the top level, as the lexer sees it.
struct Header {
    start: usize,
    /// Its first key, if written bare (`[daemon]`, `[[feed]]`, `[a.b]` → `a`).
    first: Option<String>,
    /// `[[feed]]`, `[[sink]]` or `[[watch]]` exactly: a place to cut.
    cut_here: bool,
}

/// The pieces of `text` to parse one after the other (the whole text, if it cannot be cut).
pub fn cut(text: &str) -> Vec<Range<usize>> {
    let whole: Vec<Range<usize>> = std::iter::once(0..text.len()).collect();
    if text.len() < PIECE_BYTES {
        return whole;
    }
    let Some(headers) = headers(text) else {
        return whole;
    };
    let mut starts = vec![0];
    for h in &headers {
        if h.cut_here && h.start - starts[starts.len() - 1] >= PIECE_BYTES {
            starts.push(h.start);
        }
    }
    // Every other name's headers must share a piece; split names must only ever be cut at.
    let mut piece_of: HashMap<&str, usize> = HashMap::new();
    let mut piece = 0;
    for h in &headers {
        while piece + 1 < starts.len() && starts[piece + 1] <= h.start {
            piece += 1;
        }
        let Some(first) = h.first.as_deref() else {
            return whole;
        };
        if SPLIT.contains(&first) {
            if !h.cut_here {
                return whole;
            }
            continue;
        }
        if *piece_of.entry(first).or_insert(piece) != piece {
            return whole;
        }
    }
    let mut ends: Vec<usize> = starts[1..].to_vec();
    ends.push(text.len());
    starts.into_iter().zip(ends).map(|(s, e)| s..e).collect()
}

/// The top-level table headers of `text`, or `None` if something is assigned at the top level
/// before the first header.
fn headers(text: &str) -> Option<Vec<Header>> {
    let source = Source::new(text);
    let mut tokens = source.lex().peekable();
    let mut out = Vec::new();
    // Brackets and braces open inside a value: a multi-line array's lines are not headers.
    let mut depth = 0usize;
    let mut line_start = true;
    while let Some(t) = tokens.next() {
        match t.kind() {
            TokenKind::Eof => break,
            TokenKind::Newline => {
                line_start |= depth == 0;
                continue;
            }
            TokenKind::Whitespace | TokenKind::Comment => continue,
            TokenKind::LeftSquareBracket if line_start && depth == 0 => {
                let mut rest = Vec::new();
                while let Some(n) =
                    tokens.next_if(|n| !matches!(n.kind(), TokenKind::Newline | TokenKind::Eof))
                {
                    if !matches!(n.kind(), TokenKind::Whitespace | TokenKind::Comment) {
                        rest.push(n);
                    }
                }
                out.push(header(&source, t.span().start(), &rest));
            }
            _ if line_start && depth == 0 && out.is_empty() => return None,
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.saturating_sub(1)
            }
            _ => {}
        }
        line_start = false;
    }
    Some(out)
}

/// A header from the tokens after its opening `[` (whitespace and comments left out).
fn header(source: &Source<'_>, start: usize, rest: &[Token]) -> Header {
    let kinds: Vec<TokenKind> = rest.iter().map(Token::kind).collect();
    let array = kinds.first() == Some(&TokenKind::LeftSquareBracket);
    let key = usize::from(array);
    let first = rest
        .get(key)
        .filter(|t| t.kind() == TokenKind::Atom)
        .and_then(|t| source.get(t.span()))
        .map(|raw| raw.as_str().to_string());
    let dotted = kinds.get(key + 1) == Some(&TokenKind::Dot)
        || first.as_deref().is_some_and(|f| f.contains('.'));
    let exact_array = kinds
        == [
            TokenKind::LeftSquareBracket,
            TokenKind::Atom,
            TokenKind::RightSquareBracket,
            TokenKind::RightSquareBracket,
        ];
    let cut_here = exact_array && !dotted && first.as_deref().is_some_and(|f| SPLIT.contains(&f));
    Header {
        start,
        first: first.map(|f| f.split('.').next().unwrap_or_default().to_string()),
        cut_here,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Vec<Range<usize>> {
        std::iter::once(0..text.len()).collect()
    }

    fn feeds(n: usize) -> String {
        (0..n)
            .map(|i| format!("[[feed]]\nname = \"f{i}\"\nurl = \"https://x.example/{i}.xml\"\n\n"))
            .collect()
    }

    #[test]
    fn small_files_are_one_piece() {
        let text = format!("[daemon]\nstate = \"s.db\"\n\n{}", feeds(100));
        assert_eq!(cut(&text), whole(&text));
    }

    #[test]
    fn big_files_are_cut_at_array_table_headers_past_the_piece_size() {
        let text = format!(
            "[daemon]\nstate = \"s.db\"\ninclude = [\n  \"a\",\n  [1],\n]\n\n{}[[sink]]\nname = \"s\"\n",
            feeds(20_000)
        );
        let pieces = cut(&text);
        assert!(pieces.len() > 4, "{}", pieces.len());
        assert_eq!(pieces[0].start, 0);
        assert_eq!(pieces[pieces.len() - 1].end, text.len());
        for w in pieces.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert!(text[w[1].clone()].starts_with("[[feed]]\n"));
            assert!(w[0].len() >= PIECE_BYTES);
        }
    }

    /// Each of these would change the document if cut, so the file stays whole.
    #[test]
    fn files_whose_tables_a_cut_would_split_stay_whole() {
        let big = feeds(20_000);
        for text in [
            // A top-level assignment before the first header.
            format!("feed = []\n{big}"),
            // [daemon] twice, far apart (a duplicate the parser must see).
            format!("[daemon]\n{big}[daemon]\n"),
            // A sub-table of a feed, or a feed written as a table.
            format!("{big}[feed.x]\n"),
            format!("{big}[feed]\n"),
            // A quoted header name.
            format!("[\"daemon\"]\n{big}"),
        ] {
            assert_eq!(cut(&text), whole(&text), "{}", &text[..20]);
        }
    }

    /// Brackets in strings, comments and multi-line arrays are not headers.
    #[test]
    fn headers_are_found_only_at_the_top_level() {
        let text = "[daemon]\na = \"\"\"\n[[feed]]\"\"\"\nb = [\n[[1]],\n] # [[feed]]\nc = '''\n[[feed]]\n'''\n[[feed]]\nname = \"x\"\n";
        let hs = headers(text).unwrap();
        let at: Vec<(usize, bool)> = hs.iter().map(|h| (h.start, h.cut_here)).collect();
        assert_eq!(at, [(0, false), (text.rfind("[[feed]]").unwrap(), true)]);
    }
}
