//! YCbCr to RGB as libjpeg computes it (`jdcolor.c`): JFIF's coefficients in 16-bit fixed
//! point, tabulated per chroma value, with the green term rounded once after summing.

const SCALE_BITS: u32 = 16;
const ONE_HALF: i32 = 1 << (SCALE_BITS - 1);

/// `x` in 16-bit fixed point, rounded as libjpeg's `FIX` macro does.
const fn fix(x: f64) -> i32 {
    (x * (1u32 << SCALE_BITS) as f64 + 0.5) as i32
}

struct Tables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    /// Includes the rounding half of the green sum.
    cb_g: [i32; 256],
}

const TABLES: Tables = {
    let mut t = Tables {
        cr_r: [0; 256],
        cb_b: [0; 256],
        cr_g: [0; 256],
        cb_g: [0; 256],
    };
    let mut i = 0;
    while i < 256 {
        let x = i as i32 - 128;
        t.cr_r[i] = (fix(1.40200) * x + ONE_HALF) >> SCALE_BITS;
        t.cb_b[i] = (fix(1.77200) * x + ONE_HALF) >> SCALE_BITS;
        t.cr_g[i] = -fix(0.71414) * x;
        t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        i += 1;
    }
    t
};

#[inline(always)]
fn clamp(x: i32) -> u8 {
    x.clamp(0, 255) as u8
}

/// One pixel.
#[inline(always)]
pub(crate) fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
    [
        clamp(y + TABLES.cr_r[cr]),
        clamp(y + ((TABLES.cb_g[cb] + TABLES.cr_g[cr]) >> SCALE_BITS)),
        clamp(y + TABLES.cb_b[cb]),
    ]
}

/// Interleaves one row of Y, Cb and Cr samples into RGB (`out.len() / 3` pixels).
pub(crate) fn ycc_row(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    for (((pixel, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        pixel.copy_from_slice(&ycc_to_rgb(y, cb, cr));
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

    #[test]
    fn tables_agree_with_the_fixed_point_formulas_for_every_input() {
        for y in 0..=255u8 {
            for cb in 0..=255u8 {
                for cr in 0..=255u8 {
                    let (yi, b, r) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
                    let red = yi + ((91881 * r + 32768) >> 16);
                    let green = yi + ((-22554 * b - 46802 * r + 32768) >> 16);
                    let blue = yi + ((116130 * b + 32768) >> 16);
                    let expected = [clamp(red), clamp(green), clamp(blue)];
                    assert_eq!(ycc_to_rgb(y, cb, cr), expected, "{y} {cb} {cr}");
                }
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
