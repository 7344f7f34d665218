//! The "accurate integer" inverse DCT that browsers use (libjpeg's `JDCT_ISLOW`, the
//! Loeffler–Ligtenberg–Moschytz factorisation with 13-bit constants), reproduced to the bit:
//! a column pass that keeps 2 extra bits of precision, a row pass, rounding right shifts, and
//! libjpeg's output range limiting, which wraps values modulo 1024 before clamping (its SIMD
//! code saturates instead; the two differ only for values more than 383 out of range, which
//! no real image reaches).
//!
//! Both passes work on eight lanes at once (eight columns, then eight rows) so that the compiler
//! can use vector instructions. Arithmetic is 32-bit and wrapping, like libjpeg-turbo's SIMD
//! code: no intermediate of a real image comes near 2^31, and the coefficients of a hostile
//! file give some pixels rather than a panic.

use std::ops::{Add, Mul, Sub};

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

// round(x * 2^13) for the constants of the factorisation.
const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// Eight lanes of wrapping 32-bit integers, as the butterfly needs them.
trait Vector: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<i32, Output = Self> {
    /// Shift left by `CONST_BITS`.
    fn shl_const_bits(self) -> Self;
}

impl Vector for Lanes {
    #[inline(always)]
    fn shl_const_bits(self) -> Self {
        self.shl(CONST_BITS)
    }
}

/// Eight lanes of wrapping 32-bit arithmetic.
#[derive(Clone, Copy, Default)]
struct Lanes([i32; 8]);

impl Add for Lanes {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, o: Self) -> Self {
        for i in 0..8 {
            self.0[i] = self.0[i].wrapping_add(o.0[i]);
        }
        self
    }
}

impl Sub for Lanes {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, o: Self) -> Self {
        for i in 0..8 {
            self.0[i] = self.0[i].wrapping_sub(o.0[i]);
        }
        self
    }
}

impl Mul<i32> for Lanes {
    type Output = Self;
    #[inline(always)]
    fn mul(mut self, k: i32) -> Self {
        for x in &mut self.0 {
            *x = x.wrapping_mul(k);
        }
        self
    }
}

impl Lanes {
    #[inline(always)]
    fn shl(mut self, n: u32) -> Self {
        for x in &mut self.0 {
            *x = x.wrapping_shl(n);
        }
        self
    }
    /// [`range_limit`] on every lane, computed rather than looked up.
    #[inline(always)]
    fn range_limit(mut self) -> Self {
        for x in &mut self.0 {
            *x = ((x.wrapping_add(512) & 1023) - 512 + 128).clamp(0, 255);
        }
        self
    }
    /// Rounding arithmetic right shift (libjpeg's `DESCALE`).
    #[inline(always)]
    fn descale(mut self, n: u32) -> Self {
        for x in &mut self.0 {
            *x = x.wrapping_add(1 << (n - 1)) >> n;
        }
        self
    }
}

/// libjpeg's post-IDCT range limit: the value is taken modulo 1024 as a signed 10-bit number,
/// shifted by 128 and clamped to 0..=255.
const RANGE_LIMIT: [u8; 1024] = {
    let mut table = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        let signed = if i < 512 { i as i32 } else { i as i32 - 1024 };
        let v = signed + 128;
        table[i] = if v < 0 {
            0
        } else if v > 255 {
            255
        } else {
            v as u8
        };
        i += 1;
    }
    table
};

#[inline(always)]
fn range_limit(x: i32) -> u8 {
    RANGE_LIMIT[(x as usize) & 1023]
}

/// One 1-D pass over eight inputs (each a set of lanes), before the final descale: the eight
/// outputs scaled by 2^CONST_BITS.
#[inline(always)]
fn butterfly<V: Vector>(v: [V; 8]) -> [V; 8] {
    // Even part.
    let z1 = (v[2] + v[6]) * FIX_0_541196100;
    let tmp2 = z1 + v[6] * -FIX_1_847759065;
    let tmp3 = z1 + v[2] * FIX_0_765366865;
    let tmp0 = (v[0] + v[4]).shl_const_bits();
    let tmp1 = (v[0] - v[4]).shl_const_bits();
    let tmp10 = tmp0 + tmp3;
    let tmp13 = tmp0 - tmp3;
    let tmp11 = tmp1 + tmp2;
    let tmp12 = tmp1 - tmp2;
    // Odd part.
    let (t0, t1, t2, t3) = (v[7], v[5], v[3], v[1]);
    let z1 = t0 + t3;
    let z2 = t1 + t2;
    let z3 = t0 + t2;
    let z4 = t1 + t3;
    let z5 = (z3 + z4) * FIX_1_175875602;
    let t0 = t0 * FIX_0_298631336;
    let t1 = t1 * FIX_2_053119869;
    let t2 = t2 * FIX_3_072711026;
    let t3 = t3 * FIX_1_501321110;
    let z1 = z1 * -FIX_0_899976223;
    let z2 = z2 * -FIX_2_562915447;
    let z3 = z3 * -FIX_1_961570560 + z5;
    let z4 = z4 * -FIX_0_390180644 + z5;
    let t0 = t0 + z1 + z3;
    let t1 = t1 + z2 + z4;
    let t2 = t2 + z2 + z3;
    let t3 = t3 + z1 + z4;
    [
        tmp10 + t3,
        tmp11 + t2,
        tmp12 + t1,
        tmp13 + t0,
        tmp13 - t0,
        tmp12 - t1,
        tmp11 - t2,
        tmp10 - t3,
    ]
}

#[inline(always)]
fn transpose(m: &[Lanes; 8]) -> [Lanes; 8] {
    let mut t = [Lanes::default(); 8];
    for (i, row) in t.iter_mut().enumerate() {
        for (j, lanes) in m.iter().enumerate() {
            row.0[j] = lanes.0[i];
        }
    }
    t
}

/// Dequantises `coefficients` (natural order) with `quant` and writes the 8x8 samples to
/// `out[row * stride + col]`. `dc_only` may be true only when every AC coefficient is zero.
pub(crate) fn idct_islow(
    coefficients: &[i16; 64],
    quant: &[u16; 64],
    out: &mut [u8],
    stride: usize,
    dc_only: bool,
) {
    if dc_only {
        // What the general case gives for a DC-only block, without the work.
        let dc = i32::from((i32::from(coefficients[0]) * i32::from(quant[0])) as i16);
        let value = range_limit(dc.wrapping_shl(PASS1_BITS).wrapping_add(16) >> (PASS1_BITS + 3));
        for row in out.chunks_mut(stride).take(8) {
            row[..8].fill(value);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if super::avx2_available() {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { idct_avx2(coefficients, quant, out, stride) };
        return;
    }
    idct_general(coefficients, quant, out, stride);
}

/// The same arithmetic with AVX2 intrinsics: one register holds the eight lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn idct_avx2(coefficients: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    use avx2::*;
    use std::arch::x86_64::*;
    let mut rows = [Avx(_mm256_setzero_si256()); 8];
    for (r, row) in rows.iter_mut().enumerate() {
        // SAFETY: rows r*8..r*8+8 of the two 64-element arrays are in bounds.
        let (c, q) = unsafe {
            (
                _mm_loadu_si128(coefficients.as_ptr().add(r * 8).cast()),
                _mm_loadu_si128(quant.as_ptr().add(r * 8).cast()),
            )
        };
        let product = _mm256_mullo_epi32(_mm256_cvtepi16_epi32(c), _mm256_cvtepu16_epi32(q));
        *row = Avx(_mm256_srai_epi32::<16>(_mm256_slli_epi32::<16>(product)));
    }
    let columns = butterfly(rows).map(descale::<11>);
    let result = butterfly(transpose8(columns)).map(|v| range_limit8(descale::<18>(v)));
    let rows = transpose8(result);
    let mut bytes = [0u8; 64];
    for half in 0..2 {
        let r = &rows[half * 4..half * 4 + 4];
        let low = _mm256_packus_epi32(r[0].0, r[1].0);
        let high = _mm256_packus_epi32(r[2].0, r[3].0);
        let packed = _mm256_packus_epi16(low, high);
        let ordered =
            _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        // SAFETY: 32 bytes at offset 0 or 32 of a 64-byte array.
        unsafe { _mm256_storeu_si256(bytes.as_mut_ptr().add(half * 32).cast(), ordered) };
    }
    for (row, line) in bytes.chunks_exact(8).enumerate() {
        out[row * stride..row * stride + 8].copy_from_slice(line);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The lane type of [`super::idct_avx2`]. Its values are only made inside that function,
    //! which runs only on CPUs with AVX2, so the intrinsics below are always available.
    use std::arch::x86_64::*;
    use std::ops::{Add, Mul, Sub};

    #[derive(Clone, Copy)]
    pub(super) struct Avx(pub __m256i);

    impl Add for Avx {
        type Output = Self;
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            Self(unsafe { _mm256_add_epi32(self.0, o.0) })
        }
    }

    impl Sub for Avx {
        type Output = Self;
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: see the module comment.
            Self(unsafe { _mm256_sub_epi32(self.0, o.0) })
        }
    }

    impl Mul<i32> for Avx {
        type Output = Self;
        #[inline(always)]
        fn mul(self, k: i32) -> Self {
            // SAFETY: see the module comment.
            Self(unsafe { _mm256_mullo_epi32(self.0, _mm256_set1_epi32(k)) })
        }
    }

    impl super::Vector for Avx {
        #[inline(always)]
        fn shl_const_bits(self) -> Self {
            // SAFETY: see the module comment.
            Self(unsafe { _mm256_slli_epi32::<{ super::CONST_BITS as i32 }>(self.0) })
        }
    }

    #[inline(always)]
    pub(super) fn descale<const N: i32>(v: Avx) -> Avx {
        // SAFETY: see the module comment.
        Avx(unsafe {
            _mm256_srai_epi32::<N>(_mm256_add_epi32(v.0, _mm256_set1_epi32(1 << (N - 1))))
        })
    }

    /// [`super::range_limit`] on every lane.
    #[inline(always)]
    pub(super) fn range_limit8(v: Avx) -> Avx {
        // SAFETY: see the module comment.
        unsafe {
            let wrapped = _mm256_and_si256(
                _mm256_add_epi32(v.0, _mm256_set1_epi32(512)),
                _mm256_set1_epi32(1023),
            );
            let shifted = _mm256_sub_epi32(wrapped, _mm256_set1_epi32(512 - 128));
            Avx(_mm256_min_epi32(
                _mm256_max_epi32(shifted, _mm256_setzero_si256()),
                _mm256_set1_epi32(255),
            ))
        }
    }

    #[inline(always)]
    pub(super) fn transpose8(r: [Avx; 8]) -> [Avx; 8] {
        // SAFETY: see the module comment.
        unsafe {
            let t: [__m256i; 8] = [
                _mm256_unpacklo_epi32(r[0].0, r[1].0),
                _mm256_unpackhi_epi32(r[0].0, r[1].0),
                _mm256_unpacklo_epi32(r[2].0, r[3].0),
                _mm256_unpackhi_epi32(r[2].0, r[3].0),
                _mm256_unpacklo_epi32(r[4].0, r[5].0),
                _mm256_unpackhi_epi32(r[4].0, r[5].0),
                _mm256_unpacklo_epi32(r[6].0, r[7].0),
                _mm256_unpackhi_epi32(r[6].0, r[7].0),
            ];
            let u: [__m256i; 8] = [
                _mm256_unpacklo_epi64(t[0], t[2]),
                _mm256_unpackhi_epi64(t[0], t[2]),
                _mm256_unpacklo_epi64(t[1], t[3]),
                _mm256_unpackhi_epi64(t[1], t[3]),
                _mm256_unpacklo_epi64(t[4], t[6]),
                _mm256_unpackhi_epi64(t[4], t[6]),
                _mm256_unpacklo_epi64(t[5], t[7]),
                _mm256_unpackhi_epi64(t[5], t[7]),
            ];
            [
                Avx(_mm256_permute2x128_si256::<0x20>(u[0], u[4])),
                Avx(_mm256_permute2x128_si256::<0x20>(u[1], u[5])),
                Avx(_mm256_permute2x128_si256::<0x20>(u[2], u[6])),
                Avx(_mm256_permute2x128_si256::<0x20>(u[3], u[7])),
                Avx(_mm256_permute2x128_si256::<0x31>(u[0], u[4])),
                Avx(_mm256_permute2x128_si256::<0x31>(u[1], u[5])),
                Avx(_mm256_permute2x128_si256::<0x31>(u[2], u[6])),
                Avx(_mm256_permute2x128_si256::<0x31>(u[3], u[7])),
            ]
        }
    }
}

#[inline(always)]
fn idct_general(coefficients: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    // Column pass: lane j is column j. Dequantised values are truncated to 16 bits as
    // libjpeg-turbo's SIMD code does (never a change for a real image).
    let mut rows = [Lanes::default(); 8];
    for (r, lanes) in rows.iter_mut().enumerate() {
        for c in 0..8 {
            let q = i32::from(coefficients[r * 8 + c]) * i32::from(quant[r * 8 + c]);
            lanes.0[c] = i32::from(q as i16);
        }
    }
    let mut columns = butterfly(rows);
    for lanes in &mut columns {
        *lanes = lanes.descale(CONST_BITS - PASS1_BITS);
    }
    // Row pass: lane j is row j.
    let mut result = butterfly(transpose(&columns));
    for lanes in &mut result {
        *lanes = lanes.descale(CONST_BITS + PASS1_BITS + 3).range_limit();
    }
    for (row, lanes) in transpose(&result).iter().enumerate() {
        let line = &mut out[row * stride..row * stride + 8];
        for (sample, &value) in line.iter_mut().zip(&lanes.0) {
            *sample = value as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The inverse DCT of T.81 A.3.3 in floating point, level-shifted and clamped.
    fn naive_idct(coefficients: &[i16; 64], quant: &[u16; 64]) -> [u8; 64] {
        let c = |u: usize| {
            if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        let mut out = [0u8; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut sum = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        let f = f64::from(coefficients[v * 8 + u]) * f64::from(quant[v * 8 + u]);
                        sum += c(u)
                            * c(v)
                            * f
                            * (((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI) / 16.0).cos()
                            * (((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI) / 16.0).cos();
                    }
                }
                out[y * 8 + x] = (sum / 4.0 + 128.0).round().clamp(0.0, 255.0) as u8;
            }
        }
        out
    }

    fn run(coefficients: &[i16; 64], quant: &[u16; 64]) -> [u8; 64] {
        let mut out = [0u8; 64];
        let dc_only = coefficients[1..].iter().all(|&c| c == 0);
        idct_islow(coefficients, quant, &mut out, 8, dc_only);
        out
    }

    proptest! {
        /// The AVX2 build and the portable one give the same bytes, wrapping included.
        #[test]
        fn avx2_and_portable_idct_agree(
            coefficients in proptest::array::uniform32(any::<i16>()).prop_flat_map(|head| {
                proptest::array::uniform32(-300i16..300).prop_map(move |tail| {
                    let mut all = [0i16; 64];
                    all[..32].copy_from_slice(&head);
                    all[32..].copy_from_slice(&tail);
                    all
                })
            }),
            q in proptest::array::uniform32(1u16..300),
            small in any::<bool>(),
        ) {
            let mut coefficients = coefficients;
            if small {
                for c in &mut coefficients {
                    *c %= 64;
                }
            }
            let mut quant = [0u16; 64];
            quant[..32].copy_from_slice(&q);
            quant[32..].copy_from_slice(&q);
            let mut portable = [0u8; 64];
            idct_general(&coefficients, &quant, &mut portable, 8);
            #[cfg(target_arch = "x86_64")]
            if super::super::avx2_available() {
                let mut fast = [0u8; 64];
                // SAFETY: AVX2 is available (checked just above).
                unsafe { idct_avx2(&coefficients, &quant, &mut fast, 8) };
                prop_assert_eq!(fast, portable);
            }
            let dc_only = coefficients[1..].iter().all(|&c| c == 0);
            let mut dispatched = [0u8; 64];
            idct_islow(&coefficients, &quant, &mut dispatched, 8, dc_only);
            prop_assert_eq!(dispatched, portable);
        }

        #[test]
        fn dc_only_shortcut_equals_the_full_transform(dc in any::<i16>(), q in 1u16..=255) {
            let mut coefficients = [0i16; 64];
            coefficients[0] = dc;
            let quant = [q; 64];
            let mut short = [0u8; 64];
            idct_islow(&coefficients, &quant, &mut short, 8, true);
            let mut full = [0u8; 64];
            idct_general(&coefficients, &quant, &mut full, 8);
            prop_assert_eq!(short, full);
        }
    }

    proptest! {
        /// libjpeg's integer IDCT is within one level of the exact transform (IEEE 1180 accuracy).
        #[test]
        fn islow_is_within_one_of_the_exact_idct(
            coefficients in proptest::array::uniform32(-60i16..60).prop_flat_map(|head| {
                proptest::array::uniform32(-8i16..8).prop_map(move |tail| {
                    let mut all = [0i16; 64];
                    all[..32].copy_from_slice(&head);
                    all[32..].copy_from_slice(&tail);
                    all
                })
            }),
            q in 1u16..4,
        ) {
            let quant = [q; 64];
            let fast = run(&coefficients, &quant);
            let exact = naive_idct(&coefficients, &quant);
            for (a, b) in fast.iter().zip(exact.iter()) {
                prop_assert!((i32::from(*a) - i32::from(*b)).abs() <= 1, "{fast:?} vs {exact:?}");
            }
        }
    }

    #[test]
    fn dc_only_block_is_flat_and_rounded() {
        let mut coefficients = [0i16; 64];
        coefficients[0] = -13;
        let quant = [5u16; 64];
        // -65 / 8 = -8.125, rounds to -8.
        assert_eq!(run(&coefficients, &quant), [120u8; 64]);
    }

    #[test]
    fn computed_range_limit_equals_the_table() {
        for x in -5000..5000 {
            let mut lanes = Lanes::default();
            lanes.0[3] = x;
            assert_eq!(lanes.range_limit().0[3], i32::from(range_limit(x)), "{x}");
        }
    }

    #[test]
    fn out_of_range_values_wrap_like_libjpeg() {
        // Up to 383 above the centre clamps to 255; from 384 to 895 counts as negative (0);
        // 1100 wraps to 76 above the centre.
        assert_eq!(range_limit(300), 255);
        assert_eq!(range_limit(383), 255);
        assert_eq!(range_limit(600), 0);
        assert_eq!(range_limit(1100), 204);
        assert_eq!(range_limit(-129), 0);
        assert_eq!(range_limit(-128), 0);
        assert_eq!(range_limit(-127), 1);
    }
}
