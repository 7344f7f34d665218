//! The end-to-end pipeline (spec §9): detect → landmarks → dlib alignment → descriptor, and the
//! [`Engine`] that holds every network, loaded once and shared between threads.

use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::image::RgbImage;

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
    Tiny { input_size: u32, score_threshold: f64 },
    /// `SsdMobilenetv1Options { minConfidence, maxResults }`: defaults 0.5 and 100.
    Ssd { min_confidence: f64, max_results: usize },
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
pub struct Engine {
    _private: (),
}

impl Engine {
    /// Loads every model from `dir` (see [`crate::models`]).
    pub fn load(dir: &Path) -> Result<Self> {
        let _ = dir;
        unimplemented!("face engine is being ported")
    }

    /// Detected faces, highest score first.
    pub fn detect(&self, image: &RgbImage, options: &DetectorOptions) -> Result<Vec<Detection>> {
        let _ = (image, options);
        unimplemented!("face engine is being ported")
    }

    /// Every detected face with landmarks and descriptor (`detectAllFaces(...)
    /// .withFaceLandmarks().withFaceDescriptors()`), highest score first.
    pub fn describe_all(&self, image: &RgbImage, options: &PipelineOptions) -> Result<Vec<Face>> {
        let _ = (image, options);
        unimplemented!("face engine is being ported")
    }

    /// The highest-scoring face only (`detectSingleFace(...)`), or `None`.
    pub fn describe_single(&self, image: &RgbImage, options: &PipelineOptions) -> Result<Option<Face>> {
        Ok(self.describe_all(image, options)?.into_iter().next())
    }
}
