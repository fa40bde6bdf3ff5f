//! The fast path of the HTML-to-text pass: how much of a text is words of visible ASCII with
//! single spaces between them, which collapsing whitespace leaves as they are, so the builder
//! copies them in one go.
//!
//! Used by `TextBuilder::push_text` in the parent module; nothing here leaves `text::html`.

use crate::text::swar::{HIGH, bytes_ge};

/// The length of the words of visible ASCII at the start of `b`, with the single spaces
/// between them (not a space before or after them).
///
/// The run ends at the first byte that is not printable ASCII (`0x20..=0x7E`), or is a space
/// first in the text or right after another space; a space it ends on is left out. Eight
/// bytes are classified at once (one `u64`): a byte at a time, this search took most of the
/// HTML-to-text pass on feed prose (16 k of 20 k instructions for a 1.3 KB summary).
pub(super) fn visible_ascii_run(b: &[u8]) -> usize {
    let mut blocks = b.chunks_exact(8);
    // A space at the very start ends the run like one after a space.
    let mut prev_space = true;
    let mut at = 0;
    for block in blocks.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(block);
        let x = u64::from_le_bytes(bytes);
        // High bit per byte: printable is 0x20..=0x7E (and not above 0x7F, which `low` hides
        // from `bytes_ge`); a printable byte below 0x21 is a space. A byte that is not
        // printable ends the run whether or not it counts as a space.
        let low = x & !HIGH;
        let printable = bytes_ge(low, b' ') & !bytes_ge(low, 0x7F) & !x;
        let space = printable & !bytes_ge(low, b' ' + 1);
        let after_space = (space << 8) | if prev_space { 0x80 } else { 0 };
        let stop = (!printable | (space & after_space)) & HIGH;
        if stop != 0 {
            return without_last_space(b, at + stop.trailing_zeros() as usize / 8);
        }
        prev_space = space >> 63 != 0;
        at += 8;
    }
    let mut end = b.len();
    for (k, &c) in blocks.remainder().iter().enumerate() {
        let space = c == b' ';
        if !(b' '..=b'~').contains(&c) || (space && prev_space) {
            end = at + k;
            break;
        }
        prev_space = space;
    }
    without_last_space(b, end)
}

fn without_last_space(b: &[u8], end: usize) -> usize {
    if end > 0 && b.get(end - 1) == Some(&b' ') {
        end - 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, a byte at a time: words of `is_ascii_graphic` bytes joined by single
    /// spaces.
    fn model(b: &[u8]) -> usize {
        let mut end = 0;
        let mut i = 0;
        loop {
            let word = b[i..].iter().take_while(|c| c.is_ascii_graphic()).count();
            if word == 0 {
                return end;
            }
            end = i + word;
            match b.get(end..end + 2) {
                Some([b' ', next]) if next.is_ascii_graphic() => i = end + 1,
                _ => return end,
            }
        }
    }

    #[test]
    fn every_byte_value_in_every_position_of_a_block_ends_the_run_as_the_model_says() {
        for len in 0..=17 {
            for pos in 0..len {
                for c in 0..=255u8 {
                    let mut b = b"ab cd ef gh ij kl".to_vec();
                    b.truncate(len);
                    b[pos] = c;
                    assert_eq!(visible_ascii_run(&b), model(&b), "{b:?}");
                    if pos > 0 {
                        b[pos - 1] = b' ';
                        assert_eq!(visible_ascii_run(&b), model(&b), "{b:?}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_byte_at_a_time_definition(
            b in proptest::collection::vec(
                prop_oneof![
                    6 => proptest::char::range('a', 'z'),
                    3 => Just(' '),
                    1 => Just('\n'),
                    1 => Just('\u{7f}'),
                    1 => Just('\u{a0}'),
                    1 => Just('é'),
                    1 => Just('~'),
                    1 => Just('\u{1f}'),
                ],
                0..40,
            ).prop_map(|cs| cs.into_iter().collect::<String>().into_bytes())
        ) {
            prop_assert_eq!(visible_ascii_run(&b), model(&b));
        }
    }
}
