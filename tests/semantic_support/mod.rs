//! What the model tests share: the model (from `NEWSWATCH_TEST_MODEL`, loaded once; without
//! it the tests say why and pass, unless `NEWSWATCH_REQUIRE_MODEL` is set) and the labelled
//! set's files.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use newswatch::semantic::model::Model;

pub fn model() -> Option<&'static Model> {
    static MODEL: OnceLock<Option<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let why = match std::env::var_os("NEWSWATCH_TEST_MODEL").map(PathBuf::from) {
                None => "NEWSWATCH_TEST_MODEL is not set".to_owned(),
                Some(dir) => match Model::load(&dir) {
                    Ok(m) => return Some(m),
                    Err(e) => format!("the model did not load: {e}"),
                },
            };
            if std::env::var_os("NEWSWATCH_REQUIRE_MODEL").is_some() {
                panic!("a model is required (NEWSWATCH_REQUIRE_MODEL) but {why}");
            }
            eprintln!("skipped: {why}");
            None
        })
        .as_ref()
}

pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/semantic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
