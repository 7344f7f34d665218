//! Depthwise (channel multiplier 1) and separable convolutions.

use super::{multiversion, Activation, AxisPad, Conv2d, Epilogue, Padding, Tensor};

/// A depthwise conv2d layer: filters `[kh, kw, c, 1]`, stride, TF padding, fused epilogue.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    kh: usize,
    kw: usize,
    c: usize,
    stride: usize,
    padding: Padding,
    /// `[kh, kw, c]` row-major.
    filter: Vec<f32>,
    epilogue: Epilogue,
}

impl DepthwiseConv2d {
    /// `filter` has `shape = [kh, kw, c, 1]` (the trailing 1 may be omitted by passing it anyway).
    pub fn new(
        filter: &[f32],
        shape: [usize; 4],
        stride: usize,
        padding: Padding,
        epilogue: Epilogue,
    ) -> Self {
        let [kh, kw, c, mult] = shape;
        assert_eq!(mult, 1, "depthwise channel multiplier must be 1");
        assert_eq!(
            filter.len(),
            kh * kw * c,
            "depthwise filter length vs shape {shape:?}"
        );
        for v in [&epilogue.scale, &epilogue.shift].into_iter().flatten() {
            assert_eq!(v.len(), c, "depthwise epilogue length vs channels {c}");
        }
        Self {
            kh,
            kw,
            c,
            stride: stride.max(1),
            padding,
            filter: filter.to_vec(),
            epilogue,
        }
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.padding
            .output_size(h, w, self.kh, self.kw, self.stride)
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = Tensor::default();
        self.forward_into(x, &mut out);
        out
    }

    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        assert_eq!(x.c(), self.c, "depthwise input channels");
        let (h, w, c) = x.shape();
        let py = self.padding.axis(h, self.kh, self.stride, true);
        let px = self.padding.axis(w, self.kw, self.stride, false);
        out.reshape_for_overwrite(py.out, px.out, c);
        if out.is_empty() {
            return;
        }
        let row_len = px.out * c;
        let work = py.out * row_len * self.kh * self.kw;
        let geometry = (py, px);
        if rayon::current_num_threads() > 1 && work >= 1 << 16 {
            use rayon::prelude::*;
            let rows_per_chunk = py.out.div_ceil(rayon::current_num_threads() * 4).max(1);
            out.data_mut()
                .par_chunks_mut(rows_per_chunk * row_len)
                .enumerate()
                .for_each(|(i, chunk)| {
                    depthwise_rows(self, x, geometry, i * rows_per_chunk, chunk)
                });
        } else {
            depthwise_rows(self, x, geometry, 0, out.data_mut());
        }
    }
}

multiversion! {
    /// Output rows `first..` of a depthwise conv, as many as `out` holds.
    fn depthwise_rows(layer: &DepthwiseConv2d, x: &Tensor, geometry: (AxisPad, AxisPad), first: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if layer.kh == 3 && layer.kw == 3 && layer.c & 7 == 0 && super::direct::avx2_available() {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                unsafe { avx2::rows_3x3(layer, x, geometry, first, out) };
                return;
            }
        }
        let (py, px) = geometry;
        let c = x.c();
        for (r, dst) in out.chunks_exact_mut(px.out * c).enumerate() {
            let y0 = ((first + r) * layer.stride) as isize - py.before as isize;
            for (ox, d) in dst.chunks_exact_mut(c).enumerate() {
                let x0 = (ox * layer.stride) as isize - px.before as isize;
                depthwise_pixel(layer, x, y0, x0, d);
            }
        }
    }
}

/// Valid tap range `lo..hi` of a window starting at `start` (may be negative) on an axis of `n`.
#[inline(always)]
fn valid_taps(start: isize, k: usize, n: usize) -> (usize, usize) {
    let lo = (-start).max(0) as usize;
    let hi = (n as isize - start).clamp(0, k as isize) as usize;
    (lo.min(hi), hi)
}

/// One output pixel whose window starts at (`y0`, `x0`), accumulated over its valid taps in
/// (ky, kx) order, 8 channels at a time when possible; then the epilogue.
#[inline(always)]
fn depthwise_pixel(layer: &DepthwiseConv2d, x: &Tensor, y0: isize, x0: isize, d: &mut [f32]) {
    const L: usize = 8;
    let (h, w, c) = x.shape();
    let (ky_lo, ky_hi) = valid_taps(y0, layer.kh, h);
    let (kx_lo, kx_hi) = valid_taps(x0, layer.kw, w);
    if c % L == 0 {
        for (chunk, dch) in d.chunks_exact_mut(L).enumerate() {
            let ch = chunk * L;
            let mut acc = [0.0f32; L];
            for ky in ky_lo..ky_hi {
                let row = x.row((y0 + ky as isize) as usize);
                for kx in kx_lo..kx_hi {
                    let xi = (x0 + kx as isize) as usize * c + ch;
                    let wi = (ky * layer.kw + kx) * c + ch;
                    for ((a, xv), wv) in acc
                        .iter_mut()
                        .zip(&row[xi..xi + L])
                        .zip(&layer.filter[wi..wi + L])
                    {
                        *a += xv * wv;
                    }
                }
            }
            dch.copy_from_slice(&acc);
        }
    } else {
        d.fill(0.0);
        for ky in ky_lo..ky_hi {
            let row = x.row((y0 + ky as isize) as usize);
            for kx in kx_lo..kx_hi {
                let xs = &row[(x0 + kx as isize) as usize * c..][..c];
                let ws = &layer.filter[(ky * layer.kw + kx) * c..][..c];
                for ((d, xv), wv) in d.iter_mut().zip(xs).zip(ws) {
                    *d += xv * wv;
                }
            }
        }
    }
    layer.epilogue.apply_pixel(d, None);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{depthwise_pixel, AxisPad, DepthwiseConv2d, Tensor};

    /// 3×3 depthwise rows with `c % 8 == 0`: pixels whose whole window is inside the input run
    /// with the 9 filter vectors of an 8-channel group held in registers; border pixels take
    /// the generic path.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rows_3x3(
        layer: &DepthwiseConv2d,
        x: &Tensor,
        geometry: (AxisPad, AxisPad),
        first: usize,
        out: &mut [f32],
    ) {
        let (py, px) = geometry;
        let (h, w, c) = x.shape();
        let s = layer.stride;
        // Output columns whose window [x0, x0 + 3) lies inside 0..w.
        let ox_lo = px.before.div_ceil(s).min(px.out);
        let ox_hi = if w + px.before >= 3 {
            ((w + px.before - 3) / s + 1).min(px.out)
        } else {
            0
        }
        .max(ox_lo);
        let identity = layer.epilogue.scale.is_none()
            && layer.epilogue.shift.is_none()
            && layer.epilogue.act == super::Activation::None;
        for (r, dst) in out.chunks_exact_mut(px.out * c).enumerate() {
            let y0 = ((first + r) * s) as isize - py.before as isize;
            let border = |ox: usize, dst: &mut [f32]| {
                let x0 = (ox * s) as isize - px.before as isize;
                depthwise_pixel(layer, x, y0, x0, &mut dst[ox * c..(ox + 1) * c]);
            };
            if y0 < 0 || y0 as usize + 3 > h {
                (0..px.out).for_each(|ox| border(ox, dst));
                continue;
            }
            (0..ox_lo).for_each(|ox| border(ox, dst));
            (ox_hi..px.out).for_each(|ox| border(ox, dst));
            let rows = [0, 1, 2].map(|k| x.row(y0 as usize + k).as_ptr());
            for ch in (0..c).step_by(8) {
                // SAFETY: `(k·c + ch) + 8 <= 9·c`, the filter's length.
                let wv: [__m256; 9] = std::array::from_fn(|k| unsafe {
                    _mm256_loadu_ps(layer.filter.as_ptr().add(k * c + ch))
                });
                for ox in ox_lo..ox_hi {
                    let xi = (ox * s - px.before) * c + ch;
                    // SAFETY: for interior columns `x0 + 2 < w`, so `xi + 2c + 8 <= w·c`, the row
                    // length; `dst` holds `px.out·c` values.
                    unsafe {
                        let mut acc = _mm256_mul_ps(_mm256_loadu_ps(rows[0].add(xi)), wv[0]);
                        for (k, wk) in wv.iter().enumerate().skip(1) {
                            let v = _mm256_loadu_ps(rows[k / 3].add(xi + (k % 3) * c));
                            acc = _mm256_fmadd_ps(v, *wk, acc);
                        }
                        _mm256_storeu_ps(dst.as_mut_ptr().add(ox * c + ch), acc);
                    }
                }
            }
            if !identity {
                for d in dst[ox_lo * c..ox_hi * c].chunks_exact_mut(c) {
                    layer.epilogue.apply_pixel(d, None);
                }
            }
        }
    }
}

/// tfjs's `separableConv2d(x, dw, pw, stride, padding)` followed by `+ bias` and an activation:
/// a depthwise conv with no bias, then a 1×1 conv that carries the bias and activation.
#[derive(Debug, Clone)]
pub struct SeparableConv2d {
    depthwise: DepthwiseConv2d,
    pointwise: Conv2d,
}

impl SeparableConv2d {
    /// `dw` has shape `[kh, kw, cin, 1]`, `pw` `[1, 1, cin, cout]`, `bias` `cout` entries.
    #[allow(clippy::too_many_arguments)] // one argument per manifest tensor and conv setting
    pub fn new(
        dw: &[f32],
        dw_shape: [usize; 4],
        pw: &[f32],
        pw_shape: [usize; 4],
        bias: Option<&[f32]>,
        stride: usize,
        padding: Padding,
        act: Activation,
    ) -> Self {
        assert_eq!(
            dw_shape[2], pw_shape[2],
            "separable: dw channels vs pw input channels"
        );
        assert_eq!(
            (pw_shape[0], pw_shape[1]),
            (1, 1),
            "separable: pointwise must be 1x1"
        );
        Self {
            depthwise: DepthwiseConv2d::new(dw, dw_shape, stride, padding, Epilogue::default()),
            pointwise: Conv2d::new(pw, pw_shape, bias, 1, Padding::Valid, act),
        }
    }

    pub fn cout(&self) -> usize {
        self.pointwise.cout()
    }

    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.depthwise.output_size(h, w)
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = Tensor::default();
        self.forward_into(x, &mut out);
        out
    }

    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        let mut tmp = Tensor::take();
        self.depthwise.forward_into(x, &mut tmp);
        self.pointwise.forward_into(&tmp, out);
        tmp.recycle();
    }

    /// `max_pool(separable(x), 2×2, stride 2, same)`, the pool fused into the pointwise conv.
    pub fn forward_max_pool2_into(&self, x: &Tensor, out: &mut Tensor) {
        let mut tmp = Tensor::take();
        self.depthwise.forward_into(x, &mut tmp);
        self.pointwise.forward_max_pool2_into(&tmp, out);
        tmp.recycle();
    }

    /// `act(separable(x) + bias + residual)`.
    pub fn forward_residual_into(&self, x: &Tensor, residual: &Tensor, out: &mut Tensor) {
        let mut tmp = Tensor::take();
        self.depthwise.forward_into(x, &mut tmp);
        self.pointwise.forward_residual_into(&tmp, residual, out);
        tmp.recycle();
    }
}

/// Naive depthwise conv: the raw accumulator, summed over (ky, kx).
pub fn depthwise_reference(
    x: &Tensor,
    filter: &[f32],
    shape: [usize; 4],
    stride: usize,
    padding: Padding,
) -> Tensor {
    let [kh, kw, c, _] = shape;
    let (h, w, _) = x.shape();
    let py = padding.axis(h, kh, stride, true);
    let px = padding.axis(w, kw, stride, false);
    let mut out = Tensor::zeros(py.out, px.out, c);
    for oy in 0..py.out {
        for ox in 0..px.out {
            for ch in 0..c {
                let mut acc = 0.0f32;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * stride + ky) as isize - py.before as isize;
                        let ix = (ox * stride + kx) as isize - px.before as isize;
                        if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                            acc += x.at(iy as usize, ix as usize, ch)
                                * filter[(ky * kw + kx) * c + ch];
                        }
                    }
                }
                out.data_mut()[(oy * px.out + ox) * c + ch] = acc;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv2d_reference;
    use crate::kernels::testutil::{arb_padding, assert_close, random_tensor, random_vec};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn fast_depthwise_matches_reference(
            h in 1usize..14, w in 1usize..14, c in 1usize..20, k in 1usize..5,
            stride in 1usize..4, padding in arb_padding(), seed in any::<u64>(),
        ) {
            let x = random_tensor(h, w, c, seed);
            let filter = random_vec(k * k * c, seed ^ 7);
            let scale = random_vec(c, seed ^ 8);
            let shift = random_vec(c, seed ^ 9);
            let layer = DepthwiseConv2d::new(&filter, [k, k, c, 1], stride, padding, Epilogue {
                scale: Some(scale.clone()), shift: Some(shift.clone()), act: Activation::Relu6,
            });
            let got = layer.forward(&x);
            let mut want = depthwise_reference(&x, &filter, [k, k, c, 1], stride, padding);
            for (i, v) in want.data_mut().iter_mut().enumerate() {
                *v = (*v * scale[i % c] + shift[i % c]).clamp(0.0, 6.0);
            }
            assert_close(&got, &want, 1e-5);
        }

        #[test]
        fn fast_3x3_depthwise_on_multiples_of_8_channels_matches_reference(
            h in 1usize..12, w in 1usize..40, groups in 1usize..5, stride in 1usize..3,
            padding in arb_padding(), act in 0usize..2, seed in any::<u64>(),
        ) {
            let c = groups * 8;
            let x = random_tensor(h, w, c, seed);
            let filter = random_vec(9 * c, seed ^ 13);
            let shift = random_vec(c, seed ^ 14);
            let epilogue = if act == 0 {
                Epilogue::default()
            } else {
                Epilogue { scale: None, shift: Some(shift.clone()), act: Activation::Relu6 }
            };
            let layer = DepthwiseConv2d::new(&filter, [3, 3, c, 1], stride, padding, epilogue);
            let mut want = depthwise_reference(&x, &filter, [3, 3, c, 1], stride, padding);
            if act == 1 {
                for (i, v) in want.data_mut().iter_mut().enumerate() {
                    *v = (*v + shift[i % c]).clamp(0.0, 6.0);
                }
            }
            assert_close(&layer.forward(&x), &want, 1e-5);
        }

        #[test]
        fn separable_is_depthwise_then_pointwise_plus_bias(
            h in 1usize..10, w in 1usize..10, cin in 1usize..8, cout in 1usize..8,
            stride in 1usize..3, padding in arb_padding(), seed in any::<u64>(),
        ) {
            let x = random_tensor(h, w, cin, seed);
            let dw = random_vec(9 * cin, seed ^ 10);
            let pw = random_vec(cin * cout, seed ^ 11);
            let bias = random_vec(cout, seed ^ 12);
            let layer = SeparableConv2d::new(&dw, [3, 3, cin, 1], &pw, [1, 1, cin, cout], Some(&bias), stride, padding, Activation::Relu);
            let mid = depthwise_reference(&x, &dw, [3, 3, cin, 1], stride, padding);
            let mut want = conv2d_reference(&mid, &pw, [1, 1, cin, cout], 1, Padding::Valid);
            for (i, v) in want.data_mut().iter_mut().enumerate() {
                *v = (*v + bias[i % cout]).max(0.0);
            }
            assert_close(&layer.forward(&x), &want, 1e-5);
        }
    }
}
