//! The semantic model's speed and memory, and its vectors for checking against a reference.
//!
//! `cargo run --release --features semantic --example embed -- MODEL_DIR bench [BATCH]` embeds
//! the 664 labelled items of `tests/fixtures/semantic/items.jsonl` (title + lead) on one
//! thread and prints items/s, ms per item, tokens per item and peak RSS.
//! `… -- MODEL_DIR vectors < texts.jsonl` prints each JSON-string line's token count and vector.

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use newswatch::semantic::model::Model;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(mode)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: embed MODEL_DIR bench [BATCH] | vectors");
    };
    let started = Instant::now();
    let model = Model::load(Path::new(dir))?;
    eprintln!("loaded in {:.2} s", started.elapsed().as_secs_f64());
    match mode.as_str() {
        "bench" => {
            let batch: usize = args.get(3).map_or(Ok(16), |b| b.parse())?;
            let text = std::fs::read_to_string("tests/fixtures/semantic/items.jsonl")?;
            let mut items = Vec::new();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line)?;
                let title = v["title"].as_str().unwrap_or_default();
                let lead = v["lead"].as_str().unwrap_or_default();
                items.push(format!("{title}. {lead}"));
            }
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            let tokens: usize = refs.iter().map(|t| model.tokens(t).len()).sum();
            // One warm-up pass, then three timed passes; the best is reported.
            let mut best = f64::MAX;
            for _ in 0..4 {
                let t = Instant::now();
                for chunk in refs.chunks(batch.max(1)) {
                    std::hint::black_box(model.embed(chunk));
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            let n = refs.len() as f64;
            println!(
                "{} items, {:.1} tokens per item, batch {batch}: {:.1} items/s, {:.2} ms per item, peak RSS {}",
                refs.len(),
                tokens as f64 / n,
                n / best,
                best * 1000.0 / n,
                peak_rss().unwrap_or_else(|| "unknown".into())
            );
        }
        "vectors" => {
            for line in std::io::stdin().lock().lines() {
                let text: String = serde_json::from_str(&line?)?;
                let v = model.embed(&[&text]).remove(0);
                println!(
                    "{}",
                    serde_json::json!({"text": text, "tokens": model.tokens(&text).len(), "vector": v})
                );
            }
        }
        other => anyhow::bail!("unknown mode {other:?}"),
    }
    Ok(())
}

fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line["VmHWM:".len()..].trim().to_owned())
}
