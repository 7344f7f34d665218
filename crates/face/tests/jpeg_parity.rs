//! The same JPEG gives the same descriptor here as face-api.js in a browser: our decoder gives
//! libjpeg-turbo's pixels for `models/sample*.jpg` and every photo in `../shared/faces` (their
//! SHA-256 in `tests/data/jpeg/photos.txt` come from libjpeg-turbo itself, through
//! `tools/reference/jpeg_fixtures.py`), the goldens were computed by face-api.js on exactly
//! those pixels, and `Engine` on `decode_image(jpeg bytes)` reproduces their descriptors.
//!
//! Missing photos or models fail these tests; they never skip.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{engine, image_goldens, l2, models_dir, pixels_sha256};
use face::{decode_image, DetectorOptions, FaceError, ImageLimits, PipelineOptions};

const DESCRIPTOR_TOL_L2: f64 = 1e-3;

/// `$FACEGATE_SHARED_FACES` or `<repo>/../shared/faces`; panics when absent.
fn shared_faces() -> PathBuf {
    let dir = std::env::var_os("FACEGATE_SHARED_FACES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/faces"),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "shared photos not found at {} (set FACEGATE_SHARED_FACES)",
        dir.display()
    );
    dir
}

fn photo_path(name: &str) -> PathBuf {
    let path = if name.starts_with("sample") {
        models_dir().join(name)
    } else {
        shared_faces().join(name)
    };
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// File name to libjpeg-turbo's pixel hash, from `photos.txt`.
fn oracle_hashes() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jpeg/photos.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[2].to_owned(), fields[0].to_owned())
        })
        .collect()
}

fn decode(path: &Path) -> face::RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode_image(&bytes, &ImageLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn photos_decode_to_libjpeg_turbo_pixels() {
    let oracle = oracle_hashes();
    let on_disk = std::fs::read_dir(shared_faces())
        .expect("shared faces")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg"))
        .count();
    assert_eq!(
        oracle.keys().filter(|n| !n.starts_with("sample")).count(),
        on_disk,
        "photos.txt and ../shared/faces list different JPEGs: rerun tools/reference/jpeg_fixtures.py"
    );
    assert_eq!(oracle.keys().filter(|n| n.starts_with("sample")).count(), 6);
    let mismatched: Vec<&String> = oracle
        .iter()
        .filter(|(name, digest)| pixels_sha256(&decode(&photo_path(name))) != **digest)
        .map(|(name, _)| name)
        .collect();
    assert!(
        mismatched.is_empty(),
        "decoded pixels differ from libjpeg-turbo's: {mismatched:?}"
    );
}

#[test]
fn descriptors_from_jpeg_bytes_match_faceapi_on_libjpeg_turbo_pixels() {
    let oracle = oracle_hashes();
    let goldens: Vec<_> = image_goldens()
        .into_iter()
        .filter(|(_, g)| g.image.ends_with(".jpg"))
        .collect();
    assert_eq!(
        goldens.len(),
        oracle.len(),
        "every JPEG needs a golden (tools/reference/regenerate.sh)"
    );
    let mut report = Vec::new();
    let (mut faces_checked, mut worst) = (0, 0.0f64);
    for (_, golden) in &goldens {
        let name = &golden.image;
        assert_eq!(
            oracle.get(name),
            Some(&golden.pixels_sha256),
            "{name}: face-api.js did not analyse libjpeg-turbo's pixels; regenerate the goldens"
        );
        let image = decode(&photo_path(name));
        for (detector, options, expected) in [
            (
                "tiny",
                DetectorOptions::tiny(),
                &golden.detectors.tiny.faces,
            ),
            ("ssd", DetectorOptions::ssd(), &golden.detectors.ssd.faces),
        ] {
            let options = PipelineOptions {
                detector: options,
                tiny_landmarks: false,
                expressions: false,
            };
            let faces = engine()
                .describe_all(&image, &options)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if faces.len() != expected.len() {
                report.push(format!(
                    "{name} [{detector}]: {} faces, face-api.js {}",
                    faces.len(),
                    expected.len()
                ));
                continue;
            }
            for (i, (face, gold)) in faces.iter().zip(expected.iter()).enumerate() {
                let distance = l2(&face.descriptor.0, &gold.descriptor);
                worst = worst.max(distance);
                faces_checked += 1;
                if distance > DESCRIPTOR_TOL_L2 {
                    report.push(format!(
                        "{name} [{detector}] face {i}: descriptor L2 {distance:.2e}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "{} JPEGs, {faces_checked} faces, worst descriptor L2 {worst:.2e}",
        goldens.len()
    );
    assert!(faces_checked >= 20, "only {faces_checked} faces compared");
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn half_a_photo_is_refused() {
    let bytes = std::fs::read(photo_path("sample1.jpg")).expect("sample1.jpg");
    let err = decode_image(&bytes[..bytes.len() / 2], &ImageLimits::default());
    assert!(matches!(err, Err(FaceError::ImageDecode { .. })), "{err:?}");
}
