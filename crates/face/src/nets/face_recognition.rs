//! FaceRecognitionNet (spec §7): the dlib ResNet-34-style network producing 128-D descriptors.

use super::face_input_into;
use crate::error::Result;
use crate::image::RgbImage;
use crate::kernels::{
    avg_pool_valid_into, global_avg_pool, max_pool_into, Activation, Conv2d, CropRect, Epilogue,
    FullyConnected, Padding,
};
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The manifest's model name.
pub const MODEL: &str = "face_recognition_model";
pub const INPUT_SIZE: usize = 150;
/// vladmandic's divisor (0.22.2 used 256).
pub const DIVISOR: f32 = 255.0;

/// A residual block: `conv1` then `conv2`, and for `_down` blocks the pooled shortcut.
struct Residual {
    conv1: Conv2d,
    conv2: Conv2d,
    down: bool,
}

pub struct FaceRecognitionNet {
    conv32_down: Conv2d,
    blocks: Vec<Residual>,
    fc: FullyConnected,
}

/// Blocks in execution order: (name, cin, cout, down).
const BLOCKS: [(&str, usize, usize, bool); 14] = [
    ("conv32_1", 32, 32, false),
    ("conv32_2", 32, 32, false),
    ("conv32_3", 32, 32, false),
    ("conv64_down", 32, 64, true),
    ("conv64_1", 64, 64, false),
    ("conv64_2", 64, 64, false),
    ("conv64_3", 64, 64, false),
    ("conv128_down", 64, 128, true),
    ("conv128_1", 128, 128, false),
    ("conv128_2", 128, 128, false),
    ("conv256_down", 128, 256, true),
    ("conv256_1", 256, 256, false),
    ("conv256_2", 256, 256, false),
    ("conv256_down_out", 256, 256, true),
];

/// `<p>/conv/{filters,bias}` and `<p>/scale/{weights,biases}`, i.e.
/// `(conv(x) + bias) · scale + scale_bias`, folded at load time into one conv:
/// `conv(x; filters · scale) + (bias · scale + scale_bias)`.
#[allow(clippy::too_many_arguments)] // the conv settings, spelled out per layer as in the spec
fn conv_layer(
    w: &Weights,
    p: &str,
    k: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    padding: Padding,
    act: Activation,
) -> Result<Conv2d> {
    let shape = [k, k, cin, cout];
    let filters = w.get(&format!("{p}/conv/filters"), &shape)?;
    let bias = w.get(&format!("{p}/conv/bias"), &[cout])?;
    let scale = w.get(&format!("{p}/scale/weights"), &[cout])?;
    let scale_bias = w.get(&format!("{p}/scale/biases"), &[cout])?;
    let shift: Vec<f32> = bias
        .iter()
        .zip(scale)
        .zip(scale_bias)
        .map(|((b, s), sb)| b * s + sb)
        .collect();
    let mut conv = Conv2d::with_epilogue(
        filters,
        shape,
        stride,
        padding,
        Epilogue {
            scale: None,
            shift: Some(shift),
            act,
        },
    );
    conv.fold_scale_into_filter(scale);
    Ok(conv)
}

impl FaceRecognitionNet {
    pub fn load(w: &Weights) -> Result<Self> {
        let conv32_down = conv_layer(
            w,
            "conv32_down",
            7,
            3,
            32,
            2,
            Padding::Valid,
            Activation::Relu,
        )?;
        let mut blocks = Vec::new();
        for &(name, cin, cout, down) in BLOCKS.iter() {
            let (stride, padding) = if down {
                (2, Padding::Valid)
            } else {
                (1, Padding::Same)
            };
            let conv1 = conv_layer(
                w,
                &format!("{name}/conv1"),
                3,
                cin,
                cout,
                stride,
                padding,
                Activation::Relu,
            )?;
            // The plain blocks' ReLU comes after the residual addition, fused into conv2.
            let act2 = if down {
                Activation::None
            } else {
                Activation::Relu
            };
            let conv2 = conv_layer(
                w,
                &format!("{name}/conv2"),
                3,
                cout,
                cout,
                1,
                Padding::Same,
                act2,
            )?;
            blocks.push(Residual { conv1, conv2, down });
        }
        let fc = FullyConnected::new(w.get("fc", &[256, 128])?, [256, 128], None);
        Ok(Self {
            conv32_down,
            blocks,
            fc,
        })
    }

    /// The descriptor of a prepared `[150, 150, 3]` input.
    pub fn forward(&self, input: &Tensor) -> [f32; 128] {
        let [mut x, mut t, mut out, mut pooled] = [(); 4].map(|_| Tensor::take());
        self.conv32_down.forward_into(input, &mut t);
        max_pool_into(&t, 3, 2, Padding::Valid, &mut x);
        for block in &self.blocks {
            block.conv1.forward_into(&x, &mut t);
            if block.down {
                block.conv2.forward_into(&t, &mut out);
                avg_pool_valid_into(&x, 2, 2, &mut pooled);
                shortcut_down(&pooled, &out, &mut x);
            } else {
                block.conv2.forward_residual_into(&t, &x, &mut out);
                std::mem::swap(&mut x, &mut out);
            }
        }
        let features = global_avg_pool(&x);
        [x, t, out, pooled].into_iter().for_each(Tensor::recycle);
        let mut d = [0.0f32; 128];
        d.copy_from_slice(&self.fc.forward(&features));
        d
    }

    /// The descriptor of the face in `crop` (non-empty, inside `img`).
    pub fn descriptor(&self, img: &RgbImage, crop: CropRect) -> [f32; 128] {
        let mut input = Tensor::take();
        face_input_into(img, crop, INPUT_SIZE, DIVISOR, &mut input);
        let d = self.forward(&input);
        input.recycle();
        d
    }
}

/// `relu(p ⧺ zeros + o)` where `p` is the 2×2/2 average pool of the block input, with `o`
/// zero-padded by one row at the bottom and one column at the right when it is smaller than `p`
/// (spec §7, `residualDown`).
fn shortcut_down(p: &Tensor, o: &Tensor, out: &mut Tensor) {
    let (ph, pw, pc) = p.shape();
    let (oh, ow, oc) = o.shape();
    out.reshape_zeroed(ph, pw, oc);
    for y in 0..ph {
        for xx in 0..pw {
            let dst = &mut out.data_mut()[(y * pw + xx) * oc..][..oc];
            if y < oh && xx < ow {
                dst.copy_from_slice(o.pixel(y, xx));
            }
            // Channels beyond the pooled map's are the zeros of the channel concat.
            for (d, v) in dst.iter_mut().zip(p.pixel(y, xx)).take(pc) {
                *d += v;
            }
            dst.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv2d_reference;

    fn weights() -> Option<Weights> {
        let dir = std::env::var_os(crate::models::DIR_ENV).map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
            std::path::PathBuf::from,
        );
        match Weights::load(&dir, MODEL) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("SKIPPED folded_scale_layers_match_conv_then_scale: {e}");
                None
            }
        }
    }

    /// Folding `scale/weights` into the filters reorders float roundings; on every conv layer of
    /// the real net the folded layer must stay within 1e-5 (relative to the largest output) of
    /// the spec's `(conv(x) + bias) * scale + scale_bias`.
    #[test]
    fn folded_scale_layers_match_conv_then_scale() {
        let Some(w) = weights() else { return };
        let mut layers = vec![("conv32_down".to_string(), 7, 3, 32)];
        for &(name, cin, cout, _) in &BLOCKS {
            layers.push((format!("{name}/conv1"), 3, cin, cout));
            layers.push((format!("{name}/conv2"), 3, cout, cout));
        }
        for (i, (p, k, cin, cout)) in layers.into_iter().enumerate() {
            let x = Tensor::from_vec(
                9,
                9,
                cin,
                (0..81 * cin)
                    .map(|j| ((j * 37 + i) % 101) as f32 / 50.0 - 1.0)
                    .collect(),
            )
            .expect("shape");
            let folded = conv_layer(&w, &p, k, cin, cout, 1, Padding::Same, Activation::None)
                .expect("layer");
            let shape = [k, k, cin, cout];
            let get = |n: &str, s: &[usize]| w.get(&format!("{p}/{n}"), s).expect("tensor");
            let (bias, scale, sb) = (
                get("conv/bias", &[cout]),
                get("scale/weights", &[cout]),
                get("scale/biases", &[cout]),
            );
            let mut want =
                conv2d_reference(&x, get("conv/filters", &shape), shape, 1, Padding::Same);
            for (j, v) in want.data_mut().iter_mut().enumerate() {
                let c = j % cout;
                *v = (*v + bias[c]) * scale[c] + sb[c];
            }
            let got = folded.forward(&x);
            let worst = got
                .data()
                .iter()
                .zip(want.data())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= 1e-5 * want.max_abs(),
                "{p}: max diff {worst} vs max {}",
                want.max_abs()
            );
        }
    }
}
