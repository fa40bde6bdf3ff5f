//! Content codings the HTTP client leaves undone, and a body gzip-compressed without saying so.
//!
//! The client undoes one coding it advertised (gzip, br, zstd) when the response names only
//! that one. Left to this module:
//! - `Content-Encoding: deflate`, which old IIS and some CMS plugins send unasked, as a zlib
//!   stream (RFC 9110) or as raw deflate (what those servers actually send); the client only
//!   knew the first, and a feed served raw failed at every poll with "error reading the body";
//! - codings stacked (`deflate, gzip`), undone in reverse order of listing;
//! - a body gzip-compressed with no `Content-Encoding` (served as `application/gzip` or
//!   `application/octet-stream`), or compressed twice: before, such a feed failed with "not a
//!   feed: no root element", which named nothing of the cause.
//!
//! Owns [`undo_listed`] and [`gunzip_unlabelled`], applied by [`crate::feed::fetch`] to every
//! body; bytes in, bytes out, the decompressed size capped at `max_body_size` like a download.

use std::io::Read;

use crate::feed::fetch::FetchError;

/// gzip's magic bytes and its only compression method (deflate).
const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// `bytes` decompressed when they are a gzip stream (no feed, XML or JSON, starts with its
/// magic bytes), else unchanged. The decompressed size is capped at `limit` like a download;
/// a stream that cannot be decompressed is an error that says so.
pub fn gunzip_unlabelled(bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, FetchError> {
    if !bytes.starts_with(&MAGIC) {
        return Ok(bytes);
    }
    match capped(flate2::read::MultiGzDecoder::new(bytes.as_slice()), limit) {
        Inflated::Done(out) => Ok(out),
        Inflated::TooLarge(_) => Err(FetchError::TooLarge { limit }),
        Inflated::Failed(e, _) => Err(FetchError::Network(format!(
            "the body is gzip-compressed (with no Content-Encoding saying so) and cannot be \
             decompressed: {e}"
        ))),
    }
}

/// `bytes` with the codings a `Content-Encoding` header lists undone, last listed first.
///
/// Only what the client left is here: the header is gone when it decoded the body. `gzip` is
/// undone where the bytes are gzip (a server that says gzip and sends plain text is believed
/// by its bytes); `deflate` as zlib or raw deflate, whichever the bytes are. Other names
/// (`identity`, `utf-8` from a misconfigured server, `br` stacked) leave the bytes as they are:
/// a plain body under a wrong label still reads, and a compressed one fails at parsing.
///
/// `whole` is false for an article page cut at its start: what inflates before the cut is
/// kept, and what inflates past `limit` (the page's read, not the body cap) is cut there, as
/// the page's start is all extraction reads.
pub fn undo_listed(
    mut bytes: Vec<u8>,
    content_encoding: Option<&str>,
    limit: u64,
    whole: bool,
) -> Result<Vec<u8>, FetchError> {
    let Some(listed) = content_encoding else {
        return Ok(bytes);
    };
    for coding in listed.rsplit(',').map(str::trim) {
        let gzip = coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip");
        let deflate = coding.eq_ignore_ascii_case("deflate");
        let inflated = if gzip && bytes.starts_with(&MAGIC) {
            capped(flate2::read::MultiGzDecoder::new(bytes.as_slice()), limit)
        } else if deflate && is_zlib(&bytes) {
            capped(flate2::read::ZlibDecoder::new(bytes.as_slice()), limit)
        } else if deflate {
            capped(flate2::read::DeflateDecoder::new(bytes.as_slice()), limit)
        } else {
            continue;
        };
        bytes = match inflated {
            // Said compressed, sent as it is: read as it is. A plain body rarely inflates at
            // all, but `{` then a line break and spaces (pretty-printed JSON) is a whole raw
            // deflate stream of one garbage byte: what reads as a feed wins.
            Inflated::Done(out) if looks_plain(&bytes) && !looks_plain(&out) => bytes,
            Inflated::Done(out) => out,
            // An article page is read to its start only: the rest is not wanted.
            Inflated::TooLarge(mut out) if !whole => {
                out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                out
            }
            Inflated::TooLarge(_) => return Err(FetchError::TooLarge { limit }),
            Inflated::Failed(..) if looks_plain(&bytes) => bytes,
            Inflated::Failed(_, part) if !whole => part,
            Inflated::Failed(e, _) => {
                return Err(FetchError::Network(format!(
                    "the body is compressed as `{coding}` (its Content-Encoding) and cannot be \
                     decompressed: {e}"
                )));
            }
        };
    }
    Ok(bytes)
}

/// A zlib stream's two-byte header (RFC 1950): method 8, a window of at most 32 KiB, no preset
/// dictionary, and the check bits that make it a multiple of 31. Raw deflate rarely passes it.
fn is_zlib(b: &[u8]) -> bool {
    match b {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && flg & 0x20 == 0
                && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// A feed or page as it is: markup or JSON after white space or a byte order mark.
fn looks_plain(b: &[u8]) -> bool {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    matches!(
        b.iter().find(|c| !c.is_ascii_whitespace()),
        Some(b'<' | b'{')
    )
}

/// What a decoder gave.
enum Inflated {
    Done(Vec<u8>),
    /// More than the limit (a bomb, or a body too large once decompressed): its first
    /// `limit + 1` bytes.
    TooLarge(Vec<u8>),
    /// A stream broken or cut, with what came before the fault.
    Failed(std::io::Error, Vec<u8>),
}

fn capped(decoder: impl Read, limit: u64) -> Inflated {
    let mut out = Vec::new();
    // One byte past the limit tells "at the limit" from "over it".
    if let Err(e) = decoder.take(limit.saturating_add(1)).read_to_end(&mut out) {
        return Inflated::Failed(e, out);
    }
    if out.len() as u64 > limit {
        return Inflated::TooLarge(out);
    }
    Inflated::Done(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_gzip_body_is_decompressed_and_others_are_left_alone() {
        let feed = b"<rss version=\"2.0\"><channel><title>t</title></channel></rss>".to_vec();
        assert_eq!(gunzip_unlabelled(gzip(&feed), 1 << 20).unwrap(), feed);
        // Twice compressed, once undone by the client: the rest here.
        assert_eq!(
            gunzip_unlabelled(gzip(&gzip(&feed)), 1 << 20)
                .and_then(|once| gunzip_unlabelled(once, 1 << 20))
                .unwrap(),
            feed
        );
        assert_eq!(gunzip_unlabelled(feed.clone(), 1 << 20).unwrap(), feed);
        assert_eq!(gunzip_unlabelled(Vec::new(), 1).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn a_gzip_bomb_is_capped_and_a_broken_stream_is_named() {
        let bomb = gzip(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 100_000);
        assert!(matches!(
            gunzip_unlabelled(bomb, 1 << 20),
            Err(FetchError::TooLarge { limit: 1_048_576 })
        ));
        let mut broken = gzip(b"<rss/>");
        broken.truncate(12);
        let e = gunzip_unlabelled(broken, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("gzip-compressed"), "{e}");
    }

    fn deflate_raw(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const FEED: &[u8] = b"<rss version=\"2.0\"><channel><title>t</title></channel></rss>";

    /// Regression: `Content-Encoding: deflate` as raw deflate (old IIS) failed every poll with
    /// "error reading the body": the client's decoder read zlib only.
    #[test]
    fn deflate_is_read_raw_or_zlib() {
        for (name, body) in [("raw", deflate_raw(FEED)), ("zlib", zlib(FEED))] {
            assert_eq!(
                undo_listed(body, Some("deflate"), 1 << 20, true).unwrap(),
                FEED,
                "{name}"
            );
        }
        assert!(is_zlib(&zlib(b"x")) && !is_zlib(&deflate_raw(FEED)) && !is_zlib(b"x"));
    }

    /// Regression: stacked codings (`deflate, gzip`: deflated, then gzipped) are left whole
    /// by the client, which decodes a single coding only; the feed failed.
    #[test]
    fn stacked_codings_are_undone_last_first() {
        let body = gzip(&deflate_raw(FEED));
        assert_eq!(
            undo_listed(body.clone(), Some("deflate, gzip"), 1 << 20, true).unwrap(),
            FEED
        );
        assert_eq!(
            undo_listed(body, Some(" Deflate ,X-GZIP "), 1 << 20, true).unwrap(),
            FEED
        );
        let body = deflate_raw(&gzip(FEED));
        assert_eq!(
            undo_listed(body, Some("gzip,deflate"), 1 << 20, true).unwrap(),
            FEED
        );
    }

    #[test]
    fn a_plain_body_under_a_wrong_label_is_read_as_it_is() {
        for label in [
            "deflate",
            "gzip",
            "deflate, gzip",
            "utf-8",
            "identity",
            "br",
            "",
        ] {
            assert_eq!(
                undo_listed(FEED.to_vec(), Some(label), 1 << 20, true).unwrap(),
                FEED,
                "{label}"
            );
        }
        let json = b"\xef\xbb\xbf\n {\"version\": \"https://jsonfeed.org/version/1.1\"}".to_vec();
        assert_eq!(
            undo_listed(json.clone(), Some("deflate"), 1 << 20, true).unwrap(),
            json
        );
        assert_eq!(
            undo_listed(FEED.to_vec(), None, 1 << 20, true).unwrap(),
            FEED
        );
        // Regression (review): `{`, a line break and spaces is a whole raw deflate stream
        // (one byte): pretty-printed JSON under a deflate label was read as that byte.
        for indent in ["  ", "    ", " "] {
            let pretty =
                format!("{{\n{indent}\"version\": \"https://jsonfeed.org/version/1.1\"\n}}");
            assert_eq!(
                undo_listed(pretty.clone().into_bytes(), Some("deflate"), 1 << 20, true).unwrap(),
                pretty.as_bytes(),
                "{indent:?}"
            );
        }
    }

    #[test]
    fn a_deflate_bomb_is_capped_and_a_broken_stream_is_named() {
        for bomb in [
            deflate_raw(&vec![b' '; 10 << 20]),
            zlib(&vec![b' '; 10 << 20]),
        ] {
            assert!(bomb.len() < 100_000);
            assert!(matches!(
                undo_listed(bomb, Some("deflate"), 1 << 20, true),
                Err(FetchError::TooLarge { limit: 1_048_576 })
            ));
        }
        // Not deflate and not plain: said so, with the coding named.
        let e = undo_listed(vec![0xff; 64], Some("deflate"), 1 << 20, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`deflate`") && e.contains("cannot be decompressed"),
            "{e}"
        );
    }

    /// Regression (review): a page inflated past the body cap failed as too large, where the
    /// client had cut it at the page's read; it is cut at the limit given.
    #[test]
    fn a_page_inflating_past_its_read_is_cut_there() {
        let page = vec![b'x'; 5 << 20];
        let start = undo_listed(zlib(&page), Some("deflate"), 1 << 20, false).unwrap();
        assert_eq!(start.len(), 1 << 20);
    }

    /// An article page is read up to a cut: what inflates before the cut is its start.
    #[test]
    fn a_cut_page_keeps_what_inflated() {
        let page: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("<p>paragraph {i} of the article</p>").into_bytes())
            .collect();
        for body in [deflate_raw(&page), zlib(&page), gzip(&page)] {
            let cut = body[..body.len() / 2].to_vec();
            let label = if body.starts_with(&MAGIC) {
                "gzip"
            } else {
                "deflate"
            };
            let start = undo_listed(cut, Some(label), 1 << 30, false).unwrap();
            assert!(
                start.len() > 1000 && page.starts_with(&start),
                "{label}: {}",
                start.len()
            );
        }
    }
}
