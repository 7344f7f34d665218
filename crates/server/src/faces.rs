//! Server-side face work: enrolment checks, descriptors of verification frames, the live
//! detection hint, and the match rule.
//!
//! # Match rule
//!
//! The client never sends a descriptor; the server computes one per uploaded frame and decides:
//!
//! 1. A frame counts only if it holds exactly one face (none or several: the frame fails). When
//!    no frame at all holds exactly one face, nothing was compared: the answer is 400 `no_face`
//!    or `multiple_faces` and the attempt does not count towards the lockout.
//! 2. A frame's distance is the **mean** Euclidean distance from its descriptor to the account's
//!    enrolled templates (1-3, one per enrolment image) — face-api.js's `FaceMatcher` rule, so
//!    the threshold means what it means there. The mean, rather than the minimum, keeps the
//!    false match rate from growing with the number of templates.
//! 3. A frame passes when that distance is strictly below `face.match_threshold` (default 0.6).
//! 4. The check passes when a **strict majority** of the frames pass (1 of 1, 2 of 2, 2 of 3,
//!    3 of 4, 3 of 5): one blurred frame does not fail an honest user, one lucky frame does not
//!    pass an impostor.
//!
//! # Enrolment
//!
//! Enrolment uses SSD MobileNetV1 by default (TinyFaceDetector misses the second face of some
//! group photos, which would let "exactly one face" pass wrongly); verification uses the faster
//! TinyFaceDetector. Each of the 1-3 images must hold exactly one face whose box is at least `face.min_face_px`
//! (default 80) pixels on its shorter side: the recognition network works on a 150x150 crop, and
//! faces much smaller than that give unstable descriptors.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Bytes;
use face::{Descriptor, DetectorOptions, Engine, FaceError, ImageLimits, PipelineOptions};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::{Config, DetectorKind, FaceConfig};
use crate::error::ApiError;
use crate::metrics::{FaceStage, FaceTimer};
use crate::pool::{BackgroundLane, BlockingPool, PixelBudget, PixelPermit};

/// How long a job waits for its image's pixels before the request is refused as busy.
const PIXEL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Background face jobs that may wait (one per live check ending at once).
const BACKGROUND_QUEUE: usize = 64;

/// Where a face job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The bounded pool, for work a request is waiting on.
    Pool,
    /// The lowest-priority thread, for slow work that must not delay live frames.
    Background,
}

/// Everything the face endpoints run on: the engine, the bounded pool and the options.
#[derive(Clone)]
pub struct FaceService {
    engine: Arc<Engine>,
    pool: BlockingPool,
    /// For work that can wait while frames of live checks are waiting for the pool.
    background: BackgroundLane,
    enrol_pipeline: PipelineOptions,
    verify_pipeline: PipelineOptions,
    live: DetectorOptions,
    limits: ImageLimits,
    live_limits: ImageLimits,
    min_face_px: u32,
    live_min_face_ratio: f64,
    pixels: PixelBudget,
    timer: FaceTimer,
}

/// The decision on one verification (no vectors: safe to log).
#[derive(Debug, Clone, PartialEq)]
pub struct MatchOutcome {
    pub passed: bool,
    pub frames: usize,
    pub frames_passed: usize,
    /// Per-frame mean distance; `None` for frames without exactly one face.
    pub distances: Vec<Option<f64>>,
}

/// The camera UI's live feedback on one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hint {
    NoFace,
    MultipleFaces,
    MoveCloser,
    Ok,
}

/// A detected face box (image pixels) and the detector's score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FaceBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub score: f64,
}

/// Answer of `/api/face/detect`: boxes and a hint, never descriptors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DetectResult {
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceBox>,
    pub hint: Hint,
}

/// Refuses an enrolment whose images are not all of one person: every pair must match at the
/// verification threshold. Without this, two people's photos enrol as one account, and the mean
/// distance of the match rule then rejects both of them at every later face check.
pub fn check_one_person(descriptors: &[Descriptor], threshold: f64) -> Result<(), ApiError> {
    for (i, a) in descriptors.iter().enumerate() {
        for (j, b) in descriptors.iter().enumerate().skip(i + 1) {
            if face::euclidean_distance(a, b) >= threshold {
                return Err(ApiError::FacesDiffer {
                    first: i + 1,
                    second: j + 1,
                });
            }
        }
    }
    Ok(())
}

/// What one verification frame holds.
// At most 5 of these live at once (one per frame): boxing the descriptor would only add
// allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameFaces {
    None,
    One(Descriptor),
    Several,
}

impl FrameFaces {
    /// The descriptor the match rule compares: only a frame with exactly one face has one.
    pub fn descriptor(&self) -> Option<Descriptor> {
        match self {
            Self::One(d) => Some(*d),
            Self::None | Self::Several => None,
        }
    }
}

/// Refuses a verification in which no frame holds exactly one face: nothing could be compared,
/// so it is the camera's problem, not a failed face check, and the user hears what to fix.
pub fn require_a_comparable_frame(frames: &[FrameFaces]) -> Result<(), ApiError> {
    if frames.iter().any(|f| matches!(f, FrameFaces::One(_))) {
        return Ok(());
    }
    match frames.iter().position(|f| *f == FrameFaces::Several) {
        Some(i) => Err(ApiError::MultipleFaces { index: i + 1 }),
        None => Err(ApiError::NoFace { index: 1 }),
    }
}

/// Applies the match rule of the module docs.
pub fn decide(
    frames: &[Option<Descriptor>],
    templates: &[Descriptor],
    threshold: f64,
) -> MatchOutcome {
    let distances: Vec<Option<f64>> = frames
        .iter()
        .map(|f| {
            let d = f.as_ref()?;
            (!templates.is_empty()).then(|| face::FaceMatcher::<()>::mean_distance(templates, d))
        })
        .collect();
    let frames_passed = distances
        .iter()
        .filter(|d| d.is_some_and(|d| d < threshold))
        .count();
    MatchOutcome {
        passed: !frames.is_empty() && frames_passed * 2 > frames.len(),
        frames: frames.len(),
        frames_passed,
        distances,
    }
}

/// The live hint for the faces found in a `width` x `height` frame.
pub fn hint(faces: &[FaceBox], width: u32, height: u32, min_ratio: f64) -> Hint {
    match faces {
        [] => Hint::NoFace,
        [f] if f.width.min(f.height) < min_ratio * f64::from(width.min(height)) => Hint::MoveCloser,
        [_] => Hint::Ok,
        _ => Hint::MultipleFaces,
    }
}

fn image_error(index: usize, e: FaceError) -> ApiError {
    match e {
        e @ (FaceError::ImageTooLarge { .. } | FaceError::ImageTooManyPixels { .. }) => {
            ApiError::ImageTooLarge {
                index,
                reason: e.to_string(),
            }
        }
        other => ApiError::ImageInvalid {
            index,
            reason: other.to_string(),
        },
    }
}

/// The pipeline options of a step (enrolment or verification) under `f`.
pub fn pipeline(kind: DetectorKind, f: &FaceConfig) -> PipelineOptions {
    let detector = match kind {
        DetectorKind::Tiny => DetectorOptions::Tiny {
            input_size: f.detector_input_size,
            score_threshold: f.detector_score_threshold,
        },
        DetectorKind::Ssd => DetectorOptions::Ssd {
            min_confidence: f.detector_score_threshold,
            max_results: 100,
        },
    };
    PipelineOptions {
        detector,
        tiny_landmarks: false,
        expressions: false,
    }
}

pub(crate) fn engine_error(e: FaceError) -> ApiError {
    ApiError::Internal(anyhow::Error::new(e).context("face engine"))
}

impl FaceService {
    pub fn new(engine: Arc<Engine>, pool: BlockingPool, config: &Config, timer: FaceTimer) -> Self {
        let f = &config.face;
        Self {
            engine,
            pool,
            background: BackgroundLane::start(BACKGROUND_QUEUE),
            enrol_pipeline: pipeline(f.enrol_detector, f),
            verify_pipeline: pipeline(f.verify_detector, f),
            live: DetectorOptions::Tiny {
                input_size: f.live_detector_input_size,
                score_threshold: f.detector_score_threshold,
            },
            limits: ImageLimits {
                max_bytes: config.limits.image_bytes,
                max_pixels: config.limits.image_pixels,
            },
            live_limits: ImageLimits {
                max_bytes: config.limits.detect_image_bytes,
                max_pixels: config.limits.detect_image_pixels,
            },
            min_face_px: f.min_face_px,
            live_min_face_ratio: f.live_min_face_ratio,
            pixels: PixelBudget::new(config.pool.pixel_budget, PIXEL_WAIT),
            timer,
        }
    }

    /// Times the face pipeline's stages.
    pub(crate) fn timer(&self) -> &FaceTimer {
        &self.timer
    }

    /// [`Engine::describe_all`] one stage at a time, each stage timed. Sequential where the
    /// engine spreads several faces over threads: several faces refuse the image anyway.
    fn describe_all(
        &self,
        image: &face::RgbImage,
        options: &PipelineOptions,
    ) -> Result<Vec<face::Face>, ApiError> {
        let detections = self
            .timer
            .time(FaceStage::Detection, || {
                self.engine.detect(image, &options.detector)
            })
            .map_err(engine_error)?;
        let faces = detections.iter().filter_map(|detection| {
            let landmarks = self.timer.time(FaceStage::Landmarks, || {
                self.engine
                    .detection_landmarks(image, detection, options.tiny_landmarks)
            })?;
            let descriptor = self.timer.time(FaceStage::Descriptor, || {
                self.engine
                    .landmarks_descriptor(image, detection, &landmarks)
            })?;
            Some(face::Face {
                detection: *detection,
                landmarks,
                descriptor,
                expressions: None,
            })
        });
        Ok(faces.collect())
    }

    /// Runs `job` in the bounded pool; a full pool is 503, a panic in the engine is 500.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&FaceService) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.run_on(Lane::Pool, job).await
    }

    async fn run_on<T: Send + 'static>(
        &self,
        lane: Lane,
        job: impl FnOnce(&FaceService) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let this = self.clone();
        let guarded = move || std::panic::catch_unwind(AssertUnwindSafe(|| job(&this)));
        let result = match lane {
            Lane::Pool => self.pool.run(guarded).await,
            Lane::Background => self.background.run(guarded).await,
        }
        .map_err(|_| ApiError::Busy)?;
        result.unwrap_or_else(|_| Err(ApiError::Internal(anyhow::anyhow!("face engine panicked"))))
    }

    /// The decoded-pixel budget every image decoder of the server shares (chat attachments too),
    /// so that peak memory stays bounded whichever endpoint the large images arrive at.
    pub fn pixel_budget(&self) -> &PixelBudget {
        &self.pixels
    }

    /// The engine, for work already running in the pool (see [`FaceService::run`]).
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Decodes image `index` (1-based, for error messages) under `limits` once its pixels fit in
    /// the pixel budget; the permit must live as long as the decoded image is in use.
    fn decode(
        &self,
        index: usize,
        bytes: &[u8],
        limits: &ImageLimits,
    ) -> Result<(face::RgbImage, PixelPermit), ApiError> {
        let pixels = match face::image_dimensions(bytes) {
            Ok((w, h)) if bytes.len() <= limits.max_bytes => u64::from(w) * u64::from(h),
            _ => 0,
        };
        if pixels == 0 || pixels > limits.max_pixels {
            // decode_image says precisely what is wrong, from the header, before decoding.
            return Err(match face::decode_image(bytes, limits) {
                Err(e) => image_error(index, e),
                Ok(_) => ApiError::ImageInvalid {
                    index,
                    reason: "the image header cannot be read".into(),
                },
            });
        }
        let permit = self.pixels.acquire(pixels).ok_or(ApiError::Busy)?;
        let image = self
            .timer
            .time(FaceStage::Decode, || face::decode_image(bytes, limits))
            .map_err(|e| image_error(index, e))?;
        Ok((image, permit))
    }

    /// Decodes one small live frame under the live limits (bytes and pixels); an undecodable
    /// or truncated frame is `image_invalid`.
    pub(crate) fn decode_live(
        &self,
        bytes: &[u8],
    ) -> Result<(face::RgbImage, PixelPermit), ApiError> {
        self.decode(1, bytes, &self.live_limits)
    }

    /// One descriptor per enrolment image, or the first image's problem (1-based index).
    pub async fn enrol(&self, images: Vec<Bytes>) -> Result<Vec<Descriptor>, ApiError> {
        self.run(move |s| {
            images
                .iter()
                .enumerate()
                .map(|(i, bytes)| s.enrol_one(i + 1, bytes))
                .collect()
        })
        .await
    }

    fn enrol_one(&self, index: usize, bytes: &[u8]) -> Result<Descriptor, ApiError> {
        let (image, _pixels) = self.decode(index, bytes, &self.limits)?;
        let faces = self.describe_all(&image, &self.enrol_pipeline)?;
        match faces.as_slice() {
            [] => Err(ApiError::NoFace { index }),
            [f] if f.detection.bbox.width.min(f.detection.bbox.height)
                < f64::from(self.min_face_px) =>
            {
                Err(ApiError::FaceTooSmall {
                    index,
                    min_px: self.min_face_px,
                })
            }
            [f] => Ok(f.descriptor),
            _ => Err(ApiError::MultipleFaces { index }),
        }
    }

    /// Per frame: no face, the descriptor of its one face, or several faces. An undecodable
    /// frame is a client error.
    pub async fn describe_frames(&self, frames: Vec<Bytes>) -> Result<Vec<FrameFaces>, ApiError> {
        self.run(move |s| {
            frames
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    let (image, _pixels) = s.decode(i + 1, bytes, &s.limits)?;
                    let faces = s.describe_all(&image, &s.verify_pipeline)?;
                    Ok(match faces.as_slice() {
                        [] => FrameFaces::None,
                        [f] => FrameFaces::One(f.descriptor),
                        _ => FrameFaces::Several,
                    })
                })
                .collect()
        })
        .await
    }

    /// The 1-based index of the first image in which the enrolment detector (SSD MobileNetV1 by
    /// default, which finds every face of a group photo) sees more than one face.
    pub async fn first_with_several_faces(
        &self,
        images: Vec<Bytes>,
        lane: Lane,
    ) -> Result<Option<usize>, ApiError> {
        self.run_on(lane, move |s| {
            for (i, bytes) in images.iter().enumerate() {
                let (image, _pixels) = s.decode(i + 1, bytes, &s.limits)?;
                let faces = s
                    .timer
                    .time(FaceStage::Detection, || {
                        s.engine.detect(&image, &s.enrol_pipeline.detector)
                    })
                    .map_err(engine_error)?;
                if faces.len() > 1 {
                    return Ok(Some(i + 1));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Boxes and hint for one small live frame.
    pub async fn detect(&self, frame: Bytes) -> Result<DetectResult, ApiError> {
        self.run(move |s| {
            let (image, _pixels) = s.decode(1, &frame, &s.live_limits)?;
            let faces: Vec<FaceBox> = s
                .timer
                .time(FaceStage::Detection, || s.engine.detect(&image, &s.live))
                .map_err(engine_error)?
                .iter()
                .map(|d| FaceBox {
                    x: d.bbox.x,
                    y: d.bbox.y,
                    width: d.bbox.width,
                    height: d.bbox.height,
                    score: d.score,
                })
                .collect();
            let hint = hint(&faces, image.width, image.height, s.live_min_face_ratio);
            Ok(DetectResult {
                width: image.width,
                height: image.height,
                faces,
                hint,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32) -> Descriptor {
        let mut d = [0f32; 128];
        d[0] = x;
        Descriptor(d)
    }

    #[test]
    fn enrolment_of_one_person_passes_and_a_stranger_is_named() {
        assert!(check_one_person(&[at(0.0), at(0.3), at(0.5)], 0.6).is_ok());
        match check_one_person(&[at(0.0), at(0.3), at(0.9)], 0.6) {
            Err(ApiError::FacesDiffer { first, second }) => assert_eq!((first, second), (1, 3)),
            other => panic!("expected faces_differ, got {other:?}"),
        }
        assert!(check_one_person(&[at(0.0)], 0.6).is_ok());
    }

    #[test]
    fn a_check_without_one_comparable_frame_is_refused_with_what_to_fix() {
        use FrameFaces::{None as Empty, One, Several};
        assert!(require_a_comparable_frame(&[Empty, One(at(0.0)), Several]).is_ok());
        match require_a_comparable_frame(&[Empty, Empty]) {
            Err(ApiError::NoFace { index }) => assert_eq!(index, 1),
            other => panic!("expected no_face, got {other:?}"),
        }
        match require_a_comparable_frame(&[Empty, Several, Several]) {
            Err(ApiError::MultipleFaces { index }) => assert_eq!(index, 2),
            other => panic!("expected multiple_faces, got {other:?}"),
        }
    }

    #[test]
    fn single_close_frame_passes() {
        let o = decide(&[Some(at(0.3))], &[at(0.0)], 0.6);
        assert!(o.passed);
        assert_eq!(o.frames_passed, 1);
    }

    #[test]
    fn distance_equal_to_threshold_fails() {
        assert!(!decide(&[Some(at(0.5))], &[at(0.0)], 0.5).passed);
    }

    #[test]
    fn distance_is_the_mean_over_templates() {
        // 0.1 from one template, 0.9 from the other: mean 0.5 < 0.6 passes; min would too,
        // but 0.1 / 1.3 (mean 0.7) must fail although the nearest template is close.
        assert!(decide(&[Some(at(0.1))], &[at(0.0), at(1.0)], 0.6).passed);
        assert!(!decide(&[Some(at(0.1))], &[at(0.0), at(1.4)], 0.6).passed);
    }

    #[test]
    fn a_strict_majority_of_frames_must_pass() {
        let t = [at(0.0)];
        let good = Some(at(0.1));
        let bad = Some(at(0.9));
        assert!(decide(&[good, good, bad], &t, 0.6).passed);
        assert!(!decide(&[good, bad], &t, 0.6).passed);
        assert!(!decide(&[good, None, None], &t, 0.6).passed);
        assert!(!decide(&[], &t, 0.6).passed);
    }

    #[test]
    fn no_templates_never_match() {
        assert!(!decide(&[Some(at(0.0))], &[], 0.6).passed);
    }

    #[test]
    fn hint_asks_to_move_closer_for_small_faces() {
        let b = |w: f64| FaceBox {
            x: 0.0,
            y: 0.0,
            width: w,
            height: w,
            score: 0.9,
        };
        assert_eq!(hint(&[], 320, 240, 0.2), Hint::NoFace);
        assert_eq!(hint(&[b(30.0)], 320, 240, 0.2), Hint::MoveCloser);
        assert_eq!(hint(&[b(100.0)], 320, 240, 0.2), Hint::Ok);
        assert_eq!(
            hint(&[b(100.0), b(90.0)], 320, 240, 0.2),
            Hint::MultipleFaces
        );
    }
}
