//! The article test set of `tests/fixtures/articles/`: one saved page per row of its
//! `sources.tsv`, with the expected main text (the row's URL and licence are its sources').

use std::path::{Path, PathBuf};

/// One saved article page.
pub struct Page {
    /// File stem under `tests/fixtures/articles/`.
    pub name: String,
    /// The publisher.
    pub publisher: String,
    /// The test suite the page and its expected text come from (`readability` or `newspaper4k`).
    pub suite: String,
    /// The page (decompressed).
    pub html: String,
    /// The expected main text.
    pub expected: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/articles")
}

/// Every page of the set, in `sources.tsv` order.
pub fn pages() -> Vec<Page> {
    let dir = dir();
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
    };
    let sources = String::from_utf8(read("sources.tsv")).expect("sources.tsv is UTF-8");
    sources
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, publisher, origin, _url, _licence] = fields[..] else {
                panic!("sources.tsv: bad row {line:?}");
            };
            let html = zstd::decode_all(&read(&format!("{name}.html.zst"))[..])
                .unwrap_or_else(|e| panic!("{name}.html.zst: {e}"));
            Page {
                name: name.to_owned(),
                publisher: publisher.to_owned(),
                suite: origin.split(':').next().unwrap_or_default().to_owned(),
                html: String::from_utf8(html).unwrap_or_else(|e| panic!("{name}.html.zst: {e}")),
                expected: String::from_utf8(read(&format!("{name}.txt")))
                    .unwrap_or_else(|e| panic!("{name}.txt: {e}")),
            }
        })
        .collect()
}
