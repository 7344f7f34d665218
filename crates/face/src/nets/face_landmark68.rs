//! FaceLandmark68Net and FaceLandmark68TinyNet (spec §5), and the DenseNet feature extractor
//! they share with FaceExpressionNet.

use super::{face_input_into, load_conv, load_separable};
use crate::error::Result;
use crate::image::RgbImage;
use crate::kernels::{
    global_avg_pool, sum_right_relu_into, Activation, Conv2d, CropRect, FullyConnected, Padding,
    SeparableConv2d,
};
use crate::pipeline::Point;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The manifests' model names.
pub const MODEL: &str = "face_landmark_68_model";
pub const MODEL_TINY: &str = "face_landmark_68_tiny_model";

/// Input side of the face nets built on the feature extractor.
pub const INPUT_SIZE: usize = 112;
/// The landmark and expression nets divide by 255 in both library versions.
pub const DIVISOR: f32 = 255.0;

/// The first conv of a dense block: a plain conv in dense0, separable elsewhere; stride 2.
enum FirstConv {
    Plain(Conv2d),
    Separable(SeparableConv2d),
}

/// One dense block `denseb`: conv0 (stride 2, ReLU) then 2 or 3 separable convs whose inputs are
/// running sums of the earlier outputs.
struct DenseBlock {
    conv0: FirstConv,
    convs: Vec<SeparableConv2d>,
}

/// The "FaceFeatureExtractor" (`dense4` ×4, 256 features) or its tiny variant (`dense3` ×3, 128).
pub struct DenseFeatureExtractor {
    blocks: Vec<DenseBlock>,
}

impl DenseFeatureExtractor {
    /// `n_blocks` dense blocks (channels 32, 64, 128, 256) of `n_convs` convs each: (4, 4) for
    /// FaceLandmark68Net and FaceExpressionNet, (3, 3) for the tiny landmark net.
    pub fn load(w: &Weights, n_blocks: usize, n_convs: usize) -> Result<Self> {
        let channels = [32usize, 64, 128, 256];
        let mut blocks = Vec::with_capacity(n_blocks);
        for b in 0..n_blocks {
            let c = channels[b];
            let conv0 = if b == 0 {
                FirstConv::Plain(load_conv(
                    w,
                    "dense0/conv0",
                    [3, 3, 3, c],
                    2,
                    Padding::Same,
                    Activation::Relu,
                )?)
            } else {
                let cin = channels[b - 1];
                let p = format!("dense{b}/conv0");
                FirstConv::Separable(load_separable(
                    w,
                    &p,
                    cin,
                    c,
                    2,
                    Padding::Same,
                    Activation::Relu,
                )?)
            };
            let convs = (1..n_convs)
                .map(|k| {
                    load_separable(
                        w,
                        &format!("dense{b}/conv{k}"),
                        c,
                        c,
                        1,
                        Padding::Same,
                        Activation::None,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            blocks.push(DenseBlock { conv0, convs });
        }
        Ok(Self { blocks })
    }

    /// Number of output features (channels of the last block).
    pub fn n_features(&self) -> usize {
        32 << (self.blocks.len() - 1)
    }

    /// Global-average-pooled features of a prepared `[112, 112, 3]` input.
    pub fn forward(&self, input: &Tensor) -> Vec<f32> {
        let mut x = Tensor::take();
        let mut y = Tensor::take();
        for (i, block) in self.blocks.iter().enumerate() {
            block.forward_into(if i == 0 { input } else { &x }, &mut y);
            std::mem::swap(&mut x, &mut y);
        }
        let features = global_avg_pool(&x);
        x.recycle();
        y.recycle();
        features
    }
}

impl DenseBlock {
    /// ```text
    /// o1 = relu(conv0(x)); o2 = conv1(o1); o3 = conv2(relu(o1 + o2)); o4 = conv3(relu(o1 + (o2 + o3)))
    /// out = relu(o1 + (o2 + (o3 + o4)))      (3-conv blocks stop at relu(o1 + (o2 + o3)))
    /// ```
    /// The sums are nested right to left, as in the source, so the f32 results match.
    fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        let mut outs: Vec<Tensor> = (0..=self.convs.len()).map(|_| Tensor::take()).collect();
        match &self.conv0 {
            FirstConv::Plain(c) => c.forward_into(x, &mut outs[0]),
            FirstConv::Separable(c) => c.forward_into(x, &mut outs[0]),
        }
        let mut input = Tensor::take();
        for (k, conv) in self.convs.iter().enumerate() {
            let (done, rest) = outs.split_at_mut(k + 1);
            if k == 0 {
                conv.forward_into(&done[0], &mut rest[0]);
            } else {
                let refs: Vec<&Tensor> = done.iter().collect();
                sum_right_relu_into(&refs, &mut input);
                conv.forward_into(&input, &mut rest[0]);
            }
        }
        let refs: Vec<&Tensor> = outs.iter().collect();
        sum_right_relu_into(&refs, out);
        input.recycle();
        outs.into_iter().for_each(Tensor::recycle);
    }
}

/// FaceLandmark68Net (`tiny = false`) or FaceLandmark68TinyNet (`tiny = true`).
pub struct FaceLandmark68Net {
    features: DenseFeatureExtractor,
    fc: FullyConnected,
}

impl FaceLandmark68Net {
    pub fn load(w: &Weights, tiny: bool) -> Result<Self> {
        let (n_blocks, n_convs) = if tiny { (3, 3) } else { (4, 4) };
        let features = DenseFeatureExtractor::load(w, n_blocks, n_convs)?;
        let n = features.n_features();
        let fc = FullyConnected::new(
            w.get("fc/weights", &[n, 136])?,
            [n, 136],
            Some(w.get("fc/bias", &[136])?),
        );
        Ok(Self { features, fc })
    }

    /// The 136 raw outputs (`x0, y0, x1, …` in the 112-square) for a prepared input.
    pub fn forward(&self, input: &Tensor) -> Vec<f32> {
        self.fc.forward(&self.features.forward(input))
    }

    /// The 68 points of the face in `crop`, in crop pixels (face-api.js's `unshiftedLandmarks`).
    /// `crop` must be non-empty and inside `img`.
    pub fn landmarks(&self, img: &RgbImage, crop: CropRect) -> Vec<Point> {
        let mut input = Tensor::take();
        face_input_into(img, crop, INPUT_SIZE, DIVISOR, &mut input);
        let raw = self.forward(&input);
        input.recycle();
        decode(&raw, crop.w, crop.h)
    }
}

/// Spec §5.3: undo the (assumed symmetric) padding on unrounded scaled sizes, in f32, then scale
/// to crop pixels in f64.
pub(crate) fn decode(raw: &[f32], w: usize, h: usize) -> Vec<Point> {
    let (wf, hf) = (w as f64, h as f64);
    let s = INPUT_SIZE as f64 / wf.max(hf);
    let (ww, hh) = (wf * s, hf * s);
    let pad_x = if ww < hh { (ww - hh).abs() / 2.0 } else { 0.0 };
    let pad_y = if hh < ww { (ww - hh).abs() / 2.0 } else { 0.0 };
    let size = INPUT_SIZE as f32;
    raw.chunks_exact(2)
        .map(|p| {
            let xr = (p[0] * size - pad_x as f32) / ww as f32;
            let yr = (p[1] * size - pad_y as f32) / hh as f32;
            Point {
                x: f64::from(xr) * wf,
                y: f64::from(yr) * hf,
            }
        })
        .collect()
}
