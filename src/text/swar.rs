//! Eight bytes at a time in one `u64` (SWAR): the byte masks that the ASCII fast paths of
//! folding (`fold::ascii`) and of HTML→text (`html::visible`) classify text with.
//!
//! Nothing here leaves `text`.

/// High bit of each byte of a `u64`.
pub(super) const HIGH: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a `u64`.
pub(super) const fn rep(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Per byte of `x` (all bytes ASCII): high bit set where the byte is `>= lo`.
#[inline(always)]
pub(super) const fn bytes_ge(x: u64, lo: u8) -> u64 {
    // Setting each high bit first keeps the subtraction from borrowing
    // across bytes; the high bit survives iff byte >= lo.
    ((x | HIGH) - rep(lo)) & HIGH
}
