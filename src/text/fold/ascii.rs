//! The ASCII fast path of folding: byte tables and eight bytes at a time (SWAR).
//!
//! Used by the folding loop in the parent module; nothing here leaves `text::fold`.

/// ASCII byte → folded byte, 0 for separators (with case folding).
pub(super) const ASCII_FOLD: [u8; 128] = ascii_table(true);
/// ASCII byte → folded byte, 0 for separators (case kept).
pub(super) const ASCII_KEEP: [u8; 128] = ascii_table(false);

const fn ascii_table(lower: bool) -> [u8; 128] {
    let mut t = [0u8; 128];
    let mut b = 0u8;
    while b < 128 {
        t[b as usize] = match b {
            b'A'..=b'Z' if lower => b + 32,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => b,
            _ => 0,
        };
        b += 1;
    }
    t
}

use crate::text::swar::bytes_ge;
pub(super) use crate::text::swar::{HIGH, rep};

/// Folds 8 ASCII bytes at once: returns the bytes with letters lowercased
/// (if `FOLD_CASE`) and the word mask (high bit set on letters and digits).
#[inline(always)]
pub(super) const fn swar_fold<const FOLD_CASE: bool>(x: u64) -> (u64, u64) {
    let y = x | rep(0x20); // lowercase letters, other bytes garbage
    let letter = bytes_ge(y, b'a') & !bytes_ge(y, b'z' + 1);
    let digit = bytes_ge(x, b'0') & !bytes_ge(x, b'9' + 1);
    // letter >> 2 moves each letter's high bit to its 0x20 bit.
    let folded = if FOLD_CASE { x | (letter >> 2) } else { x };
    (folded, letter | digit)
}

/// Length of the all-ASCII prefix of `bytes`.
#[inline]
pub(super) fn ascii_prefix_len(bytes: &[u8]) -> usize {
    // 16 bytes at a time: `<[u8]>::is_ascii` checks whole words.
    let mut n = 0;
    for chunk in bytes.chunks_exact(16) {
        if !chunk.is_ascii() {
            break;
        }
        n += 16;
    }
    n + bytes
        .get(n..)
        .map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii()).count())
}
