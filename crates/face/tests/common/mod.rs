//! Shared by the parity tests: where the models, the shared photos and the goldens are, the
//! golden file format, and one engine loaded once per test binary.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use face::{decode_image, Engine, ImageLimits, RgbImage};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$FACEGATE_MODELS` or `<repo>/models`; panics with the fetch command when the weights are absent.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os(face::models::DIR_ENV).map_or_else(
        || repo_root().join(face::models::DEFAULT_DIR),
        PathBuf::from,
    );
    assert!(
        face::models::is_complete(&dir),
        "face-api models not found in {}: run `facegate models fetch` \
         (cargo run --release -- models fetch) or set FACEGATE_MODELS",
        dir.display()
    );
    dir
}

/// `$FACEGATE_SHARED_FACES` or `<repo>/../shared/faces`. A missing directory fails the test
/// loudly: a test must never pass by doing nothing. Always `Some` when it returns.
pub fn shared_faces_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED_FACES")
        .map_or_else(|| repo_root().join("../shared/faces"), PathBuf::from);
    assert!(
        dir.is_dir(),
        "{test}: shared photos not found at {} (set FACEGATE_SHARED_FACES)",
        dir.display()
    );
    Some(dir)
}

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = models_dir();
        Engine::load(&dir).unwrap_or_else(|e| panic!("loading models from {}: {e}", dir.display()))
    })
}

pub fn load_image(path: &Path) -> RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode_image(&bytes, &ImageLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn pixels_sha256(image: &RgbImage) -> String {
    hex::encode(Sha256::digest(&image.pixels))
}

/// One `crates/face/tests/golden/<image>.json` (written by `tools/reference/golden.mjs`).
#[derive(Debug, Deserialize)]
pub struct ImageGolden {
    pub library: String,
    pub backend: String,
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub pixels_sha256: String,
    pub detectors: Detectors,
}

#[derive(Debug, Deserialize)]
pub struct Detectors {
    pub tiny: DetectorGolden,
    pub ssd: DetectorGolden,
    pub tiny_with_tiny_landmarks: DetectorGolden,
}

#[derive(Debug, Deserialize)]
pub struct DetectorGolden {
    pub faces: Vec<FaceGolden>,
}

#[derive(Debug, Deserialize)]
pub struct FaceGolden {
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    pub score: f64,
    pub landmarks: Vec<f64>,
    pub aligned_rect: [f64; 4],
    pub dlib_rect: [f64; 4],
    pub descriptor: Vec<f32>,
    pub expressions: Vec<f32>,
}

impl ImageGolden {
    pub fn read(path: &Path) -> Self {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Every per-image golden file (not `nets.json`), sorted by name.
pub fn image_goldens() -> Vec<(PathBuf, ImageGolden)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("crates/face/tests/golden exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("nets.json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let g = ImageGolden::read(&p);
            (p, g)
        })
        .collect()
}

/// Where a golden's source image lives: sample*.jpg in the models dir, the rest in shared/faces.
pub fn golden_source(golden: &ImageGolden, shared: Option<&Path>) -> Option<PathBuf> {
    if golden.image.starts_with("sample") {
        Some(models_dir().join(&golden.image))
    } else {
        shared.map(|dir| dir.join(&golden.image))
    }
}

/// Decodes a base64 string (standard alphabet, `=` padding) into bytes.
pub fn base64_decode(text: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("invalid base64 byte {c}"),
        }
    }
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c) << (18 - 6 * i);
        }
        let n = chunk.len() - 1; // 4 chars → 3 bytes, 3 → 2, 2 → 1
        out.extend_from_slice(&acc.to_be_bytes()[1..=n]);
    }
    out
}

/// Little-endian float32 values from base64.
pub fn f32_from_base64(text: &str) -> Vec<f32> {
    base64_decode(text)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Largest `|a_i - b_i|` and the largest `|b_i|` (the reference's magnitude).
pub fn max_abs_diff(actual: &[f32], expected: &[f32]) -> (f64, f64) {
    assert_eq!(actual.len(), expected.len(), "output length");
    let diff = actual
        .iter()
        .zip(expected)
        .map(|(&a, &e)| (f64::from(a) - f64::from(e)).abs())
        .fold(0.0, f64::max);
    let scale = expected
        .iter()
        .map(|&e| f64::from(e).abs())
        .fold(0.0, f64::max);
    (diff, scale)
}

#[test]
fn base64_decoder_round_trips_known_vectors() {
    assert_eq!(base64_decode("TWFu"), b"Man");
    assert_eq!(base64_decode("TWE="), b"Ma");
    assert_eq!(base64_decode("TQ=="), b"M");
    assert_eq!(f32_from_base64("AACAPwAAAMA="), vec![1.0, -2.0]);
}
