//! Semantic watches: matching by meaning with a local sentence-embedding model, on the CPU.
//!
//! - [`tokenizer`]: BERT's uncased WordPiece tokenizer (`vocab.txt`).
//! - [`weights`]: reading `model.safetensors`.
//! - [`score`]: an item's vector against a watch's examples: score, closest example, verdict.
//! - `model` (cargo feature `semantic`): the BERT forward pass, texts → unit vectors.
//!
//! Nothing here fetches anything: a model is a folder the operator put on disk.

#[cfg(feature = "semantic")]
pub mod model;
pub mod score;
pub mod tokenizer;
pub mod weights;
