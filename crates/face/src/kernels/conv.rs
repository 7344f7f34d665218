//! Dense 2-D convolution (cross-correlation, HWIO filters) with a fused epilogue.

use std::cell::RefCell;

use super::direct::{conv, conv_serial, Geometry, PackedFilter, Source};
use super::{max_pool_into, multiversion, Activation, Epilogue, Padding, Tensor};

/// A conv2d layer whose filter was laid out once at load time.
#[derive(Debug, Clone)]
pub struct Conv2d {
    kh: usize,
    kw: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    padding: Padding,
    /// The same filter laid out for the direct kernel.
    packed: PackedFilter,
    epilogue: Epilogue,
}

thread_local! {
    /// Zero-padded copies of layer inputs; grows to the largest layer once per thread.
    static PADDED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Conv2d {
    /// `filter` is HWIO with `shape = [kh, kw, cin, cout]`; `bias` has `cout` entries.
    ///
    /// Panics when the lengths disagree with `shape` (a programming error: shapes come from
    /// [`crate::weights::Weights::get`], which checks them).
    pub fn new(
        filter: &[f32],
        shape: [usize; 4],
        bias: Option<&[f32]>,
        stride: usize,
        padding: Padding,
        act: Activation,
    ) -> Self {
        Self::with_epilogue(
            filter,
            shape,
            stride,
            padding,
            Epilogue::bias(bias.map(<[f32]>::to_vec), act),
        )
    }

    /// A conv layer with an arbitrary per-channel epilogue (`acc * scale + shift`, activation).
    pub fn with_epilogue(
        filter: &[f32],
        shape: [usize; 4],
        stride: usize,
        padding: Padding,
        epilogue: Epilogue,
    ) -> Self {
        let [kh, kw, cin, cout] = shape;
        assert_eq!(
            filter.len(),
            kh * kw * cin * cout,
            "conv filter length vs shape {shape:?}"
        );
        for v in [&epilogue.scale, &epilogue.shift].into_iter().flatten() {
            assert_eq!(v.len(), cout, "conv epilogue length vs cout {cout}");
        }
        Self {
            kh,
            kw,
            cin,
            cout,
            stride: stride.max(1),
            padding,
            packed: PackedFilter::pack(filter, kh * kw * cin, cout),
            epilogue,
        }
    }

    /// Multiplies every output channel's filter column by `scale[c]` (folding a per-channel scale
    /// that follows the conv into its weights).
    pub fn fold_scale_into_filter(&mut self, scale: &[f32]) {
        assert_eq!(scale.len(), self.cout);
        self.packed.scale_channels(scale);
    }

    pub fn cin(&self) -> usize {
        self.cin
    }
    pub fn cout(&self) -> usize {
        self.cout
    }
    pub fn epilogue_mut(&mut self) -> &mut Epilogue {
        &mut self.epilogue
    }

    /// Output `(h, w)` for an input of `(h, w)`.
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.padding
            .output_size(h, w, self.kh, self.kw, self.stride)
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = Tensor::default();
        self.forward_into(x, &mut out);
        out
    }

    /// Writes the layer's output into `out`, reusing its buffer.
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        self.run(x, None, out);
    }

    /// `act(conv(x) * scale + shift + residual)`; `residual` must have the output's shape.
    pub fn forward_residual_into(&self, x: &Tensor, residual: &Tensor, out: &mut Tensor) {
        self.run(x, Some(residual), out);
    }

    fn run(&self, x: &Tensor, residual: Option<&Tensor>, out: &mut Tensor) {
        assert_eq!(x.c(), self.cin, "conv input channels");
        let (h, w, c) = x.shape();
        let py = self.padding.axis(h, self.kh, self.stride, true);
        let px = self.padding.axis(w, self.kw, self.stride, false);
        out.reshape_for_overwrite(py.out, px.out, self.cout);
        if let Some(r) = residual {
            assert_eq!(r.shape(), out.shape(), "conv residual shape");
        }
        if out.is_empty() {
            return;
        }
        // The extent of the input the windows cover, padding included.
        let hp = (py.out - 1) * self.stride + self.kh;
        let wp = (px.out - 1) * self.stride + self.kw;
        let inside = py.before == 0 && px.before == 0 && hp <= h && wp <= w;
        let geometry = Geometry {
            kh: self.kh,
            kw: self.kw,
            stride: self.stride,
            oh: py.out,
            ow: px.out,
            cout: self.cout,
        };
        let residual = residual.map(Tensor::data);
        if inside {
            let src = Source {
                data: x.data(),
                row_stride: w * c,
                c,
            };
            self.compute(src, geometry, residual, out);
        } else {
            // Taken out of the thread-local rather than borrowed: a rayon worker waiting for
            // other rows may run another layer's job on this same thread.
            let mut padded = PADDED.with(|p| std::mem::take(&mut *p.borrow_mut()));
            pad_into(x, hp, wp, py.before, px.before, &mut padded);
            let src = Source {
                data: &padded,
                row_stride: wp * c,
                c,
            };
            self.compute(src, geometry, residual, out);
            PADDED.with(|p| *p.borrow_mut() = padded);
        }
    }

    /// `max_pool(act(conv(x)), 2×2, stride 2, same)` without materialising the conv output:
    /// pairs of conv rows are computed into a small per-worker buffer and pooled at once (the
    /// detector's conv → pool pairs). Only for layers whose windows never touch padding; others
    /// take the two-step path. Identical to the two steps.
    pub fn forward_max_pool2_into(&self, x: &Tensor, out: &mut Tensor) {
        let (h, w, c) = x.shape();
        let py = self.padding.axis(h, self.kh, self.stride, true);
        let px = self.padding.axis(w, self.kw, self.stride, false);
        let (oh, ow) = (py.out, px.out);
        let inside = oh > 0
            && ow > 0
            && py.before == 0
            && px.before == 0
            && (oh - 1) * self.stride + self.kh <= h
            && (ow - 1) * self.stride + self.kw <= w;
        if !inside || c != self.cin {
            let mut full = Tensor::take();
            self.forward_into(x, &mut full);
            max_pool_into(&full, 2, 2, Padding::Same, out);
            full.recycle();
            return;
        }
        let (ph, pw) = (oh.div_ceil(2), ow.div_ceil(2));
        out.reshape_for_overwrite(ph, pw, self.cout);
        let row_len = pw * self.cout;
        let rs = w * c;
        let pooled_rows = |first: usize, chunk: &mut [f32]| {
            let mut buf = Tensor::take();
            buf.reshape_for_overwrite(2, ow, self.cout);
            for (i, dst) in chunk.chunks_exact_mut(row_len).enumerate() {
                let r = first + i;
                let n = (oh - 2 * r).min(2);
                let g = Geometry {
                    kh: self.kh,
                    kw: self.kw,
                    stride: self.stride,
                    oh: n,
                    ow,
                    cout: self.cout,
                };
                let src = Source {
                    data: &x.data()[2 * r * self.stride * rs..],
                    row_stride: rs,
                    c,
                };
                conv_serial(src, &self.packed, g, &self.epilogue, None, buf.data_mut());
                pool_pair(buf.data(), n, ow, self.cout, dst);
            }
            buf.recycle();
        };
        let threads = rayon::current_num_threads();
        if threads > 1 && ph > 1 {
            use rayon::prelude::*;
            let per = ph.div_ceil(threads * 4);
            out.data_mut()
                .par_chunks_mut(per * row_len)
                .enumerate()
                .for_each(|(i, chunk)| pooled_rows(i * per, chunk));
        } else {
            pooled_rows(0, out.data_mut());
        }
    }

    fn compute(&self, src: Source<'_>, g: Geometry, residual: Option<&[f32]>, out: &mut Tensor) {
        conv(
            src,
            &self.packed,
            g,
            &self.epilogue,
            residual,
            out.data_mut(),
        );
    }
}

multiversion! {
    /// 2×2 / 2 max pool of `n` (1 or 2) rows of `ow × c` values into one row of `ceil(ow/2) × c`;
    /// a missing second row or column is padding, excluded from the max.
    fn pool_pair(rows: &[f32], n: usize, ow: usize, c: usize, dst: &mut [f32]) {
        for (pc, d) in dst.chunks_exact_mut(c).enumerate() {
            d.fill(f32::NEG_INFINITY);
            for y in 0..n {
                for xx in 2 * pc..(2 * pc + 2).min(ow) {
                    let s = &rows[(y * ow + xx) * c..][..c];
                    d.iter_mut().zip(s).for_each(|(d, s)| *d = d.max(*s));
                }
            }
        }
    }
}

/// Copies `x` into a zeroed `hp × wp` map at offset (`top`, `left`), cutting off whatever falls
/// outside it.
fn pad_into(x: &Tensor, hp: usize, wp: usize, top: usize, left: usize, buf: &mut Vec<f32>) {
    let (h, w, c) = x.shape();
    if buf.len() < hp * wp * c {
        buf.resize(hp * wp * c, 0.0);
    }
    // A pad larger than the covered extent leaves no room for input (windows see only zeros).
    let (top, left) = (top.min(hp), left.min(wp));
    let rows = h.min(hp - top);
    let cols = w.min(wp - left);
    let row_len = wp * c;
    // Only the border is zeroed; the interior is overwritten.
    buf[..top * row_len].fill(0.0);
    buf[(top + rows) * row_len..hp * row_len].fill(0.0);
    for y in 0..rows {
        let row = &mut buf[(y + top) * row_len..(y + top + 1) * row_len];
        row[..left * c].fill(0.0);
        row[left * c..(left + cols) * c].copy_from_slice(&x.row(y)[..cols * c]);
        row[(left + cols) * c..].fill(0.0);
    }
}

/// Naive conv2d: the raw accumulator (no bias, no activation), summed over (ky, kx, ci) in
/// order. The reference the fast path is tested against.
pub fn conv2d_reference(
    x: &Tensor,
    filter: &[f32],
    shape: [usize; 4],
    stride: usize,
    padding: Padding,
) -> Tensor {
    let [kh, kw, cin, cout] = shape;
    let (h, w, _) = x.shape();
    let py = padding.axis(h, kh, stride, true);
    let px = padding.axis(w, kw, stride, false);
    let mut out = Tensor::zeros(py.out, px.out, cout);
    for oy in 0..py.out {
        for ox in 0..px.out {
            for co in 0..cout {
                let mut acc = 0.0f32;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * stride + ky) as isize - py.before as isize;
                        let ix = (ox * stride + kx) as isize - px.before as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        for ci in 0..cin {
                            acc += x.at(iy as usize, ix as usize, ci)
                                * filter[((ky * kw + kx) * cin + ci) * cout + co];
                        }
                    }
                }
                out.data_mut()[(oy * px.out + ox) * cout + co] = acc;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{arb_padding, assert_close, random_tensor, random_vec};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn fast_conv_matches_reference(
            h in 1usize..12, w in 1usize..12, cin in 1usize..6, cout in 1usize..9,
            kh in 1usize..5, kw in 1usize..5, stride in 1usize..4, padding in arb_padding(), seed in any::<u64>(),
        ) {
            let x = random_tensor(h, w, cin, seed);
            let shape = [kh, kw, cin, cout];
            let filter = random_vec(kh * kw * cin * cout, seed ^ 1);
            let bias = random_vec(cout, seed ^ 2);
            let layer = Conv2d::new(&filter, shape, Some(&bias), stride, padding, Activation::Leaky);
            let got = layer.forward(&x);
            let mut want = conv2d_reference(&x, &filter, shape, stride, padding);
            let c = want.c();
            want.data_mut().chunks_exact_mut(c.max(1)).for_each(|p| {
                p.iter_mut().zip(&bias).for_each(|(v, b)| *v = Activation::Leaky.apply(*v + b));
            });
            assert_close(&got, &want, 1e-5);
        }

        #[test]
        fn conv_residual_epilogue_adds_before_activation(
            h in 1usize..8, w in 1usize..8, cin in 1usize..5, cout in 1usize..5, seed in any::<u64>(),
        ) {
            let x = random_tensor(h, w, cin, seed);
            let filter = random_vec(9 * cin * cout, seed ^ 3);
            let scale = random_vec(cout, seed ^ 4);
            let shift = random_vec(cout, seed ^ 5);
            let layer = Conv2d::with_epilogue(&filter, [3, 3, cin, cout], 1, Padding::Same, Epilogue {
                scale: Some(scale.clone()), shift: Some(shift.clone()), act: Activation::Relu,
            });
            let residual = random_tensor(h, w, cout, seed ^ 6);
            let mut got = Tensor::default();
            layer.forward_residual_into(&x, &residual, &mut got);
            let mut want = conv2d_reference(&x, &filter, [3, 3, cin, cout], 1, Padding::Same);
            for (i, v) in want.data_mut().iter_mut().enumerate() {
                let c = i % cout;
                *v = (*v * scale[c] + shift[c] + residual.data()[i]).max(0.0);
            }
            assert_close(&got, &want, 1e-5);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn fused_conv_max_pool_equals_conv_then_pool(
            h in 1usize..14, w in 1usize..14, cin in 1usize..5, cout in 1usize..20,
            k in 1usize..4, stride in 1usize..3, explicit in any::<bool>(), threads in 1usize..3, seed in any::<u64>(),
        ) {
            let padding = if explicit { Padding::Explicit { top: 1, bottom: 1, left: 1, right: 1 } } else { Padding::Valid };
            let x = random_tensor(h, w, cin, seed);
            let filter = random_vec(k * k * cin * cout, seed ^ 1);
            let bias = random_vec(cout, seed ^ 2);
            let layer = Conv2d::new(&filter, [k, k, cin, cout], Some(&bias), stride, padding, Activation::Leaky);
            let want = max_pool_into_new(&layer.forward(&x));
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            let mut got = Tensor::default();
            pool.install(|| layer.forward_max_pool2_into(&x, &mut got));
            prop_assert_eq!(got, want);
        }
    }

    fn max_pool_into_new(x: &Tensor) -> Tensor {
        let mut out = Tensor::default();
        max_pool_into(x, 2, 2, Padding::Same, &mut out);
        out
    }

    #[test]
    fn same_stride2_conv_pads_bottom_right_only() {
        // A 3x3 all-ones filter over a 4x4 ramp: output (0,0) sees rows/cols 0..2 with no top pad.
        let x = Tensor::from_vec(4, 4, 1, (0..16).map(|v| v as f32).collect()).expect("shape");
        let out = conv2d_reference(&x, &[1.0; 9], [3, 3, 1, 1], 2, Padding::Same);
        assert_eq!(out.shape(), (2, 2, 1));
        assert_eq!(
            out.at(0, 0, 0),
            [0, 1, 2, 4, 5, 6, 8, 9, 10].iter().sum::<i32>() as f32
        );
        // Output (1,1) covers rows/cols 2..4, the last of which is padding.
        assert_eq!(out.at(1, 1, 0), (10 + 11 + 14 + 15) as f32);
    }
}
