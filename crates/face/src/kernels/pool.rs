//! Max and average pooling.

use super::{multiversion, AxisPad, Padding, Tensor};

/// Max pooling with a `k×k` window; padded positions are excluded from the max (tfjs treats
/// them as −∞). A window that covers only padding (impossible for TF padding) yields −∞.
pub fn max_pool(x: &Tensor, k: usize, stride: usize, padding: Padding) -> Tensor {
    let mut out = Tensor::default();
    max_pool_into(x, k, stride, padding, &mut out);
    out
}

/// [`max_pool`] into a reused buffer.
pub fn max_pool_into(x: &Tensor, k: usize, stride: usize, padding: Padding, out: &mut Tensor) {
    let (h, w, c) = x.shape();
    let stride = stride.max(1);
    let py = padding.axis(h, k, stride, true);
    let px = padding.axis(w, k, stride, false);
    out.reshape_for_overwrite(py.out, px.out, c);
    if out.is_empty() {
        return;
    }
    let row_len = px.out * c;
    let geometry = (k, stride, py, px);
    if rayon::current_num_threads() > 1 && out.len() * k * k >= 1 << 17 {
        use rayon::prelude::*;
        let rows_per_chunk = py.out.div_ceil(rayon::current_num_threads() * 4).max(1);
        out.data_mut()
            .par_chunks_mut(rows_per_chunk * row_len)
            .enumerate()
            .for_each(|(i, chunk)| max_pool_rows(x, geometry, i * rows_per_chunk, chunk));
    } else {
        max_pool_rows(x, geometry, 0, out.data_mut());
    }
}

multiversion! {
    /// Output rows `first..` of a max pool, as many as `out` holds.
    fn max_pool_rows(x: &Tensor, geometry: (usize, usize, AxisPad, AxisPad), first: usize, out: &mut [f32]) {
        let (k, stride, py, px) = geometry;
        let (h, w, c) = x.shape();
        for (r, dst) in out.chunks_exact_mut(px.out * c).enumerate() {
            let oy = first + r;
            dst.fill(f32::NEG_INFINITY);
            let y0 = (oy * stride) as isize - py.before as isize;
            for iy in y0.max(0)..(y0 + k as isize).min(h as isize) {
                let src = x.row(iy as usize);
                for ox in 0..px.out {
                    let x0 = (ox * stride) as isize - px.before as isize;
                    let d = &mut dst[ox * c..][..c];
                    for ix in x0.max(0)..(x0 + k as isize).min(w as isize) {
                        let s = &src[ix as usize * c..][..c];
                        d.iter_mut().zip(s).for_each(|(d, s)| *d = d.max(*s));
                    }
                }
            }
        }
    }
}

/// Average pooling, `k×k`, valid padding. Sums in f64 and divides once, as tfjs's CPU kernel.
pub fn avg_pool_valid(x: &Tensor, k: usize, stride: usize) -> Tensor {
    let mut out = Tensor::default();
    avg_pool_valid_into(x, k, stride, &mut out);
    out
}

/// [`avg_pool_valid`] into a reused tensor.
pub fn avg_pool_valid_into(x: &Tensor, k: usize, stride: usize, out: &mut Tensor) {
    let (h, w, c) = x.shape();
    let stride = stride.max(1);
    let (oh, ow) = Padding::Valid.output_size(h, w, k, k, stride);
    out.reshape_for_overwrite(oh, ow, c);
    let mut acc = vec![0.0f64; c];
    for oy in 0..oh {
        for ox in 0..ow {
            acc.fill(0.0);
            for iy in oy * stride..oy * stride + k {
                for ix in ox * stride..ox * stride + k {
                    acc.iter_mut()
                        .zip(x.pixel(iy, ix))
                        .for_each(|(a, v)| *a += f64::from(*v));
                }
            }
            let n = (k * k) as f64;
            let base = (oy * ow + ox) * c;
            for (o, a) in out.data_mut()[base..base + c].iter_mut().zip(&acc) {
                *o = (a / n) as f32;
            }
        }
    }
}

/// Mean over all pixels per channel (an avgPool whose window is the whole map), f64 sum.
pub fn global_avg_pool(x: &Tensor) -> Vec<f32> {
    let c = x.c();
    let mut acc = vec![0.0f64; c];
    for p in x.data().chunks_exact(c.max(1)) {
        acc.iter_mut().zip(p).for_each(|(a, v)| *a += f64::from(*v));
    }
    let n = (x.h() * x.w()) as f64;
    acc.iter().map(|a| (a / n) as f32).collect()
}

/// Naive max pool: one output value at a time, padding skipped.
pub fn max_pool_reference(x: &Tensor, k: usize, stride: usize, padding: Padding) -> Tensor {
    let (h, w, c) = x.shape();
    let py = padding.axis(h, k, stride, true);
    let px = padding.axis(w, k, stride, false);
    let mut out = Tensor::zeros(py.out, px.out, c);
    for oy in 0..py.out {
        for ox in 0..px.out {
            for ch in 0..c {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = (oy * stride + ky) as isize - py.before as isize;
                        let ix = (ox * stride + kx) as isize - px.before as isize;
                        if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                            m = m.max(x.at(iy as usize, ix as usize, ch));
                        }
                    }
                }
                out.data_mut()[(oy * px.out + ox) * c + ch] = m;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{assert_close, random_tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn fast_max_pool_matches_reference(
            h in 1usize..16, w in 1usize..16, c in 1usize..6, k in 1usize..4,
            stride in 1usize..3, same in any::<bool>(), seed in any::<u64>(),
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let x = random_tensor(h, w, c, seed);
            assert_close(&max_pool(&x, k, stride, padding), &max_pool_reference(&x, k, stride, padding), 0.0);
        }

        #[test]
        fn global_mean_equals_full_window_avg_pool(h in 1usize..9, c in 1usize..5, seed in any::<u64>()) {
            let x = random_tensor(h, h, c, seed);
            let pooled = avg_pool_valid(&x, h, 2);
            prop_assert_eq!(pooled.data(), &global_avg_pool(&x)[..]);
        }
    }

    #[test]
    fn avg_pool_2x2_stride2_averages_blocks() {
        let x = Tensor::from_vec(3, 3, 1, (1..=9).map(|v| v as f32).collect()).expect("shape");
        let p = avg_pool_valid(&x, 2, 2);
        assert_eq!(p.shape(), (1, 1, 1));
        assert_eq!(p.at(0, 0, 0), (1.0 + 2.0 + 4.0 + 5.0) / 4.0);
    }

    #[test]
    fn max_pool_stride1_same_pads_after_only() {
        let x = Tensor::from_vec(2, 2, 1, vec![1.0, -2.0, -3.0, -4.0]).expect("shape");
        let p = max_pool(&x, 2, 1, Padding::Same);
        assert_eq!(p.data(), &[1.0, -2.0, -3.0, -4.0]);
    }
}
