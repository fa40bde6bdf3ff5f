//! Unit tests of the item archive's records: encoding and decoding, vectors, older formats, damaged records.

use super::*;

fn item(n: u32, link: bool) -> FeedItem {
    FeedItem {
        link: link.then(|| format!("https://news.example/{n}")),
        published: DateTime::from_timestamp(1_700_000_000 + i64::from(n), 123_456_789),
        summary: "Résumé: ‘quoted’ text".into(),
        categories: vec!["World".into(), "Asia".into()],
        ..FeedItem::titled(
            &format!("k{n}"),
            &format!("Title {n} — North Korean troops"),
        )
    }
}

fn row(rec: ArchiveRecord) -> ArchiveRow {
    ArchiveRow {
        id: 1,
        feed: "f".into(),
        first_seen: 0,
        items: rec.items,
        raw_len: rec.raw_len,
        blob: rec.blob,
    }
}

#[test]
fn a_record_decodes_to_the_items_it_was_made_of() {
    let (a, b) = (item(1, true), item(2, false));
    let rec = encode(&[(&a, true), (&b, false)], &[]).unwrap().unwrap();
    assert_eq!(rec.items, 2);
    let mut out = Vec::new();
    ArchiveDecoder::default()
        .decode(&row(rec), &mut out)
        .unwrap();
    assert_eq!(out.len(), 2);
    for (got, (want, alertable)) in out.iter().zip([(&a, true), (&b, false)]) {
        assert_eq!(got.alertable, alertable);
        // Every field the matcher and an alert read, exactly (nanoseconds included).
        assert_eq!(
            serde_json::to_string(&got.item).unwrap(),
            serde_json::to_string(want).unwrap()
        );
        assert_eq!(got.item.published, want.published);
    }
}

/// Regression: a record over the size a reader accepts was written all the same, and every
/// backtest over it failed until the archive let it go.
#[test]
fn a_record_a_reader_would_refuse_is_not_written() {
    let a = item(1, true);
    let size = encode(&[(&a, true)], &[]).unwrap().unwrap().raw_len as usize;
    assert!(encode_within(&[(&a, true)], &[], size).unwrap().is_some());
    match encode_within(&[(&a, true)], &[], size - 1) {
        Err(ArchiveError::TooLarge { bytes }) => assert_eq!(bytes, size),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_item_vector_comes_back_exactly_with_its_model() {
    let (a, b, c) = (item(1, true), item(2, false), item(3, true));
    let v = ItemVector {
        model: Arc::from("0123456789abcdef"),
        values: vec![0.25, -1.0e-7, f32::MIN_POSITIVE, 0.1],
    };
    let rec = encode(
        &[(&a, true), (&b, false), (&c, true)],
        &[Some(&v), None, Some(&v)],
    )
    .unwrap()
    .unwrap();
    let mut out = Vec::new();
    ArchiveDecoder::default()
        .decode(&row(rec), &mut out)
        .unwrap();
    let got: Vec<_> = out.iter().map(|a| a.vector.as_ref()).collect();
    assert_eq!(got, [Some(&v), None, Some(&v)]);
    assert_eq!(out[2].item.title, c.title);
}

/// `rec` with its encoded bytes changed by `patch` (same length), compressed again.
fn patched(rec: &ArchiveRecord, patch: impl FnOnce(&mut [u8])) -> ArchiveRow {
    let mut raw = zstd::bulk::decompress(&rec.blob, rec.raw_len as usize).unwrap();
    patch(&mut raw);
    row(ArchiveRecord {
        blob: zstd::bulk::compress(&raw, LEVEL).unwrap(),
        ..rec.clone()
    })
}

/// What decoding `row` gives: its items or the error's message.
fn decoded(row: &ArchiveRow) -> Result<Vec<ArchivedItem>, String> {
    let mut out = Vec::new();
    ArchiveDecoder::default()
        .decode(row, &mut out)
        .map(|()| out)
        .map_err(|e| e.to_string())
}

/// Regression: a damaged item count in the row (`u32::MAX`) made the decoder reserve
/// room for that many items, and the allocation failure aborted the backtest.
#[test]
fn a_damaged_item_count_allocates_nothing_it_names() {
    let a = item(1, true);
    let rec = encode(&[(&a, true)], &[]).unwrap().unwrap();
    let mut damaged = row(rec);
    damaged.items = u32::MAX;
    let items = decoded(&damaged).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].item.title, a.title);
}

#[test]
fn a_format_1_record_written_before_vectors_reads_the_same() {
    let a = item(1, true);
    let rec = encode(&[(&a, true)], &[]).unwrap().unwrap();
    // Format 1 is format 2 without vectors: the same bytes under the old format byte.
    let old = decoded(&patched(&rec, |raw| {
        assert_eq!(raw[0], 2);
        raw[0] = 1;
    }))
    .unwrap();
    assert_eq!(old[0].item.title, a.title);
    assert!(old[0].vector.is_none());
    let e = decoded(&patched(&rec, |raw| raw[0] = 3)).unwrap_err();
    assert!(e.contains("newer newswatch (format 3)"), "{e}");
}

#[test]
fn a_damaged_vector_length_is_an_error_not_an_allocation() {
    let a = item(1, true);
    let v = ItemVector {
        model: Arc::from("m"),
        values: vec![1.0; 4],
    };
    let rec = encode(&[(&a, true)], &[Some(&v)]).unwrap().unwrap();
    // The dimension count sits before the vector's 16 bytes, at the end.
    let e = decoded(&patched(&rec, |raw| {
        let at = raw.len() - 16 - 4;
        raw[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    }))
    .unwrap_err();
    assert!(e.contains("damaged"), "{e}");
}

#[test]
fn no_new_items_no_record() {
    assert_eq!(encode(&[], &[]).unwrap(), None);
}

#[test]
fn a_damaged_record_is_an_error_naming_it_not_a_panic() {
    let a = item(1, true);
    let rec = encode(&[(&a, true)], &[]).unwrap().unwrap();
    let mut r = row(rec.clone());
    r.blob.truncate(r.blob.len() / 2);
    let e = ArchiveDecoder::default()
        .decode(&r, &mut Vec::new())
        .unwrap_err();
    assert!(e.to_string().contains("record 1 of feed f"), "{e}");
    let mut r = row(rec);
    r.raw_len += 1;
    assert!(
        ArchiveDecoder::default()
            .decode(&r, &mut Vec::new())
            .is_err()
    );
}

#[test]
fn the_setting_takes_durations_and_off() {
    assert_eq!(
        ArchiveKeep::parse("14d").unwrap(),
        ArchiveKeep::For(Duration::from_secs(14 * 86_400))
    );
    assert_eq!(ArchiveKeep::parse(" off ").unwrap(), ArchiveKeep::Off);
    assert!(ArchiveKeep::parse("0s").is_err());
    assert!(ArchiveKeep::parse("forever").unwrap_err().contains("off"));
    assert_eq!(ArchiveKeep::Off.prune_before(5), Millis::MAX);
    assert_eq!(
        ArchiveKeep::For(Duration::from_secs(1)).prune_before(5_000),
        4_000
    );
}

#[test]
fn the_config_key_is_parsed_once_into_the_setting_and_errors_name_the_line() {
    let load = |v: &str| {
        crate::plan::load_str(
            std::path::Path::new("n.toml"),
            format!("[daemon]\nlisten = \"off\"\narchive = \"{v}\"\n"),
        )
    };
    let plan = load("off").unwrap();
    assert_eq!(plan.daemon.archive, ArchiveKeep::Off);
    let plan = load("30d").unwrap();
    assert_eq!(
        plan.daemon.archive,
        ArchiveKeep::For(Duration::from_secs(30 * 86_400))
    );
    let e = load("forever").unwrap_err().to_string();
    assert!(e.contains("n.toml:3:"), "{e}");
    assert!(e.contains("`archive` = \"forever\""), "{e}");
    assert_eq!(
        crate::config::DaemonPlan::default().archive,
        ArchiveKeep::For(Duration::from_secs(14 * 86_400))
    );
}
