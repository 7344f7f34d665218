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
    /// Output rows `first..` of a depthwise conv, as many as `out` holds. Each output value is
    /// accumulated in registers over its valid taps in (ky, kx) order, 8 channels at a time.
    fn depthwise_rows(layer: &DepthwiseConv2d, x: &Tensor, geometry: (AxisPad, AxisPad), first: usize, out: &mut [f32]) {
        const L: usize = 8;
        let (py, px) = geometry;
        let (h, w, c) = x.shape();
        let (kh, kw, s) = (layer.kh, layer.kw, layer.stride);
        // Valid tap range of a window starting at `start` (may be negative) on an axis of `n`.
        let taps = |start: isize, k: usize, n: usize| -> (usize, usize) {
            let lo = (-start).max(0) as usize;
            let hi = (n as isize - start).clamp(0, k as isize) as usize;
            (lo.min(hi), hi)
        };
        let row_len = px.out * c;
        for (r, dst) in out.chunks_exact_mut(row_len).enumerate() {
            let y0 = ((first + r) * s) as isize - py.before as isize;
            let (ky_lo, ky_hi) = taps(y0, kh, h);
            for ox in 0..px.out {
                let x0 = (ox * s) as isize - px.before as isize;
                let (kx_lo, kx_hi) = taps(x0, kw, w);
                let d = &mut dst[ox * c..(ox + 1) * c];
                if c % L == 0 {
                    for (chunk, dch) in d.chunks_exact_mut(L).enumerate() {
                        let ch = chunk * L;
                        let mut acc = [0.0f32; L];
                        for ky in ky_lo..ky_hi {
                            let row = x.row((y0 + ky as isize) as usize);
                            for kx in kx_lo..kx_hi {
                                let xi = (x0 + kx as isize) as usize * c + ch;
                                let xs: &[f32; L] = row[xi..xi + L].try_into().expect("8 lanes");
                                let wi = (ky * kw + kx) * c + ch;
                                let ws: &[f32; L] = layer.filter[wi..wi + L].try_into().expect("8 lanes");
                                for l in 0..L {
                                    acc[l] += xs[l] * ws[l];
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
                            let ws = &layer.filter[(ky * kw + kx) * c..][..c];
                            for ((d, xv), wv) in d.iter_mut().zip(xs).zip(ws) {
                                *d += xv * wv;
                            }
                        }
                    }
                }
                layer.epilogue.apply_pixel(d, None);
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
