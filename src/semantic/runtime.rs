//! Semantic watches at run time: the loaded model on its own threads behind a bounded queue,
//! each plan's example vectors, and judging new items against every semantic watch.
//!
//! Embedding is CPU work of ~10 ms an item: it runs on `[semantic] threads` plain threads
//! (one core by default), never on the async runtime, so polls, deliveries and the status
//! page go on while a burst of new items is embedded. A poll that found new items waits for
//! their vectors before it commits (its items are not marked seen before they are judged, so
//! a crash in between loses nothing: the next poll judges them again).
//! Types crossing the boundary: [`Semantic`], [`Judgement`], [`SemanticError`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::deliver::alert::Meaning;
use crate::feed::FeedItem;
use crate::semantic::plan::SemanticPlan;
use crate::semantic::score::{ItemVector, Verdict, best};

/// What went wrong with semantic watches; each says what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SemanticError {
    #[error(
        "this newswatch was built without semantic watches (build it with \
         `cargo build --release --features semantic`)"
    )]
    NotBuilt,
    /// Loading the model failed; the text names the configuration key and the file.
    #[error("{0}")]
    Model(String),
    #[error("the semantic model's threads stopped")]
    Stopped,
}

/// An error loading `plan`'s model, located at its `[semantic] model` key.
fn model_error(plan: &SemanticPlan, why: impl std::fmt::Display) -> SemanticError {
    if plan.model_at.is_empty() {
        SemanticError::Model(format!("semantic model: {why}"))
    } else {
        SemanticError::Model(format!("{}: `[semantic] model`: {why}", plan.model_at))
    }
}

/// What a model folder holds, for the errors of one that does not.
#[cfg(feature = "semantic")]
const MODEL_FOLDER: &str = "a model folder holds config.json, vocab.txt and model.safetensors \
     (README, \"Semantic watches\", says where to get one)";

/// [`model_error`] for a model that did not load, saying what to do where it can: a folder
/// that is not there, a file missing from it (often the folder above the model's own).
#[cfg(feature = "semantic")]
fn load_error(plan: &SemanticPlan, e: &crate::semantic::model::ModelError) -> SemanticError {
    use crate::semantic::model::ModelError;
    let dir = &plan.model;
    if !dir.is_dir() {
        return model_error(
            plan,
            format!(
                "the folder {} does not exist; {MODEL_FOLDER}",
                dir.display()
            ),
        );
    }
    match e {
        ModelError::Read { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            let file = path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
            let inner = dir.join("model");
            let hint = if inner.join("config.json").is_file() {
                format!(" (did you mean {}?)", inner.display())
            } else {
                String::new()
            };
            model_error(
                plan,
                format!("{} has no {file}; {MODEL_FOLDER}{hint}", dir.display()),
            )
        }
        other => model_error(plan, other),
    }
}

/// How `len` texts are split across `threads` embedding threads: at most one part per thread,
/// each a whole number of `batch`es but the last, none empty; one part when the texts fill
/// no more than one batch per thread would get.
#[cfg_attr(not(feature = "semantic"), allow(dead_code))]
fn parts(len: usize, threads: usize, batch: usize) -> Vec<usize> {
    let batches = len.div_ceil(batch.max(1));
    let n = threads.max(1).min(batches);
    if n <= 1 {
        return vec![len];
    }
    let per = batches.div_ceil(n) * batch;
    let mut out = Vec::with_capacity(n);
    let mut left = len;
    while left > 0 {
        let take = per.min(left);
        out.push(take);
        left -= take;
    }
    out
}

/// One item judged against every semantic watch that applies, by watch name.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    pub verdicts: BTreeMap<String, Verdict>,
    /// The text it was computed from.
    pub text: String,
    /// The item's vector (`None` when no semantic watch reads its feed).
    pub vector: Option<ItemVector>,
}

/// The semantic watches' engine, shared by every poll and by `try`. Empty until a plan with
/// semantic watches asks for it; a reload naming another model folder loads that one too
/// (the previous one stays for polls still running under the old plan).
#[derive(Default)]
pub struct Semantic {
    /// Loaded models, the newest first, at most [`KEEP`].
    loaded: Mutex<Vec<Arc<imp::Loaded>>>,
    /// Texts waiting for (or being embedded by) any loaded model's threads, and embedded.
    counts: Arc<Counts>,
}

/// What every loaded model's threads share: after a reload to another model both may have
/// work, and `newswatch_semantic_queue_items` is their sum.
#[derive(Default)]
struct Counts {
    /// Texts waiting for (or being embedded by) a model's threads.
    waiting: std::sync::atomic::AtomicUsize,
    /// Texts embedded since start.
    embedded: std::sync::atomic::AtomicU64,
}

/// Models kept loaded at once: the current plan's and the previous one's.
const KEEP: usize = 2;

impl Semantic {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads `plan`'s model now, on this thread (at start, so a missing file stops `run`,
    /// `check` and `try` with its name instead of failing every poll).
    pub fn prepare(&self, plan: &SemanticPlan) -> Result<(), SemanticError> {
        if self.current(plan).is_none() {
            self.install(imp::Loaded::load(plan, Arc::clone(&self.counts))?);
        }
        Ok(())
    }

    /// Like [`Semantic::prepare`], reading the model on a blocking thread (a reload: the
    /// async runtime goes on meanwhile).
    pub async fn prepare_async(&self, plan: &SemanticPlan) -> Result<(), SemanticError> {
        self.loaded(plan).await.map(|_| ())
    }

    /// Texts waiting for (or being embedded by) the models' threads: the
    /// `newswatch_semantic_queue_items` gauge.
    pub fn queued(&self) -> usize {
        self.counts
            .waiting
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Texts the models have embedded since start (items, their sentences, example
    /// sentences): what `newswatch_semantic_items_total` counts.
    pub fn embedded(&self) -> u64 {
        self.counts
            .embedded
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn current(&self, plan: &SemanticPlan) -> Option<Arc<imp::Loaded>> {
        let slot = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        slot.iter().find(|l| l.serves(plan)).cloned()
    }

    fn install(&self, loaded: imp::Loaded) -> Arc<imp::Loaded> {
        let loaded = Arc::new(loaded);
        let mut slot = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        slot.insert(0, Arc::clone(&loaded));
        slot.truncate(KEEP);
        loaded
    }

    async fn loaded(&self, plan: &SemanticPlan) -> Result<Arc<imp::Loaded>, SemanticError> {
        if let Some(l) = self.current(plan) {
            return Ok(l);
        }
        let owned = plan.clone();
        let counts = Arc::clone(&self.counts);
        let loaded = tokio::task::spawn_blocking(move || imp::Loaded::load(&owned, counts))
            .await
            .map_err(|e| model_error(plan, format!("loading stopped: {e}")))??;
        Ok(self.install(loaded))
    }

    /// Judges each item against each semantic watch of `plan` that `applies` to it. `stored`
    /// (beside `items`, or empty) holds vectors kept from an earlier run: one the loaded
    /// model made is used as it is, the other items are embedded now.
    pub async fn judge(
        &self,
        plan: &Arc<SemanticPlan>,
        items: &[&FeedItem],
        stored: &[Option<&ItemVector>],
        applies: impl Fn(&str) -> bool,
    ) -> Result<Vec<Judgement>, SemanticError> {
        // A feed no semantic watch reads costs nothing: its items are not embedded.
        if !plan.watches.keys().any(|name| applies(name)) {
            return Ok(vec![Judgement::default(); items.len()]);
        }
        let loaded = self.loaded(plan).await?;
        let examples = loaded.examples(plan).await?;
        let model = loaded.fingerprint();
        let texts: Vec<String> = items.iter().map(|it| item_text(it)).collect();
        // A stored vector of another length (a damaged record that still decoded) would be
        // compared on its common part only: it is made again.
        let width = loaded.dimensions();
        let mut vectors: Vec<Option<Vec<f32>>> = (0..items.len())
            .map(|i| {
                let v = stored.get(i).copied().flatten()?;
                (v.model == model && v.values.len() == width).then(|| v.values.clone())
            })
            .collect();
        let missing: Vec<usize> = (0..items.len()).filter(|&i| vectors[i].is_none()).collect();
        let made = loaded
            .embed(missing.iter().map(|&i| texts[i].clone()).collect())
            .await?;
        for (i, v) in missing.into_iter().zip(made) {
            vectors[i] = Some(v);
        }
        Ok(texts
            .into_iter()
            .zip(vectors)
            .map(|(text, vector)| {
                let vector = vector.unwrap_or_default();
                let verdicts = plan
                    .watches
                    .iter()
                    .filter(|(name, _)| applies(name))
                    .filter_map(|(name, w)| {
                        let ex = examples.get(name)?;
                        Some((name.clone(), ex.judge(&vector, w.similarity)))
                    })
                    .collect();
                Judgement {
                    verdicts,
                    text,
                    vector: Some(ItemVector {
                        model: Arc::clone(&model),
                        values: vector,
                    }),
                }
            })
            .collect())
    }

    /// Why `watch` matched `judged`: the score, the closest example and the item's sentence
    /// closest to it (its sentences are embedded now: only matches and near misses pay).
    pub async fn explain(
        &self,
        plan: &Arc<SemanticPlan>,
        watch: &str,
        judged: &Judgement,
    ) -> Result<Option<Meaning>, SemanticError> {
        let (Some(w), Some(v)) = (plan.watches.get(watch), judged.verdicts.get(watch)) else {
            return Ok(None);
        };
        let Some(example) = w.about.get(v.closest) else {
            return Ok(None);
        };
        let loaded = self.loaded(plan).await?;
        let examples = loaded.examples(plan).await?;
        let Some(target) = examples.get(watch).and_then(|e| e.about.get(v.closest)) else {
            return Ok(None);
        };
        let parts: Vec<String> = sentences(&judged.text)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let sentence = if parts.len() <= 1 {
            judged.text.clone()
        } else {
            let vectors = loaded.embed(parts.clone()).await?;
            let pick = best(target, &vectors).map_or(0, |(i, _)| i);
            parts.get(pick).cloned().unwrap_or_default()
        };
        Ok(Some(Meaning {
            score: v.score,
            example: example.clone(),
            sentence,
        }))
    }
}

#[cfg(feature = "semantic")]
mod imp;

#[cfg(not(feature = "semantic"))]
mod imp {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::SemanticError;
    use crate::semantic::plan::SemanticPlan;
    use crate::semantic::score::Examples;

    /// Never made: without the feature, a plan with semantic watches does not validate.
    pub struct Loaded(());

    impl Loaded {
        pub fn load(_: &SemanticPlan, _: Arc<super::Counts>) -> Result<Self, SemanticError> {
            Err(SemanticError::NotBuilt)
        }
        pub fn serves(&self, _: &SemanticPlan) -> bool {
            false
        }
        pub fn fingerprint(&self) -> Arc<str> {
            Arc::from("")
        }
        pub fn dimensions(&self) -> usize {
            0
        }

        pub async fn embed(&self, _: Vec<String>) -> Result<Vec<Vec<f32>>, SemanticError> {
            Err(SemanticError::NotBuilt)
        }
        pub async fn examples(
            &self,
            _: &Arc<SemanticPlan>,
        ) -> Result<Arc<BTreeMap<String, Examples>>, SemanticError> {
            Err(SemanticError::NotBuilt)
        }
    }
}

#[cfg(any(feature = "semantic", test))]
mod isolate;
mod text;

pub use text::{item_text, sentences};

#[cfg(test)]
mod tests;
