//! Text processing shared by ingestion and matching.
//!
//! - [`article`]: a web page → the plain text of its main article (Readability-style).
//! - [`html`]: HTML → plain text, entity decoding.
//! - [`fold`]: the matching fold (NFKC, case fold, diacritics, separators) with a map back to
//!   the original bytes.
//! - [`mojibake`]: undoing double-encoded UTF-8 (`Ã©` → `é`) in whole fields.
//! - [`proclitic`]: Arabic and Hebrew proclitics (و, ב...) as places a term may start in a word.
//! - [`script`]: character classes for word boundaries (unspaced scripts, Hangul).
//! - `swar`: byte masks over eight bytes at a time, for the ASCII fast paths of the above.

pub mod article;
pub mod fold;
pub mod html;
pub mod mojibake;
pub mod proclitic;
pub mod script;
mod swar;
