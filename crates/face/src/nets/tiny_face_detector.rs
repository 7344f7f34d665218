//! TinyFaceDetector (spec §3): a separable-conv Tiny-YOLOv2 with 5 anchors and one class.

use super::{load_conv, load_separable, sigmoid};
use crate::error::{FaceError, Result};
use crate::image::RgbImage;
use crate::kernels::{
    crop_to_input_into, max_pool_into, normalize, Activation, Conv2d, CropRect, Padding,
    SeparableConv2d,
};
use crate::pipeline::{BBox, Detection};
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The manifest's model name.
pub const MODEL: &str = "tiny_face_detector_model";

const MEAN_RGB: [f32; 3] = [117.001, 114.697, 97.404];
/// vladmandic's divisor (0.22.2 used 256).
const DIVISOR: f32 = 255.0;
const IOU_THRESHOLD: f64 = 0.4;
/// Anchor (w, h) in grid cells.
const ANCHORS: [(f64, f64); 5] = [
    (1.603231, 2.094468),
    (6.041143, 7.080126),
    (2.882459, 3.518061),
    (4.266906, 5.178857),
    (9.041765, 10.66308),
];
const CHANNELS: [usize; 6] = [16, 32, 64, 128, 256, 512];

/// Validated `TinyFaceDetectorOptions`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TinyOptions {
    pub input_size: usize,
    pub score_threshold: f64,
}

impl TinyOptions {
    /// Input size must be a multiple of 32 in 128..=608; the score threshold in (0, 1).
    pub fn new(input_size: u32, score_threshold: f64) -> Result<Self> {
        if !(128..=608).contains(&input_size) || input_size & 31 != 0 {
            return Err(FaceError::InvalidOption {
                name: "input_size",
                value: input_size.to_string(),
                reason: "must be a multiple of 32 between 128 and 608",
            });
        }
        if score_threshold.is_nan() || score_threshold <= 0.0 || score_threshold >= 1.0 {
            return Err(FaceError::InvalidOption {
                name: "score_threshold",
                value: score_threshold.to_string(),
                reason: "must be between 0 and 1 (exclusive)",
            });
        }
        Ok(Self {
            input_size: input_size as usize,
            score_threshold,
        })
    }
}

pub struct TinyFaceDetector {
    conv0: Conv2d,
    /// conv1..conv4, each followed by a 2×2/2 max pool.
    convs: Vec<SeparableConv2d>,
    /// conv5, followed by a 2×2/1 max pool.
    conv5: SeparableConv2d,
    conv8: Conv2d,
}

impl TinyFaceDetector {
    pub fn load(w: &Weights) -> Result<Self> {
        let conv0 = load_conv(
            w,
            "conv0",
            [3, 3, 3, 16],
            1,
            Padding::Valid,
            Activation::Leaky,
        )?;
        let pad1 = Padding::Explicit {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        };
        let convs = (1..=4)
            .map(|i| {
                let (cin, cout) = (CHANNELS[i - 1], CHANNELS[i]);
                load_separable(
                    w,
                    &format!("conv{i}"),
                    cin,
                    cout,
                    1,
                    pad1,
                    Activation::Leaky,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let conv5 = load_separable(w, "conv5", 256, 512, 1, pad1, Activation::Leaky)?;
        let conv8 = load_conv(
            w,
            "conv8",
            [1, 1, 512, 25],
            1,
            Padding::Valid,
            Activation::None,
        )?;
        Ok(Self {
            conv0,
            convs,
            conv5,
            conv8,
        })
    }

    /// The image as the net sees it: bottom/right zero-padded square, resized to `size`, normalised.
    pub fn prepare(img: &RgbImage, size: usize) -> Tensor {
        let mut x = Tensor::default();
        Self::prepare_into(img, size, &mut x);
        x
    }

    fn prepare_into(img: &RgbImage, size: usize, x: &mut Tensor) {
        let full = CropRect {
            x: 0,
            y: 0,
            w: img.width as usize,
            h: img.height as usize,
        };
        crop_to_input_into(img, full, size, false, x);
        normalize(x, MEAN_RGB, DIVISOR);
    }

    /// Raw output `[N, N, 25]` (N = S/32) for a prepared `[S, S, 3]` input.
    pub fn forward(&self, input: &Tensor) -> Tensor {
        let (mut a, mut b) = (Tensor::take(), Tensor::take());
        // Each conv's 2×2/2 max pool is fused into it (identical results, no full-size
        // intermediate): conv0 → pool → conv1 → pool … conv4 → pool, conv5 → pool 2×2/1.
        self.conv0.forward_max_pool2_into(input, &mut a);
        for conv in &self.convs {
            conv.forward_max_pool2_into(&a, &mut b);
            std::mem::swap(&mut a, &mut b);
        }
        self.conv5.forward_into(&a, &mut b);
        max_pool_into(&b, 2, 1, Padding::Same, &mut a);
        std::mem::swap(&mut a, &mut b);
        self.conv8.forward_into(&b, &mut a);
        b.recycle();
        a
    }

    /// Detected faces in image pixels, in NMS pick order (highest score first).
    pub fn detect(&self, img: &RgbImage, options: TinyOptions) -> Vec<Detection> {
        if img.width == 0 || img.height == 0 {
            return Vec::new();
        }
        let mut input = Tensor::take();
        Self::prepare_into(img, options.input_size, &mut input);
        let out = self.forward(&input);
        input.recycle();
        let candidates = decode(&out, img.width, img.height, options);
        out.recycle();
        nms(&candidates, options.input_size as f64)
            .into_iter()
            .map(|i| {
                let (score, [x, y, w, h]) = candidates[i];
                let (iw, ih) = (f64::from(img.width), f64::from(img.height));
                Detection {
                    bbox: BBox {
                        x: x * iw,
                        y: y * ih,
                        width: w * iw,
                        height: h * ih,
                    },
                    score,
                }
            })
            .collect()
    }
}

/// `netInput.getReshapedInputDimensions`: the image's size inside the `size` square, rounded
/// half up as JS `Math.round` does.
pub(crate) fn reshaped_dims(width: u32, height: u32, size: usize) -> (f64, f64) {
    let s = size as f64 / f64::from(width.max(height));
    (
        (f64::from(width) * s + 0.5).floor(),
        (f64::from(height) * s + 0.5).floor(),
    )
}

/// Candidates above the threshold as `(score, [x, y, w, h])` relative to the unpadded image,
/// in (row, col, anchor) order.
fn decode(out: &Tensor, width: u32, height: u32, options: TinyOptions) -> Vec<(f64, [f64; 4])> {
    let n = out.h();
    let (rw, rh) = reshaped_dims(width, height, options.input_size);
    let m = rw.max(rh);
    let (cfx, cfy) = (m / rw, m / rh);
    let nf = n as f64;
    let mut res = Vec::new();
    for row in 0..n {
        for col in 0..out.w() {
            let cell = out.pixel(row, col);
            for (a, &(aw, ah)) in ANCHORS.iter().enumerate() {
                let v = |k: usize| f64::from(cell[a * 5 + k]);
                let score = sigmoid(v(4));
                if score <= options.score_threshold {
                    continue;
                }
                let ctx = ((col as f64 + sigmoid(v(0))) / nf) * cfx;
                let cty = ((row as f64 + sigmoid(v(1))) / nf) * cfy;
                let bw = ((v(2).exp() * aw) / nf) * cfx;
                let bh = ((v(3).exp() * ah) / nf) * cfy;
                res.push((score, [ctx - bw / 2.0, cty - bh / 2.0, bw, bh]));
            }
        }
    }
    res
}

/// `inter / (areaA + areaB − inter)` for `[x, y, w, h]` boxes.
fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// face-api.js's greedy NMS (spec §3.4) on boxes scaled by `size`: stable ascending sort, pop
/// the last (highest score; the later one among ties), drop the rest with IoU > 0.4.
fn nms(candidates: &[(f64, [f64; 4])], size: f64) -> Vec<usize> {
    let scaled = |i: usize| candidates[i].1.map(|v| v * size);
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&i, &j| candidates[i].0.total_cmp(&candidates[j].0));
    let mut picked = Vec::new();
    while let Some(cur) = order.pop() {
        picked.push(cur);
        let cb = scaled(cur);
        // Kept unless IoU > 0.4; a NaN IoU (two zero-area boxes) keeps the box, as in JS.
        order.retain(|&i| {
            iou(cb, scaled(i)).partial_cmp(&IOU_THRESHOLD) != Some(std::cmp::Ordering::Greater)
        });
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_size_must_be_multiple_of_32_in_range() {
        assert!(TinyOptions::new(416, 0.5).is_ok());
        assert!(TinyOptions::new(128, 0.5).is_ok());
        assert!(TinyOptions::new(608, 0.5).is_ok());
        for bad in [0, 96, 400, 640, 417] {
            assert!(
                matches!(
                    TinyOptions::new(bad, 0.5),
                    Err(FaceError::InvalidOption { .. })
                ),
                "{bad}"
            );
        }
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(TinyOptions::new(416, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nms_keeps_highest_and_drops_overlaps_above_04() {
        let c = vec![
            (0.6, [0.0, 0.0, 0.5, 0.5]),
            (0.9, [0.01, 0.0, 0.5, 0.5]),
            (0.7, [0.6, 0.6, 0.2, 0.2]),
        ];
        assert_eq!(nms(&c, 416.0), vec![1, 2]);
    }

    #[test]
    fn nms_tie_goes_to_the_later_candidate() {
        let c = vec![(0.8, [0.0, 0.0, 0.5, 0.5]), (0.8, [0.0, 0.0, 0.5, 0.5])];
        assert_eq!(nms(&c, 416.0), vec![1]);
    }

    #[test]
    fn iou_exactly_04_is_kept() {
        // Two 1x1 boxes... inter/union = 0.4 -> overlap 4/7 of the width.
        let a = [0.0, 0.0, 1.0, 1.0];
        let b = [3.0 / 7.0, 0.0, 1.0, 1.0];
        let v = iou(a, b);
        assert!((v - 0.4).abs() < 1e-12, "{v}");
    }

    #[test]
    fn reshaped_dims_round_half_up() {
        assert_eq!(reshaped_dims(640, 480, 416), (416.0, 312.0));
        assert_eq!(reshaped_dims(3, 2, 3), (3.0, 2.0));
        // 5 * 416 / 8 = 260 exactly; 3 * 416 / 8 = 156.
        assert_eq!(reshaped_dims(8, 5, 416), (416.0, 260.0));
    }
}
