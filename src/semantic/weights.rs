//! Reading a model's weights from a `model.safetensors` file: the JSON header, then each named
//! tensor's little-endian `F32` data, checked against the shape the caller expects.
//!
//! The format is an 8-byte header length, a JSON object naming each tensor's dtype, shape and
//! byte range, then the data. Types crossing the boundary: [`Tensors`], [`WeightsError`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What is wrong with a weights file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a safetensors file: {why}")]
    Format { path: PathBuf, why: String },
    #[error("{path}: no tensor named {name:?} (is this a BERT sentence-embedding model?)")]
    Missing { path: PathBuf, name: String },
    #[error("{path}: tensor {name:?} is {found}, expected {expected}")]
    Mismatch {
        path: PathBuf,
        name: String,
        found: String,
        expected: String,
    },
}

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// The tensors of one safetensors file, read into memory once.
pub struct Tensors {
    path: PathBuf,
    data: Vec<u8>,
    entries: HashMap<String, Entry>,
    /// Where the data starts (after the header).
    base: usize,
    /// A prefix every name carries in this file (`"bert."` in some checkpoints), or empty.
    prefix: String,
}

impl Tensors {
    /// The file's bytes (for the model's fingerprint).
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    pub fn open(path: &Path) -> Result<Self, WeightsError> {
        let data = std::fs::read(path).map_err(|source| WeightsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let format = |why: String| WeightsError::Format {
            path: path.to_owned(),
            why,
        };
        let head: [u8; 8] = data
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format("shorter than its 8-byte header length".into()))?;
        let header_len = usize::try_from(u64::from_le_bytes(head))
            .map_err(|_| format("header length out of range".into()))?;
        let base = 8usize
            .checked_add(header_len)
            .filter(|&end| end <= data.len())
            .ok_or_else(|| {
                format(format!(
                    "header length {header_len} past the end of the file"
                ))
            })?;
        let header: HashMap<String, serde_json::Value> = serde_json::from_slice(&data[8..base])
            .map_err(|e| format(format!("header is not a JSON object: {e}")))?;
        let mut entries = HashMap::new();
        for (name, value) in header {
            if name == "__metadata__" {
                continue;
            }
            let entry: Entry = serde_json::from_value(value)
                .map_err(|e| format(format!("tensor {name:?}: {e}")))?;
            entries.insert(name, entry);
        }
        let prefix = if entries.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert.".to_owned()
        } else {
            String::new()
        };
        Ok(Self {
            path: path.to_owned(),
            data,
            entries,
            base,
            prefix,
        })
    }

    /// The `F32` tensor `name` (without the file's prefix), which must have `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let full = format!("{}{name}", self.prefix);
        let entry = self
            .entries
            .get(&full)
            .ok_or_else(|| WeightsError::Missing {
                path: self.path.clone(),
                name: full.clone(),
            })?;
        let mismatch = |found: String, expected: String| WeightsError::Mismatch {
            path: self.path.clone(),
            name: full.clone(),
            found,
            expected,
        };
        if entry.dtype != "F32" {
            return Err(mismatch(
                format!("of type {}", entry.dtype),
                "F32 (convert the model to float32 safetensors)".into(),
            ));
        }
        if entry.shape != shape {
            return Err(mismatch(
                format!("of shape {:?}", entry.shape),
                format!("{shape:?}"),
            ));
        }
        let [begin, end] = entry.data_offsets;
        // Checked: a damaged header's huge shape must not wrap around to a small size.
        let size = shape
            .iter()
            .try_fold(4usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| mismatch(format!("of shape {shape:?}"), "a size that fits".into()))?;
        let bytes = self
            .base
            .checked_add(begin)
            .zip(self.base.checked_add(end))
            .and_then(|(b, e)| self.data.get(b..e))
            .filter(|b| b.len() == size)
            .ok_or_else(|| {
                mismatch(
                    format!("stored at bytes {begin}..{end}"),
                    format!("{size} bytes inside the file"),
                )
            })?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> tempfile::NamedTempFile {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn a_tensor_is_read_by_name_and_checked_against_its_shape() {
        let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = file(
            r#"{"__metadata__":{"format":"pt"},"bert.a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"bert.embeddings.word_embeddings.weight":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#,
            &data,
        );
        let t = Tensors::open(f.path()).unwrap();
        assert_eq!(t.f32("a", &[2, 2]).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        let wrong_shape = t.f32("a", &[4]).unwrap_err().to_string();
        assert!(
            wrong_shape.contains("\"bert.a\" is of shape [2, 2], expected [4]"),
            "{wrong_shape}"
        );
        let wrong_type = t
            .f32("embeddings.word_embeddings.weight", &[1])
            .unwrap_err()
            .to_string();
        assert!(wrong_type.contains("of type F16"), "{wrong_type}");
        assert!(matches!(
            t.f32("b", &[1]),
            Err(WeightsError::Missing { .. })
        ));
    }

    #[test]
    fn truncated_or_garbled_files_are_errors_not_panics() {
        let f = file(
            r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            &[0; 8],
        );
        let t = Tensors::open(f.path()).unwrap();
        assert!(matches!(
            t.f32("a", &[4]),
            Err(WeightsError::Mismatch { .. })
        ));
        // A shape whose size overflows (2^62 floats of 4 bytes wrap to 0 bytes) is refused,
        // not read as an empty tensor that later panics.
        let huge = file(
            r#"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#,
            &[],
        );
        let t = Tensors::open(huge.path()).unwrap();
        let err = t.f32("a", &[1 << 62]).unwrap_err().to_string();
        assert!(err.contains("a size that fits"), "{err}");
        let g = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(g.path(), [200, 0, 0, 0, 0, 0, 0, 0, b'{']).unwrap();
        assert!(matches!(
            Tensors::open(g.path()),
            Err(WeightsError::Format { .. })
        ));
        std::fs::write(g.path(), [1, 0, 0, 0, 0, 0, 0, 0, b'[']).unwrap();
        assert!(matches!(
            Tensors::open(g.path()),
            Err(WeightsError::Format { .. })
        ));
        std::fs::write(g.path(), [1, 0]).unwrap();
        assert!(matches!(
            Tensors::open(g.path()),
            Err(WeightsError::Format { .. })
        ));
    }
}
