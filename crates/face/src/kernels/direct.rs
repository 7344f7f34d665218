//! Direct ("implicit GEMM") convolution on NHWC input: no im2col matrix. Output pixels of one row
//! are computed in tiles of up to [`MR`] pixels × [`NR`] output channels held in registers; the
//! reduction runs over (ky, kx, ci) in order, reading the input in place (from a zero-padded copy
//! when the layer pads) and the filter from a copy packed once per layer as
//! `[cout / NR][kh·kw·cin][NR]`. The epilogue (scale, shift, residual, activation) is applied to
//! the registers before the single store. An AVX2+FMA version is chosen at run time; the portable
//! version computes the same thing with plain loops.

use super::{Activation, Epilogue};

/// Output pixels per register tile.
pub(crate) const MR: usize = 6;
/// Output channels per register tile (two 8-lane vectors).
pub(crate) const NR: usize = 16;

/// A conv filter packed for the direct kernel, zero-padded to a multiple of [`NR`] channels.
#[derive(Debug, Clone)]
pub(crate) struct PackedFilter {
    pub k: usize,
    pub data: Vec<f32>,
}

impl PackedFilter {
    /// Packs an HWIO filter (a row-major `[k, cout]` matrix with `k = kh·kw·cin`).
    pub fn pack(hwio: &[f32], k: usize, cout: usize) -> Self {
        let blocks = cout.div_ceil(NR);
        let mut data = vec![0.0; blocks * k * NR];
        for b in 0..blocks {
            for kk in 0..k {
                for j in 0..NR.min(cout - b * NR) {
                    data[(b * k + kk) * NR + j] = hwio[kk * cout + b * NR + j];
                }
            }
        }
        Self { k, data }
    }

    fn block(&self, b: usize) -> &[f32] {
        &self.data[b * self.k * NR..(b + 1) * self.k * NR]
    }
}

/// The input as the kernel reads it: pixel (y, x) of the (padded) map is at
/// `data[y * row_stride + x * c ..]`.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub c: usize,
}

/// Geometry of one conv call.
#[derive(Clone, Copy)]
pub(crate) struct Geometry {
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub ow: usize,
    pub cout: usize,
}

/// Computes output rows `rows` (their values go to `out`, which holds exactly those rows).
pub(crate) fn conv_rows(
    src: Source<'_>,
    filter: &PackedFilter,
    g: Geometry,
    epilogue: &Epilogue,
    residual: Option<&[f32]>,
    rows: std::ops::Range<usize>,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_available() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { avx2::conv_rows(src, filter, g, epilogue, residual, rows, out) };
            return;
        }
    }
    portable_conv_rows(src, filter, g, epilogue, residual, rows, out);
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// Applies the epilogue to `NR` accumulators of one pixel and stores the first `n` of them.
#[inline(always)]
fn finish_pixel(
    acc: &mut [f32; NR],
    epilogue: &Epilogue,
    co: usize,
    n: usize,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    let acc = &mut acc[..n];
    if let Some(s) = &epilogue.scale {
        acc.iter_mut()
            .zip(&s[co..co + n])
            .for_each(|(a, s)| *a *= s);
    }
    if let Some(b) = &epilogue.shift {
        acc.iter_mut()
            .zip(&b[co..co + n])
            .for_each(|(a, b)| *a += b);
    }
    if let Some(r) = residual {
        acc.iter_mut().zip(r).for_each(|(a, r)| *a += r);
    }
    for (d, a) in dst.iter_mut().zip(acc.iter()) {
        *d = epilogue.act.apply(*a);
    }
}

fn portable_conv_rows(
    src: Source<'_>,
    filter: &PackedFilter,
    g: Geometry,
    epilogue: &Epilogue,
    residual: Option<&[f32]>,
    rows: std::ops::Range<usize>,
    out: &mut [f32],
) {
    let seg = g.kw * src.c;
    let first = rows.start;
    for b in 0..g.cout.div_ceil(NR) {
        let w = filter.block(b);
        let co = b * NR;
        let n = NR.min(g.cout - co);
        for oy in rows.clone() {
            for ox in 0..g.ow {
                let mut acc = [0.0f32; NR];
                for ky in 0..g.kh {
                    let base = (oy * g.stride + ky) * src.row_stride + ox * g.stride * src.c;
                    let xs = &src.data[base..base + seg];
                    let ws = &w[ky * seg * NR..(ky + 1) * seg * NR];
                    for (xv, wr) in xs.iter().zip(ws.chunks_exact(NR)) {
                        acc.iter_mut().zip(wr).for_each(|(a, w)| *a += xv * w);
                    }
                }
                let p = (oy - first) * g.ow + ox;
                let res = residual.map(|r| &r[(oy * g.ow + ox) * g.cout + co..][..n]);
                finish_pixel(
                    &mut acc,
                    epilogue,
                    co,
                    n,
                    res,
                    &mut out[p * g.cout + co..][..n],
                );
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{finish_pixel, Activation, Epilogue, Geometry, PackedFilter, Source, MR, NR};

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn conv_rows(
        src: Source<'_>,
        filter: &PackedFilter,
        g: Geometry,
        epilogue: &Epilogue,
        residual: Option<&[f32]>,
        rows: std::ops::Range<usize>,
        out: &mut [f32],
    ) {
        let seg = g.kw * src.c;
        // Bounds of every read below, checked once: the last tap of the last pixel of the last
        // row must be inside the source, and every filter block has k·NR values.
        let last_row = rows.end.saturating_sub(1);
        if rows.is_empty() || g.ow == 0 {
            return;
        }
        let max_read = ((last_row * g.stride + g.kh - 1) * src.row_stride)
            + (g.ow - 1) * g.stride * src.c
            + seg;
        assert!(max_read <= src.data.len(), "direct conv source too short");
        assert!(filter.data.len() >= g.cout.div_ceil(NR) * filter.k * NR && filter.k == g.kh * seg);
        assert!(out.len() >= rows.len() * g.ow * g.cout);
        let first = rows.start;
        for b in 0..g.cout.div_ceil(NR) {
            let w = filter.block(b).as_ptr();
            let co = b * NR;
            let n = NR.min(g.cout - co);
            for oy in rows.clone() {
                let mut ox = 0;
                while ox < g.ow {
                    let mr = MR.min(g.ow - ox);
                    let base = (oy * g.stride) * src.row_stride + ox * g.stride * src.c;
                    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
                    // SAFETY: reads stay within `max_read` (asserted above) because
                    // ox + mr <= ow and oy <= last_row; filter reads stay within the block.
                    unsafe {
                        let x = src.data.as_ptr().add(base);
                        match mr {
                            6 => tile::<6>(x, w, g, src, seg, &mut acc),
                            5 => tile::<5>(x, w, g, src, seg, &mut acc),
                            4 => tile::<4>(x, w, g, src, seg, &mut acc),
                            3 => tile::<3>(x, w, g, src, seg, &mut acc),
                            2 => tile::<2>(x, w, g, src, seg, &mut acc),
                            _ => tile::<1>(x, w, g, src, seg, &mut acc),
                        }
                    }
                    for (i, a) in acc.iter().enumerate().take(mr) {
                        let pix = oy * g.ow + ox + i;
                        let p = (oy - first) * g.ow + ox + i;
                        let dst = &mut out[p * g.cout + co..][..n];
                        let res = residual.map(|r| &r[pix * g.cout + co..][..n]);
                        if n == NR {
                            // SAFETY: a full block: `dst`, `res` and the epilogue vectors have
                            // 16 values from `co`.
                            unsafe { store_pixel(a, epilogue, co, res, dst) };
                        } else {
                            let mut tmp = [0.0f32; NR];
                            // SAFETY: `tmp` holds 16 floats.
                            unsafe {
                                _mm256_storeu_ps(tmp.as_mut_ptr(), a[0]);
                                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), a[1]);
                            }
                            finish_pixel(&mut tmp, epilogue, co, n, res, dst);
                        }
                    }
                    ox += mr;
                }
            }
        }
    }

    /// The register tile: `M` pixels × 16 channels, reduced over (ky, kx, ci).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const M: usize>(
        x: *const f32,
        w: *const f32,
        g: Geometry,
        src: Source<'_>,
        seg: usize,
        acc: &mut [[__m256; 2]; MR],
    ) {
        let px = g.stride * src.c;
        let mut a = [[_mm256_setzero_ps(); 2]; M];
        for ky in 0..g.kh {
            // SAFETY: see the caller; offsets are within the asserted bounds.
            let xr = unsafe { x.add(ky * src.row_stride) };
            let wr = unsafe { w.add(ky * seg * NR) };
            for j in 0..seg {
                let w0 = unsafe { _mm256_loadu_ps(wr.add(j * NR)) };
                let w1 = unsafe { _mm256_loadu_ps(wr.add(j * NR + 8)) };
                for (i, ai) in a.iter_mut().enumerate() {
                    let v = unsafe { _mm256_broadcast_ss(&*xr.add(i * px + j)) };
                    ai[0] = _mm256_fmadd_ps(v, w0, ai[0]);
                    ai[1] = _mm256_fmadd_ps(v, w1, ai[1]);
                }
            }
        }
        acc[..M].copy_from_slice(&a);
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store_pixel(
        a: &[__m256; 2],
        epilogue: &Epilogue,
        co: usize,
        residual: Option<&[f32]>,
        dst: &mut [f32],
    ) {
        let mut v = *a;
        // SAFETY: `scale`/`shift` have `cout >= co + 16` entries, `residual` and `dst` 16
        // (callers pass full blocks only).
        unsafe {
            if let Some(s) = &epilogue.scale {
                let s = s.as_ptr().add(co);
                v[0] = _mm256_mul_ps(v[0], _mm256_loadu_ps(s));
                v[1] = _mm256_mul_ps(v[1], _mm256_loadu_ps(s.add(8)));
            }
            if let Some(b) = &epilogue.shift {
                let b = b.as_ptr().add(co);
                v[0] = _mm256_add_ps(v[0], _mm256_loadu_ps(b));
                v[1] = _mm256_add_ps(v[1], _mm256_loadu_ps(b.add(8)));
            }
            if let Some(r) = residual {
                v[0] = _mm256_add_ps(v[0], _mm256_loadu_ps(r.as_ptr()));
                v[1] = _mm256_add_ps(v[1], _mm256_loadu_ps(r.as_ptr().add(8)));
            }
            for vi in v.iter_mut() {
                *vi = activate(*vi, epilogue.act);
            }
            _mm256_storeu_ps(dst.as_mut_ptr(), v[0]);
            _mm256_storeu_ps(dst.as_mut_ptr().add(8), v[1]);
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn activate(v: __m256, act: Activation) -> __m256 {
        let zero = _mm256_setzero_ps();
        match act {
            Activation::None => v,
            Activation::Relu => _mm256_max_ps(v, zero),
            Activation::Relu6 => _mm256_min_ps(_mm256_max_ps(v, zero), _mm256_set1_ps(6.0)),
            Activation::Leaky => {
                let m = _mm256_mul_ps(v, _mm256_set1_ps(0.1));
                _mm256_add_ps(_mm256_max_ps(_mm256_sub_ps(v, m), zero), m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::random_vec;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The portable kernel is what runs on CPUs without AVX2; it must agree with the
        /// dispatched one (AVX2 where available: FMA rounding differs slightly).
        #[test]
        fn portable_and_dispatched_kernels_agree(
            h in 1usize..10, w in 1usize..14, c in 1usize..7, cout in 1usize..40,
            kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, residual in any::<bool>(), seed in any::<u64>(),
        ) {
            prop_assume!(h >= kh && w >= kw);
            let oh = (h - kh) / stride + 1;
            let ow = (w - kw) / stride + 1;
            let x = random_vec(h * w * c, seed);
            let k = kh * kw * c;
            let filter = PackedFilter::pack(&random_vec(k * cout, seed ^ 1), k, cout);
            let epilogue = Epilogue {
                scale: Some(random_vec(cout, seed ^ 2)),
                shift: Some(random_vec(cout, seed ^ 3)),
                act: Activation::Leaky,
            };
            let res = random_vec(oh * ow * cout, seed ^ 4);
            let res = residual.then_some(&res[..]);
            let src = Source { data: &x, row_stride: w * c, c };
            let g = Geometry { kh, kw, stride, ow, cout };
            let mut a = vec![0.0; oh * ow * cout];
            let mut b = vec![0.0; oh * ow * cout];
            portable_conv_rows(src, &filter, g, &epilogue, res, 0..oh, &mut a);
            conv_rows(src, &filter, g, &epilogue, res, 0..oh, &mut b);
            for (p, q) in a.iter().zip(&b) {
                prop_assert!((p - q).abs() <= 1e-5 * (1.0 + p.abs()), "{p} vs {q}");
            }
            // Splitting the rows (as the thread pool does) changes nothing.
            if oh > 1 {
                let mut c2 = vec![0.0; oh * ow * cout];
                let split = oh / 2;
                let (top, bottom) = c2.split_at_mut(split * ow * cout);
                conv_rows(src, &filter, g, &epilogue, res, 0..split, top);
                conv_rows(src, &filter, g, &epilogue, res, split..oh, bottom);
                prop_assert_eq!(&b, &c2);
            }
        }
    }
}
