//! Semantic watches: matching by meaning with a local sentence-embedding model, on the CPU.
//!
//! - [`tokenizer`]: BERT's uncased WordPiece tokenizer (`vocab.txt`).
//! - [`weights`]: reading `model.safetensors`.
//! - [`combine`]: keywords and meaning combined per watch (daemon, `try`, `backtest`).
//! - [`plan`]: the configuration's `[semantic]` table and each watch's examples and mode.
//! - [`score`]: an item's vector against a watch's examples: score, closest example, verdict.
//! - [`runtime`]: the model on its own threads behind a bounded queue; judging items.
//! - `model` (cargo feature `semantic`): the BERT forward pass, texts → unit vectors.
//!
//! Nothing here fetches anything: a model is a folder the operator put on disk.

pub mod combine;
#[cfg(feature = "semantic")]
pub mod model;
pub mod plan;
pub mod runtime;
pub mod score;
pub mod tokenizer;
pub mod weights;
