//! The model directory: which files it must hold and their committed SHA-256 sums.
//!
//! Weights come from the `@vladmandic/face-api` 1.7.15 npm package (fetched by
//! `facegate models fetch`) and are never committed; the sums below are.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{FaceError, Result};

/// The npm package and version the weights (and reference goldens) come from.
pub const PACKAGE: &str = "@vladmandic/face-api@1.7.15";

/// `sha256sum`-format list of every file the models directory holds.
pub const SHA256_SUMS: &str = include_str!("../model-files.sha256");

/// The default models directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "models";

/// Environment variable that overrides the models directory everywhere.
pub const DIR_ENV: &str = "FACEGATE_MODELS";

/// `(file name, expected hex sha256)` for every file of the models directory.
pub fn expected_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    SHA256_SUMS.lines().filter_map(|line| {
        let (sum, name) = line.split_once("  ")?;
        Some((name.trim(), sum.trim()))
    })
}

/// The models directory from `$FACEGATE_MODELS`, else `./models`.
pub fn default_dir() -> PathBuf {
    std::env::var_os(DIR_ENV).map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// True when every expected file is present (sizes and sums not checked: see [`verify_dir`]).
pub fn is_complete(dir: &Path) -> bool {
    expected_files().all(|(name, _)| dir.join(name).is_file())
}

/// Checks every expected file against its committed sum.
pub fn verify_dir(dir: &Path) -> Result<()> {
    for (name, expected) in expected_files() {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(FaceError::ModelsMissing {
                dir: dir.to_path_buf(),
            });
        }
        verify_file(&path, expected)?;
    }
    Ok(())
}

/// Checks one file against a hex SHA-256 sum.
pub fn verify_file(path: &Path, expected: &str) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|source| FaceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != expected {
        return Err(FaceError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_list_every_model_and_sample() {
        let names: Vec<_> = expected_files().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 20, "{names:?}");
        assert!(names.contains(&"face_recognition_model.bin"));
        assert!(names.contains(&"sample6.jpg"));
        assert!(expected_files().all(|(_, s)| s.len() == 64));
    }

    #[test]
    fn tampered_file_fails_verification() {
        let dir = std::env::temp_dir().join(format!("facegate-sum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let file = dir.join("x.bin");
        std::fs::write(&file, b"abc").expect("write");
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(verify_file(&file, abc).is_ok());
        std::fs::write(&file, b"abd").expect("write");
        assert!(matches!(
            verify_file(&file, abc),
            Err(FaceError::ChecksumMismatch { .. })
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
