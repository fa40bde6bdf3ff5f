//! Embedding that survives the model panicking on one text.
//!
//! Owns [`embed_isolated`], which the embedding threads run on every job. Before it, a panic
//! failed the whole job: its poll failed and was retried with the same items, so one text the
//! model cannot take stopped its feed for good (its keyword matches too), and one example
//! sentence every poll that found new items.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// What the model made of a job's texts.
#[derive(Debug, PartialEq)]
pub(crate) struct Embedded {
    /// One vector per text, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Texts the model panicked on, each given a zero vector.
    pub failed: usize,
}

/// Vectors of `texts` by `embed`, `batch` texts at a time. A batch the model panics on is
/// embedded again one text at a time, and a text it panics on alone gets a zero vector of
/// `dims` numbers: its cosine with every example is 0, below any `similarity`, so it matches no
/// semantic watch while its poll (and every keyword match in it) goes on.
pub(crate) fn embed_isolated(
    embed: &dyn Fn(&[&str]) -> Vec<Vec<f32>>,
    texts: &[&str],
    batch: usize,
    dims: usize,
) -> Embedded {
    let mut out = Embedded {
        vectors: Vec::with_capacity(texts.len()),
        failed: 0,
    };
    for chunk in texts.chunks(batch.max(1)) {
        if let Ok(vectors) = catch_unwind(AssertUnwindSafe(|| embed(chunk))) {
            out.vectors.extend(vectors);
            continue;
        }
        for text in chunk {
            match catch_unwind(AssertUnwindSafe(|| embed(&[text]))) {
                Ok(mut one) if one.len() == 1 => out.vectors.append(&mut one),
                _ => {
                    out.vectors.push(vec![0.0; dims]);
                    out.failed += 1;
                }
            }
        }
    }
    out
}

/// Whether `vector` is the zero vector [`embed_isolated`] gives a text the model panicked on
/// (a model's own vectors are normalised: never all zeros).
pub(crate) fn failed(vector: &[f32]) -> bool {
    vector.iter().all(|x| *x == 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in model: a text's vector is its length, and it panics on "poison".
    fn model(texts: &[&str]) -> Vec<Vec<f32>> {
        assert!(
            !texts.contains(&"poison"),
            "the model cannot take this text"
        );
        texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect()
    }

    #[test]
    fn a_text_the_model_panics_on_gets_a_zero_vector_and_the_rest_theirs() {
        let texts = ["a", "bb", "poison", "dddd", "eeeee"];
        let got = embed_isolated(&model, &texts, 2, 2);
        assert_eq!(got.failed, 1);
        assert_eq!(
            got.vectors,
            [
                vec![1.0, 1.0],
                vec![2.0, 1.0],
                vec![0.0, 0.0],
                vec![4.0, 1.0],
                vec![5.0, 1.0]
            ]
        );
        assert!(failed(&got.vectors[2]));
        assert!(!failed(&got.vectors[0]));
        let clean = embed_isolated(&model, &["a", "bb"], 16, 2);
        assert_eq!(clean.failed, 0);
        assert_eq!(clean.vectors.len(), 2);
    }
}
