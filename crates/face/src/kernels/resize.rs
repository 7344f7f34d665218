//! Input preprocessing: pad to square, TF1 "legacy" bilinear resize, mean/divisor normalization
//! (spec §2.1, §2.3).

use super::Tensor;
use crate::image::RgbImage;

/// An integer crop of an image (already clipped to it, as `clipAtImageBorders` + `floor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropRect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

/// Leading zero rows/columns when padding a `d`-short side: centered puts `d - round(d/2)` before
/// (JS rounds .5 up, so the odd pixel goes after); not centered puts nothing before.
fn pad_before(d: usize, centered: bool) -> usize {
    if centered {
        d - d.div_ceil(2)
    } else {
        0
    }
}

/// `padToSquare`: zero-pads the short side so that `h == w`.
pub fn pad_to_square(x: &Tensor, centered: bool) -> Tensor {
    let (h, w, c) = x.shape();
    let n = h.max(w);
    let (offy, offx) = (pad_before(n - h, centered), pad_before(n - w, centered));
    let mut out = Tensor::zeros(n, n, c);
    for y in 0..h {
        let dst = (y + offy) * n * c + offx * c;
        out.data_mut()[dst..dst + w * c].copy_from_slice(x.row(y));
    }
    out
}

/// Per-output-index source taps along one axis: `(i0, i1, frac)` with `f = (n / s) * i`.
fn taps(n: usize, s: usize) -> Vec<(usize, usize, f64)> {
    let r = n as f64 / s as f64;
    (0..s)
        .map(|i| {
            let f = r * i as f64;
            let i0 = f.floor();
            let i1 = (f.ceil() as usize).min(n.saturating_sub(1));
            (i0 as usize, i1, f - i0)
        })
        .collect()
}

#[inline(always)]
fn lerp2(tl: f64, tr: f64, bl: f64, br: f64, dx: f64, dy: f64) -> f32 {
    let top = tl + (tr - tl) * dx;
    let bot = bl + (br - bl) * dx;
    (top + (bot - top) * dy) as f32
}

/// `tf.image.resizeBilinear(x, [oh, ow], alignCorners = false, halfPixelCenters = false)`,
/// computed in f64 and stored as f32, as tfjs's CPU backend does.
pub fn resize_bilinear_legacy(x: &Tensor, oh: usize, ow: usize) -> Tensor {
    let (h, w, c) = x.shape();
    let mut out = Tensor::zeros(oh, ow, c);
    if h == 0 || w == 0 {
        return out;
    }
    let (ty, tx) = (taps(h, oh), taps(w, ow));
    for (oy, &(y0, y1, dy)) in ty.iter().enumerate() {
        for (ox, &(x0, x1, dx)) in tx.iter().enumerate() {
            for ch in 0..c {
                let v = |yy: usize, xx: usize| f64::from(x.at(yy, xx, ch));
                out.data_mut()[(oy * ow + ox) * c + ch] =
                    lerp2(v(y0, x0), v(y0, x1), v(y1, x0), v(y1, x1), dx, dy);
            }
        }
    }
    out
}

/// Crop `rect` out of `img`, zero-pad it to a square (centered or not), and resize it to
/// `size × size` with the legacy bilinear resize: exactly `resize(pad_to_square(crop))`, in one
/// pass and without materialising the padded square. An empty rect gives zeros.
pub fn crop_to_input(img: &RgbImage, rect: CropRect, size: usize, centered: bool) -> Tensor {
    let mut out = Tensor::default();
    crop_to_input_into(img, rect, size, centered, &mut out);
    out
}

/// [`crop_to_input`] into a reused tensor.
pub fn crop_to_input_into(
    img: &RgbImage,
    rect: CropRect,
    size: usize,
    centered: bool,
    out: &mut Tensor,
) {
    let within = rect.x + rect.w <= img.width as usize && rect.y + rect.h <= img.height as usize;
    if rect.w == 0 || rect.h == 0 || !within {
        out.reshape_zeroed(size, size, 3);
        return;
    }
    // Every value is written below.
    out.reshape_for_overwrite(size, size, 3);
    let n = rect.w.max(rect.h);
    let (offy, offx) = (
        pad_before(n - rect.h, centered),
        pad_before(n - rect.w, centered),
    );
    let stride = img.width as usize * 3;
    // Square coordinate -> image row / byte offset of the column, `None` inside the padding.
    let row_of = |sy: usize| (sy >= offy && sy - offy < rect.h).then(|| rect.y + sy - offy);
    let col_of = |sx: usize| (sx >= offx && sx - offx < rect.w).then(|| (rect.x + sx - offx) * 3);
    let cols: Vec<(Option<usize>, Option<usize>, f64)> = taps(n, size)
        .into_iter()
        .map(|(x0, x1, dx)| (col_of(x0), col_of(x1), dx))
        .collect();
    let rows = taps(n, size);
    let row_len = size * 3;
    let fill_row = |oy: usize, dst: &mut [f32]| {
        let (y0, y1, dy) = rows[oy];
        let r0 = row_of(y0).map(|r| &img.pixels[r * stride..(r + 1) * stride]);
        let r1 = row_of(y1).map(|r| &img.pixels[r * stride..(r + 1) * stride]);
        if r0.is_none() && r1.is_none() {
            dst.fill(0.0);
            return;
        }
        let get = |row: Option<&[u8]>, col: Option<usize>, ch: usize| match (row, col) {
            (Some(r), Some(c)) => f64::from(r[c + ch]),
            _ => 0.0,
        };
        for (d, &(c0, c1, dx)) in dst.chunks_exact_mut(3).zip(&cols) {
            for (ch, v) in d.iter_mut().enumerate() {
                *v = lerp2(
                    get(r0, c0, ch),
                    get(r0, c1, ch),
                    get(r1, c0, ch),
                    get(r1, c1, ch),
                    dx,
                    dy,
                );
            }
        }
    };
    if rayon::current_num_threads() > 1 && size >= 256 {
        use rayon::prelude::*;
        out.data_mut()
            .par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(oy, d)| fill_row(oy, d));
    } else {
        out.data_mut()
            .chunks_mut(row_len)
            .enumerate()
            .for_each(|(oy, d)| fill_row(oy, d));
    }
}

/// `(x − mean[c]) / divisor` per RGB channel, two f32 operations per value (spec §2.3).
pub fn normalize(x: &mut Tensor, mean: [f32; 3], divisor: f32) {
    assert_eq!(x.c(), 3, "normalize expects RGB");
    for p in x.data_mut().chunks_exact_mut(3) {
        for (v, m) in p.iter_mut().zip(mean) {
            *v = (*v - m) / divisor;
        }
    }
}

/// The whole image as an f32 tensor (no resize), as `tf.tensor3d(pixels)`.
pub fn image_to_tensor(img: &RgbImage) -> Tensor {
    let data = img.pixels.iter().map(|&v| f32::from(v)).collect();
    Tensor::from_vec(img.height as usize, img.width as usize, 3, data).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn random_image(w: u32, h: u32, seed: u64) -> RgbImage {
        let mut s = seed | 1;
        let pixels = (0..w * h * 3)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect();
        RgbImage::from_raw(w, h, pixels).expect("size")
    }

    fn crop_tensor(img: &RgbImage, r: CropRect) -> Tensor {
        let full = image_to_tensor(img);
        let mut data = Vec::with_capacity(r.w * r.h * 3);
        for y in r.y..r.y + r.h {
            data.extend_from_slice(&full.row(y)[r.x * 3..(r.x + r.w) * 3]);
        }
        Tensor::from_vec(r.h, r.w, 3, data).expect("crop")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn fused_crop_pad_resize_equals_the_three_steps(
            w in 1u32..40, h in 1u32..40, fx in 0.0f64..1.0, fy in 0.0f64..1.0, fw in 0.0f64..1.0, fh in 0.0f64..1.0,
            size in 1usize..50, centered in any::<bool>(), seed in any::<u64>(),
        ) {
            let img = random_image(w, h, seed);
            let x = (fx * w as f64) as usize % w as usize;
            let y = (fy * h as f64) as usize % h as usize;
            let r = CropRect { x, y, w: 1 + (fw * (w as usize - x - 1) as f64) as usize, h: 1 + (fh * (h as usize - y - 1) as f64) as usize };
            let want = resize_bilinear_legacy(&pad_to_square(&crop_tensor(&img, r), centered), size, size);
            let got = crop_to_input(&img, r, size, centered);
            prop_assert_eq!(got.data(), want.data());
        }
    }

    #[test]
    fn centered_pad_puts_the_odd_pixel_after() {
        let x = Tensor::from_vec(1, 4, 1, vec![1.0; 4]).expect("shape");
        // d = 3: after = round(1.5) = 2, before = 1.
        let sq = pad_to_square(&x, true);
        assert_eq!(sq.shape(), (4, 4, 1));
        assert_eq!(sq.at(0, 0, 0), 0.0);
        assert_eq!(sq.at(1, 0, 0), 1.0);
        assert_eq!(sq.at(2, 0, 0), 0.0);
        let sq = pad_to_square(&x, false);
        assert_eq!(sq.at(0, 3, 0), 1.0);
        assert_eq!(sq.at(1, 0, 0), 0.0);
    }

    #[test]
    fn legacy_resize_has_no_half_pixel_offset() {
        // 2 -> 4 upscaling: sample positions 0, 0.5, 1, 1.5 (last clamps to the edge).
        let x = Tensor::from_vec(1, 2, 1, vec![0.0, 10.0]).expect("shape");
        let r = resize_bilinear_legacy(&x, 1, 4);
        assert_eq!(r.data(), &[0.0, 5.0, 10.0, 10.0]);
    }
}
