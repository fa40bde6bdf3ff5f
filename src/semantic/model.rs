//! A BERT sentence-embedding model (all-MiniLM-L6-v2 and its kin) run on the CPU in plain Rust:
//! loaded from a model folder (`config.json`, `vocab.txt`, `model.safetensors`), it turns
//! texts into unit-length vectors (mean of the last layer over the tokens, then L2-normalised),
//! the sentence-transformers recipe the models were trained for.
//!
//! A batch's texts are not padded to one length: their tokens are stacked into one matrix for
//! the dense layers (rows are independent there) and only attention looks at each text alone,
//! so a batch costs what its tokens cost. Matrix products go through `matrixmultiply`'s sgemm.
//! Types crossing the boundary: [`Model`], [`ModelError`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::tokenizer::{Tokenizer, VocabError};
use super::weights::{Tensors, WeightsError};

/// What is wrong with a model folder; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Config { path: PathBuf, why: String },
    #[error("{path}: {source}")]
    Vocab { path: PathBuf, source: VocabError },
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

#[derive(Deserialize)]
struct Config {
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f32,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default = "default_types")]
    type_vocab_size: usize,
}

fn default_eps() -> f32 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_types() -> usize {
    2
}

#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: usize,
}

struct Linear {
    /// `[out][in]`, as stored.
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    up: Linear,
    down: Linear,
    out_norm: Norm,
}

/// A loaded model: tokenizer, weights and shape.
pub struct Model {
    tokenizer: Tokenizer,
    words: Vec<f32>,
    positions: Vec<f32>,
    /// Token type 0's embedding (every text is one segment).
    segment: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
    max_tokens: usize,
    /// What identifies these files: see [`Model::fingerprint`].
    fingerprint: String,
}

/// The first 16 bytes of the SHA-256 of `parts`, in hex (collisions between model files an
/// operator swaps are not a concern at that length).
fn fingerprint(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The most encoder layers a model may declare (BERT-large has 24).
const MAX_LAYERS: usize = 256;

impl Model {
    /// Loads the model in `dir`. Nothing is fetched: every file must be there.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (text, path.clone()))
                .map_err(|source| ModelError::Read { path, source })
        };
        let (text, path) = read("config.json")?;
        let config: Config = serde_json::from_str(&text).map_err(|e| ModelError::Config {
            path: path.clone(),
            why: e.to_string(),
        })?;
        let bad = |why: String| ModelError::Config {
            path: path.clone(),
            why,
        };
        if config.hidden_act != "gelu" {
            return Err(bad(format!(
                "hidden_act {:?} is not supported (only \"gelu\")",
                config.hidden_act
            )));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size, config.num_attention_heads
            )));
        }
        if config.vocab_size == 0
            || config.type_vocab_size == 0
            || config.hidden_size == 0
            || config.intermediate_size == 0
        {
            return Err(bad(
                "vocab_size, type_vocab_size, hidden_size and intermediate_size must be above 0"
                    .into(),
            ));
        }
        // Every text is at least [CLS] and [SEP]: a shorter position table could embed
        // nothing (and failed every poll instead of the load).
        if config.max_position_embeddings < 2 {
            return Err(bad(format!(
                "max_position_embeddings {} is below 2",
                config.max_position_embeddings
            )));
        }
        // Each layer is read from the weights; a number no model has is a damaged file, not
        // a request for that many layers (the list was sized by it, which aborted the
        // process on a huge value).
        if !(1..=MAX_LAYERS).contains(&config.num_hidden_layers) {
            return Err(bad(format!(
                "num_hidden_layers {} is not between 1 and {MAX_LAYERS}",
                config.num_hidden_layers
            )));
        }
        // Settings this pass does not implement would give wrong vectors without an error.
        let optional = |name: &str| -> Result<Option<(serde_json::Value, PathBuf)>, ModelError> {
            match read(name) {
                Ok((text, path)) => serde_json::from_str(&text)
                    .map(|v| Some((v, path.clone())))
                    .map_err(|e| ModelError::Config {
                        path,
                        why: e.to_string(),
                    }),
                Err(ModelError::Read { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        if let Some((v, path)) = optional("1_Pooling/config.json")?
            && v.get("pooling_mode_mean_tokens") != Some(&serde_json::Value::Bool(true))
        {
            return Err(ModelError::Config {
                path,
                why: "only mean pooling (`pooling_mode_mean_tokens`) is supported".into(),
            });
        }
        if let Some((v, path)) = optional("tokenizer_config.json")?
            && v.get("do_lower_case") == Some(&serde_json::Value::Bool(false))
        {
            return Err(ModelError::Config {
                path,
                why: "only uncased models (`do_lower_case = true`) are supported".into(),
            });
        }
        let (vocab, vocab_path) = read("vocab.txt")?;
        let tokenizer = Tokenizer::from_vocab(&vocab).map_err(|source| ModelError::Vocab {
            path: vocab_path.clone(),
            source,
        })?;
        if tokenizer.len() > config.vocab_size {
            return Err(ModelError::Config {
                path: vocab_path,
                why: format!(
                    "{} tokens, more than the model's vocab_size {}",
                    tokenizer.len(),
                    config.vocab_size
                ),
            });
        }
        // The sentence-transformers limit (256 for MiniLM) when given, else the position table.
        let max_tokens = match optional("sentence_bert_config.json")? {
            Some((v, path)) => {
                let n = serde_json::from_value::<SentenceConfig>(v)
                    .map_err(|e| ModelError::Config {
                        path: path.clone(),
                        why: e.to_string(),
                    })?
                    .max_seq_length;
                // [CLS] and [SEP] alone: every text would get the same vector, so a watch
                // would alert on every item or on none, without an error.
                if n < 3 {
                    return Err(ModelError::Config {
                        path,
                        why: format!("max_seq_length {n} leaves no room for a word (at least 3)"),
                    });
                }
                n
            }
            None => config.max_position_embeddings,
        }
        .min(config.max_position_embeddings);

        let tensors = Tensors::open(&dir.join("model.safetensors"))?;
        let h = config.hidden_size;
        let linear = |name: &str, inputs: usize, outputs: usize| -> Result<Linear, ModelError> {
            Ok(Linear {
                weight: tensors.f32(&format!("{name}.weight"), &[outputs, inputs])?,
                bias: tensors.f32(&format!("{name}.bias"), &[outputs])?,
                inputs,
                outputs,
            })
        };
        let norm = |name: &str| -> Result<Norm, ModelError> {
            Ok(Norm {
                weight: tensors.f32(&format!("{name}.weight"), &[h])?,
                bias: tensors.f32(&format!("{name}.bias"), &[h])?,
            })
        };
        let mut layers = Vec::new();
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                query: linear(&format!("{p}.attention.self.query"), h, h)?,
                key: linear(&format!("{p}.attention.self.key"), h, h)?,
                value: linear(&format!("{p}.attention.self.value"), h, h)?,
                attn_out: linear(&format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                up: linear(
                    &format!("{p}.intermediate.dense"),
                    h,
                    config.intermediate_size,
                )?,
                down: linear(&format!("{p}.output.dense"), config.intermediate_size, h)?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let types = tensors.f32(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        let fingerprint = fingerprint(&[
            text.as_bytes(),
            vocab.as_bytes(),
            &max_tokens.to_le_bytes(),
            tensors.bytes(),
        ]);
        Ok(Self {
            fingerprint,
            tokenizer,
            words: tensors.f32("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            positions: tensors.f32(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, h],
            )?,
            segment: types[..h].to_vec(),
            embed_norm: norm("embeddings.LayerNorm")?,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps,
            max_tokens,
        })
    }

    /// Names these model files (a digest of the config, vocabulary, length limit and weights):
    /// a vector stored under the same fingerprint is the vector this model would make, so a
    /// backtest can reuse it; another model's vectors are made again.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The length of the vectors this model makes.
    pub fn dimensions(&self) -> usize {
        self.hidden
    }

    /// The most tokens of a text the model reads (the rest is cut off).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The token ids `text` is read as (with `[CLS]` and `[SEP]`, after the cut).
    pub fn tokens(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.max_tokens)
    }

    /// One unit-length vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let seqs: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenizer.encode(t, self.max_tokens))
            .collect();
        self.embed_tokens(&seqs)
    }

    fn embed_tokens(&self, seqs: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let rows: usize = seqs.iter().map(Vec::len).sum();
        let mut x = vec![0.0f32; rows * h];
        let mut row = 0;
        for seq in seqs {
            for (pos, &id) in seq.iter().enumerate() {
                let out = &mut x[row * h..(row + 1) * h];
                // Ids come from our own vocabulary, checked at load to fit the table; `get`
                // keeps a mistake there from reading out of bounds.
                let word = self
                    .words
                    .get(id as usize * h..(id as usize + 1) * h)
                    .unwrap_or(&self.words[..h]);
                let place = &self.positions[pos * h..(pos + 1) * h];
                for i in 0..h {
                    out[i] = word[i] + place[i] + self.segment[i];
                }
                row += 1;
            }
        }
        layer_norm(&mut x, &self.embed_norm, h, self.eps);

        let mut scratch = Scratch::new(rows, h, self.layers.first().map_or(0, |l| l.up.outputs));
        for layer in &self.layers {
            self.layer(layer, seqs, &mut x, &mut scratch);
        }

        let mut out = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for seq in seqs {
            let n = seq.len();
            let mut mean = vec![0.0f32; h];
            for r in start..start + n {
                for (m, v) in mean.iter_mut().zip(&x[r * h..(r + 1) * h]) {
                    *m += v;
                }
            }
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            for m in &mut mean {
                *m /= norm;
            }
            out.push(mean);
            start += n;
        }
        out
    }

    fn layer(&self, layer: &Layer, seqs: &[Vec<u32>], x: &mut [f32], s: &mut Scratch) {
        let h = self.hidden;
        let rows = x.len() / h;
        linear(x, rows, &layer.query, &mut s.q);
        linear(x, rows, &layer.key, &mut s.k);
        linear(x, rows, &layer.value, &mut s.v);
        let head = h / self.heads;
        let scale = 1.0 / (head as f32).sqrt();
        let mut start = 0;
        for seq in seqs {
            let n = seq.len();
            s.scores.resize(n * n, 0.0);
            for hd in 0..self.heads {
                let off = start * h + hd * head;
                // scores = Q_h K_hᵀ · scale
                unsafe {
                    matrixmultiply::sgemm(
                        n,
                        head,
                        n,
                        scale,
                        s.q[off..].as_ptr(),
                        h as isize,
                        1,
                        s.k[off..].as_ptr(),
                        1,
                        h as isize,
                        0.0,
                        s.scores.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
                for r in s.scores.chunks_exact_mut(n) {
                    softmax(r);
                }
                // context_h = P V_h, written into the head's columns.
                unsafe {
                    matrixmultiply::sgemm(
                        n,
                        n,
                        head,
                        1.0,
                        s.scores.as_ptr(),
                        n as isize,
                        1,
                        s.v[off..].as_ptr(),
                        h as isize,
                        1,
                        0.0,
                        s.ctx[off..].as_mut_ptr(),
                        h as isize,
                        1,
                    );
                }
            }
            start += n;
        }
        linear(&s.ctx, rows, &layer.attn_out, &mut s.q);
        for (xi, a) in x.iter_mut().zip(&s.q) {
            *xi += a;
        }
        layer_norm(x, &layer.attn_norm, h, self.eps);
        linear(x, rows, &layer.up, &mut s.up);
        for v in &mut s.up {
            *v = gelu(*v);
        }
        linear(&s.up, rows, &layer.down, &mut s.q);
        for (xi, a) in x.iter_mut().zip(&s.q) {
            *xi += a;
        }
        layer_norm(x, &layer.out_norm, h, self.eps);
    }
}

/// Buffers reused by every layer of one batch.
struct Scratch {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    ctx: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
}

impl Scratch {
    fn new(rows: usize, h: usize, inner: usize) -> Self {
        Self {
            q: vec![0.0; rows * h],
            k: vec![0.0; rows * h],
            v: vec![0.0; rows * h],
            ctx: vec![0.0; rows * h],
            up: vec![0.0; rows * inner],
            scores: Vec::new(),
        }
    }
}

/// `out = x Wᵀ + b` for `rows` rows of `x`.
fn linear(x: &[f32], rows: usize, l: &Linear, out: &mut Vec<f32>) {
    out.resize(rows * l.outputs, 0.0);
    for r in out.chunks_exact_mut(l.outputs) {
        r.copy_from_slice(&l.bias);
    }
    assert!(x.len() >= rows * l.inputs && l.weight.len() == l.inputs * l.outputs);
    // SAFETY: the asserts above and the resize keep every index sgemm computes from these
    // dimensions and strides inside the three buffers.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            l.inputs,
            l.outputs,
            1.0,
            x.as_ptr(),
            l.inputs as isize,
            1,
            l.weight.as_ptr(),
            1,
            l.inputs as isize,
            1.0,
            out.as_mut_ptr(),
            l.outputs as isize,
            1,
        );
    }
}

fn layer_norm(x: &mut [f32], n: &Norm, h: usize, eps: f32) {
    for row in x.chunks_exact_mut(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&n.weight).zip(&n.bias) {
            *v = (*v - mean) * inv * w + b;
        }
    }
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// BERT's exact GELU, `x · Φ(x)`, with erf from Abramowitz & Stegun 7.1.26 (error < 1.5e-7).
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn erf(x: f32) -> f32 {
    let sign = x.signum();
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0
        - (((((1.061_405_4 * t - 1.453_152_1) * t) + 1.421_413_7) * t - 0.284_496_74) * t
            + 0.254_829_6)
            * t
            * (-x * x).exp();
    sign * y
}

#[cfg(test)]
mod tests;
