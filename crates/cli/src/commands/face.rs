//! `facegate face detect|describe|compare`: the face engine on image files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use face::{decode_image, DetectorOptions, Engine, ImageLimits, PipelineOptions, RgbImage};
use serde_json::json;

#[derive(Subcommand)]
pub enum FaceCommand {
    /// Print the faces found in each image: box and score.
    Detect {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[command(flatten)]
        options: EngineArgs,
    },
    /// Print every face of each image with its 68 landmarks and 128-D descriptor.
    Describe {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Also run the expression network.
        #[arg(long)]
        expressions: bool,
        #[command(flatten)]
        options: EngineArgs,
    },
    /// Compare the largest-scoring face of two images: distance and match at the threshold.
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Faces match when their distance is strictly below this.
        #[arg(long, default_value_t = face::DEFAULT_MATCH_THRESHOLD, value_parser = parse_threshold)]
        threshold: f64,
        #[command(flatten)]
        options: EngineArgs,
    },
}

/// Descriptors are unit-length-ish, so distances lie in [0, 2]; NaN would match nothing silently.
fn parse_threshold(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if value.is_finite() && (0.0..=2.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is not a distance between 0 and 2"))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Detector {
    Tiny,
    Ssd,
}

#[derive(Args)]
pub struct EngineArgs {
    /// Face detector: the fast TinyFaceDetector or the more accurate SSD MobileNetV1.
    #[arg(long, value_enum, default_value_t = Detector::Tiny)]
    detector: Detector,
    /// TinyFaceDetector input size: a multiple of 32 from 128 to 608.
    #[arg(long, default_value_t = 416)]
    input_size: u32,
    /// Minimum detection score, in (0, 1).
    #[arg(long, default_value_t = 0.5)]
    min_score: f64,
    /// Use the smaller 68-point landmark network.
    #[arg(long)]
    tiny_landmarks: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Directory holding the face-api.js models.
    #[arg(long, env = face::models::DIR_ENV, default_value = face::models::DEFAULT_DIR)]
    models: PathBuf,
}

impl EngineArgs {
    fn pipeline(&self, expressions: bool) -> PipelineOptions {
        let detector = match self.detector {
            Detector::Tiny => DetectorOptions::Tiny {
                input_size: self.input_size,
                score_threshold: self.min_score,
            },
            Detector::Ssd => DetectorOptions::Ssd {
                min_confidence: self.min_score,
                max_results: 100,
            },
        };
        PipelineOptions {
            detector,
            tiny_landmarks: self.tiny_landmarks,
            expressions,
        }
    }

    fn engine(&self) -> Result<Engine> {
        Ok(Engine::load(&self.models)?)
    }
}

pub fn run(command: FaceCommand) -> Result<()> {
    match command {
        FaceCommand::Detect { images, options } => detect(&images, &options),
        FaceCommand::Describe {
            images,
            expressions,
            options,
        } => describe(&images, expressions, &options),
        FaceCommand::Compare {
            a,
            b,
            threshold,
            options,
        } => compare(&a, &b, threshold, &options),
    }
}

fn load_image(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode_image(&bytes, &ImageLimits::default()).with_context(|| format!("{}", path.display()))
}

fn detect(images: &[PathBuf], args: &EngineArgs) -> Result<()> {
    let engine = args.engine()?;
    let options = args.pipeline(false).detector;
    for path in images {
        let image = load_image(path)?;
        let faces = engine.detect(&image, &options)?;
        if args.json {
            outln!(
                "{}",
                json!({ "image": path, "width": image.width, "height": image.height, "faces": faces })
            );
            continue;
        }
        outln!(
            "{}: {} face(s) in {}x{}",
            path.display(),
            faces.len(),
            image.width,
            image.height
        );
        for f in &faces {
            let b = f.bbox;
            outln!(
                "  score {:.3}  box x {:.1} y {:.1} w {:.1} h {:.1}",
                f.score,
                b.x,
                b.y,
                b.width,
                b.height
            );
        }
    }
    Ok(())
}

fn describe(images: &[PathBuf], expressions: bool, args: &EngineArgs) -> Result<()> {
    let engine = args.engine()?;
    let options = args.pipeline(expressions);
    for path in images {
        let image = load_image(path)?;
        let faces = engine.describe_all(&image, &options)?;
        if args.json {
            outln!(
                "{}",
                json!({ "image": path, "width": image.width, "height": image.height, "faces": faces })
            );
            continue;
        }
        outln!("{}: {} face(s)", path.display(), faces.len());
        for f in &faces {
            let b = f.detection.bbox;
            outln!(
                "  score {:.3}  box x {:.1} y {:.1} w {:.1} h {:.1}",
                f.detection.score,
                b.x,
                b.y,
                b.width,
                b.height
            );
            let d: Vec<String> = f.descriptor.0.iter().map(|v| format!("{v:.6}")).collect();
            outln!("  descriptor [{}]", d.join(", "));
            if let Some(e) = &f.expressions {
                outln!("  expressions {}", serde_json::to_string(e)?);
            }
        }
    }
    Ok(())
}

fn compare(a: &Path, b: &Path, threshold: f64, args: &EngineArgs) -> Result<()> {
    let engine = args.engine()?;
    let options = args.pipeline(false);
    let describe = |path: &Path| -> Result<face::Face> {
        match engine.describe_single(&load_image(path)?, &options)? {
            Some(face) => Ok(face),
            None => bail!("no face found in {}", path.display()),
        }
    };
    let (fa, fb) = (describe(a)?, describe(b)?);
    let distance = face::euclidean_distance(&fa.descriptor, &fb.descriptor);
    let matched = distance < threshold;
    if args.json {
        outln!(
            "{}",
            json!({ "a": a, "b": b, "distance": distance, "threshold": threshold, "match": matched })
        );
    } else {
        let verdict = if matched { "yes" } else { "no" };
        outln!("distance {distance:.4} (threshold {threshold}): match {verdict}");
    }
    Ok(())
}
