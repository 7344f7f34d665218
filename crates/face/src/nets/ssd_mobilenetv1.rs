//! SSD MobileNetV1 face detector (spec §4): a MobileNetV1 backbone at a fixed 512×512 input,
//! four extra feature layers, six box predictors over 5118 anchors read from the weight file,
//! sigmoid scores and face-api.js's own greedy NMS.

use std::cell::RefCell;

use super::tiny_face_detector::reshaped_dims;
use crate::error::{FaceError, Result};
use crate::image::RgbImage;
use crate::kernels::{
    crop_to_input, Activation, Conv2d, CropRect, DepthwiseConv2d, Epilogue, Padding,
};
use crate::pipeline::{BBox, Detection};
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The manifest's model name.
pub const MODEL: &str = "ssd_mobilenetv1_model";

/// The fixed input side.
pub const INPUT_SIZE: usize = 512;
/// Rows of `Output/extra_dim` and of the concatenated predictor outputs.
pub const NUM_ANCHORS: usize = 5118;
/// `tf.batchNorm`'s ε in mobileNetV1.ts (float32 of 0.001).
const BN_EPSILON: f64 = 0.0010000000474974513;
const IOU_THRESHOLD: f64 = 0.5;

/// `(cin, cout)` of the backbone's depthwise/pointwise pairs conv_1..conv_13.
const BACKBONE: [(usize, usize); 13] = [
    (32, 64),
    (64, 128),
    (128, 128),
    (128, 256),
    (256, 256),
    (256, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 1024),
    (1024, 1024),
];
/// Depthwise stride 2 at these conv_i.
const STRIDE2: [usize; 4] = [2, 4, 6, 12];
/// `(k, cin, cout)` of Prediction/Conv2d_j_pointwise, j = 0..7; odd j are stride 2.
const EXTRA: [(usize, usize, usize); 8] = [
    (1, 1024, 256),
    (3, 256, 512),
    (1, 512, 128),
    (3, 128, 256),
    (1, 256, 128),
    (3, 128, 256),
    (1, 256, 64),
    (3, 64, 128),
];
/// `(channels in, anchors per cell)` of BoxPredictor_0..5.
const PREDICTORS: [(usize, usize); 6] =
    [(512, 3), (1024, 6), (512, 6), (256, 6), (256, 6), (128, 6)];

/// Validated `SsdMobilenetv1Options`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SsdOptions {
    pub min_confidence: f64,
    pub max_results: usize,
}

impl SsdOptions {
    /// `min_confidence` must be in (0, 1); `max_results` at least 1.
    pub fn new(min_confidence: f64, max_results: usize) -> Result<Self> {
        if !(min_confidence > 0.0 && min_confidence < 1.0) {
            return Err(FaceError::InvalidOption {
                name: "min_confidence",
                value: min_confidence.to_string(),
                reason: "must be between 0 and 1 (exclusive)",
            });
        }
        if max_results == 0 {
            return Err(FaceError::InvalidOption {
                name: "max_results",
                value: max_results.to_string(),
                reason: "must be at least 1",
            });
        }
        Ok(Self {
            min_confidence,
            max_results,
        })
    }
}

/// The decoded network output before NMS: one box `[ymin, xmin, ymax, xmax]` (relative to the
/// padded 512 square, unclipped) and one sigmoid face score per anchor.
#[derive(Debug, Clone, PartialEq)]
pub struct SsdOutput {
    pub boxes: Vec<[f32; 4]>,
    pub scores: Vec<f32>,
}

pub struct SsdMobilenetV1 {
    conv_0: Conv2d,
    /// conv_1..conv_13: depthwise with the batch norm folded in, then pointwise.
    backbone: Vec<(DepthwiseConv2d, Conv2d)>,
    extra: Vec<Conv2d>,
    /// Per predictor, the box and class 1×1 convs fused into one: `4A` box channels, then `3A`
    /// class channels.
    predictors: Vec<Conv2d>,
    /// `Output/extra_dim`, `[ymin, xmin, ymax, xmax]` per anchor.
    anchors: Vec<[f32; 4]>,
}

thread_local! {
    /// Ping-pong activation buffers, grown once per thread and reused by every forward pass.
    static BUFFERS: RefCell<(Tensor, Tensor)> = RefCell::new(Default::default());
}

impl SsdMobilenetV1 {
    pub fn load(w: &Weights) -> Result<Self> {
        let conv_0 = pointwise_layer(w, "MobilenetV1/Conv2d_0_pointwise", [3, 3, 3, 32], 2)?;
        let backbone = BACKBONE
            .iter()
            .enumerate()
            .map(|(j, &(cin, cout))| {
                let i = j + 1;
                let stride = if STRIDE2.contains(&i) { 2 } else { 1 };
                let dw =
                    depthwise_layer(w, &format!("MobilenetV1/Conv2d_{i}_depthwise"), cin, stride)?;
                let pw = pointwise_layer(
                    w,
                    &format!("MobilenetV1/Conv2d_{i}_pointwise"),
                    [1, 1, cin, cout],
                    1,
                )?;
                Ok((dw, pw))
            })
            .collect::<Result<Vec<_>>>()?;
        let extra = EXTRA
            .iter()
            .enumerate()
            .map(|(j, &(k, cin, cout))| {
                let stride = if k == 3 { 2 } else { 1 };
                pointwise_layer(
                    w,
                    &format!("Prediction/Conv2d_{j}_pointwise"),
                    [k, k, cin, cout],
                    stride,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let predictors = PREDICTORS
            .iter()
            .enumerate()
            .map(|(k, &(c, a))| predictor(w, k, c, a))
            .collect::<Result<Vec<_>>>()?;
        let anchors = w
            .get("Output/extra_dim", &[1, NUM_ANCHORS, 4])?
            .chunks_exact(4)
            .map(|r| [r[0], r[1], r[2], r[3]])
            .collect();
        Ok(Self {
            conv_0,
            backbone,
            extra,
            predictors,
            anchors,
        })
    }

    /// The image as the net sees it: bottom/right zero-padded square, resized to 512, then
    /// `x / 127.5 − 1` (two float32 operations, as vladmandic's `tf.sub(tf.div(x, 127.5), 1)`).
    pub fn prepare(img: &RgbImage) -> Tensor {
        let full = CropRect {
            x: 0,
            y: 0,
            w: img.width as usize,
            h: img.height as usize,
        };
        let mut x = crop_to_input(img, full, INPUT_SIZE, false);
        x.data_mut()
            .iter_mut()
            .for_each(|v| *v = *v / 127.5f32 - 1.0f32);
        x
    }

    /// Decoded boxes and scores for every anchor, from a prepared `[512, 512, 3]` input.
    ///
    /// Panics on any other input shape (a programming error: [`Self::prepare`] makes the input),
    /// since the anchors only fit the 512 grid.
    pub fn forward(&self, input: &Tensor) -> SsdOutput {
        assert_eq!(
            input.shape(),
            (INPUT_SIZE, INPUT_SIZE, 3),
            "SSD input must be 512x512x3"
        );
        let (mut a, mut b) = BUFFERS.with(|t| std::mem::take(&mut *t.borrow_mut()));
        let mut heads = Heads::default();
        self.conv_0.forward_into(input, &mut a);
        for (i, (dw, pw)) in self.backbone.iter().enumerate() {
            dw.forward_into(&a, &mut b);
            pw.forward_into(&b, &mut a);
            if i + 1 == 11 {
                heads.push(&self.predictors[0], PREDICTORS[0].1, &a);
            }
        }
        heads.push(&self.predictors[1], PREDICTORS[1].1, &a);
        // Extra layers: the odd (stride-2, 3×3) ones feed predictors 2..5.
        self.extra[0].forward_into(&a, &mut b);
        for (j, layer) in self.extra.iter().enumerate().skip(1) {
            layer.forward_into(&b, &mut a);
            std::mem::swap(&mut a, &mut b);
            if j % 2 == 1 {
                let k = 2 + j / 2;
                heads.push(&self.predictors[k], PREDICTORS[k].1, &b);
            }
        }
        BUFFERS.with(|t| *t.borrow_mut() = (a, b));
        assert_eq!(
            heads.encodings.len(),
            NUM_ANCHORS,
            "predictor outputs vs anchors"
        );
        SsdOutput {
            boxes: heads
                .encodings
                .iter()
                .zip(&self.anchors)
                .map(|(e, a)| decode_box(*a, *e))
                .collect(),
            scores: heads.logits.iter().map(|&v| sigmoid_f32(v)).collect(),
        }
    }

    /// Detected faces in image pixels, in NMS pick order (highest score first).
    pub fn detect(&self, img: &RgbImage, options: SsdOptions) -> Vec<Detection> {
        if img.width == 0 || img.height == 0 {
            return Vec::new();
        }
        let out = self.forward(&Self::prepare(img));
        let (rw, rh) = reshaped_dims(img.width, img.height, INPUT_SIZE);
        let (pad_x, pad_y) = (INPUT_SIZE as f64 / rw, INPUT_SIZE as f64 / rh);
        let (iw, ih) = (f64::from(img.width), f64::from(img.height));
        nms(&out, options)
            .into_iter()
            .map(|i| {
                let [ymin, xmin, ymax, xmax] = out.boxes[i].map(f64::from);
                let (top, bottom) = (ymin.max(0.0) * pad_y, ymax.min(1.0) * pad_y);
                let (left, right) = (xmin.max(0.0) * pad_x, xmax.min(1.0) * pad_x);
                Detection {
                    bbox: BBox {
                        x: left * iw,
                        y: top * ih,
                        width: (right - left) * iw,
                        height: (bottom - top) * ih,
                    },
                    score: f64::from(out.scores[i]),
                }
            })
            .collect()
    }
}

/// The predictors' outputs, concatenated in predictor order as `tf.concat` does: per anchor the
/// box encoding `(ty, tx, th, tw)` and the face logit (class column 1).
#[derive(Default)]
struct Heads {
    out: Tensor,
    encodings: Vec<[f32; 4]>,
    logits: Vec<f32>,
}

impl Heads {
    fn push(&mut self, predictor: &Conv2d, anchors: usize, feature: &Tensor) {
        predictor.forward_into(feature, &mut self.out);
        for pixel in self.out.data().chunks_exact(7 * anchors) {
            let (boxes, classes) = pixel.split_at(4 * anchors);
            self.encodings
                .extend(boxes.chunks_exact(4).map(|e| [e[0], e[1], e[2], e[3]]));
            self.logits.extend(classes.chunks_exact(3).map(|c| c[1]));
        }
    }
}

/// `pointwiseConvLayer`: conv (same) + `convolution_bn_offset`, then ReLU6.
fn pointwise_layer(w: &Weights, prefix: &str, shape: [usize; 4], stride: usize) -> Result<Conv2d> {
    let filters = w.get(&format!("{prefix}/weights"), &shape)?;
    let offset = w.get(&format!("{prefix}/convolution_bn_offset"), &[shape[3]])?;
    Ok(Conv2d::new(
        filters,
        shape,
        Some(offset),
        stride,
        Padding::Same,
        Activation::Relu6,
    ))
}

/// `depthwiseConvLayer`: depthwise 3×3 (same), batch norm, ReLU6. The batch norm
/// `beta + (x − mean) · gamma / sqrt(var + ε)` is folded at load into `x · s + t` with
/// `s = gamma / sqrt(var + ε)` and `t = beta − mean · s`, computed in f64.
fn depthwise_layer(w: &Weights, prefix: &str, c: usize, stride: usize) -> Result<DepthwiseConv2d> {
    let shape = [3, 3, c, 1];
    let filter = w.get(&format!("{prefix}/depthwise_weights"), &shape)?;
    let bn = |name: &str| w.get(&format!("{prefix}/BatchNorm/{name}"), &[c]);
    let (gamma, beta, mean, var) = (
        bn("gamma")?,
        bn("beta")?,
        bn("moving_mean")?,
        bn("moving_variance")?,
    );
    let mut scale = Vec::with_capacity(c);
    let mut shift = Vec::with_capacity(c);
    for i in 0..c {
        let s = f64::from(gamma[i]) / (f64::from(var[i]) + BN_EPSILON).sqrt();
        scale.push(s as f32);
        shift.push((f64::from(beta[i]) - f64::from(mean[i]) * s) as f32);
    }
    let epilogue = Epilogue {
        scale: Some(scale),
        shift: Some(shift),
        act: Activation::Relu6,
    };
    Ok(DepthwiseConv2d::new(
        filter,
        shape,
        stride,
        Padding::Same,
        epilogue,
    ))
}

/// BoxPredictor_k's BoxEncodingPredictor and ClassPredictor as one 1×1 conv whose output
/// channels are the `4A` box encodings followed by the `3A` class logits.
fn predictor(w: &Weights, k: usize, c: usize, anchors: usize) -> Result<Conv2d> {
    let prefix = format!("Prediction/BoxPredictor_{k}");
    let (nb, nc) = (4 * anchors, 3 * anchors);
    let bw = w.get(
        &format!("{prefix}/BoxEncodingPredictor/weights"),
        &[1, 1, c, nb],
    )?;
    let bb = w.get(&format!("{prefix}/BoxEncodingPredictor/biases"), &[nb])?;
    let cw = w.get(&format!("{prefix}/ClassPredictor/weights"), &[1, 1, c, nc])?;
    let cb = w.get(&format!("{prefix}/ClassPredictor/biases"), &[nc])?;
    let mut filter = Vec::with_capacity(c * (nb + nc));
    for (b_row, c_row) in bw.chunks_exact(nb).zip(cw.chunks_exact(nc)) {
        filter.extend_from_slice(b_row);
        filter.extend_from_slice(c_row);
    }
    let bias: Vec<f32> = bb.iter().chain(cb).copied().collect();
    Ok(Conv2d::new(
        &filter,
        [1, 1, c, nb + nc],
        Some(&bias),
        1,
        Padding::Same,
        Activation::None,
    ))
}

/// `decodeBoxesLayer` for one anchor, every step a float32 op as tfjs does it: encodings
/// `(ty, tx, th, tw)` with variances 0.1 (÷10) and 0.2 (÷5).
fn decode_box(anchor: [f32; 4], e: [f32; 4]) -> [f32; 4] {
    let [ymin, xmin, ymax, xmax] = anchor;
    let (ha, wa) = (ymax - ymin, xmax - xmin);
    let (cya, cxa) = (ymin + ha / 2.0, xmin + wa / 2.0);
    let exp = |v: f32| f64::from(v).exp() as f32;
    let half_h = exp(e[2] / 5.0) * ha / 2.0;
    let cy = e[0] / 10.0 * ha + cya;
    let half_w = exp(e[3] / 5.0) * wa / 2.0;
    let cx = e[1] / 10.0 * wa + cxa;
    [cy - half_h, cx - half_w, cy + half_h, cx + half_w]
}

/// tfjs CPU's sigmoid: `1 / (1 + exp(−x))` in double, stored as float32.
fn sigmoid_f32(v: f32) -> f32 {
    (1.0 / (1.0 + (-f64::from(v)).exp())) as f32
}

/// face-api.js's SSD `nonMaxSuppression` (spec §4.4), on the decoded, unclipped boxes.
fn nms(out: &SsdOutput, options: SsdOptions) -> Vec<usize> {
    let threshold = options.min_confidence;
    let mut candidates: Vec<(f64, usize)> = out
        .scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (f64::from(s), i))
        .filter(|&(s, _)| s > threshold)
        .collect();
    // Stable, descending: ties keep anchor order, as JS's Array.sort.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    let limit = options.max_results.min(out.boxes.len());
    let mut selected: Vec<usize> = Vec::new();
    for (score, i) in candidates {
        if selected.len() >= limit {
            break;
        }
        let mut s = score;
        for &j in selected.iter().rev() {
            let overlap = iou(out.boxes[i], out.boxes[j]);
            if overlap == 0.0 {
                continue;
            }
            if overlap > IOU_THRESHOLD {
                s = 0.0;
            }
            if s <= threshold {
                break;
            }
        }
        if s == score {
            selected.push(i);
        }
    }
    selected
}

/// IoU of two `[ymin, xmin, ymax, xmax]` boxes whose corners may be swapped; 0 for empty boxes.
fn iou(a: [f32; 4], b: [f32; 4]) -> f64 {
    let norm = |r: [f32; 4]| {
        let [y0, x0, y1, x1] = r.map(f64::from);
        (y0.min(y1), x0.min(x1), y0.max(y1), x0.max(x1))
    };
    let (ay0, ax0, ay1, ax1) = norm(a);
    let (by0, bx0, by1, bx1) = norm(b);
    let area_a = (ay1 - ay0) * (ax1 - ax0);
    let area_b = (by1 - by0) * (bx1 - bx0);
    if area_a <= 0.0 || area_b <= 0.0 {
        return 0.0;
    }
    let inter = (ay1.min(by1) - ay0.max(by0)).max(0.0) * (ax1.min(bx1) - ax0.max(bx0)).max(0.0);
    inter / (area_a + area_b - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(boxes: Vec<[f32; 4]>, scores: Vec<f32>) -> SsdOutput {
        SsdOutput { boxes, scores }
    }

    #[test]
    fn options_reject_confidence_outside_open_unit_interval() {
        assert!(SsdOptions::new(0.0, 100).is_err());
        assert!(SsdOptions::new(1.0, 100).is_err());
        assert!(SsdOptions::new(0.5, 0).is_err());
        assert!(SsdOptions::new(0.5, 100).is_ok());
    }

    #[test]
    fn nms_suppresses_overlap_above_half_and_keeps_disjoint_boxes() {
        let o = out(
            vec![
                [0.0, 0.0, 1.0, 1.0],
                [0.0, 0.0, 1.0, 0.9],
                [2.0, 2.0, 3.0, 3.0],
                [0.0, 0.0, 1.0, 1.0],
            ],
            vec![0.9, 0.8, 0.7, 0.4],
        );
        let options = SsdOptions::new(0.5, 100).expect("valid");
        assert_eq!(nms(&o, options), vec![0, 2]);
    }

    #[test]
    fn nms_keeps_iou_of_exactly_one_half_and_stops_at_max_results() {
        // IoU([0,0,1,1], [0,0,1,2]) = 1 / 2: not above the threshold, so both stay.
        let o = out(
            vec![
                [0.0, 0.0, 1.0, 1.0],
                [0.0, 0.0, 1.0, 2.0],
                [5.0, 5.0, 6.0, 6.0],
            ],
            vec![0.9, 0.8, 0.7],
        );
        assert_eq!(
            nms(&o, SsdOptions::new(0.5, 100).expect("valid")),
            vec![0, 1, 2]
        );
        assert_eq!(nms(&o, SsdOptions::new(0.5, 2).expect("valid")), vec![0, 1]);
    }

    #[test]
    fn nms_ties_keep_anchor_order() {
        let o = out(
            vec![[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]],
            vec![0.75, 0.75],
        );
        assert_eq!(nms(&o, SsdOptions::new(0.5, 100).expect("valid")), vec![0]);
    }

    #[test]
    fn iou_reorders_swapped_corners_and_ignores_empty_boxes() {
        assert_eq!(iou([1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]), 1.0);
        assert_eq!(iou([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]), 0.0);
    }

    #[test]
    fn decode_box_with_zero_encoding_returns_the_anchor() {
        let anchor = [0.25, 0.5, 0.75, 1.0];
        assert_eq!(decode_box(anchor, [0.0; 4]), anchor);
    }
}
