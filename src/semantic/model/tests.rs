//! Unit tests of the model: its numeric kernels, and the settings, sizes and files a load refuses.

use super::*;

#[test]
fn erf_and_gelu_match_known_values() {
    for (x, want) in [
        (0.0, 0.0),
        (0.5, 0.520_499_9),
        (1.0, 0.842_700_8),
        (-2.0, -0.995_322_3),
    ] {
        assert!((erf(x) - want).abs() < 1e-6, "erf({x}) = {}", erf(x));
    }
    assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
    assert!((gelu(-3.0) + 0.004_049_7).abs() < 1e-6);
}

#[test]
fn softmax_is_stable_for_large_scores() {
    let mut r = [1000.0, 1000.0, -1000.0];
    softmax(&mut r);
    assert!((r[0] - 0.5).abs() < 1e-6 && r[2] == 0.0);
}

#[test]
fn settings_this_pass_does_not_implement_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"{"hidden_size":4,"num_attention_heads":2,"num_hidden_layers":1,
        "intermediate_size":8,"max_position_embeddings":8,"vocab_size":5}"#;
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("1_Pooling/config.json"),
        r#"{"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}"#,
    )
    .unwrap();
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("only mean pooling"), "{err}");
    std::fs::remove_dir_all(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"do_lower_case":false}"#,
    )
    .unwrap();
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("only uncased"), "{err}");
    std::fs::remove_file(dir.path().join("tokenizer_config.json")).unwrap();
    std::fs::write(
        dir.path().join("vocab.txt"),
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\n",
    )
    .unwrap();
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("6 tokens, more than the model's vocab_size 5"),
        "{err}"
    );
    let zero = config.replace("\"vocab_size\":5", "\"vocab_size\":0");
    std::fs::write(dir.path().join("config.json"), zero).unwrap();
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("must be above 0"), "{err}");
}

/// Regression: damaged `config.json` values passed the load (and `check`) and then
/// panicked in every poll's embedding (a position table of one, an intermediate layer of
/// none), or aborted the process (a list sized by a huge layer count).
#[test]
fn sizes_no_model_can_have_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"{"hidden_size":4,"num_attention_heads":2,"num_hidden_layers":1,
        "intermediate_size":8,"max_position_embeddings":8,"vocab_size":5}"#;
    for (from, to, says) in [
        (
            "\"intermediate_size\":8",
            "\"intermediate_size\":0",
            "must be above 0",
        ),
        (
            "\"max_position_embeddings\":8",
            "\"max_position_embeddings\":1",
            "max_position_embeddings 1 is below 2",
        ),
        (
            "\"num_hidden_layers\":1",
            "\"num_hidden_layers\":1000000000000",
            "num_hidden_layers 1000000000000 is not between 1 and 256",
        ),
        (
            "\"num_hidden_layers\":1",
            "\"num_hidden_layers\":0",
            "num_hidden_layers 0",
        ),
    ] {
        std::fs::write(dir.path().join("config.json"), config.replace(from, to)).unwrap();
        let err = Model::load(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains(says) && err.contains("config.json"),
            "{to}: {err}"
        );
    }
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    std::fs::write(
        dir.path().join("vocab.txt"),
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sentence_bert_config.json"),
        r#"{"max_seq_length":2}"#,
    )
    .unwrap();
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("max_seq_length 2 leaves no room")
            && err.contains("sentence_bert_config.json"),
        "{err}"
    );
}

#[test]
fn a_missing_model_folder_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("config.json"), "{err}");
}
