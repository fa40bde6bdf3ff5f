//! The two quality figures of article extraction, computed from an extracted text and the
//! expected main text of the same page.
//!
//! Definitions (the README quotes them):
//! - **Normalized form** of a text: every maximal run of Unicode alphanumeric characters is a
//!   word, lowercased; words are joined by single spaces. Punctuation, markup leftovers, case
//!   and whitespace differences therefore never decide a match.
//! - **Sentence**: a piece of a line of text ending at `.`, `!`, `?`, `…`, `;` or `:` followed
//!   by whitespace, at a CJK/Arabic full stop or question/exclamation mark (`。！？؟`), or at the
//!   end of the line; it counts only when its normalized form holds at least
//!   [`MIN_SENTENCE_CHARS`] alphanumeric characters (shorter pieces such as "1." or "AP" would
//!   match anywhere by accident).
//! - A sentence of the expected text is **kept** when its normalized form occurs in the
//!   normalized extracted text, on word boundaries. **Kept share** = kept expected sentences /
//!   all expected sentences.
//! - A sentence of the extracted text is **boilerplate** when its normalized form does not occur
//!   in the normalized expected text, on word boundaries. **Boilerplate share** = alphanumeric
//!   characters of boilerplate sentences / alphanumeric characters of all extracted sentences.
//!
//! Overall figures pool all pages (sums of sentences and characters), so a long page weighs
//! more than a short one; the per-page table shows where each figure comes from.

/// Sentences shorter than this (in alphanumeric characters) are not counted.
pub const MIN_SENTENCE_CHARS: usize = 8;

/// Figures of one page (or of several pooled).
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub expected_sentences: usize,
    pub kept_sentences: usize,
    pub extracted_chars: usize,
    pub boilerplate_chars: usize,
}

impl Score {
    pub fn kept_share(&self) -> f64 {
        if self.expected_sentences == 0 {
            1.0
        } else {
            self.kept_sentences as f64 / self.expected_sentences as f64
        }
    }

    pub fn boilerplate_share(&self) -> f64 {
        if self.extracted_chars == 0 {
            0.0
        } else {
            self.boilerplate_chars as f64 / self.extracted_chars as f64
        }
    }

    pub fn add(&mut self, o: &Score) {
        self.expected_sentences += o.expected_sentences;
        self.kept_sentences += o.kept_sentences;
        self.extracted_chars += o.extracted_chars;
        self.boilerplate_chars += o.boilerplate_chars;
    }
}

/// Scores `extracted` against `expected`.
pub fn score(extracted: &str, expected: &str) -> Score {
    let doc_out = padded(&normalize(extracted));
    let doc_exp = padded(&normalize(expected));
    let mut s = Score::default();
    for sent in sentences(expected) {
        s.expected_sentences += 1;
        if doc_out.contains(&padded(&sent)) {
            s.kept_sentences += 1;
        }
    }
    for sent in sentences(extracted) {
        let chars = alnum_chars(&sent);
        s.extracted_chars += chars;
        if !doc_exp.contains(&padded(&sent)) {
            s.boilerplate_chars += chars;
        }
    }
    s
}

/// The sentences of `extracted` that are boilerplate (for looking into a page's figure).
pub fn boilerplate_sentences(extracted: &str, expected: &str) -> Vec<String> {
    sentences_not_in(extracted, expected)
}

/// The sentences of `expected` that `extracted` lost (for looking into a page's figure).
pub fn missing_sentences(extracted: &str, expected: &str) -> Vec<String> {
    sentences_not_in(expected, extracted)
}

/// The sentences of `text` whose normalized form does not occur in `other`.
fn sentences_not_in(text: &str, other: &str) -> Vec<String> {
    let other = padded(&normalize(other));
    sentences(text)
        .into_iter()
        .filter(|s| !other.contains(&padded(s)))
        .collect()
}

/// The sentences of `text` that count, in normalized form.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
            let ends = match c {
                '.' | '!' | '?' | '…' | ';' | ':' => next_is_space,
                '。' | '！' | '？' | '؟' => true,
                _ => false,
            };
            if ends {
                let end = i + c.len_utf8();
                push_sentence(&line[start..end], &mut out);
                start = end;
            }
        }
        push_sentence(&line[start..], &mut out);
    }
    out
}

fn push_sentence(piece: &str, out: &mut Vec<String>) {
    let n = normalize(piece);
    if alnum_chars(&n) >= MIN_SENTENCE_CHARS {
        out.push(n);
    }
}

/// Lowercased alphanumeric words joined by single spaces.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if !in_word && !out.is_empty() {
                out.push(' ');
            }
            out.extend(c.to_lowercase());
            in_word = true;
        } else {
            in_word = false;
        }
    }
    out
}

fn alnum_chars(normalized: &str) -> usize {
    normalized.chars().filter(|c| *c != ' ').count()
}

fn padded(s: &str) -> String {
    format!(" {s} ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_terminators_and_ignore_short_pieces() {
        let s = sentences(
            "First sentence here. Second one! AP.\n最初の文はここにあります。短い文。次の文もここにあります。",
        );
        assert_eq!(
            s,
            vec![
                "first sentence here",
                "second one",
                "最初の文はここにあります",
                "次の文もここにあります"
            ]
        );
    }

    #[test]
    fn score_counts_kept_sentences_and_boilerplate_chars() {
        let expected = "The minister resigned on Monday. Nobody expected it.";
        let extracted = "The minister  RESIGNED on Monday!\n\nSubscribe to our newsletter.";
        let s = score(extracted, expected);
        assert_eq!((s.expected_sentences, s.kept_sentences), (2, 1));
        // "the minister resigned on monday": 27; "subscribe to our newsletter": 24.
        assert_eq!(s.extracted_chars, 27 + 24);
        assert_eq!(s.boilerplate_chars, 24);
    }
}
