//! Per-network parity with the real `@vladmandic/face-api` 1.7.15: raw outputs on the fixed
//! inputs of `golden/nets.json` (a non-square crop of sample1.jpg for the face nets, the whole
//! image for the detectors) must be within 1e-4 of the largest reference output magnitude.

mod common;

use std::sync::OnceLock;

use common::{f32_from_base64, golden_dir, load_image, max_abs_diff, models_dir, pixels_sha256};
use face::kernels::CropRect;
use face::nets::age_gender::{self, AgeGenderNet};
use face::nets::face_expression::{self, FaceExpressionNet};
use face::nets::face_landmark68::{self, FaceLandmark68Net};
use face::nets::face_recognition::{self, FaceRecognitionNet};
use face::nets::ssd_mobilenetv1::{self, SsdMobilenetV1};
use face::nets::tiny_face_detector::{self, TinyFaceDetector};
use face::nets::{face_input, FACE_MEAN_RGB};
use face::weights::Weights;
use face::RgbImage;
use serde::Deserialize;

const REL_TOL: f64 = 1e-4;

#[derive(Deserialize)]
struct NetsGolden {
    library: String,
    image: String,
    crop: Crop,
    crop_nets: CropNets,
    tiny_face_detector: TinyGolden,
    ssd_mobilenetv1: SsdGolden,
}

#[derive(Deserialize)]
struct Crop {
    x: usize,
    y: usize,
    width: usize,
    height: usize,
}

#[derive(Deserialize)]
struct CropNets {
    face_landmark_68: Vec<f32>,
    face_landmark_68_tiny: Vec<f32>,
    face_recognition: Vec<f32>,
    face_expression_logits: Vec<f32>,
    face_expression_probs: Vec<f32>,
    age_gender: AgeGenderGolden,
}

#[derive(Deserialize)]
struct AgeGenderGolden {
    age: f32,
    gender_probs: Vec<f32>,
}

#[derive(Deserialize)]
struct TinyGolden {
    input_size: usize,
    shape: Vec<usize>,
    f32le_base64: String,
}

#[derive(Deserialize)]
struct SsdGolden {
    boxes_shape: Vec<usize>,
    boxes_f32le_base64: String,
    scores_f32le_base64: String,
}

struct Fixture {
    golden: NetsGolden,
    image: RgbImage,
    crop: CropRect,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = golden_dir().join("nets.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let golden: NetsGolden = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(golden.library.contains("face-api@1.7.15"), "nets.json made by {}", golden.library);
        let image = load_image(&models_dir().join(&golden.image));
        let image_golden = common::ImageGolden::read(&golden_dir().join("sample1.json"));
        assert_eq!(
            pixels_sha256(&image),
            image_golden.pixels_sha256,
            "decoded sample1.jpg differs from the pixels face-api.js analysed; regenerate the goldens"
        );
        let c = &golden.crop;
        let crop = CropRect {
            x: c.x,
            y: c.y,
            w: c.width,
            h: c.height,
        };
        Fixture { golden, image, crop }
    })
}

fn weights(model: &str) -> Weights {
    Weights::load(&models_dir(), model).unwrap_or_else(|e| panic!("{model}: {e}"))
}

fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    let (diff, scale) = max_abs_diff(actual, expected);
    eprintln!("{what}: max |diff| {diff:.3e}, largest reference magnitude {scale:.3}");
    assert!(
        diff <= REL_TOL * scale,
        "{what}: max |diff| {diff:.3e} exceeds {REL_TOL:e} × {scale:.4}"
    );
}

#[test]
fn landmark_net_raw_outputs_match_faceapi_on_a_fixed_crop() {
    let f = fixture();
    let net = FaceLandmark68Net::load(&weights(face_landmark68::MODEL), false).expect("load");
    let input = face_input(
        &f.image,
        f.crop,
        face_landmark68::INPUT_SIZE,
        face_landmark68::DIVISOR,
    );
    assert_close(
        "face_landmark_68",
        &net.forward(&input),
        &f.golden.crop_nets.face_landmark_68,
    );
}

#[test]
fn tiny_landmark_net_raw_outputs_match_faceapi_on_a_fixed_crop() {
    let f = fixture();
    let net = FaceLandmark68Net::load(&weights(face_landmark68::MODEL_TINY), true).expect("load");
    let input = face_input(
        &f.image,
        f.crop,
        face_landmark68::INPUT_SIZE,
        face_landmark68::DIVISOR,
    );
    assert_close(
        "face_landmark_68_tiny",
        &net.forward(&input),
        &f.golden.crop_nets.face_landmark_68_tiny,
    );
}

#[test]
fn recognition_net_descriptor_matches_faceapi_on_a_fixed_crop() {
    let f = fixture();
    let net = FaceRecognitionNet::load(&weights(face_recognition::MODEL)).expect("load");
    let input = face_input(
        &f.image,
        f.crop,
        face_recognition::INPUT_SIZE,
        face_recognition::DIVISOR,
    );
    let descriptor = net.forward(&input);
    assert_close(
        "face_recognition",
        &descriptor,
        &f.golden.crop_nets.face_recognition,
    );
    let l2 = common::l2(&descriptor, &f.golden.crop_nets.face_recognition);
    assert!(l2 < 1e-3, "descriptor L2 {l2}");
}

#[test]
fn expression_net_logits_and_probabilities_match_faceapi_on_a_fixed_crop() {
    let f = fixture();
    let net = FaceExpressionNet::load(&weights(face_expression::MODEL)).expect("load");
    let input = face_input(
        &f.image,
        f.crop,
        face_landmark68::INPUT_SIZE,
        face_landmark68::DIVISOR,
    );
    assert_close(
        "face_expression logits",
        &net.logits(&input),
        &f.golden.crop_nets.face_expression_logits,
    );
    assert_close(
        "face_expression probabilities",
        &net.forward(&input),
        &f.golden.crop_nets.face_expression_probs,
    );
}

#[test]
fn age_gender_net_matches_faceapi_on_a_fixed_crop() {
    let f = fixture();
    let net = AgeGenderNet::load(&weights(age_gender::MODEL)).expect("load");
    let input = face_input(
        &f.image,
        f.crop,
        age_gender::INPUT_SIZE,
        age_gender::DIVISOR,
    );
    let out = net.forward(&input);
    let g = &f.golden.crop_nets.age_gender;
    assert_close("age", &[out.age], &[g.age]);
    assert_close("gender probabilities", &out.gender_probs, &g.gender_probs);
}

#[test]
fn tiny_detector_raw_grid_matches_faceapi_on_sample1() {
    let f = fixture();
    let g = &f.golden.tiny_face_detector;
    let net = TinyFaceDetector::load(&weights(tiny_face_detector::MODEL)).expect("load");
    let out = net.forward(&TinyFaceDetector::prepare(&f.image, g.input_size));
    let n = g.input_size / 32;
    assert_eq!(g.shape, vec![1, n, n, 25]);
    assert_eq!(out.shape(), (n, n, 25));
    assert_close(
        "tiny_face_detector raw",
        out.data(),
        &f32_from_base64(&g.f32le_base64),
    );
}

#[test]
fn ssd_decoded_boxes_and_scores_match_faceapi_on_sample1() {
    let f = fixture();
    let g = &f.golden.ssd_mobilenetv1;
    let net = SsdMobilenetV1::load(&weights(ssd_mobilenetv1::MODEL)).expect("load");
    let out = net.forward(&SsdMobilenetV1::prepare(&f.image));
    assert_eq!(g.boxes_shape, vec![ssd_mobilenetv1::NUM_ANCHORS, 4]);
    let boxes: Vec<f32> = out.boxes.iter().flatten().copied().collect();
    assert_close("ssd boxes", &boxes, &f32_from_base64(&g.boxes_f32le_base64));
    assert_close(
        "ssd scores",
        &out.scores,
        &f32_from_base64(&g.scores_f32le_base64),
    );
}

/// The face nets' mean is the one the spec gives (a typo here would shift every descriptor).
#[test]
fn face_nets_use_the_spec_mean_rgb() {
    assert_eq!(FACE_MEAN_RGB, [122.782, 117.001, 104.298]);
}
