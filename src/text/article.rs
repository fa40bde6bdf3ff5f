//! Article extraction: a whole web page → the plain text of its main article (and its title).
//!
//! Owns the choice of extractor (dom_smoothie, a port of Mozilla's Readability.js; the README's
//! "Full text: article extraction" says why), the limits that bound its cost on hostile pages,
//! and the boilerplate filter applied after it. Crossing the boundary: `&str` (the decoded page)
//! goes in; [`Article`] or [`ExtractError`] come out. dom_smoothie types never leave this
//! module.
//!
//! The text follows the conventions of [`crate::text::html`] (it is produced by
//! [`html_to_text`]): entities decoded, whitespace collapsed, and one paragraph per block of the
//! article, paragraphs separated by a blank line (`"\n\n"`), so folding, matching and snippets
//! treat it like any feed field.
//!
//! Cost bounds (a page is attacker-controlled input):
//! - pages over [`MAX_PAGE_BYTES`] are cut at that size (at a character boundary) before
//!   parsing, and [`Article::truncated`] says so;
//! - pages whose elements nest deeper than [`MAX_NESTING`] are refused before the extractor
//!   parses them ([`ExtractError::TooDeep`]): Readability's scoring walks every ancestor of
//!   every paragraph, so its time grows with depth × elements (10,000 nested `<div>`s took
//!   20 s; the worst pages built to sit just inside both bounds take about 1.3 s), and the
//!   tree builder's scope checks walk its stack of open elements at every tag; the tree itself
//!   lives in an arena, so depth never threatens the stack;
//! - pages with more than [`MAX_ELEMENTS`] elements are refused the same way
//!   ([`ExtractError::TooManyElements`]): the extractor's own count comes after the tree is
//!   built;
//! - pages with more than [`MAX_MARKUP_ERRORS`] markup errors are refused the same way
//!   ([`ExtractError::TooBroken`]): a stray end tag makes no element, but the tree builder
//!   walks its stack of open elements for it; so are pages of more than [`MAX_NODES`] nodes
//!   (comments count there; [`ExtractError::TooManyNodes`]);
//! - these bounds are checked by the parser itself ([`guard`]): the page is parsed into a
//!   sink that keeps only each node's parent, stopped at the first overrun, or once the parse
//!   has taken [`MAX_PARSE_CPU`] or would make the extractor merge more than
//!   [`MAX_ATTRIBUTE_MERGES`] attributes of repeated `<html>`/`<body>` tags
//!   ([`ExtractError::TooSlow`], [`ExtractError::TooManyMerges`]): the time bounds what the parser can be made to do in ways
//!   the other bounds do not see (a tag of 300,000 distinct attributes: a minute). A cheaper scan of the tags that modelled the parser's rules came
//!   first until a review found page after page it misjudged: a model of the parser has
//!   holes, the parser has none;
//! - the article text is cut at [`MAX_ARTICLE_BYTES`]: it is copied into every item that links
//!   the page and kept in the page cache, and a few KB of gzip can inflate to 4 MB of text;
//! - the extractor is given no page URL and the page's `<base>` is taken out of its tree: it
//!   resolves the article's links against a base, parsing the base again for each, and a
//!   1 MB `<base href>` over 4,000 links took a minute; the text keeps no links;
//! - a panic inside the extractor becomes [`ExtractError::Crashed`].

use crate::panics::catch_quietly;
use crate::text::html::html_to_text;

mod boilerplate;
mod guard;

/// Pages are cut at this many bytes (4 MiB) before extraction. Pages past it are almost always
/// inflated by inline scripts, styles and images; the article itself starts well before.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Deepest element nesting accepted (levels under `<body>` or `<head>`, as the parser builds
/// them). Of the 160 real pages of Mozilla Readability's and newspaper4k's test suites the
/// deepest nested 36 levels by a first estimate (which closed on every end tag); of the 52
/// pages of `tests/fixtures/articles`, the deepest nests 27.
pub const MAX_NESTING: usize = 256;

/// Most elements accepted in one page. The largest page of those 160 has 9,888 elements.
pub const MAX_ELEMENTS: usize = 50_000;

/// Most markup errors accepted in one page (stray end tags, unclosed elements, bad
/// attributes): each is work for the parser that makes no element, so the element bound does
/// not bound them. Of the 52 pages of `tests/fixtures/articles`, the most broken has 171 (engadget;
/// the median page fewer than 20).
pub const MAX_MARKUP_ERRORS: usize = 50_000;

/// Most nodes accepted in one page: elements, and comments and processing instructions with
/// room for them (a bound on memory).
pub const MAX_NODES: usize = 4 * MAX_ELEMENTS;

/// CPU time the shape parse may take: 250 ms. Real pages take about a millisecond (of the 52
/// pages of `tests/fixtures/articles`, the median 1 ms, the slowest 4.5 ms; 50,000 elements,
/// the most accepted, 21 ms): past this, the page was built to make the parser work, and the
/// extractor's own parse would take as long again. A debug build (the tests) parses about 15
/// times slower (the slowest real page 67 ms, 50,000 elements 283 ms) and is given 16 times
/// as long, so that a test sees the bound a release build applies to the same page.
pub const MAX_PARSE_CPU: std::time::Duration = if cfg!(debug_assertions) {
    std::time::Duration::from_secs(4)
} else {
    std::time::Duration::from_millis(250)
};

/// Most attribute comparisons the extractor's tree may make to merge the attributes of
/// repeated `<html>` and `<body>` tags into the first one (real pages: a handful; each
/// comparison is a few nanoseconds).
pub const MAX_ATTRIBUTE_MERGES: u64 = 10_000_000;

/// Longest article text kept (256 KiB, at a paragraph or character boundary); the longest
/// real long-reads are under 100 KB of text.
pub const MAX_ARTICLE_BYTES: usize = 256 * 1024;

/// Shortest article text, in characters, that counts as an article. Below it the page holds a
/// consent wall, a "please enable JavaScript" notice or an index, not a story.
pub const MIN_ARTICLE_CHARS: usize = 150;

/// The main article of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Plain text: paragraphs separated by `"\n\n"`, whitespace collapsed, entities decoded,
    /// boilerplate paragraphs (share buttons, newsletter and cookie boxes, "related stories",
    /// advertisement labels) removed.
    pub text: String,
    /// The article's title, as the extractor found it (meta tags, JSON-LD, `<title>`, `<h1>`),
    /// whitespace collapsed; `None` when there is none.
    pub title: Option<String>,
    /// True when the page was longer than [`MAX_PAGE_BYTES`] and only its start was read, or
    /// its text longer than [`MAX_ARTICLE_BYTES`] and only its start was kept.
    pub truncated: bool,
}

/// Why a page yielded no article text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The page was read, but holds no article: the extractor found no main content, or the
    /// text is shorter than [`MIN_ARTICLE_CHARS`].
    #[error(
        "no article text found on the page ({chars} characters of text, at least {MIN_ARTICLE_CHARS} needed)"
    )]
    NoArticle {
        /// Characters of article text found (0 when the extractor found no content at all).
        chars: usize,
    },
    /// The page nests elements deeper than [`MAX_NESTING`]: refused before the extractor
    /// parsed it.
    #[error("page not parsed: its elements nest more than {max} deep")]
    TooDeep {
        /// The limit, [`MAX_NESTING`].
        max: usize,
    },
    /// The page holds more than [`MAX_ELEMENTS`] elements.
    #[error("page not parsed: at least {found} elements, at most {max} accepted")]
    TooManyElements {
        /// How many elements the parse had made when it was stopped: a lower bound of the
        /// page's.
        found: usize,
        /// The limit, [`MAX_ELEMENTS`].
        max: usize,
    },
    /// The page holds more than [`MAX_NODES`] elements, comments and processing instructions.
    #[error("page not parsed: at least {found} elements and comments, at most {max} accepted")]
    TooManyNodes {
        /// How many the parse had made when it was stopped.
        found: usize,
        /// The limit, [`MAX_NODES`].
        max: usize,
    },
    /// The page holds more than [`MAX_MARKUP_ERRORS`] markup errors.
    #[error("page not parsed: more than {max} markup errors")]
    TooBroken {
        /// The limit, [`MAX_MARKUP_ERRORS`].
        max: usize,
    },
    /// Reading the page's markup took more than [`MAX_PARSE_CPU`].
    #[error("page not parsed: its markup took more than {max:?} of CPU time to read")]
    TooSlow {
        /// The limit, [`MAX_PARSE_CPU`].
        max: std::time::Duration,
    },
    /// Merging the attributes of the page's repeated `<html>`/`<body>` tags would take the
    /// extractor more than [`MAX_ATTRIBUTE_MERGES`] comparisons.
    #[error(
        "page not parsed: merging the attributes of its repeated <html>/<body> tags would take more than {max} comparisons"
    )]
    TooManyMerges {
        /// The limit, [`MAX_ATTRIBUTE_MERGES`].
        max: u64,
    },
    /// The extractor panicked on this page (a bug in it, caught here).
    #[error("the article extractor crashed on this page")]
    Crashed,
}

impl ExtractError {
    /// True when the page was processed and simply holds no article (as opposed to a page that
    /// could not be processed at all).
    pub fn is_no_article(&self) -> bool {
        matches!(self, ExtractError::NoArticle { .. })
    }
}

/// Extracts the main article of an HTML page.
///
/// `html` is the page as text (charset already decoded). Never panics; the cost is bounded as
/// the module documentation says.
/// CPU-bound (about 4 ms for a typical page; a page built to sit just inside the bounds about
/// 1.3 s of scoring plus two parses of up to [`MAX_PARSE_CPU`]): call it from a blocking
/// context, not an async task.
pub fn extract_article(html: &str) -> Result<Article, ExtractError> {
    let (html, truncated) = cut_to_cap(html, MAX_PAGE_BYTES);
    // The parser itself, into a sink that keeps only the tree's shape, stopped at the first
    // overrun: readability's own element count comes after it has built the whole tree.
    let limits = guard::Limits {
        depth: MAX_NESTING,
        elements: MAX_ELEMENTS,
        nodes: MAX_NODES,
        errors: MAX_MARKUP_ERRORS,
        cpu: MAX_PARSE_CPU,
        merges: MAX_ATTRIBUTE_MERGES,
    };
    match guard::check(html, limits) {
        Ok(()) => {}
        Err(guard::Overrun::Depth) => return Err(ExtractError::TooDeep { max: MAX_NESTING }),
        Err(guard::Overrun::Elements(found)) => {
            return Err(ExtractError::TooManyElements {
                found,
                max: MAX_ELEMENTS,
            });
        }
        Err(guard::Overrun::Nodes(found)) => {
            return Err(ExtractError::TooManyNodes {
                found,
                max: MAX_NODES,
            });
        }
        Err(guard::Overrun::Errors) => {
            return Err(ExtractError::TooBroken {
                max: MAX_MARKUP_ERRORS,
            });
        }
        Err(guard::Overrun::Slow) => return Err(ExtractError::TooSlow { max: MAX_PARSE_CPU }),
        Err(guard::Overrun::Merges) => {
            return Err(ExtractError::TooManyMerges {
                max: MAX_ATTRIBUTE_MERGES,
            });
        }
        Err(guard::Overrun::Crashed) => return Err(ExtractError::Crashed),
    }
    let (content, title) = catch_quietly(|| readability(html)).ok_or(ExtractError::Crashed)??;
    let text = boilerplate::remove(&paragraphs(&html_to_text(&content)));
    let (text, cut) = cut_text(text, MAX_ARTICLE_BYTES);
    let truncated = truncated || cut;
    let chars = text.chars().count();
    if chars < MIN_ARTICLE_CHARS {
        return Err(ExtractError::NoArticle { chars });
    }
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Article {
        text,
        title: (!title.is_empty()).then_some(title),
        truncated,
    })
}

/// Runs dom_smoothie: the article's HTML and its title.
fn readability(html: &str) -> Result<(String, String), ExtractError> {
    let config = dom_smoothie::Config {
        max_elements_to_parse: MAX_ELEMENTS,
        ..Default::default()
    };
    // With no base (no `<base>`, no page URL) the extractor leaves the links as written: they
    // are not part of the text, and resolving them cost links × the base's length.
    let document = dom_query::Document::from(html);
    document.select("base").remove();
    let parsed = dom_smoothie::Readability::with_document(document, None, Some(config))
        .and_then(|mut r| r.parse());
    match parsed {
        Ok(article) => Ok((article.content.to_string(), article.title)),
        Err(dom_smoothie::ReadabilityError::TooManyElements(found, max)) => {
            Err(ExtractError::TooManyElements { found, max })
        }
        // GrabFailed (no candidate at all); BadDocumentURL cannot happen (no URL is given).
        Err(_) => Err(ExtractError::NoArticle { chars: 0 }),
    }
}

/// `text` cut to at most `cap` bytes: at the last paragraph break within the cap when one
/// keeps at least half of it, else at a character boundary; and whether anything was cut.
fn cut_text(mut text: String, cap: usize) -> (String, bool) {
    let (kept, cut) = cut_to_cap(&text, cap);
    if !cut {
        return (text, false);
    }
    let end = match kept.rfind("\n\n") {
        Some(p) if p >= cap / 2 => p,
        _ => kept.len(),
    };
    text.truncate(end);
    (text, true)
}

/// The longest prefix of `s` of at most `cap` bytes that ends on a character boundary, and
/// whether anything was cut.
fn cut_to_cap(s: &str, cap: usize) -> (&str, bool) {
    if s.len() <= cap {
        return (s, false);
    }
    let mut end = cap;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// One paragraph per line of `text`, separated by blank lines. [`html_to_text`] puts a blank
/// line around paragraph elements but a single line break after `<div>`, `<li>` or `<br>`; in
/// an article each of those lines is a paragraph of its own.
fn paragraphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests;
