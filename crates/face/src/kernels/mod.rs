//! Numeric kernels of the face networks, each matching tfjs's CPU kernels.
//!
//! # API
//!
//! Activations are [`Tensor`]s: batch 1, NHWC, f32. Weights are prepared once, at load time,
//! into layer structs; every layer has `forward(&Tensor) -> Tensor` and an allocation-free
//! `forward_into(&Tensor, &mut Tensor)` that reuses the output's buffer.
//!
//! * [`Conv2d`]: `conv2d` with HWIO filters `[kh, kw, cin, cout]` (as in the manifests), any
//!   stride, [`Padding::Same`] / [`Padding::Valid`] / [`Padding::Explicit`], and a fused
//!   [`Epilogue`]: `y = act(acc * scale[c] + shift[c] (+ residual))`. [`Conv2d::new`] takes the
//!   bias as `shift`; [`Conv2d::with_epilogue`] takes a full [`Epilogue`] (per-channel scale,
//!   recognition-net or batch-norm style), and [`Conv2d::fold_scale_into_filter`] folds a scale
//!   into the weights.
//! * [`DepthwiseConv2d`]: channel multiplier 1, filters `[kh, kw, c, 1]`, the same epilogue
//!   (use scale/shift for a folded batch norm).
//! * [`SeparableConv2d`]: depthwise (no bias) then 1×1 pointwise with bias and activation, as
//!   tfjs's `separableConv2d(...) + bias`.
//! * Pooling: [`max_pool`] (padding excluded from the max), [`avg_pool_valid`],
//!   [`global_avg_pool`] (sums in f64 like tfjs's CPU avgPool).
//! * Preprocessing: [`pad_to_square`] and [`resize_bilinear_legacy`] (TF1 bilinear, no half-pixel
//!   offset, computed in f64), plus [`crop_to_input`], which does crop + pad + resize from an
//!   [`RgbImage`](crate::image::RgbImage) in one pass with identical results, and [`normalize`].
//! * [`FullyConnected`]: `y = x · W + b` with `W` as `[in, out]`.
//! * Elementwise helpers: [`add`], [`add_into`], [`sum_right_relu_into`], [`relu_inplace`],
//!   [`Activation::apply`].
//!
//! [`Activation::Leaky`] is computed as face-api.js does: `m = x * 0.1f32; relu(x - m) + m`.
//!
//! Buffers: [`Tensor::take`] / [`Tensor::recycle`] hand out per-thread spare tensors whose
//! allocations persist, so a network's forward pass does not allocate or zero-fill in steady
//! state; `forward_into` only grows an output when it is too small.
//!
//! Speed: dense convs (any k, stride, padding; 1×1 included) run a direct register-tiled kernel
//! (6 pixels × 16 channels, AVX2 + FMA when the CPU has them, detected at run time, else a
//! portable loop), reading NHWC input in place and applying the epilogue before the one store.
//! 3×3 depthwise layers with a multiple of 8 channels keep the filter in registers. Large layers
//! split their output over the current rayon pool, so callers choose the thread count with
//! `ThreadPool::install`; results are bit-identical for any pool size.
//!
//! Every fast kernel has a naive reference next to it (`*_reference`), and property tests
//! compare the two on random shapes, strides and paddings.

mod conv;
mod depthwise;
mod direct;
mod elementwise;
mod fc;
mod pool;
mod resize;

pub use conv::{conv2d_reference, Conv2d};
pub use depthwise::{depthwise_reference, DepthwiseConv2d, SeparableConv2d};
pub use direct::PORTABLE_ENV;
pub use elementwise::{add, add_into, relu_inplace, sum_right_relu_into};
pub use fc::FullyConnected;
pub use pool::{
    avg_pool_valid, avg_pool_valid_into, global_avg_pool, max_pool, max_pool_into,
    max_pool_reference,
};
pub use resize::{
    crop_to_input, crop_to_input_into, image_to_tensor, normalize, pad_to_square,
    resize_bilinear_legacy, CropRect,
};

pub use crate::tensor::Tensor;

/// Defines `fn $name(args)` that runs its body compiled for AVX2 + FMA when the CPU has them
/// (inside a `#[target_feature]` function, where the inlined body is autovectorised with 256-bit
/// registers) and as portable code otherwise. The results are identical: no FMA contraction
/// happens without explicit `mul_add`.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) {
                generic($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::kernels::direct::avx2_available() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    unsafe { avx2($($arg),*) };
                    return;
                }
            }
            generic($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// TF padding modes (spec §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No padding; `out = floor((in - k) / s) + 1`.
    Valid,
    /// `out = ceil(in / s)`; the odd extra pad goes at the bottom/right.
    Same,
    /// Explicit zero padding, then valid (TinyFaceDetector's `tf.pad` + valid conv).
    Explicit {
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    },
}

/// Output size and leading padding of one spatial axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AxisPad {
    pub out: usize,
    pub before: usize,
}

impl Padding {
    /// Output size and leading pad along an axis of length `input` for kernel `k`, stride `s`.
    /// A window larger than the (padded) input gives an output of size 0, never a panic.
    pub(crate) fn axis(self, input: usize, k: usize, s: usize, vertical: bool) -> AxisPad {
        let s = s.max(1);
        match self {
            Padding::Valid => AxisPad {
                out: if input >= k { (input - k) / s + 1 } else { 0 },
                before: 0,
            },
            Padding::Same => {
                let out = input.div_ceil(s);
                let total = ((out.saturating_sub(1)) * s + k).saturating_sub(input);
                AxisPad {
                    out,
                    before: total / 2,
                }
            }
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => {
                let (b, a) = if vertical {
                    (top, bottom)
                } else {
                    (left, right)
                };
                let padded = input + b + a;
                AxisPad {
                    out: if padded >= k { (padded - k) / s + 1 } else { 0 },
                    before: b,
                }
            }
        }
    }

    /// Output `(h, w)` for an input of `(h, w)`, kernel `(kh, kw)` and stride `s`.
    pub fn output_size(self, h: usize, w: usize, kh: usize, kw: usize, s: usize) -> (usize, usize) {
        (
            self.axis(h, kh, s, true).out,
            self.axis(w, kw, s, false).out,
        )
    }
}

/// The activation fused at the end of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    #[default]
    None,
    Relu,
    /// `clip(x, 0, 6)`.
    Relu6,
    /// face-api.js's leaky ReLU (α = 0.1): `m = x * 0.1f32; relu(x - m) + m`, bit for bit.
    Leaky,
}

impl Activation {
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Leaky => {
                let m = x * 0.1f32;
                (x - m).max(0.0) + m
            }
        }
    }
}

/// What a layer does to its raw accumulator, per output channel `c`:
/// `y = act(acc * scale[c] + shift[c] (+ residual))`. Without `scale`, `acc + shift[c]` is one
/// f32 addition, exactly tfjs's `add(conv, bias)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Epilogue {
    pub scale: Option<Vec<f32>>,
    pub shift: Option<Vec<f32>>,
    pub act: Activation,
}

impl Epilogue {
    pub fn bias(bias: Option<Vec<f32>>, act: Activation) -> Self {
        Self {
            scale: None,
            shift: bias,
            act,
        }
    }

    /// Applies the epilogue to one output pixel's channels in place, adding `residual` (same
    /// length) after the affine step and before the activation when given.
    #[inline(always)]
    pub(crate) fn apply_pixel(&self, out: &mut [f32], residual: Option<&[f32]>) {
        match (&self.scale, &self.shift) {
            (Some(s), Some(b)) => {
                for ((o, s), b) in out.iter_mut().zip(s).zip(b) {
                    *o = *o * s + b;
                }
            }
            (Some(s), None) => out.iter_mut().zip(s).for_each(|(o, s)| *o *= s),
            (None, Some(b)) => out.iter_mut().zip(b).for_each(|(o, b)| *o += b),
            (None, None) => {}
        }
        if let Some(r) = residual {
            out.iter_mut().zip(r).for_each(|(o, r)| *o += r);
        }
        if self.act != Activation::None {
            let act = self.act;
            out.iter_mut().for_each(|o| *o = act.apply(*o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pad_after() {
        // 3x3 stride 2 on an even input: (0 before, 1 after), out = in / 2.
        assert_eq!(
            Padding::Same.axis(8, 3, 2, true),
            AxisPad { out: 4, before: 0 }
        );
        // 2x2 stride 1 max-pool: pad 0 before, 1 after.
        assert_eq!(
            Padding::Same.axis(13, 2, 1, true),
            AxisPad { out: 13, before: 0 }
        );
        assert_eq!(
            Padding::Same.axis(7, 3, 1, true),
            AxisPad { out: 7, before: 1 }
        );
        assert_eq!(Padding::Valid.axis(150, 7, 2, true).out, 72);
        assert_eq!(Padding::Valid.axis(2, 3, 1, true).out, 0);
    }

    #[test]
    fn leaky_matches_face_api_formula_not_max() {
        for x in [-3.7f32, -0.0, 0.0, 1e-30, 2.5, -1e-38, 123.456] {
            let m = x * 0.1f32;
            assert_eq!(
                Activation::Leaky.apply(x).to_bits(),
                ((x - m).max(0.0) + m).to_bits()
            );
        }
        assert_eq!(Activation::Relu6.apply(7.0), 6.0);
        assert_eq!(Activation::Relu6.apply(-1.0), 0.0);
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::{Padding, Tensor};
    use proptest::prelude::*;

    /// Deterministic values in [-1, 1).
    pub fn random_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    pub fn random_tensor(h: usize, w: usize, c: usize, seed: u64) -> Tensor {
        Tensor::from_vec(h, w, c, random_vec(h * w * c, seed)).expect("shape")
    }

    pub fn arb_padding() -> impl Strategy<Value = Padding> {
        prop_oneof![
            Just(Padding::Valid),
            Just(Padding::Same),
            (0usize..3, 0usize..3, 0usize..3, 0usize..3).prop_map(|(top, bottom, left, right)| {
                Padding::Explicit {
                    top,
                    bottom,
                    left,
                    right,
                }
            }),
        ]
    }

    /// Same shape and every value within `tol` (absolute, on values of magnitude ~1).
    pub fn assert_close(got: &Tensor, want: &Tensor, tol: f32) {
        assert_eq!(got.shape(), want.shape(), "shape");
        for (i, (g, w)) in got.data().iter().zip(want.data()).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "index {i}: got {g}, want {w}"
            );
        }
    }
}
