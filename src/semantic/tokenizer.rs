//! BERT's uncased WordPiece tokenizer, as the sentence-embedding models ship it (`vocab.txt`):
//! text → token ids `[CLS] … [SEP]`, truncated to the model's limit.
//!
//! The steps follow the reference `BertTokenizer` (`do_lower_case`, `tokenize_chinese_chars`):
//! drop control characters and map whitespace to spaces, put spaces around CJK ideographs,
//! split on whitespace, lower-case, strip accents (NFD, drop nonspacing marks), split off every
//! punctuation character, then take each word's longest vocabulary prefix, its rest as `##`
//! pieces; a word that cannot be spelled from the vocabulary becomes `[UNK]`.
//! Types crossing the boundary: [`Tokenizer`], [`VocabError`].

use std::collections::HashMap;

use icu_normalizer::DecomposingNormalizerBorrowed;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointMapDataBorrowed};

const NFD: DecomposingNormalizerBorrowed<'static> = DecomposingNormalizerBorrowed::new_nfd();
const GC: CodePointMapDataBorrowed<'static, GeneralCategory> =
    CodePointMapData::<GeneralCategory>::new();

/// Words longer than this (in characters) are `[UNK]` without a lookup, as in the reference.
const MAX_WORD_CHARS: usize = 100;

/// What is wrong with a vocabulary file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VocabError {
    #[error("the vocabulary has no {0} token")]
    MissingSpecial(&'static str),
    #[error("the vocabulary is empty")]
    Empty,
}

/// A WordPiece vocabulary and the special tokens' ids.
#[derive(Debug)]
pub struct Tokenizer {
    ids: HashMap<String, u32>,
    cls: u32,
    sep: u32,
    unk: u32,
}

impl Tokenizer {
    /// Reads `vocab.txt`: one token a line, its id the line number from 0.
    pub fn from_vocab(text: &str) -> Result<Self, VocabError> {
        let mut ids = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            // A token is the whole line (tokens never hold spaces); keep the first of duplicates.
            let id = u32::try_from(n).unwrap_or(u32::MAX);
            ids.entry(line.trim_end_matches('\r').to_owned())
                .or_insert(id);
        }
        if ids.is_empty() {
            return Err(VocabError::Empty);
        }
        let special = |name: &'static str| {
            ids.get(name)
                .copied()
                .ok_or(VocabError::MissingSpecial(name))
        };
        Ok(Self {
            cls: special("[CLS]")?,
            sep: special("[SEP]")?,
            unk: special("[UNK]")?,
            ids,
        })
    }

    /// How many tokens the vocabulary holds (its largest id plus one).
    pub fn len(&self) -> usize {
        self.ids.values().max().map_or(0, |&m| m as usize + 1)
    }

    /// Whether the vocabulary is empty (never, once read: [`Tokenizer::from_vocab`] refuses it).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Token ids of `text`, `[CLS]` first and `[SEP]` last, at most `max_len` in all
    /// (the text's tokens past the limit are dropped, as the models were trained).
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(64.min(max_len));
        out.push(self.cls);
        let room = max_len.saturating_sub(2);
        let mut word = String::new();
        let mut pieces = Vec::new();
        'words: for raw in basic_words(text) {
            word.clear();
            word.push_str(&raw);
            pieces.clear();
            self.wordpiece(&word, &mut pieces);
            for &id in &pieces {
                if out.len() > room {
                    break 'words;
                }
                out.push(id);
            }
        }
        out.push(self.sep);
        out
    }

    /// Greedy longest-match-first WordPiece of one word into `out`.
    fn wordpiece(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let start_len = out.len();
        let mut start = 0;
        let mut candidate = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[start..end]);
                if let Some(&id) = self.ids.get(candidate.as_str()) {
                    found = Some(id);
                    break;
                }
                // Step back one character, not one byte.
                end = word[..end]
                    .char_indices()
                    .next_back()
                    .map_or(start, |(i, _)| i);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(start_len);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// The basic tokenizer: cleaned, lower-cased, accent-stripped words with punctuation split off.
fn basic_words(text: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        let cp = u32::from(c);
        if cp == 0 || cp == 0xFFFD || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            spaced.push(' ');
        } else if is_cjk(cp) {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    let mut words = Vec::new();
    for token in spaced.split(' ').filter(|t| !t.is_empty()) {
        let lowered = token.to_lowercase();
        let mut current = String::new();
        for c in NFD.normalize(&lowered).chars() {
            if GC.get(c) == GeneralCategory::NonspacingMark {
                continue;
            }
            if is_punctuation(c) {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                words.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    words
}

/// Whitespace as BERT's tokenizers split on it: Python's `str.split()` (and the Rust
/// `tokenizers`' `char::is_whitespace`) also split at the line and paragraph separators
/// U+2028/U+2029, which CMS and JSON-derived feed text carry.
fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
        || matches!(
            GC.get(c),
            GeneralCategory::SpaceSeparator
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

fn is_control(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    // Every "other" category, as BERT's `_is_control` (`category.startswith("C")`): private
    // use (icon-font glyphs) and unassigned code points are dropped too.
    matches!(
        GC.get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
    )
}

fn is_punctuation(c: char) -> bool {
    let cp = u32::from(c);
    // All non-alphanumeric ASCII counts ("$", "^", "`" are not Unicode punctuation).
    if (33..=47).contains(&cp)
        || (58..=64).contains(&cp)
        || (91..=96).contains(&cp)
        || (123..=126).contains(&cp)
    {
        return true;
    }
    GeneralCategoryGroup::Punctuation.contains(GC.get(c))
}

fn is_cjk(cp: u32) -> bool {
    matches!(cp,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Tokenizer {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nnorth\nkorean\ntroops\nkur\n##sk\n,\n'\ns\ncafe\n中\n国\n##s\n.\n";
        Tokenizer::from_vocab(vocab).unwrap()
    }

    #[test]
    fn words_are_lowered_split_on_punctuation_and_wordpieced() {
        let t = tiny();
        assert_eq!(
            t.encode("North Korean troops, Kursk.", 64),
            vec![2, 4, 5, 6, 9, 7, 8, 16, 3]
        );
    }

    #[test]
    fn accents_are_stripped_and_cjk_split_into_characters() {
        let t = tiny();
        assert_eq!(t.encode("Café 中国", 64), vec![2, 12, 13, 14, 3]);
    }

    #[test]
    fn a_word_the_vocabulary_cannot_spell_is_one_unknown_token() {
        let t = tiny();
        // "kurx": "kur" matches, "##x" does not → the whole word is [UNK].
        assert_eq!(t.encode("kurx troops", 64), vec![2, 1, 6, 3]);
    }

    #[test]
    fn the_limit_counts_cls_and_sep() {
        let t = tiny();
        let ids = t.encode("north korean troops north korean troops", 5);
        assert_eq!(ids, vec![2, 4, 5, 6, 3]);
    }

    #[test]
    fn control_characters_vanish_and_odd_whitespace_separates() {
        let t = tiny();
        assert_eq!(
            t.encode("north\u{200B}\u{0007}\u{00A0}korean", 64),
            vec![2, 4, 5, 3]
        );
    }

    /// Regression: U+2028/U+2029 stayed inside a word ("north\u{2028}korean" was one [UNK]),
    /// and private-use and unassigned characters made [UNK]s, where BERT's tokenizers
    /// split at the first and drop the others.
    #[test]
    fn line_separators_split_and_every_other_category_vanishes() {
        let t = tiny();
        assert_eq!(
            t.encode("north\u{2028}korean\u{2029}troops", 64),
            vec![2, 4, 5, 6, 3]
        );
        assert_eq!(
            t.encode("\u{E001}north \u{0378}korean\u{F8FF}", 64),
            vec![2, 4, 5, 3]
        );
    }

    #[test]
    fn a_vocabulary_without_special_tokens_is_refused() {
        assert_eq!(
            Tokenizer::from_vocab("[PAD]\n[CLS]\n[SEP]\n").unwrap_err(),
            VocabError::MissingSpecial("[UNK]")
        );
        assert_eq!(Tokenizer::from_vocab("").unwrap_err(), VocabError::Empty);
    }
}
