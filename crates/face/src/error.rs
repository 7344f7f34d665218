//! The one error type of the face crate.

use std::path::PathBuf;

/// Everything that can go wrong between bytes on disk and a face descriptor.
///
/// Variants carry the offending value (file, tensor, size) so that a message alone tells the
/// operator what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaceError {
    #[error("model files not found in {dir}: run `facegate models fetch --dir {dir}` first")]
    ModelsMissing { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed weight manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("weights file {path} is too short for tensor `{tensor}`: needs bytes {start}..{end}, file has {len}")]
    WeightsTruncated {
        path: PathBuf,
        tensor: String,
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("weights file {path} has {extra} bytes after the last tensor")]
    WeightsTrailing { path: PathBuf, extra: usize },
    #[error("tensor `{tensor}` missing from {model}")]
    TensorMissing { model: String, tensor: String },
    #[error("tensor `{tensor}` of {model} has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        model: String,
        tensor: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("model file {path} has SHA-256 {actual}, expected {expected}")]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("image is empty")]
    ImageEmpty,
    #[error("image is {size} bytes, the limit is {limit}")]
    ImageTooLarge { size: usize, limit: usize },
    #[error("image is {width}x{height} = {pixels} pixels, the limit is {limit}")]
    ImageTooManyPixels {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("image is {width}x{height}, too small to hold a face")]
    ImageTooSmall { width: u32, height: u32 },
    #[error("not a supported image (JPEG, PNG or WebP)")]
    ImageFormat,
    #[error("image cannot be decoded: {reason}")]
    ImageDecode { reason: String },
    #[error("invalid option {name} = {value}: {reason}")]
    InvalidOption {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

pub type Result<T, E = FaceError> = std::result::Result<T, E>;
