//! face-api.js weight files: a JSON manifest plus one binary file, decoded as the spec's §1 says
//! (uint8 dequantised in double then rounded once to f32, unaligned little-endian f32, no padding
//! between tensors, lookup by name).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{FaceError, Result};

/// One model's tensors, dequantised to f32 and addressed by their manifest names.
pub struct Weights {
    model: String,
    tensors: HashMap<String, Tensor>,
}

/// A named weight tensor: its shape and row-major f32 values.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: f64,
    min: f64,
}

impl Weights {
    /// Loads `<dir>/<model>-weights_manifest.json` and the binary files it names.
    pub fn load(dir: &Path, model: &str) -> Result<Self> {
        let manifest_path = dir.join(format!("{model}-weights_manifest.json"));
        if !manifest_path.exists() {
            return Err(FaceError::ModelsMissing {
                dir: dir.to_path_buf(),
            });
        }
        let manifest = read(&manifest_path)?;
        let groups: Vec<ManifestGroup> =
            serde_json::from_slice(&manifest).map_err(|e| FaceError::Manifest {
                path: manifest_path.clone(),
                reason: e.to_string(),
            })?;
        let [group] = <[ManifestGroup; 1]>::try_from(groups).map_err(|g| FaceError::Manifest {
            path: manifest_path.clone(),
            reason: format!("expected exactly one weight group, found {}", g.len()),
        })?;
        let mut bytes = Vec::new();
        for file in &group.paths {
            if file.contains('/') || file.contains("..") {
                return Err(FaceError::Manifest {
                    path: manifest_path.clone(),
                    reason: format!("weight path `{file}` leaves the model directory"),
                });
            }
            bytes.extend_from_slice(&read(&dir.join(file))?);
        }
        let bin_path = dir.join(group.paths.first().map_or("", String::as_str));
        Self::from_parts(model, &manifest_path, &bin_path, &group.weights, &bytes)
    }

    /// Decodes the tensors of a manifest from an in-memory byte buffer.
    fn from_parts(
        model: &str,
        manifest_path: &Path,
        bin_path: &Path,
        entries: &[ManifestEntry],
        bytes: &[u8],
    ) -> Result<Self> {
        let mut offset = 0usize;
        let mut tensors = HashMap::with_capacity(entries.len());
        for entry in entries {
            let numel = entry
                .shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d));
            let Some(numel) = numel else {
                return Err(FaceError::Manifest {
                    path: manifest_path.to_path_buf(),
                    reason: format!("tensor `{}` has an overflowing shape", entry.name),
                });
            };
            let element_size = match &entry.quantization {
                Some(q) if q.dtype == "uint8" => 1,
                Some(q) => {
                    return Err(FaceError::Manifest {
                        path: manifest_path.to_path_buf(),
                        reason: format!(
                            "tensor `{}`: unsupported quantization {}",
                            entry.name, q.dtype
                        ),
                    })
                }
                None => 4,
            };
            let end = offset.saturating_add(numel.saturating_mul(element_size));
            if end > bytes.len() {
                return Err(FaceError::WeightsTruncated {
                    path: bin_path.to_path_buf(),
                    tensor: entry.name.clone(),
                    start: offset,
                    end,
                    len: bytes.len(),
                });
            }
            let raw = &bytes[offset..end];
            let data = decode_tensor(entry, raw).map_err(|reason| FaceError::Manifest {
                path: manifest_path.to_path_buf(),
                reason,
            })?;
            tensors.insert(
                entry.name.clone(),
                Tensor {
                    shape: entry.shape.clone(),
                    data,
                },
            );
            offset = end;
        }
        if offset != bytes.len() {
            return Err(FaceError::WeightsTrailing {
                path: bin_path.to_path_buf(),
                extra: bytes.len() - offset,
            });
        }
        Ok(Self {
            model: model.to_string(),
            tensors,
        })
    }

    /// The tensor called `name`, checked to have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let tensor = self.tensor(name)?;
        if tensor.shape != shape {
            return Err(FaceError::TensorShape {
                model: self.model.clone(),
                tensor: name.to_string(),
                expected: shape.to_vec(),
                actual: tensor.shape.clone(),
            });
        }
        Ok(&tensor.data)
    }

    /// The tensor called `name`, whatever its shape.
    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| FaceError::TensorMissing {
                model: self.model.clone(),
                tensor: name.to_string(),
            })
    }

    /// The model name these weights were loaded for.
    pub fn model(&self) -> &str {
        &self.model
    }
}

fn decode_tensor(entry: &ManifestEntry, raw: &[u8]) -> std::result::Result<Vec<f32>, String> {
    if let Some(q) = &entry.quantization {
        // Dequantise in double and round once, as tfjs does (spec §1.3).
        return Ok(raw
            .iter()
            .map(|&b| match entry.dtype.as_str() {
                "int32" => (f64::from(b) * q.scale + q.min).round() as f32,
                _ => (f64::from(b) * q.scale + q.min) as f32,
            })
            .collect());
    }
    match entry.dtype.as_str() {
        "float32" => Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()),
        "int32" => Ok(raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect()),
        other => Err(format!(
            "tensor `{}` has unsupported dtype {other}",
            entry.name
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| FaceError::Io {
        path: PathBuf::from(path),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, shape: &[usize], quantized: bool) -> ManifestEntry {
        ManifestEntry {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: "float32".into(),
            quantization: quantized.then(|| Quantization {
                dtype: "uint8".into(),
                scale: 0.5,
                min: -1.0,
            }),
        }
    }

    fn parse(entries: &[ManifestEntry], bytes: &[u8]) -> Result<Weights> {
        Weights::from_parts("m", Path::new("m.json"), Path::new("m.bin"), entries, bytes)
    }

    #[test]
    fn dequantises_and_reads_unaligned_floats() {
        // One u8 tensor of 3 elements, then an f32 scalar starting at the odd offset 3.
        let mut bytes = vec![0u8, 2, 4];
        bytes.extend_from_slice(&1.25f32.to_le_bytes());
        let w = parse(&[entry("a", &[3], true), entry("b", &[], false)], &bytes).expect("parse");
        assert_eq!(w.get("a", &[3]).expect("a"), &[-1.0, 0.0, 1.0]);
        assert_eq!(w.get("b", &[]).expect("b"), &[1.25]);
    }

    #[test]
    fn truncated_file_names_the_tensor() {
        let err = parse(
            &[entry("a", &[3], true), entry("b", &[2], false)],
            &[0, 1, 2, 0],
        );
        match err {
            Err(FaceError::WeightsTruncated { tensor, .. }) => assert_eq!(tensor, "b"),
            other => panic!("expected truncation error, got {:?}", other.err()),
        }
    }

    #[test]
    fn wrong_shape_and_missing_tensor_are_errors() {
        let w = parse(&[entry("a", &[2], true)], &[0, 1]).expect("parse");
        assert!(matches!(
            w.get("a", &[3]),
            Err(FaceError::TensorShape { .. })
        ));
        assert!(matches!(
            w.get("zz", &[2]),
            Err(FaceError::TensorMissing { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_reported() {
        assert!(matches!(
            parse(&[entry("a", &[2], true)], &[0, 1, 9]),
            Err(FaceError::WeightsTrailing { extra: 1, .. })
        ));
    }
}
