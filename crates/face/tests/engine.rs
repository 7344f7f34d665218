//! The Engine as the server uses it: thread safety, identical results on any pool size, option
//! validation, and inputs that must not panic (tiny images, boxes outside the image, empty crops).

mod common;

use std::sync::Arc;

use common::{engine, load_image, models_dir};
use face::kernels::CropRect;
use face::{BBox, Detection, DetectorOptions, FaceError, PipelineOptions, RgbImage};

fn tiny(input_size: u32, score_threshold: f64) -> DetectorOptions {
    DetectorOptions::Tiny {
        input_size,
        score_threshold,
    }
}

fn solid(width: u32, height: u32, value: u8) -> RgbImage {
    RgbImage::from_raw(width, height, vec![value; (width * height * 3) as usize]).expect("size")
}

fn sample(n: u32) -> RgbImage {
    load_image(&models_dir().join(format!("sample{n}.jpg")))
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<face::Engine>();
}

#[test]
fn tiny_detector_accepts_only_multiples_of_32_from_128_to_608() {
    let image = solid(64, 48, 90);
    for ok in [128, 160, 224, 320, 416, 512, 608] {
        assert!(engine().detect(&image, &tiny(ok, 0.5)).is_ok(), "{ok}");
    }
    for bad in [0, 32, 96, 100, 415, 640, 1024] {
        let err = engine()
            .detect(&image, &tiny(bad, 0.5))
            .expect_err("accepted");
        assert!(
            matches!(
                err,
                FaceError::InvalidOption {
                    name: "input_size",
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
    for bad in [0.0, 1.0, -0.1, 2.0, f64::NAN] {
        let err = engine()
            .detect(&image, &tiny(416, bad))
            .expect_err("accepted");
        assert!(
            matches!(
                err,
                FaceError::InvalidOption {
                    name: "score_threshold",
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn tiny_and_extreme_aspect_images_give_no_face_and_no_panic() {
    let options = PipelineOptions::default();
    for (w, h) in [(1, 1), (2, 2), (1, 700), (700, 1), (31, 17), (3, 1000)] {
        for value in [0, 255] {
            let image = solid(w, h, value);
            let faces = engine().describe_all(&image, &options).expect("describe");
            assert!(faces.is_empty(), "{w}x{h}: {} faces", faces.len());
        }
    }
}

#[test]
fn blank_image_has_no_face() {
    let image = solid(640, 480, 128);
    assert!(engine()
        .detect(&image, &tiny(416, 0.5))
        .expect("detect")
        .is_empty());
    assert!(engine()
        .describe_single(&image, &PipelineOptions::default())
        .expect("describe")
        .is_none());
}

#[test]
fn results_are_bit_identical_on_one_and_two_threads() {
    let image = sample(1);
    let options = PipelineOptions::default();
    let one = in_pool(1, || engine().describe_all(&image, &options)).expect("1 thread");
    let two = in_pool(2, || engine().describe_all(&image, &options)).expect("2 threads");
    assert_eq!(one.len(), 3, "sample1 shows 3 faces");
    assert_eq!(one, two);
}

#[test]
fn concurrent_callers_get_the_same_answers_as_a_single_caller() {
    let engine = Arc::new(face::Engine::load(&models_dir()).expect("load"));
    let images: Vec<Arc<RgbImage>> = [1, 2, 3].map(|n| Arc::new(sample(n))).into();
    let options = PipelineOptions::default();
    let expected: Vec<_> = images
        .iter()
        .map(|img| engine.describe_single(img, &options).expect("describe"))
        .collect();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let (engine, image) = (Arc::clone(&engine), Arc::clone(&images[i % 3]));
            std::thread::spawn(move || engine.describe_single(&image, &options).expect("describe"))
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(
            handle.join().expect("thread"),
            expected[i % 3],
            "caller {i}"
        );
    }
}

#[test]
fn describe_single_is_the_highest_scoring_face_of_describe_all() {
    let image = sample(1);
    let options = PipelineOptions::default();
    let all = engine().describe_all(&image, &options).expect("all");
    let single = engine()
        .describe_single(&image, &options)
        .expect("single")
        .expect("a face");
    let best = all
        .iter()
        .max_by(|a, b| a.detection.score.total_cmp(&b.detection.score))
        .expect("faces");
    assert_eq!(&single, best);
    assert!(
        all.windows(2)
            .all(|w| w[0].detection.score >= w[1].detection.score),
        "NMS order"
    );
}

#[test]
fn boxes_outside_the_image_are_skipped_and_partial_ones_are_clipped() {
    let image = sample(2);
    let options = PipelineOptions::default();
    let at = |x, y, width, height| Detection {
        bbox: BBox {
            x,
            y,
            width,
            height,
        },
        score: 0.9,
    };
    let (w, h) = (f64::from(image.width), f64::from(image.height));
    for outside in [
        at(w + 5.0, 10.0, 100.0, 100.0),
        at(-300.0, 10.0, 100.0, 100.0),
        at(10.0, h, 50.0, 50.0),
        at(10.0, 10.0, 0.4, 80.0),
    ] {
        assert!(
            engine()
                .describe_detection(&image, &outside, &options)
                .is_none(),
            "{outside:?}"
        );
    }
    let partial = at(-40.0, -30.0, 200.0, 220.0);
    let face = engine()
        .describe_detection(&image, &partial, &options)
        .expect("partly inside");
    assert_eq!(face.landmarks.len(), 68);
    assert!(face.descriptor.0.iter().all(|v| v.is_finite()));
}

#[test]
fn descriptor_of_an_empty_or_out_of_image_crop_is_all_zero() {
    let image = solid(100, 80, 77);
    for crop in [
        CropRect {
            x: 10,
            y: 10,
            w: 0,
            h: 20,
        },
        CropRect {
            x: 90,
            y: 10,
            w: 20,
            h: 20,
        },
    ] {
        assert_eq!(engine().descriptor(&image, crop).0, [0.0; 128], "{crop:?}");
    }
}

#[test]
fn tiny_landmark_option_changes_landmarks_only_slightly() {
    let image = sample(2);
    let full = engine()
        .describe_single(&image, &PipelineOptions::default())
        .expect("full")
        .expect("face");
    let options = PipelineOptions {
        tiny_landmarks: true,
        ..PipelineOptions::default()
    };
    let small = engine()
        .describe_single(&image, &options)
        .expect("tiny")
        .expect("face");
    assert_eq!(full.detection, small.detection);
    assert_ne!(
        full.landmarks, small.landmarks,
        "the tiny net must actually run"
    );
    let box_w = full.detection.bbox.width;
    for (a, b) in full.landmarks.iter().zip(&small.landmarks) {
        let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
        assert!(
            d < 0.1 * box_w,
            "landmarks {d:.1} px apart on a {box_w:.0} px face"
        );
    }
    // The same person either way.
    assert!(face::euclidean_distance(&full.descriptor, &small.descriptor) < 0.3);
}

#[test]
fn detecting_in_a_region_finds_the_face_there_in_image_coordinates() {
    let image = sample(1);
    let whole = engine().detect(&image, &tiny(416, 0.5)).expect("detect");
    assert_eq!(whole.len(), 3, "sample1 shows 3 faces");
    for face in &whole {
        let b = face.bbox;
        // Twice the box around its centre, as the live check looks for a face it follows.
        let region = BBox {
            x: b.x - b.width / 2.0,
            y: b.y - b.height / 2.0,
            width: b.width * 2.0,
            height: b.height * 2.0,
        };
        let near = engine()
            .detect_in(&image, &region, &tiny(160, 0.3))
            .expect("detect_in");
        let closest = near
            .iter()
            .map(|d| {
                let dx = (d.bbox.x + d.bbox.width / 2.0) - (b.x + b.width / 2.0);
                let dy = (d.bbox.y + d.bbox.height / 2.0) - (b.y + b.height / 2.0);
                dx.hypot(dy) / b.width
            })
            .fold(f64::MAX, f64::min);
        assert!(
            closest < 0.25,
            "face at {b:?}: nearest found {closest:.2} box widths off"
        );
    }
    let nowhere = BBox {
        x: f64::from(image.width) + 10.0,
        y: 0.0,
        width: 50.0,
        height: 50.0,
    };
    assert!(engine()
        .detect_in(&image, &nowhere, &tiny(160, 0.3))
        .expect("detect_in")
        .is_empty());
}
