//! The item archive: the text of every new item a poll found, kept for `[daemon] archive`
//! (14 days by default) so `newswatch backtest` can re-run watches over it exactly.
//!
//! Owns [`ArchiveKeep`] (the parsed setting), [`ArchivedItem`], [`ArchiveRecord`] (one poll's
//! new items, encoded and zstd-compressed, as [`crate::store::PollCommit`] carries it into the
//! same transaction as the seen keys), [`ArchiveRow`] (a stored record read back) and
//! [`ArchiveDecoder`]. The encoding holds exactly the fields the matcher and an alert read
//! (key, title, link, published, summary, content, categories, authors, the page's body)
//! plus whether the daemon judged the item at all (a baselined backlog is archived but was
//! never alertable) and, where a semantic watch read it, the item's vector with the model
//! that made it (so a backtest of semantic watches embeds nothing the daemon embedded).
//!
//! One record per poll, not per item: every item of a poll shares its first-seen time (what
//! `--since` and the prune select on), and compressing a poll's items together lets zstd
//! reuse what they share (feed boilerplate, recurring phrases). README "Item archive" has the
//! measured sizes.

use std::time::Duration;

use chrono::{DateTime, Utc};

use std::sync::Arc;

use crate::feed::{FeedItem, ItemKey};
use crate::semantic::score::ItemVector;
use crate::store::Millis;

/// How long archived items are kept: `[daemon] archive`, a duration or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKeep {
    /// Nothing is archived, and the prune removes what an earlier setting kept.
    Off,
    /// Items are kept this long after they were first seen.
    For(Duration),
}

impl Default for ArchiveKeep {
    fn default() -> Self {
        ArchiveKeep::For(Duration::from_secs(14 * 24 * 3600))
    }
}

impl ArchiveKeep {
    /// `"off"`, or a duration like `"14d"`, `"336h"`, `"2weeks"`.
    pub fn parse(s: &str) -> Result<ArchiveKeep, String> {
        let s = s.trim();
        if s == "off" {
            return Ok(ArchiveKeep::Off);
        }
        match crate::config::duration::parse_duration(s) {
            Ok(d) if d.is_zero() => Err("must be longer than zero (or \"off\")".into()),
            Ok(d) => Ok(ArchiveKeep::For(d)),
            Err(e) => Err(format!(
                "{e} (write a duration like \"14d\" or \"336h\", or \"off\")"
            )),
        }
    }

    pub fn is_on(self) -> bool {
        matches!(self, ArchiveKeep::For(_))
    }

    /// Records first seen before this are pruned (all of them when the archive is off).
    pub fn prune_before(self, now: Millis) -> Millis {
        match self {
            ArchiveKeep::Off => Millis::MAX,
            ArchiveKeep::For(d) => {
                now.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }
        }
    }
}

/// One archived item: what the matcher sees, and whether the daemon matched it when it was new.
#[derive(Debug, Clone)]
pub struct ArchivedItem {
    pub item: FeedItem,
    /// False for a new feed's baselined backlog: seen, never matched, so never alerted.
    pub alertable: bool,
    /// Its vector, when a semantic watch read it.
    pub vector: Option<ItemVector>,
}

/// One poll's new items, encoded and compressed, ready to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveRecord {
    pub items: u32,
    /// Length of the encoded items before compression (the decoder's buffer size).
    pub raw_len: u32,
    pub blob: Vec<u8>,
}

/// A stored record read back: which feed, when, and its compressed items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRow {
    /// Commit order: a later poll has a larger id.
    pub id: i64,
    pub feed: String,
    pub first_seen: Millis,
    pub items: u32,
    pub raw_len: u32,
    pub blob: Vec<u8>,
}

/// What the archive holds from a time on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveTotals {
    pub records: i64,
    pub items: i64,
    /// Compressed bytes (blobs only; SQLite's row overhead comes on top).
    pub bytes: i64,
    pub oldest: Option<Millis>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot compress archived items: {0}")]
    Compress(std::io::Error),
    #[error(
        "the poll's new items take {bytes} bytes, more than an archive record holds ({MAX_RAW})"
    )]
    TooLarge { bytes: usize },
    #[error("archive record {id} of feed {feed}: cannot decompress: {source}")]
    Decompress {
        id: i64,
        feed: String,
        source: std::io::Error,
    },
    #[error("archive record {id} of feed {feed}: damaged ({what})")]
    Damaged {
        id: i64,
        feed: String,
        what: &'static str,
    },
    #[error("archive record {id} of feed {feed}: written by a newer newswatch (format {version})")]
    Version { id: i64, feed: String, version: u8 },
}

/// Format of the encoded items; a reader refuses what it does not know. Format 2 added the
/// item vector (flag 16); format 1 records, which never carry one, read the same.
const FORMAT: u8 = 2;
const FORMATS: [u8; 2] = [1, 2];
/// The longest vector read back (a damaged length must not allocate): sentence models make
/// 384 to 1,024 dimensions.
const MAX_DIMENSIONS: usize = 16_384;
/// zstd level: 3 is zstd's default, fast on the daemon's write path (a poll's few new items
/// compress in microseconds); higher levels gained little on news text (README).
const LEVEL: i32 = 3;
/// Encoded records larger than this are refused on read (a damaged length must not allocate
/// gigabytes): far above any real poll (the body cap is 16 MiB of feed).
const MAX_RAW: u32 = 256 * 1024 * 1024;

/// Encode and compress one poll's new items, with their vectors (`vectors` beside `items`, or
/// empty). `None` when there are none.
pub fn encode(
    items: &[(&FeedItem, bool)],
    vectors: &[Option<&ItemVector>],
) -> Result<Option<ArchiveRecord>, ArchiveError> {
    encode_within(items, vectors, MAX_RAW as usize)
}

/// [`encode`], refusing records of more than `max` bytes before compression.
fn encode_within(
    items: &[(&FeedItem, bool)],
    vectors: &[Option<&ItemVector>],
    max: usize,
) -> Result<Option<ArchiveRecord>, ArchiveError> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut raw = Vec::with_capacity(1024 * items.len());
    raw.push(FORMAT);
    for (i, (it, alertable)) in items.iter().enumerate() {
        encode_item(&mut raw, it, *alertable, vectors.get(i).copied().flatten());
    }
    // What a reader refuses is never written: one such record failed every backtest over it.
    if raw.len() > max {
        return Err(ArchiveError::TooLarge { bytes: raw.len() });
    }
    let blob = zstd::bulk::compress(&raw, LEVEL).map_err(ArchiveError::Compress)?;
    Ok(Some(ArchiveRecord {
        items: u32::try_from(items.len()).unwrap_or(u32::MAX),
        raw_len: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        blob,
    }))
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Lengths are at most the body cap; u32 is ample.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_list(out: &mut Vec<u8>, v: &[String]) {
    put_len(out, v.len());
    for s in v {
        put_str(out, s);
    }
}

fn encode_item(out: &mut Vec<u8>, it: &FeedItem, alertable: bool, vector: Option<&ItemVector>) {
    let mut flags = 0u8;
    if alertable {
        flags |= 1;
    }
    if it.link.is_some() {
        flags |= 2;
    }
    if it.published.is_some() {
        flags |= 4;
    }
    if !it.body.is_empty() {
        flags |= 8;
    }
    if vector.is_some() {
        flags |= 16;
    }
    out.push(flags);
    put_str(out, &it.key.0);
    put_str(out, &it.title);
    if let Some(l) = &it.link {
        put_str(out, l);
    }
    if let Some(p) = it.published {
        out.extend_from_slice(&p.timestamp().to_le_bytes());
        out.extend_from_slice(&p.timestamp_subsec_nanos().to_le_bytes());
    }
    put_str(out, &it.summary);
    put_str(out, &it.content);
    put_list(out, &it.categories);
    put_list(out, &it.authors);
    // Last, so records written before pages were fetched read the same.
    if !it.body.is_empty() {
        put_str(out, &it.body);
    }
    if let Some(v) = vector {
        put_str(out, &v.model);
        put_len(out, v.values.len());
        for x in &v.values {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Reads records back; keeps its buffers between records (the backtest's inner loop).
#[derive(Default)]
pub struct ArchiveDecoder {
    raw: Vec<u8>,
    dec: Option<zstd::bulk::Decompressor<'static>>,
}

impl ArchiveDecoder {
    /// Decompress and decode `row`, appending its items to `out`.
    pub fn decode(
        &mut self,
        row: &ArchiveRow,
        out: &mut Vec<ArchivedItem>,
    ) -> Result<(), ArchiveError> {
        let damaged = |what| ArchiveError::Damaged {
            id: row.id,
            feed: row.feed.clone(),
            what,
        };
        if row.raw_len > MAX_RAW {
            return Err(damaged("length out of range"));
        }
        let dec = match &mut self.dec {
            Some(d) => d,
            None => self
                .dec
                .insert(zstd::bulk::Decompressor::new().map_err(|source| {
                    ArchiveError::Decompress {
                        id: row.id,
                        feed: row.feed.clone(),
                        source,
                    }
                })?),
        };
        self.raw.clear();
        self.raw.reserve(row.raw_len as usize);
        let n = dec
            .decompress_to_buffer(&row.blob, &mut self.raw)
            .map_err(|source| ArchiveError::Decompress {
                id: row.id,
                feed: row.feed.clone(),
                source,
            })?;
        if n != row.raw_len as usize {
            return Err(damaged("length differs"));
        }
        let mut r = Reader(&self.raw);
        match r.u8() {
            Some(f) if FORMATS.contains(&f) => {}
            Some(version) => {
                return Err(ArchiveError::Version {
                    id: row.id,
                    feed: row.feed.clone(),
                    version,
                });
            }
            None => return Err(damaged("empty")),
        }
        // The row's count comes from the database: trusted for the reservation only as far
        // as the bytes could hold (an item takes more than 8), so a damaged count never
        // asks for more memory than the record's own size.
        out.reserve((row.items as usize).min(self.raw.len() / 8));
        while !r.0.is_empty() {
            out.push(r.item().ok_or_else(|| damaged("truncated item"))?);
        }
        Ok(())
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        // Written from a `String`: valid UTF-8 unless the blob was damaged.
        String::from_utf8(b.to_vec()).ok()
    }
    fn list(&mut self) -> Option<Vec<String>> {
        let n = self.u32()? as usize;
        // Each entry takes at least 4 bytes: a damaged count must not allocate.
        if n > self.0.len() / 4 {
            return None;
        }
        (0..n).map(|_| self.string()).collect()
    }
    fn item(&mut self) -> Option<ArchivedItem> {
        let flags = self.u8()?;
        let key = ItemKey(self.string()?);
        let title = self.string()?;
        let link = if flags & 2 != 0 {
            Some(self.string()?)
        } else {
            None
        };
        let published = if flags & 4 != 0 {
            let secs = self.i64()?;
            let nanos = self.u32()?;
            Some(DateTime::<Utc>::from_timestamp(secs, nanos)?)
        } else {
            None
        };
        let summary = self.string()?;
        let content = self.string()?;
        let categories = self.list()?;
        let authors = self.list()?;
        let body = if flags & 8 != 0 {
            self.string()?
        } else {
            String::new()
        };
        let vector = if flags & 16 != 0 {
            let model = Arc::from(self.string()?);
            let n = self.u32()? as usize;
            if n > MAX_DIMENSIONS {
                return None;
            }
            let bytes = self.take(n * 4)?;
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Some(ItemVector { model, values })
        } else {
            None
        };
        Some(ArchivedItem {
            item: FeedItem {
                key,
                title,
                link,
                published,
                summary,
                content,
                categories,
                authors,
                body,
            },
            alertable: flags & 1 != 0,
            vector,
        })
    }
}

#[cfg(test)]
mod tests;
