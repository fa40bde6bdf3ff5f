//! The loaded model (built with the `semantic` feature): its threads behind a bounded queue,
//! and each plan's example vectors.
//!
//! Owns [`Loaded`]; [`super::Semantic`] keeps the loaded models and hands out their vectors.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::SemanticError;
use crate::semantic::model::Model;
use crate::semantic::plan::SemanticPlan;
use crate::semantic::score::Examples;

/// Jobs (one poll's new items each) waiting for the threads; a poll finding the queue
/// full waits, which slows only polls that found new items.
const QUEUE: usize = 64;
/// Texts embedded together (their tokens stacked: no padding, see `model`).
const BATCH: usize = 16;

struct Job {
    texts: Vec<String>,
    /// One vector per text (a zero vector for a text the model panicked on).
    reply: oneshot::Sender<Vec<Vec<f32>>>,
}

/// A plan and its watches' example vectors.
type PlanExamples = (Arc<SemanticPlan>, Arc<BTreeMap<String, Examples>>);

pub struct Loaded {
    path: PathBuf,
    fingerprint: Arc<str>,
    dimensions: usize,
    threads: usize,
    jobs: mpsc::Sender<Job>,
    counts: Arc<super::Counts>,
    /// The example vectors of the last plans asked for, the newest first (a reload makes
    /// a new plan; polls under the old one may still run for a while).
    examples: tokio::sync::Mutex<Vec<PlanExamples>>,
}

impl Loaded {
    /// `counts` are every loaded model's (the queue's gauge is one).
    pub fn load(plan: &SemanticPlan, counts: Arc<super::Counts>) -> Result<Self, SemanticError> {
        let model = Arc::new(Model::load(&plan.model).map_err(|e| super::load_error(plan, &e))?);
        // One sentence through the whole model before it serves polls: weights that load
        // but cannot embed (or give no usable vector) stop `check`, `run` and a reload
        // here, with the folder's name, instead of failing every poll.
        let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            model.embed(&["North Korean troops reach Kursk."])
        }));
        match probe {
            Ok(v) if v.len() == 1 && v[0].iter().all(|x| x.is_finite()) => {}
            _ => {
                return Err(super::model_error(
                    plan,
                    format!(
                        "{}: the model loaded but cannot embed a test sentence (damaged \
                         weights?)",
                        plan.model.display()
                    ),
                ));
            }
        }
        let (jobs, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..plan.threads {
            let (model, rx, counts) = (Arc::clone(&model), Arc::clone(&rx), Arc::clone(&counts));
            std::thread::Builder::new()
                .name(format!("embed-{n}"))
                .spawn(move || work(&model, &rx, &counts))
                .map_err(|e| super::model_error(plan, format!("cannot start a thread: {e}")))?;
        }
        tracing::info!(model = %plan.model.display(), threads = plan.threads,
            dimensions = model.dimensions(), fingerprint = model.fingerprint(),
            "semantic model loaded");
        Ok(Self {
            fingerprint: Arc::from(model.fingerprint()),
            dimensions: model.dimensions(),
            path: plan.model.clone(),
            threads: plan.threads,
            jobs,
            counts,
            examples: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn serves(&self, plan: &SemanticPlan) -> bool {
        self.path == plan.model && self.threads == plan.threads
    }

    pub fn fingerprint(&self) -> Arc<str> {
        Arc::clone(&self.fingerprint)
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Vectors of `texts`, in order. With several threads, a large set is split into
    /// one job per thread so that one poll's burst (or a backtest's record) uses them
    /// all; each part takes its own place in the queue.
    pub async fn embed(&self, mut texts: Vec<String>) -> Result<Vec<Vec<f32>>, SemanticError> {
        let sizes = super::parts(texts.len(), self.threads, BATCH);
        if sizes.len() <= 1 {
            return self.embed_job(texts).await;
        }
        let mut jobs = Vec::with_capacity(sizes.len());
        for size in sizes.into_iter().rev() {
            let rest = texts.len() - size;
            jobs.push(texts.split_off(rest));
        }
        jobs.reverse();
        let done =
            futures_util::future::try_join_all(jobs.into_iter().map(|t| self.embed_job(t))).await?;
        Ok(done.into_iter().flatten().collect())
    }

    async fn embed_job(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, SemanticError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let n = texts.len();
        let (reply, answer) = oneshot::channel();
        // A place in the queue first, counted only once it is ours: a poll cancelled
        // while it waits for one (shutdown, a full queue) leaves the count as it was.
        let place = self
            .jobs
            .reserve()
            .await
            .map_err(|_| SemanticError::Stopped)?;
        self.counts.waiting.fetch_add(n, Ordering::Relaxed);
        queued(n as f64);
        place.send(Job { texts, reply });
        answer.await.map_err(|_| SemanticError::Stopped)
    }

    /// The vectors of `texts`, those in `known` taken from it, the rest embedded.
    async fn embed_new(
        &self,
        texts: &[String],
        known: &HashMap<&str, &Vec<f32>>,
    ) -> Result<Vec<Vec<f32>>, SemanticError> {
        let new: Vec<String> = texts
            .iter()
            .filter(|t| !known.contains_key(t.as_str()))
            .cloned()
            .collect();
        let mut fresh = if new.is_empty() {
            Vec::new()
        } else {
            self.embed(new).await?
        }
        .into_iter();
        Ok(texts
            .iter()
            .map(|t| match known.get(t.as_str()) {
                Some(v) => (*v).clone(),
                None => fresh.next().unwrap_or_default(),
            })
            .collect())
    }

    pub async fn examples(
        &self,
        plan: &Arc<SemanticPlan>,
    ) -> Result<Arc<BTreeMap<String, Examples>>, SemanticError> {
        // Held while the examples are embedded: the polls that start together after a
        // start or a reload wait for one embedding instead of each making its own.
        let mut cached = self.examples.lock().await;
        if let Some((_, e)) = cached.iter().find(|(p, _)| Arc::ptr_eq(p, plan)) {
            return Ok(Arc::clone(e));
        }
        // Sentences the plans before had are not embedded again: a reload that changes
        // one watch (or nothing) re-embedded every watch's examples while the polls
        // waited, seconds with a hundred semantic watches.
        let mut known: HashMap<&str, &Vec<f32>> = HashMap::new();
        for (p, ex) in cached.iter() {
            for (name, w) in &p.watches {
                if let Some(e) = ex.get(name) {
                    let about = w.about.iter().zip(&e.about);
                    for (text, v) in about.chain(w.not_about.iter().zip(&e.not_about)) {
                        known.insert(text.as_str(), v);
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        for (name, w) in &plan.watches {
            let e = Examples {
                about: self.embed_new(&w.about, &known).await?,
                not_about: self.embed_new(&w.not_about, &known).await?,
            };
            // An example the model panicked on would silently never match: its polls
            // fail instead, naming the watch (and are retried).
            if e.about
                .iter()
                .chain(&e.not_about)
                .any(|v| super::isolate::failed(v))
            {
                return Err(SemanticError::Model(format!(
                    "watch `{name}`: the semantic model failed on one of its example \
                     sentences (a bug, logged); its polls are retried"
                )));
            }
            out.insert(name.clone(), e);
        }
        drop(known);
        let out = Arc::new(out);
        cached.insert(0, (Arc::clone(plan), Arc::clone(&out)));
        cached.truncate(super::KEEP);
        Ok(out)
    }
}

/// Texts joined (`n` > 0) or left (`n` < 0) the queue. The gauge moves by the change
/// rather than being set to a count read before: threads setting it in another order
/// than they counted left it wrong until the next job, hours later on a quiet system.
pub(super) fn queued(n: f64) {
    metrics::gauge!("newswatch_semantic_queue_items").increment(n);
}

/// `n` texts embedded in `took`: one sample of time per text each (a job's one sample
/// weighed an example sentence as much as a poll of 1,000 items).
pub(super) fn embedded_texts(n: usize, took: std::time::Duration) {
    if n == 0 {
        return;
    }
    metrics::counter!("newswatch_semantic_items_total").increment(n as u64);
    metrics::histogram!("newswatch_semantic_item_seconds")
        .record_many(took.as_secs_f64() / n as f64, n);
}

fn work(model: &Model, rx: &Mutex<mpsc::Receiver<Job>>, counts: &super::Counts) {
    let waiting = &counts.waiting;
    loop {
        // One thread waits for the next job at a time; the others wait for the lock.
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
        let Some(job) = job else { return };
        let n = job.texts.len();
        if job.reply.is_closed() {
            // Its poll was cancelled while the job waited: nobody wants the vectors.
            waiting.fetch_sub(n, Ordering::Relaxed);
            queued(-(n as f64));
            continue;
        }
        let started = Instant::now();
        let refs: Vec<&str> = job.texts.iter().map(String::as_str).collect();
        // A panic in the model (a bug, never expected) costs the texts it panics on their
        // meaning, never the poll: see `isolate`.
        let embed = |texts: &[&str]| model.embed(texts);
        let embedded = super::isolate::embed_isolated(&embed, &refs, BATCH, model.dimensions());
        waiting.fetch_sub(n, Ordering::Relaxed);
        queued(-(n as f64));
        counts.embedded.fetch_add(n as u64, Ordering::Relaxed);
        embedded_texts(n, started.elapsed());
        if embedded.failed > 0 {
            tracing::error!(
                texts = n,
                failed = embedded.failed,
                "the semantic model panicked on some texts; they match no semantic watch"
            );
        }
        // The poll may have been cancelled (shutdown): nobody to answer then.
        let _ = job.reply.send(embedded.vectors);
    }
}
