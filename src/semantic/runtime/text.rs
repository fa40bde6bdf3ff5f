//! The text an item is judged by: its title and lead, cut to what the model reads, and the
//! sentences an explanation quotes from.
//!
//! Owns [`item_text`] and [`sentences`]; strings in, strings out.

use crate::feed::FeedItem;

/// The characters of an item's lead read for its vector: the model reads 256 tokens at most
/// (about 1,000 characters of English), so tokenising a 40 KB article would be wasted.
pub(super) const LEAD_CHARS: usize = 1_500;

/// The characters of an item's title read for its vector (real titles are under 200).
pub(super) const TITLE_CHARS: usize = 500;

/// The text an item is judged by: its title and lead (the summary, else the start of its
/// content).
pub fn item_text(item: &FeedItem) -> String {
    let lead = if item.summary.trim().is_empty() {
        &item.content
    } else {
        &item.summary
    };
    let lead: String = lead.chars().take(LEAD_CHARS).collect();
    // A title is a line, but a broken feed may put a whole article (or megabytes) in it.
    let title: String = item.title.trim().chars().take(TITLE_CHARS).collect();
    match (title.trim(), lead.trim()) {
        ("", l) => l.to_owned(),
        (t, "") => t.to_owned(),
        (t, l) if t.ends_with(['.', '!', '?']) => format!("{t} {l}"),
        (t, l) => format!("{t}. {l}"),
    }
}

/// The sentences of a text (split after `.`, `!` or `?` and a space), at most 24.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b'.' | b'!' | b'?')
            || !bytes.get(i + 1).is_some_and(u8::is_ascii_whitespace)
        {
            continue;
        }
        // "U.S. says", "J. Smith": a dot after an initial ends no sentence.
        // After the whitespace character, whatever its width (U+202F, U+3000 are not one
        // byte).
        let word_start = text[..i]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(w, c)| w + c.len_utf8());
        let word = &text[word_start..i];
        if b == b'.' && (word.chars().count() <= 1 || word.contains('.')) {
            continue;
        }
        out.push(text[start..=i].trim());
        start = i + 1;
    }
    out.push(text[start..].trim());
    out.retain(|s| s.chars().filter(|c| c.is_alphanumeric()).count() >= 3);
    out.truncate(24);
    out
}
