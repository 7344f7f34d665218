//! face-api.js inference in pure Rust.
//!
//! A port of the networks of `@vladmandic/face-api` 1.7.15 (TinyFaceDetector, SSD MobileNetV1,
//! the 68-point landmark nets, the 128-D recognition ResNet and the expression net) that
//! reproduces its numbers: descriptors computed here can be compared with descriptors that
//! face-api.js computed, and the other way round. The weights are read from the npm package's
//! `model/` folder (see [`models`]).
//!
//! ```no_run
//! use face::{decode_image, Engine, ImageLimits, PipelineOptions};
//!
//! # fn main() -> Result<(), face::FaceError> {
//! let engine = Engine::load(&face::models::default_dir())?;
//! let a = decode_image(&std::fs::read("a.jpg").unwrap(), &ImageLimits::default())?;
//! let b = decode_image(&std::fs::read("b.jpg").unwrap(), &ImageLimits::default())?;
//! let options = PipelineOptions::default();
//! if let (Some(fa), Some(fb)) = (engine.describe_single(&a, &options)?, engine.describe_single(&b, &options)?) {
//!     let distance = face::euclidean_distance(&fa.descriptor, &fb.descriptor);
//!     println!("distance {distance:.3}, same person: {}", distance < face::DEFAULT_MATCH_THRESHOLD);
//! }
//! # Ok(())
//! # }
//! ```

pub mod align;
pub mod error;
pub mod image;
mod jpeg;
pub mod kernels;
pub mod matcher;
pub mod models;
pub mod nets;
pub mod pipeline;
pub mod tensor;
pub mod weights;

pub use error::{FaceError, Result};
pub use image::{decode_image, image_dimensions, ImageLimits, RgbImage};
pub use matcher::{euclidean_distance, FaceMatcher, DEFAULT_MATCH_THRESHOLD};
pub use pipeline::{
    BBox, Descriptor, Detection, DetectorOptions, Engine, Expressions, Face, PipelineOptions, Point,
};
