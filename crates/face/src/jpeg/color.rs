//! YCbCr to RGB as libjpeg computes it (`jdcolor.c`): JFIF's coefficients in 16-bit fixed
//! point, tabulated per chroma value, with the green term rounded once after summing.

const SCALE_BITS: u32 = 16;
const ONE_HALF: i32 = 1 << (SCALE_BITS - 1);

/// `x` in 16-bit fixed point, rounded as libjpeg's `FIX` macro does.
const fn fix(x: f64) -> i32 {
    (x * (1u32 << SCALE_BITS) as f64 + 0.5) as i32
}

#[inline(always)]
fn clamp(x: i32) -> u8 {
    x.clamp(0, 255) as u8
}

// libjpeg tabulates these products per chroma value; computing them gives the same integers
// (the tests compare with the tables) and lets the compiler vectorise.
const CR_R: i32 = fix(1.40200);
const CB_B: i32 = fix(1.77200);
const CR_G: i32 = -fix(0.71414);
const CB_G: i32 = -fix(0.34414);

/// One pixel.
#[inline(always)]
pub(crate) fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
    [
        clamp(y + ((CR_R * cr + ONE_HALF) >> SCALE_BITS)),
        clamp(y + ((CB_G * cb + CR_G * cr + ONE_HALF) >> SCALE_BITS)),
        clamp(y + ((CB_B * cb + ONE_HALF) >> SCALE_BITS)),
    ]
}

/// Interleaves one row of Y, Cb and Cr samples into RGB (`out.len() / 3` pixels). `AVX2` may
/// be true only on a CPU that has it.
#[inline(always)]
pub(crate) fn ycc_row<const AVX2: bool>(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    const CHUNK: usize = 16;
    let n = out.len() / 3;
    let full = n / CHUNK * CHUNK;
    let pixels = out[..full * 3].chunks_exact_mut(CHUNK * 3);
    for (((out, y), cb), cr) in pixels
        .zip(y.chunks_exact(CHUNK))
        .zip(cb.chunks_exact(CHUNK))
        .zip(cr.chunks_exact(CHUNK))
    {
        // Whole chunks of fixed size, so that the arithmetic is done a vector at a time.
        let mut planes = [[0u8; CHUNK]; 3];
        for i in 0..CHUNK {
            let (yi, b, r) = (
                i32::from(y[i]),
                i32::from(cb[i]) - 128,
                i32::from(cr[i]) - 128,
            );
            planes[0][i] = clamp(yi + ((CR_R * r + ONE_HALF) >> SCALE_BITS));
            planes[1][i] = clamp(yi + ((CB_G * b + CR_G * r + ONE_HALF) >> SCALE_BITS));
            planes[2][i] = clamp(yi + ((CB_B * b + ONE_HALF) >> SCALE_BITS));
        }
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: the caller runs this only on a CPU with AVX2 (so SSSE3).
            unsafe { interleave_ssse3(&planes, out) };
            continue;
        }
        for i in 0..CHUNK {
            out[i * 3] = planes[0][i];
            out[i * 3 + 1] = planes[1][i];
            out[i * 3 + 2] = planes[2][i];
        }
    }
    for i in full..n {
        out[i * 3..i * 3 + 3].copy_from_slice(&ycc_to_rgb(y[i], cb[i], cr[i]));
    }
}

/// Interleaves 16 R, G and B samples into 48 bytes with byte shuffles.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn interleave_ssse3(planes: &[[u8; 16]; 3], out: &mut [u8]) {
    use std::arch::x86_64::*;
    /// For output block `k` (bytes 16k..16k+16) and channel `c`: which sample of the channel
    /// goes to each byte, or 0x80 (zero) where another channel goes.
    const fn mask(k: usize, c: usize) -> [u8; 16] {
        let mut m = [0x80u8; 16];
        let mut p = 0;
        while p < 16 {
            let j = 16 * k + p;
            if j % 3 == c {
                m[p] = (j / 3) as u8;
            }
            p += 1;
        }
        m
    }
    const MASKS: [[[u8; 16]; 3]; 3] = {
        let mut all = [[[0u8; 16]; 3]; 3];
        let mut k = 0;
        while k < 3 {
            let mut c = 0;
            while c < 3 {
                all[k][c] = mask(k, c);
                c += 1;
            }
            k += 1;
        }
        all
    };
    assert!(out.len() >= 48);
    // SAFETY: the caller guarantees SSSE3; loads read 16 bytes of 16-byte arrays and stores
    // write 16 bytes at offsets 0, 16, 32 of `out`, which holds at least 48 (asserted).
    unsafe {
        let channels = planes.map(|p| _mm_loadu_si128(p.as_ptr().cast()));
        for (k, masks) in MASKS.iter().enumerate() {
            let mut block = _mm_setzero_si128();
            for (channel, m) in channels.iter().zip(masks) {
                block = _mm_or_si128(
                    block,
                    _mm_shuffle_epi8(*channel, _mm_loadu_si128(m.as_ptr().cast())),
                );
            }
            _mm_storeu_si128(out.as_mut_ptr().add(16 * k).cast(), block);
        }
    }
}

/// Interleaves three planes that already are R, G and B (Adobe transform 0).
pub(crate) fn rgb_row(r: &[u8], g: &[u8], b: &[u8], out: &mut [u8]) {
    for (((pixel, &r), &g), &b) in out.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
        pixel.copy_from_slice(&[r, g, b]);
    }
}

/// Grey repeated into R, G and B.
pub(crate) fn gray_row(y: &[u8], out: &mut [u8]) {
    for (pixel, &y) in out.chunks_exact_mut(3).zip(y) {
        pixel.fill(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libjpeg's tables (`build_ycc_rgb_table`): two rounded per-chroma products and two
    /// unrounded green terms, the rounding half folded into the Cb one.
    fn libjpeg_tables() -> [[i32; 256]; 4] {
        let x = |i: usize| i as i32 - 128;
        [
            std::array::from_fn(|i| (91881 * x(i) + 32768) >> 16),
            std::array::from_fn(|i| (116130 * x(i) + 32768) >> 16),
            std::array::from_fn(|i| -46802 * x(i)),
            std::array::from_fn(|i| -22554 * x(i) + 32768),
        ]
    }

    #[test]
    fn conversion_equals_libjpegs_table_lookups_for_every_input() {
        let [cr_r, cb_b, cr_g, cb_g] = libjpeg_tables();
        for y in 0..=255u8 {
            for cb in 0..=255u8 {
                for cr in 0..=255u8 {
                    let (yi, b, r) = (i32::from(y), usize::from(cb), usize::from(cr));
                    let expected = [
                        clamp(yi + cr_r[r]),
                        clamp(yi + ((cb_g[b] + cr_g[r]) >> 16)),
                        clamp(yi + cb_b[b]),
                    ];
                    assert_eq!(ycc_to_rgb(y, cb, cr), expected, "{y} {cb} {cr}");
                }
            }
        }
    }

    #[test]
    fn rows_are_the_pixels_interleaved() {
        let n = 37;
        let y: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
        let cb: Vec<u8> = (0..n).map(|i| (255 - i * 5) as u8).collect();
        let cr: Vec<u8> = (0..n).map(|i| (i * 11 % 256) as u8).collect();
        for avx2 in [false, true] {
            let mut out = vec![0u8; n * 3];
            if avx2 {
                #[cfg(target_arch = "x86_64")]
                if super::super::avx2_available() {
                    ycc_row::<true>(&y, &cb, &cr, &mut out);
                } else {
                    continue;
                }
            } else {
                ycc_row::<false>(&y, &cb, &cr, &mut out);
            }
            for i in 0..n {
                assert_eq!(
                    out[i * 3..i * 3 + 3],
                    ycc_to_rgb(y[i], cb[i], cr[i]),
                    "{avx2}"
                );
            }
        }
    }

    #[test]
    fn conversion_is_within_one_of_the_real_valued_jfif_formulas() {
        for (y, cb, cr) in [
            (0u8, 0u8, 0u8),
            (255, 255, 255),
            (128, 128, 128),
            (76, 85, 255),
            (150, 44, 21),
            (29, 255, 107),
        ] {
            let (yf, b, r) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
            let exact = [
                yf + 1.402 * r,
                yf - 0.344136 * b - 0.714136 * r,
                yf + 1.772 * b,
            ];
            for (got, want) in ycc_to_rgb(y, cb, cr).iter().zip(exact) {
                assert!(
                    (f64::from(*got) - want.clamp(0.0, 255.0)).abs() <= 1.0,
                    "{y} {cb} {cr}"
                );
            }
        }
    }
}
