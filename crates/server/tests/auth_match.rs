//! The match rule on real photos of known identities, with the server's own pipelines (SSD for
//! enrolment, TinyFaceDetector for verification) and the default threshold: every genuine pair
//! must pass and every impostor pair must fail. Prints the distance ranges, the measured false
//! match / false non-match rates of this (small) set.

mod common;

use common::*;
use face::{Descriptor, Engine, ImageLimits};
use server::config::FaceConfig;
use server::faces::{decide, pipeline};

const PHOTOS: [&str; 13] = [
    "obama_1",
    "obama_2",
    "obama_3",
    "obama_4",
    "biden_1",
    "biden_2",
    "kit_harington_1",
    "kit_harington_2",
    "rose_leslie_1",
    "rose_leslie_2",
    "alex_lacamoire_1",
    "alex_lacamoire_2",
    "edge_exif_rotated_obama",
];

fn identity(name: &str) -> &str {
    match name {
        "edge_exif_rotated_obama" => "obama",
        other => other.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_'),
    }
}

fn describe(engine: &Engine, name: &str, options: &face::PipelineOptions) -> Option<Descriptor> {
    let image = face::decode_image(&photo(name), &ImageLimits::default()).expect("decode");
    let faces = engine.describe_all(&image, options).expect("describe");
    (faces.len() == 1).then(|| faces[0].descriptor)
}

#[test]
fn default_threshold_separates_every_identity_pair_of_the_test_photos() {
    require_fixtures();
    let engine = Engine::load(&models_dir()).expect("engine");
    let config = FaceConfig::default();
    let enrol_options = pipeline(config.enrol_detector, &config);
    let verify_options = pipeline(config.verify_detector, &config);
    let photos = PHOTOS;
    let enrolled: Vec<(&str, Descriptor)> = photos
        .iter()
        .map(|p| {
            (
                *p,
                describe(&engine, p, &enrol_options)
                    .unwrap_or_else(|| panic!("{p}: one face at enrolment")),
            )
        })
        .collect();
    let probes: Vec<(&str, Descriptor)> = photos
        .iter()
        .map(|p| {
            (
                *p,
                describe(&engine, p, &verify_options)
                    .unwrap_or_else(|| panic!("{p}: one face at verification")),
            )
        })
        .collect();

    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    for (e_name, e) in &enrolled {
        for (p_name, p) in &probes {
            if e_name == p_name {
                continue;
            }
            let outcome = decide(&[Some(*p)], &[*e], config.match_threshold);
            let distance = outcome.distances[0].expect("distance");
            let same = identity(e_name) == identity(p_name);
            if same {
                genuine.push(distance)
            } else {
                impostor.push(distance)
            }
            if outcome.passed != same {
                wrong.push(format!("{e_name} vs {p_name}: {distance:.3}"));
            }
        }
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    eprintln!(
        "genuine pairs {}: distance {:.3}..{:.3}; impostor pairs {}: {:.3}..{:.3}; errors {}",
        genuine.len(),
        min(&genuine),
        max(&genuine),
        impostor.len(),
        min(&impostor),
        max(&impostor),
        wrong.len()
    );
    assert!(genuine.len() >= 20 && impostor.len() >= 100);
    assert!(wrong.is_empty(), "misclassified pairs: {wrong:#?}");
}
