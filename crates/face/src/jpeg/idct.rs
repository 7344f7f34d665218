//! The "accurate integer" inverse DCT that browsers use (libjpeg's `JDCT_ISLOW`, the
//! Loeffler–Ligtenberg–Moschytz factorisation with 13-bit constants), reproduced to the bit:
//! a column pass that keeps 2 extra bits of precision, a row pass, rounding right shifts, and
//! libjpeg's output range limiting, which wraps values modulo 1024 before clamping.
//!
//! Arithmetic is in `i64` as libjpeg's `JLONG` is on 64-bit Linux, so even absurd coefficients
//! from a hostile file give libjpeg's result rather than an overflow.

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

// round(x * 2^13) for the constants of the factorisation.
const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

/// Rounding arithmetic right shift.
#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
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
fn range_limit(x: i64) -> u8 {
    RANGE_LIMIT[(x as usize) & 1023]
}

/// The even and odd halves of one 1-D pass over 8 values, before the final descale: returns
/// the 8 outputs scaled by 2^CONST_BITS.
#[inline(always)]
fn butterfly(v: [i64; 8]) -> [i64; 8] {
    // Even part.
    let z1 = (v[2] + v[6]) * FIX_0_541196100;
    let tmp2 = z1 + v[6] * -FIX_1_847759065;
    let tmp3 = z1 + v[2] * FIX_0_765366865;
    let tmp0 = (v[0] + v[4]) << CONST_BITS;
    let tmp1 = (v[0] - v[4]) << CONST_BITS;
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

/// Dequantises `coefficients` (natural order) with `quant` and writes the 8x8 samples to
/// `out[row * stride + col]`.
pub(crate) fn idct_islow(
    coefficients: &[i16; 64],
    quant: &[u16; 64],
    out: &mut [u8],
    stride: usize,
) {
    let mut workspace = [0i32; 64];
    for col in 0..8 {
        let dequant =
            |row: usize| i64::from(coefficients[row * 8 + col]) * i64::from(quant[row * 8 + col]);
        if (1..8).all(|row| coefficients[row * 8 + col] == 0) {
            // Same result as the general case, which would only scale the DC term.
            let dc = (dequant(0) << PASS1_BITS) as i32;
            for row in 0..8 {
                workspace[row * 8 + col] = dc;
            }
            continue;
        }
        let v: [i64; 8] = std::array::from_fn(dequant);
        for (row, value) in butterfly(v).into_iter().enumerate() {
            workspace[row * 8 + col] = descale(value, CONST_BITS - PASS1_BITS) as i32;
        }
    }
    for row in 0..8 {
        let w = &workspace[row * 8..row * 8 + 8];
        let line = &mut out[row * stride..row * stride + 8];
        if w[1..].iter().all(|&x| x == 0) {
            line.fill(range_limit(descale(i64::from(w[0]), PASS1_BITS + 3)));
            continue;
        }
        let v: [i64; 8] = std::array::from_fn(|i| i64::from(w[i]));
        for (sample, value) in line.iter_mut().zip(butterfly(v)) {
            *sample = range_limit(descale(value, CONST_BITS + PASS1_BITS + 3));
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
        idct_islow(coefficients, quant, &mut out, 8);
        out
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
