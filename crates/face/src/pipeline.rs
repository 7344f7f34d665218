//! The end-to-end pipeline (spec §9): detect → landmarks → dlib alignment → descriptor, and the
//! [`Engine`] that holds every network, loaded once and shared between threads.

use std::path::Path;

use serde::Serialize;

use crate::align::{align_dlib, align_min_bbox, clip_floor};
use crate::error::Result;
use crate::image::RgbImage;
use crate::kernels::CropRect;
use crate::nets::face_expression::{self, FaceExpressionNet};
use crate::nets::face_landmark68::{self, FaceLandmark68Net};
use crate::nets::face_recognition::{self, FaceRecognitionNet};
use crate::nets::ssd_mobilenetv1::{self, SsdMobilenetV1, SsdOptions};
use crate::nets::tiny_face_detector::{self, TinyFaceDetector, TinyOptions};
use crate::weights::Weights;

/// A box in image pixels; may extend past the image borders, as face-api.js's boxes do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A point in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// One detected face: its box and the detector's confidence in (0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    #[serde(rename = "box")]
    pub bbox: BBox,
    pub score: f64,
}

/// A 128-D face descriptor, interchangeable with face-api.js's `Float32Array(128)`.
///
/// `Debug` prints no values: a descriptor is biometric data and must not reach logs.
#[derive(Clone, Copy, PartialEq, Serialize)]
pub struct Descriptor(#[serde(with = "descriptor_serde")] pub [f32; 128]);

impl std::fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Descriptor([redacted; 128])")
    }
}

mod descriptor_serde {
    pub fn serialize<S: serde::Serializer>(v: &[f32; 128], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter())
    }
}

/// FaceExpressionNet's softmax probabilities, in face-api.js's order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Expressions {
    pub neutral: f32,
    pub happy: f32,
    pub sad: f32,
    pub angry: f32,
    pub fearful: f32,
    pub disgusted: f32,
    pub surprised: f32,
}

/// Everything the pipeline knows about one face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Face {
    pub detection: Detection,
    /// The 68 landmarks in image pixels (face-api.js's `landmarks.positions`).
    pub landmarks: Vec<Point>,
    pub descriptor: Descriptor,
    pub expressions: Option<Expressions>,
}

/// Which detector runs, with face-api.js's options and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DetectorOptions {
    /// `TinyFaceDetectorOptions { inputSize, scoreThreshold }`: defaults 416 and 0.5.
    Tiny {
        input_size: u32,
        score_threshold: f64,
    },
    /// `SsdMobilenetv1Options { minConfidence, maxResults }`: defaults 0.5 and 100.
    Ssd {
        min_confidence: f64,
        max_results: usize,
    },
}

impl DetectorOptions {
    pub const fn tiny() -> Self {
        Self::Tiny {
            input_size: 416,
            score_threshold: 0.5,
        }
    }
    pub const fn ssd() -> Self {
        Self::Ssd {
            min_confidence: 0.5,
            max_results: 100,
        }
    }
}

impl Default for DetectorOptions {
    fn default() -> Self {
        Self::tiny()
    }
}

/// Options of the full pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PipelineOptions {
    pub detector: DetectorOptions,
    /// Use FaceLandmark68TinyNet instead of FaceLandmark68Net (`withFaceLandmarks(true)`).
    pub tiny_landmarks: bool,
    /// Also run FaceExpressionNet.
    pub expressions: bool,
}

/// Every network, loaded once. `Send + Sync`: share one `Arc<Engine>` between threads.
///
/// Work inside one call is spread over the current rayon pool (the global one, or the pool the
/// caller `install`ed), so a server can bound inference threads by choosing the pool. Results
/// do not depend on the pool size (they are bit-identical on 1 and 2 threads).
///
/// Memory: the weights take about 50 MB. Each thread that calls into the engine keeps the
/// intermediate tensors of its largest call for reuse (a few MB for the tiny detector at 416,
/// a few tens of MB for SSD), so run inference on a bounded set of threads.
pub struct Engine {
    tiny: TinyFaceDetector,
    landmarks: FaceLandmark68Net,
    landmarks_tiny: FaceLandmark68Net,
    recognition: FaceRecognitionNet,
    ssd: SsdMobilenetV1,
    expression: FaceExpressionNet,
}

impl Engine {
    /// Loads every model from `dir` (see [`crate::models`]).
    pub fn load(dir: &Path) -> Result<Self> {
        let tiny = TinyFaceDetector::load(&Weights::load(dir, tiny_face_detector::MODEL)?)?;
        let landmarks =
            FaceLandmark68Net::load(&Weights::load(dir, face_landmark68::MODEL)?, false)?;
        let landmarks_tiny =
            FaceLandmark68Net::load(&Weights::load(dir, face_landmark68::MODEL_TINY)?, true)?;
        let recognition = FaceRecognitionNet::load(&Weights::load(dir, face_recognition::MODEL)?)?;
        let ssd = SsdMobilenetV1::load(&Weights::load(dir, ssd_mobilenetv1::MODEL)?)?;
        let expression = FaceExpressionNet::load(&Weights::load(dir, face_expression::MODEL)?)?;
        Ok(Self {
            tiny,
            landmarks,
            landmarks_tiny,
            recognition,
            ssd,
            expression,
        })
    }

    /// Detected faces, highest score first.
    pub fn detect(&self, image: &RgbImage, options: &DetectorOptions) -> Result<Vec<Detection>> {
        match *options {
            DetectorOptions::Tiny {
                input_size,
                score_threshold,
            } => {
                let options = TinyOptions::new(input_size, score_threshold)?;
                Ok(self.tiny.detect(image, options))
            }
            DetectorOptions::Ssd {
                min_confidence,
                max_results,
            } => {
                let options = SsdOptions::new(min_confidence, max_results)?;
                Ok(self.ssd.detect(image, options))
            }
        }
    }

    /// Faces detected in `region` of `image` only (the region cropped out and detected on its
    /// own), boxes in `image`'s coordinates, highest score first. Following a face already
    /// seen: a crop around its last box at a small input finds it at a fraction of the cost of
    /// the whole frame, and also where a turned head is too weak a match in the whole frame.
    pub fn detect_in(
        &self,
        image: &RgbImage,
        region: &BBox,
        options: &DetectorOptions,
    ) -> Result<Vec<Detection>> {
        let x = region.x.max(0.0).floor();
        let y = region.y.max(0.0).floor();
        let right = (region.x + region.width).ceil();
        let bottom = (region.y + region.height).ceil();
        if !(right > x && bottom > y) {
            return Ok(Vec::new());
        }
        let Some(crop) = image.crop(x as u32, y as u32, (right - x) as u32, (bottom - y) as u32)
        else {
            return Ok(Vec::new());
        };
        let mut detections = self.detect(&crop, options)?;
        for d in &mut detections {
            d.bbox.x += x;
            d.bbox.y += y;
        }
        Ok(detections)
    }

    /// Every detected face with landmarks and descriptor (`detectAllFaces(...)
    /// .withFaceLandmarks().withFaceDescriptors()`), highest score first. Faces whose crops are
    /// empty (boxes entirely outside the image) are skipped, as vladmandic's face-api does.
    pub fn describe_all(&self, image: &RgbImage, options: &PipelineOptions) -> Result<Vec<Face>> {
        let detections = self.detect(image, &options.detector)?;
        let faces: Vec<Option<Face>> = if detections.len() > 1 && rayon::current_num_threads() > 1 {
            use rayon::prelude::*;
            detections
                .par_iter()
                .map(|d| self.describe_detection(image, d, options))
                .collect()
        } else {
            detections
                .iter()
                .map(|d| self.describe_detection(image, d, options))
                .collect()
        };
        Ok(faces.into_iter().flatten().collect())
    }

    /// The highest-scoring face only (`detectSingleFace(...)`), or `None` (also when that face's
    /// crop is empty, as in face-api.js).
    pub fn describe_single(
        &self,
        image: &RgbImage,
        options: &PipelineOptions,
    ) -> Result<Option<Face>> {
        let detections = self.detect(image, &options.detector)?;
        // Strict `>`: the first of equal scores wins.
        let best = detections
            .iter()
            .fold(None::<&Detection>, |best, d| match best {
                Some(b) if d.score.partial_cmp(&b.score) != Some(std::cmp::Ordering::Greater) => {
                    Some(b)
                }
                _ => Some(d),
            });
        Ok(best.and_then(|d| self.describe_detection(image, d, options)))
    }

    /// Landmarks, alignment and descriptor for one detection (spec §9.3 steps 3-6); `None` when
    /// the detection box or the aligned crop has no pixels inside the image.
    pub fn describe_detection(
        &self,
        image: &RgbImage,
        detection: &Detection,
        options: &PipelineOptions,
    ) -> Option<Face> {
        let landmarks = self.detection_landmarks(image, detection, options.tiny_landmarks)?;
        let descriptor = self.landmarks_descriptor(image, detection, &landmarks)?;
        let expressions = if options.expressions {
            self.expressions(image, &landmarks)
        } else {
            None
        };
        Some(Face {
            detection: *detection,
            landmarks,
            descriptor,
            expressions,
        })
    }

    /// The 68 landmarks of one detection in image pixels (spec §9.3 step 3); `None` when the
    /// detection box has no pixels inside the image. Cheaper than [`Engine::describe_detection`]
    /// for callers that need the descriptor of only some frames (live checks).
    pub fn detection_landmarks(
        &self,
        image: &RgbImage,
        detection: &Detection,
        tiny: bool,
    ) -> Option<Vec<Point>> {
        let crop = clip_floor(detection.bbox, image.width, image.height)?;
        Some(
            self.landmarks(image, crop, tiny)
                .into_iter()
                .map(|p| Point {
                    x: p.x + detection.bbox.x,
                    y: p.y + detection.bbox.y,
                })
                .collect(),
        )
    }

    /// The descriptor of the face with `landmarks` (from [`Engine::detection_landmarks`] of the
    /// same `detection`): dlib alignment, then the recognition net (spec §9.3 steps 4-6); `None`
    /// when the aligned crop has no pixels inside the image.
    pub fn landmarks_descriptor(
        &self,
        image: &RgbImage,
        detection: &Detection,
        landmarks: &[Point],
    ) -> Option<Descriptor> {
        let crop = clip_floor(detection.bbox, image.width, image.height)?;
        let rect = align_dlib(landmarks, crop.w as f64, crop.h as f64);
        let face_crop = clip_floor(rect, image.width, image.height)?;
        Some(Descriptor(self.recognition.descriptor(image, face_crop)))
    }

    /// FaceExpressionNet on the face's `alignedRect` (min-bbox of the image-pixel landmarks + 20 %),
    /// as `.withFaceLandmarks().withFaceExpressions()` does; `None` when that box has no pixels
    /// inside the image.
    pub fn expressions(&self, image: &RgbImage, landmarks: &[Point]) -> Option<Expressions> {
        let rect = align_min_bbox(landmarks, 0.2);
        // alignedRect is stored relative to the image and rescaled on every read (`rescale(1/W)`
        // then `rescale(W)`, twice by the time extractFaceTensors crops it): keep the float noise,
        // since the crop floors it.
        let (w, h) = (f64::from(image.width), f64::from(image.height));
        let round_trip = |v: f64, d: f64| ((v * (1.0 / d)) * d * (1.0 / d)) * d;
        let bbox = BBox {
            x: round_trip(rect.x, w),
            y: round_trip(rect.y, h),
            width: round_trip(rect.width, w),
            height: round_trip(rect.height, h),
        };
        let crop = clip_floor(bbox, image.width, image.height)?;
        Some(self.expression.expressions(image, crop))
    }

    /// The 68 landmarks of the face in `crop`, in crop pixels (`unshiftedLandmarks`).
    pub fn landmarks(&self, image: &RgbImage, crop: CropRect, tiny: bool) -> Vec<Point> {
        let net = if tiny {
            &self.landmarks_tiny
        } else {
            &self.landmarks
        };
        net.landmarks(image, crop)
    }

    /// FaceRecognitionNet's descriptor of `crop` (which must lie inside the image and be
    /// non-empty; an empty crop gives the all-zero descriptor, as vladmandic's face-api does).
    pub fn descriptor(&self, image: &RgbImage, crop: CropRect) -> Descriptor {
        let inside =
            crop.x + crop.w <= image.width as usize && crop.y + crop.h <= image.height as usize;
        if crop.w == 0 || crop.h == 0 || !inside {
            return Descriptor([0.0; 128]);
        }
        Descriptor(self.recognition.descriptor(image, crop))
    }
}
