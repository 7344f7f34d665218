//! SSD MobileNetV1 and expressions through the Engine API: option validation, limits and
//! inputs the goldens do not cover (blank, tiny and extreme-aspect images).

mod common;

use common::{engine, load_image, models_dir};
use face::{DetectorOptions, FaceError, PipelineOptions, RgbImage};

fn ssd(min_confidence: f64, max_results: usize) -> DetectorOptions {
    DetectorOptions::Ssd {
        min_confidence,
        max_results,
    }
}

fn solid(width: u32, height: u32, value: u8) -> RgbImage {
    RgbImage::from_raw(width, height, vec![value; (width * height * 3) as usize]).expect("size")
}

#[test]
fn ssd_rejects_min_confidence_outside_the_open_unit_interval() {
    let image = solid(64, 64, 128);
    for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        let err = engine()
            .detect(&image, &ssd(bad, 100))
            .expect_err("invalid option accepted");
        assert!(
            matches!(
                err,
                FaceError::InvalidOption {
                    name: "min_confidence",
                    ..
                }
            ),
            "{err}"
        );
    }
    let err = engine()
        .detect(&image, &ssd(0.5, 0))
        .expect_err("max_results 0 accepted");
    assert!(
        matches!(
            err,
            FaceError::InvalidOption {
                name: "max_results",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn ssd_finds_no_face_in_blank_images() {
    for value in [0, 128, 255] {
        let faces = engine()
            .detect(&solid(640, 480, value), &DetectorOptions::ssd())
            .expect("detect");
        assert!(faces.is_empty(), "grey {value}: {faces:?}");
    }
}

#[test]
fn ssd_survives_tiny_and_extreme_aspect_images() {
    for (w, h) in [(8, 8), (9, 8), (8, 3000), (3000, 8), (1, 1)] {
        let image = solid(w, h, 90);
        let result = engine().describe_all(
            &image,
            &PipelineOptions {
                detector: DetectorOptions::ssd(),
                expressions: true,
                ..PipelineOptions::default()
            },
        );
        assert!(result.is_ok(), "{w}x{h}: {result:?}");
    }
}

#[test]
fn ssd_max_results_keeps_the_highest_scoring_faces() {
    let image = load_image(&models_dir().join("sample1.jpg"));
    let all = engine()
        .detect(&image, &DetectorOptions::ssd())
        .expect("detect");
    assert!(
        all.len() >= 3,
        "sample1 shows three faces, found {}",
        all.len()
    );
    assert!(
        all.windows(2).all(|w| w[0].score >= w[1].score),
        "not in score order: {all:?}"
    );
    let top2 = engine().detect(&image, &ssd(0.5, 2)).expect("detect");
    assert_eq!(top2, all[..2].to_vec());
}

#[test]
fn ssd_min_confidence_drops_faces_at_or_below_it() {
    let image = load_image(&models_dir().join("sample1.jpg"));
    let all = engine()
        .detect(&image, &DetectorOptions::ssd())
        .expect("detect");
    let lowest = all.last().expect("faces").score;
    let fewer = engine().detect(&image, &ssd(lowest, 100)).expect("detect");
    assert_eq!(
        fewer,
        all[..all.len() - 1].to_vec(),
        "a score equal to minConfidence is dropped"
    );
}

#[test]
fn expressions_are_computed_only_when_asked_for() {
    let image = load_image(&models_dir().join("sample1.jpg"));
    let options = PipelineOptions {
        detector: DetectorOptions::ssd(),
        ..PipelineOptions::default()
    };
    let without = engine()
        .describe_single(&image, &options)
        .expect("describe")
        .expect("a face");
    assert!(without.expressions.is_none());
    let with = engine()
        .describe_single(
            &image,
            &PipelineOptions {
                expressions: true,
                ..options
            },
        )
        .expect("describe")
        .expect("a face");
    let x = with.expressions.expect("expressions");
    let sum = x.neutral + x.happy + x.sad + x.angry + x.fearful + x.disgusted + x.surprised;
    assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");
    assert_eq!(
        with.descriptor, without.descriptor,
        "expressions must not change the descriptor"
    );
}
