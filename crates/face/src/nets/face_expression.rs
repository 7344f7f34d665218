//! FaceExpressionNet (spec §8.1): FaceLandmark68Net's DenseNet feature extractor with its own
//! weights, a 256→7 fully connected head and a softmax.

use super::face_input;
use super::face_landmark68::{DenseFeatureExtractor, DIVISOR, INPUT_SIZE};
use crate::error::Result;
use crate::image::RgbImage;
use crate::kernels::{CropRect, FullyConnected};
use crate::pipeline::Expressions;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The manifest's model name.
pub const MODEL: &str = "face_expression_model";

/// face-api.js's `FACE_EXPRESSION_LABELS`, the order of the outputs.
pub const LABELS: [&str; 7] = [
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
];

pub struct FaceExpressionNet {
    features: DenseFeatureExtractor,
    fc: FullyConnected,
}

impl FaceExpressionNet {
    pub fn load(w: &Weights) -> Result<Self> {
        let features = DenseFeatureExtractor::load(w, 4, 4)?;
        let n = features.n_features();
        let fc = FullyConnected::new(
            w.get("fc/weights", &[n, 7])?,
            [n, 7],
            Some(w.get("fc/bias", &[7])?),
        );
        Ok(Self { features, fc })
    }

    /// The 7 logits (`runNet`) for a prepared `[112, 112, 3]` input.
    pub fn logits(&self, input: &Tensor) -> Vec<f32> {
        self.fc.forward(&self.features.forward(input))
    }

    /// The 7 probabilities (`forwardInput`) for a prepared input, in [`LABELS`] order.
    pub fn forward(&self, input: &Tensor) -> [f32; 7] {
        let p = softmax(&self.logits(input));
        std::array::from_fn(|i| p[i])
    }

    /// Expressions of the face in `crop` (non-empty, inside `img`).
    pub fn expressions(&self, img: &RgbImage, crop: CropRect) -> Expressions {
        let [neutral, happy, sad, angry, fearful, disgusted, surprised] =
            self.forward(&face_input(img, crop, INPUT_SIZE, DIVISOR));
        Expressions {
            neutral,
            happy,
            sad,
            angry,
            fearful,
            disgusted,
            surprised,
        }
    }
}

/// tfjs CPU's softmax: `e = exp(x − max)` (f32 subtraction, exp in double stored as f32), the sum
/// accumulated in double and stored as f32, then one f32 division per value.
pub(crate) fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits
        .iter()
        .map(|&l| f64::from(l - max).exp() as f32)
        .collect();
    let sum = e.iter().map(|&v| f64::from(v)).sum::<f64>() as f32;
    e.into_iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 3.0, -2.0, 0.0, 0.5, 2.0, -1.0]);
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "{sum}");
        assert!(p[1] > p[5] && p[5] > p[0] && p[0] > p[4] && p[4] > p[3]);
    }

    #[test]
    fn softmax_is_shift_invariant_for_large_logits() {
        let a = softmax(&[1000.0, 1001.0, 999.0, 0.0, 0.0, 0.0, 0.0]);
        let b = softmax(&[0.0, 1.0, -1.0, -1000.0, -1000.0, -1000.0, -1000.0]);
        assert_eq!(a, b);
    }
}
