//! A body that is gzip-compressed without saying so: served as `application/gzip` or
//! `application/octet-stream` with no `Content-Encoding`, or compressed twice (the client
//! undoes the layer the header names). Before, such a feed failed at every poll with "not a
//! feed: no root element", which named nothing of the cause.
//!
//! Owns [`gunzip_unlabelled`], applied by [`crate::feed::fetch`] to every feed body (HTTP and
//! file); bytes in, bytes out, under the same `max_body_size` cap as the download.

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
    let mut out = Vec::new();
    // One byte past the limit tells "at the limit" from "over it".
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| {
            FetchError::Network(format!(
                "the body is gzip-compressed (with no Content-Encoding saying so) and cannot be \
                 decompressed: {e}"
            ))
        })?;
    if out.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit });
    }
    Ok(out)
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
}
