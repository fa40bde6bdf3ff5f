//! Boilerplate that the extractor lets through, removed paragraph by paragraph.
//!
//! Readability keeps whatever sits inside the article's container: share buttons, "Advertisement"
//! labels, newsletter and cookie boxes, "related stories" lists. A paragraph is dropped when it
//! is short (at most [`MAX_BOILERPLATE_CHARS`]) and matches one of [`PATTERNS`] as a whole,
//! ignoring case; long paragraphs are always kept, so a story *about* cookies or newsletters
//! keeps its text.

/// Longest paragraph, in characters, that may be dropped as boilerplate.
pub(super) const MAX_BOILERPLATE_CHARS: usize = 160;

/// Whole-paragraph boilerplate, lowercase; `*` matches any run of characters.
const PATTERNS: &[&str] = &["advertisement", "advertisement*", "*advertisement"];

/// `text` (paragraphs separated by `"\n\n"`) without its boilerplate paragraphs.
pub(super) fn remove(text: &str) -> String {
    let kept: Vec<&str> = text.split("\n\n").filter(|p| !is_boilerplate(p)).collect();
    kept.join("\n\n")
}

/// True when the paragraph `p` is boilerplate.
pub(super) fn is_boilerplate(p: &str) -> bool {
    if p.chars().count() > MAX_BOILERPLATE_CHARS {
        return false;
    }
    let lower = p.trim().to_lowercase();
    PATTERNS.iter().any(|pattern| glob_match(pattern, &lower))
}

/// `*`-only glob matching.
fn glob_match(pattern: &str, s: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_whole_paragraphs() {
        assert!(glob_match("advertisement", "advertisement"));
        assert!(glob_match("share*", "share this story"));
        assert!(glob_match(
            "*newsletter*",
            "sign up for our newsletter today"
        ));
        assert!(!glob_match("share*", "the share price fell"));
        assert!(!glob_match("advertisement", "advertisements"));
    }

    #[test]
    fn long_paragraphs_are_never_boilerplate() {
        let long = format!("Advertisement {}", "spending rose sharply. ".repeat(10));
        assert!(!is_boilerplate(&long));
        assert!(is_boilerplate("  ADVERTISEMENT "));
    }
}
