//! Landmark geometry that tells a head turn from a moved picture: the nose's parallax against
//! the rest of the face once the best homography (every motion a flat picture can make) is
//! removed. Used to check the renderer and to report what the server can rely on.

use face::Point;

use crate::render::multiply;

/// The landmarks a flat-picture model is fitted to: the jaw outline, brows and eye corners
/// (never the nose, which is what the parallax is measured on).
const PLANE_POINTS: [usize; 29] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 21, 22, 24, 26, 36, 39, 42,
    45, 48, 54,
];
/// The nose tip.
const NOSE_TIP: usize = 30;

/// The nose tip's displacement from where the best-fitting homography of `reference` onto
/// `current` puts it, in half jaw widths of `current` (x: +right in the image, y: +down). About
/// zero for any flat picture motion; a real turn gives a large x (yaw) or y (pitch).
pub fn nose_parallax(reference: &[Point], current: &[Point]) -> Option<(f64, f64)> {
    if reference.len() < 68 || current.len() < 68 {
        return None;
    }
    let pairs: Vec<(Point, Point)> = PLANE_POINTS
        .iter()
        .map(|&i| (reference[i], current[i]))
        .collect();
    let h = fit_homography(&pairs)?;
    let predicted = crate::render::apply(&h, (reference[NOSE_TIP].x, reference[NOSE_TIP].y));
    let half = half_width(current);
    Some((
        (current[NOSE_TIP].x - predicted.0) / half,
        (current[NOSE_TIP].y - predicted.1) / half,
    ))
}

/// Where the nose tip sits between the jaw sides: -1 at landmark 0, +1 at landmark 16, in the
/// direction of the eye line (the simple yaw cue a flat perspective tilt can also fake).
pub fn nose_position(l: &[Point]) -> f64 {
    let (a, b, n) = (l[0], l[16], l[NOSE_TIP]);
    let d = (b.x - a.x, b.y - a.y);
    let len2 = (d.0 * d.0 + d.1 * d.1).max(1e-9);
    2.0 * ((n.x - a.x) * d.0 + (n.y - a.y) * d.1) / len2 - 1.0
}

/// Half the distance between landmarks 0 and 16.
pub fn half_width(l: &[Point]) -> f64 {
    (((l[16].x - l[0].x).powi(2) + (l[16].y - l[0].y).powi(2)).sqrt() / 2.0).max(1e-9)
}

/// Least-squares homography (h33 = 1) mapping each pair's first point onto its second,
/// on coordinates normalised for conditioning; `None` when degenerate.
pub fn fit_homography(pairs: &[(Point, Point)]) -> Option<[[f64; 3]; 3]> {
    if pairs.len() < 4 {
        return None;
    }
    let (ta, _) = normaliser(pairs.iter().map(|p| p.0));
    let (tb, ib) = normaliser(pairs.iter().map(|p| p.1));
    let mut ata = [[0.0; 8]; 8];
    let mut atb = [0.0; 8];
    for (a, b) in pairs {
        let (x, y) = crate::render::apply(&ta, (a.x, a.y));
        let (u, v) = crate::render::apply(&tb, (b.x, b.y));
        let rows = [
            ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
            ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
        ];
        for (r, rhs) in rows {
            for i in 0..8 {
                atb[i] += r[i] * rhs;
                for j in 0..8 {
                    ata[i][j] += r[i] * r[j];
                }
            }
        }
    }
    let h = solve8(ata, atb)?;
    let hn = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]];
    Some(multiply(&ib, &multiply(&hn, &ta)))
}

/// A similarity moving the points' centroid to 0 and their mean distance to √2, and its inverse.
fn normaliser(points: impl Iterator<Item = Point> + Clone) -> ([[f64; 3]; 3], [[f64; 3]; 3]) {
    let n = points.clone().count().max(1) as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p.x, sy + p.y));
    let (cx, cy) = (sx / n, sy / n);
    let mean = points
        .map(|p| ((p.x - cx).powi(2) + (p.y - cy).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    let s = std::f64::consts::SQRT_2 / mean.max(1e-9);
    (
        [[s, 0.0, -s * cx], [0.0, s, -s * cy], [0.0, 0.0, 1.0]],
        [[1.0 / s, 0.0, cx], [0.0, 1.0 / s, cy], [0.0, 0.0, 1.0]],
    )
}

/// Gaussian elimination with partial pivoting.
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..8 {
            let f = a[row][col] / a[col][col];
            for k in col..8 {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 8];
    for row in (0..8).rev() {
        let s: f64 = (row + 1..8).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}
