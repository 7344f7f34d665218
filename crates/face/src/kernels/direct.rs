//! Direct ("implicit GEMM") convolution on NHWC input: no im2col matrix. Output pixels are
//! computed in tiles of up to [`MR`] pixels (in raster order, crossing row ends) × [`NR`] output
//! channels held in registers; the reduction runs over (ky, kx, ci) in order, reading the input
//! in place (from a zero-padded copy when the layer pads) and the filter from a copy packed once
//! per layer as `[cout / NR][kh·kw·cin][NR]`. The epilogue (scale, shift, residual, activation)
//! is applied to the registers before the single store. Work is split over the rayon pool by
//! pixel ranges and, for small maps, by channel blocks. An AVX2+FMA version is chosen at run
//! time; the portable version computes the same thing with plain loops.

use std::ops::Range;

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

    /// Multiplies output channel `c`'s weights by `scale[c]`.
    pub fn scale_channels(&mut self, scale: &[f32]) {
        for (b, block) in self.data.chunks_exact_mut(self.k * NR).enumerate() {
            for row in block.chunks_exact_mut(NR) {
                for (j, w) in row.iter_mut().enumerate() {
                    // Padding lanes beyond the last channel stay zero.
                    *w *= scale.get(b * NR + j).copied().unwrap_or(0.0);
                }
            }
        }
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
    pub oh: usize,
    pub ow: usize,
    pub cout: usize,
}

impl Geometry {
    /// Offset in the source of output pixel `pix`'s window.
    #[inline(always)]
    fn base(&self, src: &Source<'_>, pix: usize) -> usize {
        let (oy, ox) = (pix / self.ow, pix % self.ow);
        oy * self.stride * src.row_stride + ox * self.stride * src.c
    }
}

/// The output buffer shared by the workers of one conv call.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: workers write disjoint (pixel range × channel block range) regions of the buffer,
// which outlives the parallel loop (see `conv`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// Everything a worker needs besides its pixel and block ranges.
#[derive(Clone, Copy)]
struct Job<'a> {
    src: Source<'a>,
    filter: &'a PackedFilter,
    g: Geometry,
    epilogue: &'a Epilogue,
    residual: Option<&'a [f32]>,
    out: OutPtr,
}

/// The whole conv: `out` (`oh·ow·cout` values, pixel-major) from `src`, split over the current
/// rayon pool when big enough.
pub(crate) fn conv(
    src: Source<'_>,
    filter: &PackedFilter,
    g: Geometry,
    epilogue: &Epilogue,
    residual: Option<&[f32]>,
    out: &mut [f32],
) {
    conv_impl(src, filter, g, epilogue, residual, out, true);
}

/// [`conv`] on the calling thread only (for callers that already split the work).
pub(crate) fn conv_serial(
    src: Source<'_>,
    filter: &PackedFilter,
    g: Geometry,
    epilogue: &Epilogue,
    residual: Option<&[f32]>,
    out: &mut [f32],
) {
    conv_impl(src, filter, g, epilogue, residual, out, false);
}

fn conv_impl(
    src: Source<'_>,
    filter: &PackedFilter,
    g: Geometry,
    epilogue: &Epilogue,
    residual: Option<&[f32]>,
    out: &mut [f32],
    parallel: bool,
) {
    let npix = g.oh * g.ow;
    let nblk = g.cout.div_ceil(NR);
    if npix == 0 || nblk == 0 {
        return;
    }
    let seg = g.kw * src.c;
    // Every read and write below is within these bounds: window offsets grow with the pixel
    // index, so the last pixel's window is the furthest read.
    assert!(
        g.base(&src, npix - 1) + (g.kh - 1) * src.row_stride + seg <= src.data.len(),
        "conv source too short"
    );
    assert_eq!(filter.k, g.kh * seg, "packed filter depth");
    assert!(filter.data.len() >= nblk * filter.k * NR);
    assert!(out.len() >= npix * g.cout, "conv output too short");
    for v in [&epilogue.scale, &epilogue.shift].into_iter().flatten() {
        assert!(v.len() >= g.cout);
    }
    if let Some(r) = residual {
        assert!(r.len() >= npix * g.cout, "conv residual too short");
    }
    let job = Job {
        src,
        filter,
        g,
        epilogue,
        residual,
        out: OutPtr(out.as_mut_ptr()),
    };
    let threads = rayon::current_num_threads();
    let macs = npix * g.cout * filter.k;
    if !parallel || threads == 1 || macs < 1 << 17 {
        // SAFETY: bounds asserted above; a single worker.
        unsafe { run(job, 0..npix, 0..nblk) };
        return;
    }
    let target = threads * 4;
    let pix_tiles = npix.div_ceil(MR);
    let pix_chunks = pix_tiles.min(target);
    let blk_chunks = nblk.min(target.div_ceil(pix_chunks));
    let tiles_per_chunk = pix_tiles.div_ceil(pix_chunks);
    let blks_per_chunk = nblk.div_ceil(blk_chunks);
    use rayon::prelude::*;
    (0..pix_chunks * blk_chunks).into_par_iter().for_each(|u| {
        let (pc, bc) = (u / blk_chunks, u % blk_chunks);
        let step = tiles_per_chunk * MR;
        let pixels = (pc * step).min(npix)..((pc + 1) * step).min(npix);
        let blocks = (bc * blks_per_chunk).min(nblk)..((bc + 1) * blks_per_chunk).min(nblk);
        // SAFETY: bounds asserted above; each unit owns a distinct (pixels × blocks) region of
        // `out`, which stays borrowed until the parallel loop returns.
        unsafe { run(job, pixels, blocks) };
    });
}

/// # Safety
/// The bounds asserted in [`conv`] hold, and no other thread writes the same region.
unsafe fn run(job: Job<'_>, pixels: Range<usize>, blocks: Range<usize>) {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_available() {
            // SAFETY: the CPU supports AVX2 and FMA; the caller upholds the rest.
            unsafe { avx2::run(job, pixels, blocks) };
            return;
        }
    }
    // SAFETY: upheld by the caller.
    unsafe { portable_run(job, pixels, blocks) };
}

/// Set (to anything) to run the portable kernels even on AVX2 machines, e.g. to check them
/// against the goldens: `FACEGATE_FACE_PORTABLE=1 cargo test -p facegate-face`.
pub const PORTABLE_ENV: &str = "FACEGATE_FACE_PORTABLE";

#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::env::var_os(PORTABLE_ENV).is_none()
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
    })
}

/// Applies the epilogue to the first `n` of `NR` accumulators of one pixel and stores them.
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

/// # Safety
/// As [`run`].
unsafe fn portable_run(job: Job<'_>, pixels: Range<usize>, blocks: Range<usize>) {
    let Job {
        src,
        filter,
        g,
        epilogue,
        residual,
        out,
    } = job;
    let seg = g.kw * src.c;
    for b in blocks {
        let w = filter.block(b);
        let co = b * NR;
        let n = NR.min(g.cout - co);
        for pix in pixels.clone() {
            let base = g.base(&src, pix);
            let mut acc = [0.0f32; NR];
            for ky in 0..g.kh {
                let xs = &src.data[base + ky * src.row_stride..][..seg];
                let ws = &w[ky * seg * NR..(ky + 1) * seg * NR];
                for (xv, wr) in xs.iter().zip(ws.chunks_exact(NR)) {
                    acc.iter_mut().zip(wr).for_each(|(a, w)| *a += xv * w);
                }
            }
            let res = residual.map(|r| &r[pix * g.cout + co..][..n]);
            // SAFETY: `pix * cout + co + n <= npix * cout` (asserted in `conv`) and this worker
            // owns the region.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(pix * g.cout + co), n) };
            finish_pixel(&mut acc, epilogue, co, n, res, dst);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{finish_pixel, Activation, Epilogue, Job, MR, NR};

    /// # Safety
    /// The CPU supports AVX2 and FMA, and the contract of [`super::run`] holds.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run(job: Job<'_>, pixels: Range<usize>, blocks: Range<usize>) {
        let Job {
            src,
            filter,
            g,
            epilogue,
            residual,
            out,
        } = job;
        let seg = g.kw * src.c;
        for b in blocks {
            let w = filter.block(b).as_ptr();
            let co = b * NR;
            let n = NR.min(g.cout - co);
            let mut p = pixels.start;
            // Running output coordinates of pixel `p` (no division per pixel).
            let (mut oy, mut ox) = (p / g.ow, p % g.ow);
            while p < pixels.end {
                let mr = MR.min(pixels.end - p);
                let mut bases = [0usize; MR];
                for base in bases.iter_mut().take(mr) {
                    *base = oy * g.stride * src.row_stride + ox * g.stride * src.c;
                    ox += 1;
                    if ox == g.ow {
                        ox = 0;
                        oy += 1;
                    }
                }
                let mut acc = [[_mm256_setzero_ps(); 2]; MR];
                let x = src.data.as_ptr();
                // SAFETY: every window read is within the source (asserted in `conv`), filter
                // reads stay within block `b`.
                unsafe {
                    match mr {
                        6 => tile::<6>(x, &bases, w, g.kh, seg, src.row_stride, &mut acc),
                        5 => tile::<5>(x, &bases, w, g.kh, seg, src.row_stride, &mut acc),
                        4 => tile::<4>(x, &bases, w, g.kh, seg, src.row_stride, &mut acc),
                        3 => tile::<3>(x, &bases, w, g.kh, seg, src.row_stride, &mut acc),
                        2 => tile::<2>(x, &bases, w, g.kh, seg, src.row_stride, &mut acc),
                        _ => tile::<1>(x, &bases, w, g.kh, seg, src.row_stride, &mut acc),
                    }
                }
                for (i, a) in acc.iter().enumerate().take(mr) {
                    let at = (p + i) * g.cout + co;
                    let res = residual.map(|r| &r[at..][..n]);
                    // SAFETY: `at + n <= npix * cout` (asserted in `conv`); this worker owns
                    // the region.
                    let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(at), n) };
                    if n == NR {
                        // SAFETY: a full block: `dst`, `res` and the epilogue vectors have 16
                        // values from `co`.
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
                p += mr;
            }
        }
    }

    /// The register tile: `M` pixels × 16 channels, reduced over (ky, kx, ci).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const M: usize>(
        x: *const f32,
        bases: &[usize; MR],
        w: *const f32,
        kh: usize,
        seg: usize,
        row_stride: usize,
        acc: &mut [[__m256; 2]; MR],
    ) {
        let mut a = [[_mm256_setzero_ps(); 2]; M];
        for ky in 0..kh {
            // SAFETY (this block): offsets are within the bounds asserted in `conv`.
            let xs: [*const f32; M] =
                std::array::from_fn(|i| unsafe { x.add(bases[i] + ky * row_stride) });
            let wr = unsafe { w.add(ky * seg * NR) };
            for j in 0..seg {
                let w0 = unsafe { _mm256_loadu_ps(wr.add(j * NR)) };
                let w1 = unsafe { _mm256_loadu_ps(wr.add(j * NR + 8)) };
                for (ai, xi) in a.iter_mut().zip(&xs) {
                    let v = unsafe { _mm256_broadcast_ss(&*xi.add(j)) };
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
        /// dispatched one (AVX2 where available: FMA rounding differs slightly), also when the
        /// work is split over a thread pool.
        #[test]
        fn portable_and_dispatched_kernels_agree(
            h in 1usize..10, w in 1usize..14, c in 1usize..7, cout in 1usize..40,
            kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, residual in any::<bool>(),
            threads in 1usize..4, seed in any::<u64>(),
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
            let g = Geometry { kh, kw, stride, oh, ow, cout };
            let mut a = vec![0.0; oh * ow * cout];
            let mut b = vec![0.0; oh * ow * cout];
            let job = Job { src, filter: &filter, g, epilogue: &epilogue, residual: res, out: OutPtr(a.as_mut_ptr()) };
            // SAFETY: the buffers have the sizes `conv` asserts; one worker.
            unsafe { portable_run(job, 0..oh * ow, 0..cout.div_ceil(NR)) };
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            pool.install(|| conv(src, &filter, g, &epilogue, res, &mut b));
            for (p, q) in a.iter().zip(&b) {
                prop_assert!((p - q).abs() <= 1e-5 * (1.0 + p.abs()), "{p} vs {q}");
            }
        }
    }
}
