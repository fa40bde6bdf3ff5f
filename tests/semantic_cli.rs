//! Semantic watches through the binary, with the real model: `run --once` alerts the
//! paraphrases and not the hard negatives, `backtest` and `try` explain them, and `check`,
//! `try` and `backtest` name a model that is missing or cannot embed. Built with `--features
//! semantic`; the model comes from `NEWSWATCH_TEST_MODEL` (see `semantic_model.rs`).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
mod semantic_support;
use common::backtest_ok;
use semantic_support::model;

/// `newswatch ARGS -c CONFIG`, run to its end.
fn newswatch(args: &[&str], config: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap()
}

/// The acceptance run: a feed of paraphrased reports (none names the watch's words)
/// and hard negatives that share its names; `run --once` alerts the paraphrases only.
#[test]
fn a_run_alerts_paraphrases_and_not_the_hard_negatives() {
    let Some(_) = model() else { return };
    let (dir, config) = wire();
    let run = newswatch(&["run", "--once"], &config);
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    let alerts: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["data"].clone())
        .collect();
    // In the order the daemon sent them: oldest first, so for this undated feed its
    // document's order reversed.
    let sent: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["item_key"].as_str())
        .collect();
    assert_eq!(sent, ["p3", "p2", "p1"], "{out}\n{err}");
    for a in &alerts {
        let m = &a["meaning"];
        assert_eq!(
            m["example"], "North Korean soldiers fighting for Russia",
            "{a}"
        );
        assert!(m["score"].as_f64().unwrap() >= 0.42, "{a}");
        assert!(!m["sentence"].as_str().unwrap().is_empty(), "{a}");
        assert_eq!(a["snippet"], m["sentence"], "{a}");
    }

    // Each item is archived with its vector and the model that made it (the backtest below
    // compares against those instead of embedding the items again).
    let archived = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use newswatch::store::Store;
        let store = newswatch::store::sqlite::SqliteStore::open(&dir.path().join("state.db"))
            .await
            .unwrap();
        let mut items = Vec::new();
        let mut decoder = newswatch::store::archive::ArchiveDecoder::default();
        for row in store.archive_page(0, 0, 100).await.unwrap() {
            decoder.decode(&row, &mut items).unwrap();
        }
        items
    });
    assert!(archived.len() >= 5, "{} items archived", archived.len());
    let fingerprint = model().unwrap().fingerprint();
    for a in &archived {
        let v = a
            .vector
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no vector", a.item.key.0));
        assert_eq!(&*v.model, fingerprint);
        assert_eq!(v.values.len(), 384);
    }

    // `backtest` replays the archived items through the semantic watch: the same three.
    let report: serde_json::Value =
        serde_json::from_slice(&backtest_ok(&config, &["--json"])).unwrap();
    let replayed: Vec<&str> = report["watches"][0]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["item_key"].as_str())
        .collect();
    assert_eq!(replayed, sent, "{report}");
    // Each with its meaning, as the daemon's alert had it.
    for a in report["watches"][0]["alerts"].as_array().unwrap() {
        let daemon = alerts
            .iter()
            .find(|d| d["item_key"] == a["item_key"])
            .unwrap();
        let (got, sent) = (&a["meaning"], &daemon["meaning"]);
        assert_eq!(got["example"], sent["example"], "{a}");
        assert_eq!(got["sentence"], sent["sentence"], "{a}");
        // The same f32 (the daemon's JSON widened it to f64 digits).
        let score = |m: &serde_json::Value| m["score"].as_f64().map(|s| s as f32);
        assert_eq!(score(got), score(sent), "{a}");
    }

    // A second pass sends nothing again: the items are stored as seen like any other.
    let again = newswatch(&["run", "--once"], &config);
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stdout).contains("item_key"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

/// Regression: `backtest --watch NAME` on a configuration with a semantic watch panicked
/// ("index out of bounds" in the replay) or credited matches to the wrong watch: meaning was
/// judged with the indexes of all the configuration's watches, the replay counted only the
/// selected ones.
#[test]
fn backtest_of_one_watch_beside_a_semantic_watch_reports_that_watch_alone() {
    let Some(_) = model() else { return };
    let (_dir, config) = wire();
    // A keyword watch listed before the semantic one, so their indexes differ.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[[watch]]\nname = \"dprk-troops\"",
        "[[watch]]\nname = \"missiles\"\nterms = [\"missile\"]\n\n\
         [[watch]]\nname = \"dprk-troops\"",
    );
    assert!(text.contains("missiles"), "{text}");
    std::fs::write(&config, text).unwrap();
    let run = newswatch(&["run", "--once"], &config);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let backtest = |watch: &str| {
        let report: serde_json::Value =
            serde_json::from_slice(&backtest_ok(&config, &["--json", "--watch", watch])).unwrap();
        let watches = report["watches"].as_array().unwrap();
        assert_eq!(watches.len(), 1, "{report}");
        assert_eq!(watches[0]["watch"], watch, "{report}");
        watches[0]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["item_key"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // In the order they were archived and alerted: oldest first (see the test above).
    assert_eq!(backtest("dprk-troops"), ["p3", "p2", "p1"]);
    assert_eq!(backtest("missiles"), ["n1"]);
}

/// A folder with the paraphrases feed as `wire.rss` and a configuration reading it with the
/// "dprk-troops" semantic watch (see [`write_config`]).
fn wire() -> (tempfile::TempDir, PathBuf) {
    let model_dir = std::env::var("NEWSWATCH_TEST_MODEL").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!(
            "{}/tests/fixtures/semantic/paraphrases.rss",
            env!("CARGO_MANIFEST_DIR")
        ),
        dir.path().join("wire.rss"),
    )
    .unwrap();
    let config = dir.path().join("newswatch.toml");
    write_config(&config, &model_dir);
    (dir, config)
}

fn write_config(config: &std::path::Path, model_dir: &str) {
    std::fs::write(
        config,
        format!(
            "[daemon]\nstate = \"state.db\"\nlisten = \"off\"\non_new_feed = \"all\"\n\n\
             [semantic]\nmodel = {model_dir:?}\n\n\
             [[feed]]\nname = \"wire\"\nurl = \"file:wire.rss\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"dprk-troops\"\n\
             about = [\"North Korean soldiers fighting for Russia\"]\n\
             not_about = [\"North Korean missile test\", \"North Korean hackers\"]\n"
        ),
    )
    .unwrap();
}

/// `try --json` says why each paraphrase matched and lists the near misses, the missile test
/// (vetoed by its `not_about` sentence) first.
#[test]
fn try_explains_matches_and_lists_near_misses() {
    let Some(_) = model() else { return };
    let model_dir = std::env::var("NEWSWATCH_TEST_MODEL").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let feed = format!(
        "{}/tests/fixtures/semantic/paraphrases.rss",
        env!("CARGO_MANIFEST_DIR")
    );
    let config = dir.path().join("newswatch.toml");
    write_config(&config, &model_dir);
    let out = newswatch(&["try", "--json", &feed], &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (misses, alerts): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l["near_miss"] == true);
    let keys = |ls: &[&serde_json::Value]| -> Vec<String> {
        ls.iter()
            .map(|l| l["item_key"].as_str().unwrap().to_owned())
            .collect()
    };
    // Oldest first, as the daemon sends them (the undated feed's document order reversed).
    assert_eq!(keys(&alerts), ["p3", "p2", "p1"]);
    assert!(
        alerts
            .iter()
            .all(|a| a["meaning"]["score"].as_f64().unwrap() >= 0.42)
    );
    assert_eq!(keys(&misses)[0], "n1", "{misses:?}");
    assert_eq!(misses.len(), 4);
    let scores: Vec<f64> = misses
        .iter()
        .map(|m| m["meaning"]["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
}

/// Weights that load (names, shapes and sizes right) but hold garbage stop `check` with the
/// model's folder named, instead of passing it and failing every poll of every feed.
#[test]
fn check_refuses_a_model_that_cannot_embed_a_sentence() {
    let Some(_) = model() else { return };
    let model_dir = PathBuf::from(std::env::var("NEWSWATCH_TEST_MODEL").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken-model");
    std::fs::create_dir(&broken).unwrap();
    for entry in std::fs::read_dir(&model_dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), broken.join(entry.file_name())).unwrap();
        }
    }
    let weights = broken.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    // The last 40 % of the data (encoder layers): every float a NaN.
    let from = bytes.len() * 6 / 10;
    bytes[from..].fill(0xFF);
    std::fs::write(&weights, bytes).unwrap();
    let config = dir.path().join("newswatch.toml");
    write_config(&config, broken.to_str().unwrap());
    std::fs::write(dir.path().join("wire.rss"), "").unwrap();
    let check = newswatch(&["check"], &config);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{err}");
    assert!(
        err.contains("cannot embed a test sentence") && err.contains("broken-model"),
        "{err}"
    );
}

/// `check` on a model path that is wrong: located at the `[semantic] model` key, saying what
/// the folder must hold, and pointing at the model folder inside the one named (the wheel's
/// package folder holds it in `model/`). Needs no model.
#[test]
fn check_says_what_a_wrong_model_path_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("newswatch.toml");
    std::fs::write(dir.path().join("wire.rss"), "").unwrap();
    let check = |model: &str| {
        write_config(&config, model);
        let out = newswatch(&["check"], &config);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let at = format!("{}:7:9: `[semantic] model`: ", config.display());
    let err = check("nowhere");
    assert!(
        err.contains(&at)
            && err.contains("nowhere does not exist; a model folder holds config.json, vocab.txt")
            && err.ends_with("1 error\n"),
        "{err}"
    );
    let package = dir.path().join("package");
    std::fs::create_dir_all(package.join("model")).unwrap();
    std::fs::write(package.join("model/config.json"), "{}").unwrap();
    let err = check("package");
    assert!(
        err.contains(&at)
            && err.contains("package has no config.json")
            && err.contains(&format!(
                "(did you mean {}?)",
                package.join("model").display()
            )),
        "{err}"
    );
}

/// Regression: `try` and `backtest` exited 1 (as for a source or state they could not read)
/// when the configured model could not be loaded, where `check` reports the same fault as a
/// configuration error. Both now exit 2, the exit of an invalid configuration, naming the
/// model key. Needs no model.
#[test]
fn try_and_backtest_exit_2_when_the_model_cannot_be_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("newswatch.toml");
    std::fs::write(dir.path().join("wire.rss"), "").unwrap();
    write_config(&config, "nowhere");
    let at = format!("{}:7:9: `[semantic] model`: ", config.display());
    for args in [vec!["try", "wire"], vec!["backtest"]] {
        let out = newswatch(&args, &config);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&at) && err.contains("nowhere does not exist"),
            "{args:?}: {err}"
        );
    }
}
