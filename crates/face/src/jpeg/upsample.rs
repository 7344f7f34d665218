//! Chroma upsampling as libjpeg does it by default ("fancy" upsampling, `jdsample.c`): for a
//! factor of 2 in a direction, each output sample is 3/4 of the nearer input sample plus 1/4 of
//! the next nearest, with libjpeg's alternating rounding biases; samples past the edges repeat
//! the edge. Other integral factors replicate samples.
//!
//! Each function produces one output row from one or two input rows.

/// How one component reaches the full image resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Already full size.
    Full,
    /// Horizontal 2:1, triangle filter.
    H2Fancy,
    /// Vertical 2:1, triangle filter.
    V2Fancy,
    /// 2:1 both ways, triangle filter in both.
    H2V2Fancy,
    /// Integral factors, samples repeated (also 2:1 on components at most 2 samples wide,
    /// where libjpeg does not filter).
    Replicate { h: usize, v: usize },
}

impl Method {
    /// libjpeg's choice (`jinit_upsampler`) for a component `width` samples wide whose
    /// sampling factors divide the largest ones by `h` and `v`.
    pub fn choose(h: usize, v: usize, width: usize) -> Self {
        match (h, v) {
            (1, 1) => Self::Full,
            (2, 1) if width > 2 => Self::H2Fancy,
            (1, 2) => Self::V2Fancy,
            (2, 2) if width > 2 => Self::H2V2Fancy,
            _ => Self::Replicate { h, v },
        }
    }
}

/// Horizontal 2:1: `out` gets `2 * input.len()` samples (`input.len() > 2`).
#[inline(always)]
pub(crate) fn h2_fancy(input: &[u8], out: &mut [u8]) {
    const CHUNK: usize = 16;
    let n = input.len();
    let out = &mut out[..2 * n];
    out[0] = input[0];
    out[1] = ((u32::from(input[0]) * 3 + u32::from(input[1]) + 2) >> 2) as u8;
    // Interior samples 1..n-1 in whole chunks (vectorisable), then the rest one by one.
    let interior = n - 2;
    let full = interior / CHUNK * CHUNK;
    for (c, pairs) in out[2..2 + 2 * full].chunks_exact_mut(2 * CHUNK).enumerate() {
        let window = &input[c * CHUNK..c * CHUNK + CHUNK + 2];
        let mut even = [0u8; CHUNK];
        let mut odd = [0u8; CHUNK];
        for i in 0..CHUNK {
            let this3 = u32::from(window[i + 1]) * 3;
            even[i] = ((this3 + u32::from(window[i]) + 1) >> 2) as u8;
            odd[i] = ((this3 + u32::from(window[i + 2]) + 2) >> 2) as u8;
        }
        for i in 0..CHUNK {
            pairs[2 * i] = even[i];
            pairs[2 * i + 1] = odd[i];
        }
    }
    for i in full..interior {
        let (left, this, right) = (input[i], input[i + 1], input[i + 2]);
        let this3 = u32::from(this) * 3;
        out[2 + 2 * i] = ((this3 + u32::from(left) + 1) >> 2) as u8;
        out[3 + 2 * i] = ((this3 + u32::from(right) + 2) >> 2) as u8;
    }
    out[2 * n - 2] = ((u32::from(input[n - 1]) * 3 + u32::from(input[n - 2]) + 1) >> 2) as u8;
    out[2 * n - 1] = input[n - 1];
}

/// Vertical 2:1: an output row from its nearer input row and the next nearest (above for the
/// upper output row of a pair, `lower == false`, below for the lower one).
#[inline(always)]
pub(crate) fn v2_fancy(near: &[u8], far: &[u8], lower: bool, out: &mut [u8]) {
    let bias = if lower { 2 } else { 1 };
    for ((o, &a), &b) in out.iter_mut().zip(near).zip(far) {
        *o = ((u32::from(a) * 3 + u32::from(b) + bias) >> 2) as u8;
    }
}

/// 2:1 both ways: the vertical step as in [`v2_fancy`] kept at 4x scale, then the horizontal
/// one; `out` gets `2 * near.len()` samples (`near.len() > 2`).
#[inline(always)]
pub(crate) fn h2v2_fancy(near: &[u8], far: &[u8], out: &mut [u8]) {
    let n = near.len();
    let out = &mut out[..2 * n];
    let sum = |i: usize| u32::from(near[i]) * 3 + u32::from(far[i]);
    let (mut last, mut this) = (sum(0), sum(0));
    for (i, pair) in out.chunks_exact_mut(2).enumerate() {
        let next = if i + 1 < n { sum(i + 1) } else { this };
        pair[0] = ((this * 3 + last + 8) >> 4) as u8;
        pair[1] = ((this * 3 + next + 7) >> 4) as u8;
        last = this;
        this = next;
    }
}

/// Each sample repeated `factor` times.
#[inline(always)]
pub(crate) fn replicate(input: &[u8], factor: usize, out: &mut [u8]) {
    for (chunk, &value) in out.chunks_exact_mut(factor).zip(input) {
        chunk.fill(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every output sample straight from the definition: nearer sample 3/4, next nearest 1/4 in
    /// each filtered direction (indices clamped to the plane), with libjpeg's rounding.
    fn naive(plane: &[Vec<u8>], method: Method, x: usize, y: usize) -> u8 {
        let (w, h) = (plane[0].len(), plane.len());
        let far = |c: usize, even: bool, n: usize| {
            if even {
                c.saturating_sub(1)
            } else {
                (c + 1).min(n - 1)
            }
        };
        let at = |r: usize, c: usize| u32::from(plane[r][c]);
        match method {
            Method::Full => plane[y][x],
            Method::H2Fancy => {
                let (c, even) = (x / 2, x.is_multiple_of(2));
                ((3 * at(y, c) + at(y, far(c, even, w)) + if even { 1 } else { 2 }) >> 2) as u8
            }
            Method::V2Fancy => {
                let (r, even) = (y / 2, y.is_multiple_of(2));
                ((3 * at(r, x) + at(far(r, even, h), x) + if even { 1 } else { 2 }) >> 2) as u8
            }
            Method::H2V2Fancy => {
                let (r, c) = (y / 2, x / 2);
                let fr = far(r, y.is_multiple_of(2), h);
                let col = |c: usize| 3 * at(r, c) + at(fr, c);
                let fc = far(c, x.is_multiple_of(2), w);
                ((3 * col(c) + col(fc) + if x.is_multiple_of(2) { 8 } else { 7 }) >> 4) as u8
            }
            Method::Replicate { h: fh, v: fv } => plane[y / fv][x / fh],
        }
    }

    fn fast_row(plane: &[Vec<u8>], method: Method, y: usize, out: &mut [u8]) {
        let h = plane.len();
        let far = |r: usize| {
            if y.is_multiple_of(2) {
                r.saturating_sub(1)
            } else {
                (r + 1).min(h - 1)
            }
        };
        match method {
            Method::Full => out[..plane[y].len()].copy_from_slice(&plane[y]),
            Method::H2Fancy => h2_fancy(&plane[y], out),
            Method::V2Fancy => v2_fancy(&plane[y / 2], &plane[far(y / 2)], y % 2 == 1, out),
            Method::H2V2Fancy => h2v2_fancy(&plane[y / 2], &plane[far(y / 2)], out),
            Method::Replicate { h: fh, v: fv } => replicate(&plane[y / fv], fh, out),
        }
    }

    proptest! {
        #[test]
        fn row_upsamplers_match_the_per_sample_definition(
            w in 3usize..40,
            h in 1usize..12,
            seed in any::<u64>(),
            which in 0usize..6,
        ) {
            let method = [
                Method::Full,
                Method::H2Fancy,
                Method::V2Fancy,
                Method::H2V2Fancy,
                Method::Replicate { h: 2, v: 2 },
                Method::Replicate { h: 4, v: 1 },
            ][which];
            let mut state = seed | 1;
            let plane: Vec<Vec<u8>> = (0..h)
                .map(|_| (0..w).map(|_| {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                    (state >> 32) as u8
                }).collect())
                .collect();
            let (fh, fv) = match method {
                Method::Full => (1, 1),
                Method::H2Fancy => (2, 1),
                Method::V2Fancy => (1, 2),
                Method::H2V2Fancy => (2, 2),
                Method::Replicate { h, v } => (h, v),
            };
            let mut out = vec![0u8; w * fh];
            for y in 0..h * fv {
                fast_row(&plane, method, y, &mut out);
                for (x, &sample) in out.iter().enumerate() {
                    prop_assert_eq!(sample, naive(&plane, method, x, y), "x {} y {} {:?}", x, y, method);
                }
            }
        }
    }

    #[test]
    fn narrow_components_are_not_filtered() {
        assert_eq!(Method::choose(2, 2, 2), Method::Replicate { h: 2, v: 2 });
        assert_eq!(Method::choose(2, 1, 3), Method::H2Fancy);
        assert_eq!(Method::choose(1, 2, 1), Method::V2Fancy);
        assert_eq!(Method::choose(4, 1, 100), Method::Replicate { h: 4, v: 1 });
    }
}
