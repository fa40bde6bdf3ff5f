//! The matching engine: the query language and the compiled set of all watches.
//!
//! - [`query`]: parses `query = "..."` and `terms` entries into [`Expr`] / [`TermSpec`].
//! - [`watchset`]: compiles every watch into one automaton; [`WatchSet::matches`] scans an item
//!   once and returns each matching watch with its [`Hit`]s.
//! - [`snippet`]: the ~200-character excerpt around the first hit, with hits marked.
//!
//! Text is folded by [`crate::text::fold`] on both sides (terms and items) so that matching is
//! case-, diacritic- and punctuation-insensitive while hits still point into the original text.

pub mod query;
pub mod snippet;
pub mod watchset;

pub use query::{Expr, Field, FieldMask, QueryError, TermKind, TermSpec, parse_query, parse_term};
pub use snippet::Snippet;
pub use watchset::{
    CompileError, Condition, FeedRef, FeedScope, HIT_CAP, Hit, Match, Scratch, WatchSet, WatchSpec,
};
