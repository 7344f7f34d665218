//! Head movement from the 68 landmarks, measured so that moving a flat picture never reads as a
//! turn of the head.
//!
//! Every motion of a flat picture in front of a camera (shift, scale, in-plane rotation, a
//! squeeze, a tilt of the print in 3-D seen in perspective) maps its points by one plane
//! homography. So the landmarks of the face *outline* (the jaw up to the cheeks, the brows and
//! the eye corners) are mapped from the frame taken facing the camera to the current frame by a
//! fitted homography, and the nose tip, which stands well in front of those points on a real
//! head, is compared with where that homography puts it. On a picture the nose lands where the
//! homography says (up to landmark noise); on a head that turned, the nose has moved sideways
//! against the outline by its depth times the sine of the angle: the parallax.
//!
//! The parallax is expressed in the face's own axes (x from the face's right edge to its left
//! edge as seen in the frame, y down the face) and in units of the outer eye-corner distance, so
//! it does not depend on where the face is in the frame or how large it is. The outline is not
//! one plane either (the jaw lies far behind the eye corners), so the fit leaves more than the
//! nose's own depth: rendered heads of five people turned 20° read 0.3-0.5, any motion of a
//! flat picture under 0.1 (the thresholds are in [`super::check::CheckRules`]).

use face::Point;

/// Landmarks that lie near one depth on a real face and barely move with expressions: the upper
/// jaw line, the brows and the four eye corners.
const OUTLINE: [usize; 24] = [
    0, 1, 2, 3, 4, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 36, 39, 42, 45,
];
/// The nose tip, the point furthest in front of the outline.
const NOSE_TIP: usize = 30;
/// Outer eye corners: the subject's right eye (image left) and left eye (image right).
const RIGHT_EYE_OUTER: usize = 36;
const LEFT_EYE_OUTER: usize = 45;
const JAW_RIGHT: usize = 0;
const JAW_LEFT: usize = 16;
const CHIN: usize = 8;

/// How the head moved since the reference frame: the nose's parallax against the outline, in
/// eye-corner distances. `yaw` > 0: the nose moved towards the image's +x, which is the user
/// turning to their own left; `pitch` > 0: the nose moved up, the user looking up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Movement {
    pub yaw: f64,
    pub pitch: f64,
}

/// A 3x3 projective transform of the image plane, `h[2][2]` fixed to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography([[f64; 3]; 3]);

impl Homography {
    /// Least-squares homography taking `from[i]` to `to[i]` (at least 4 points, not collinear);
    /// `None` when the points do not determine one.
    pub fn fit(from: &[Point], to: &[Point]) -> Option<Self> {
        if from.len() != to.len() || from.len() < 4 {
            return None;
        }
        // Normalise both sets (centroid at 0, mean distance sqrt 2) so the normal equations are
        // well conditioned whatever the pixel scale.
        let (nf, f) = normalise(from)?;
        let (nt, t) = normalise(to)?;
        let mut ata = [[0.0f64; 8]; 8];
        let mut atb = [0.0f64; 8];
        for (p, q) in f.iter().zip(&t) {
            let rows = [
                ([p.x, p.y, 1.0, 0.0, 0.0, 0.0, -p.x * q.x, -p.y * q.x], q.x),
                ([0.0, 0.0, 0.0, p.x, p.y, 1.0, -p.x * q.y, -p.y * q.y], q.y),
            ];
            for (row, rhs) in rows {
                for i in 0..8 {
                    atb[i] += row[i] * rhs;
                    for j in 0..8 {
                        ata[i][j] += row[i] * row[j];
                    }
                }
            }
        }
        let h = solve8(ata, atb)?;
        let normalised = Homography([[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]]);
        // to = nt^-1 * H * nf * from
        let full = nt.inverse()?.then(&normalised.then(&nf));
        full.normalised()
    }

    /// Where the transform puts `p`; `None` at the line at infinity.
    pub fn apply(&self, p: Point) -> Option<Point> {
        let m = &self.0;
        let w = m[2][0] * p.x + m[2][1] * p.y + m[2][2];
        if w.abs() < 1e-12 {
            return None;
        }
        Some(Point {
            x: (m[0][0] * p.x + m[0][1] * p.y + m[0][2]) / w,
            y: (m[1][0] * p.x + m[1][1] * p.y + m[1][2]) / w,
        })
    }

    /// `other` first, then `self`.
    fn then(&self, other: &Homography) -> Homography {
        let (a, b) = (&self.0, &other.0);
        let mut m = [[0.0; 3]; 3];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
            }
        }
        Homography(m)
    }

    fn inverse(&self) -> Option<Homography> {
        let m = &self.0;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        if det.abs() < 1e-15 {
            return None;
        }
        let c = |r0: usize, c0: usize, r1: usize, c1: usize| {
            m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
        };
        Some(Homography([
            [
                c(1, 1, 2, 2) / det,
                -c(0, 1, 2, 2) / det,
                c(0, 1, 1, 2) / det,
            ],
            [
                -c(1, 0, 2, 2) / det,
                c(0, 0, 2, 2) / det,
                -c(0, 0, 1, 2) / det,
            ],
            [
                c(1, 0, 2, 1) / det,
                -c(0, 0, 2, 1) / det,
                c(0, 0, 1, 1) / det,
            ],
        ]))
    }

    fn normalised(self) -> Option<Homography> {
        let s = self.0[2][2];
        if s.abs() < 1e-15 || !s.is_finite() {
            return None;
        }
        Some(Homography(self.0.map(|row| row.map(|v| v / s))))
    }
}

/// Similarity that moves `points` to centroid 0 and mean distance sqrt 2 (Hartley), and the
/// moved points.
fn normalise(points: &[Point]) -> Option<(Homography, Vec<Point>)> {
    let n = points.len() as f64;
    let cx = points.iter().map(|p| p.x).sum::<f64>() / n;
    let cy = points.iter().map(|p| p.y).sum::<f64>() / n;
    let mean = points
        .iter()
        .map(|p| (p.x - cx).hypot(p.y - cy))
        .sum::<f64>()
        / n;
    if !(mean > 1e-9) {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean;
    let moved = points
        .iter()
        .map(|p| Point {
            x: (p.x - cx) * s,
            y: (p.y - cy) * s,
        })
        .collect();
    Some((
        Homography([[s, 0.0, -cx * s], [0.0, s, -cy * s], [0.0, 0.0, 1.0]]),
        moved,
    ))
}

/// Solves the 8x8 system by Gaussian elimination with partial pivoting.
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
        let rest: f64 = (row + 1..8).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

fn pick(landmarks: &[Point], indices: &[usize]) -> Vec<Point> {
    indices.iter().map(|&i| landmarks[i]).collect()
}

fn distance(a: Point, b: Point) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// The head movement from `reference` (landmarks of a frame facing the camera) to `current`;
/// `None` when either is not a 68-point set or the outline is degenerate.
pub fn movement(reference: &[Point], current: &[Point]) -> Option<Movement> {
    if reference.len() != 68 || current.len() != 68 {
        return None;
    }
    let h = Homography::fit(&pick(reference, &OUTLINE), &pick(current, &OUTLINE))?;
    let predicted = h.apply(reference[NOSE_TIP])?;
    let actual = current[NOSE_TIP];
    let (dx, dy) = (actual.x - predicted.x, actual.y - predicted.y);
    let (right, left) = (current[RIGHT_EYE_OUTER], current[LEFT_EYE_OUTER]);
    let unit = distance(right, left);
    if !(unit > 1e-6) {
        return None;
    }
    // The face's own axes: x across the eyes, y perpendicular (down the face).
    let (ax, ay) = ((left.x - right.x) / unit, (left.y - right.y) / unit);
    let along = dx * ax + dy * ay;
    let down = -dx * ay + dy * ax;
    Some(Movement {
        yaw: along / unit,
        pitch: -down / unit,
    })
}

/// How far the face is from facing the camera, from one frame alone: the nose tip's offset from
/// the middle of the jaw line across the face (0 facing the camera, ±0.5 at the jaw's ends) and
/// its height between the eye line and the chin (about 0.4 facing the camera). Rough by nature
/// (faces differ), used only to ask for a frontal pose before the check starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frontality {
    pub across: f64,
    pub down: f64,
}

/// See [`Frontality`]; `None` for a degenerate landmark set.
pub fn frontality(landmarks: &[Point]) -> Option<Frontality> {
    if landmarks.len() != 68 {
        return None;
    }
    let (jr, jl) = (landmarks[JAW_RIGHT], landmarks[JAW_LEFT]);
    let width = distance(jr, jl);
    let nose = landmarks[NOSE_TIP];
    let eyes = Point {
        x: (landmarks[RIGHT_EYE_OUTER].x + landmarks[LEFT_EYE_OUTER].x) / 2.0,
        y: (landmarks[RIGHT_EYE_OUTER].y + landmarks[LEFT_EYE_OUTER].y) / 2.0,
    };
    let chin = landmarks[CHIN];
    let height = distance(eyes, chin);
    if !(width > 1e-6 && height > 1e-6) {
        return None;
    }
    let (ax, ay) = ((jl.x - jr.x) / width, (jl.y - jr.y) / width);
    let mid = Point {
        x: (jr.x + jl.x) / 2.0,
        y: (jr.y + jl.y) / 2.0,
    };
    let across = ((nose.x - mid.x) * ax + (nose.y - mid.y) * ay) / width;
    let down = (-(nose.x - eyes.x) * ay + (nose.y - eyes.y) * ax) / height;
    Some(Frontality { across, down })
}

/// Eye aspect ratio (height over width, both eyes averaged): about 0.25-0.35 open, under 0.15
/// closed.
pub fn eye_openness(landmarks: &[Point]) -> Option<f64> {
    if landmarks.len() != 68 {
        return None;
    }
    let eye = |c0: usize| {
        let p = |i: usize| landmarks[c0 + i];
        let width = distance(p(0), p(3));
        let height = (distance(p(1), p(5)) + distance(p(2), p(4))) / 2.0;
        (width > 1e-6).then(|| height / width)
    };
    Some((eye(36)? + eye(42)?) / 2.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A rough 3-D face for tests only: the 68 points of a frontal face (units of the outer
    /// eye-corner distance, x to the image's right, y down) with a depth each (z towards the
    /// camera). The production code never uses depths.
    pub(crate) fn test_head() -> Vec<[f64; 3]> {
        let mut pts = Vec::with_capacity(68);
        // Jaw 0..16: a U from ear level (y -0.1) down to the chin (y 1.05), depth from -0.9 at
        // the ears (a head's sides are about one eye-corner distance behind its nose tip) to
        // -0.15 at the chin.
        for i in 0..17 {
            let t = (i as f64 - 8.0) / 8.0; // -1 .. 1
            let angle = t * std::f64::consts::FRAC_PI_2 * 0.95;
            pts.push([
                0.75 * angle.sin(),
                1.05 - 1.15 * angle.cos().powf(0.8),
                -0.9 + 0.75 * angle.cos(),
            ]);
        }
        // Brows 17..26.
        for i in 0..10 {
            let side = if i < 5 { -1.0 } else { 1.0 };
            let k = (i % 5) as f64 / 4.0;
            let x = if side < 0.0 {
                -0.62 + 0.5 * k
            } else {
                0.12 + 0.5 * k
            };
            pts.push([x, -0.28 - 0.06 * (1.0 - (2.0 * k - 1.0).powi(2)), 0.0]);
        }
        // Nose bridge 27..30 then nostrils 31..35.
        for i in 0..4 {
            let k = i as f64 / 3.0;
            pts.push([0.0, -0.1 + 0.5 * k, 0.05 + 0.25 * k]);
        }
        for i in 0..5 {
            let k = (i as f64 - 2.0) / 2.0;
            pts.push([
                0.16 * k,
                0.48 + 0.03 * (1.0 - k * k),
                0.12 + 0.06 * (1.0 - k * k),
            ]);
        }
        // Eyes 36..47: six points each around an ellipse.
        for centre in [-0.35, 0.35] {
            for j in 0..6 {
                let a = std::f64::consts::PI * (1.0 + j as f64 / 3.0);
                let x = centre + 0.15 * a.cos();
                pts.push([x, 0.0 + 0.05 * a.sin(), -0.05]);
            }
        }
        // Mouth 48..67: outer then inner ring.
        for (n, r) in [(12, 1.0), (8, 0.7)] {
            for j in 0..n {
                let a = 2.0 * std::f64::consts::PI * j as f64 / n as f64;
                pts.push([-0.3 * r * a.cos(), 0.75 - 0.1 * r * a.sin(), 0.05]);
            }
        }
        assert_eq!(pts.len(), 68);
        pts
    }

    /// Rotates the head (yaw about the vertical axis, then pitch) about a centre behind the face
    /// and projects it with a pinhole camera `distance` units away, `f` pixels per unit at the
    /// face, shifted to (`cx`, `cy`).
    pub(crate) fn project(
        head: &[[f64; 3]],
        yaw_deg: f64,
        pitch_deg: f64,
        shift: (f64, f64),
    ) -> Vec<Point> {
        let (y, p) = (yaw_deg.to_radians(), pitch_deg.to_radians());
        let pivot = -0.8;
        let (distance, f) = (5.0, 100.0);
        head.iter()
            .map(|&[x, yy, z]| {
                // Yaw: the user's left turn brings the nose towards +x in the image.
                let z0 = z - pivot;
                let (x1, z1) = (x * y.cos() + z0 * y.sin(), -x * y.sin() + z0 * y.cos());
                // Pitch: looking up brings the nose towards -y.
                let (y2, z2) = (yy * p.cos() - z1 * p.sin(), yy * p.sin() + z1 * p.cos());
                let depth = distance - (z2 + pivot);
                Point {
                    x: 160.0 + shift.0 + f * distance * x1 / depth,
                    y: 120.0 + shift.1 + f * distance * y2 / depth,
                }
            })
            .collect()
    }

    /// A flat picture of the frontal face, tilted about a vertical axis by `tilt_deg`, rotated in
    /// plane, scaled and shifted: every point moved by one homography.
    fn flat_motion(
        frontal: &[Point],
        tilt_deg: f64,
        roll_deg: f64,
        scale: f64,
        shift: (f64, f64),
    ) -> Vec<Point> {
        let (t, r) = (tilt_deg.to_radians(), roll_deg.to_radians());
        frontal
            .iter()
            .map(|p| {
                let (x, y) = ((p.x - 160.0) / 100.0, (p.y - 120.0) / 100.0);
                // The print is a plane at distance 5; tilting it gives x' = x cos t, z' = x sin t.
                let (xt, zt) = (x * t.cos(), x * t.sin());
                let depth = 5.0 - zt;
                let (px, py) = (5.0 * xt / depth, 5.0 * y / depth);
                let (qx, qy) = (px * r.cos() - py * r.sin(), px * r.sin() + py * r.cos());
                Point {
                    x: 160.0 + shift.0 + 100.0 * scale * qx,
                    y: 120.0 + shift.1 + 100.0 * scale * qy,
                }
            })
            .collect()
    }

    #[test]
    fn homography_fit_recovers_a_known_transform() {
        let h = Homography([[1.1, 0.2, 5.0], [-0.1, 0.9, -3.0], [0.001, 0.0005, 1.0]]);
        let from: Vec<Point> = (0..10)
            .map(|i| Point {
                x: f64::from(i * 13 % 7) * 10.0,
                y: f64::from(i * 5 % 11) * 9.0,
            })
            .collect();
        let to: Vec<Point> = from.iter().map(|&p| h.apply(p).expect("finite")).collect();
        let fitted = Homography::fit(&from, &to).expect("fit");
        for (a, b) in fitted.0.iter().flatten().zip(h.0.iter().flatten()) {
            assert!((a - b).abs() < 1e-6, "{fitted:?} vs {h:?}");
        }
    }

    #[test]
    fn collinear_points_determine_no_homography() {
        let line: Vec<Point> = (0..6)
            .map(|i| Point {
                x: f64::from(i),
                y: 2.0 * f64::from(i),
            })
            .collect();
        assert!(Homography::fit(&line, &line).is_none());
    }

    #[test]
    fn a_real_turn_of_twenty_degrees_shows_parallax_in_its_direction() {
        let head = test_head();
        let frontal = project(&head, 0.0, 0.0, (0.0, 0.0));
        let left = movement(&frontal, &project(&head, 20.0, 0.0, (0.0, 0.0))).expect("left");
        let right = movement(&frontal, &project(&head, -20.0, 0.0, (0.0, 0.0))).expect("right");
        let up = movement(&frontal, &project(&head, 0.0, 20.0, (0.0, 0.0))).expect("up");
        let down = movement(&frontal, &project(&head, 0.0, -20.0, (0.0, 0.0))).expect("down");
        eprintln!("{left:?} {right:?} {up:?} {down:?}");
        assert!(left.yaw > 0.18 && left.pitch.abs() < 0.08, "{left:?}");
        assert!(right.yaw < -0.18 && right.pitch.abs() < 0.08, "{right:?}");
        assert!(up.pitch > 0.16 && up.yaw.abs() < 0.08, "{up:?}");
        assert!(down.pitch < -0.16 && down.yaw.abs() < 0.08, "{down:?}");
    }

    #[test]
    fn a_turn_off_centre_reads_like_the_same_turn_in_the_centre() {
        let head = test_head();
        let centred = movement(
            &project(&head, 0.0, 0.0, (0.0, 0.0)),
            &project(&head, 20.0, 0.0, (0.0, 0.0)),
        )
        .expect("centred");
        let shifted = movement(
            &project(&head, 0.0, 0.0, (90.0, -60.0)),
            &project(&head, 20.0, 0.0, (90.0, -60.0)),
        )
        .expect("shifted");
        assert!(
            (centred.yaw - shifted.yaw).abs() < 0.01,
            "{centred:?} vs {shifted:?}"
        );
    }

    #[test]
    fn moving_a_flat_picture_shows_no_parallax() {
        let frontal = project(&test_head(), 0.0, 0.0, (0.0, 0.0));
        for (tilt, roll, scale, shift) in [
            (40.0, 0.0, 1.0, (0.0, 0.0)),
            (-40.0, 0.0, 1.0, (0.0, 0.0)),
            (30.0, 10.0, 0.7, (40.0, 10.0)),
            (0.0, -15.0, 1.3, (-50.0, 20.0)),
        ] {
            let moved = flat_motion(&frontal, tilt, roll, scale, shift);
            let m = movement(&frontal, &moved).expect("movement");
            assert!(
                m.yaw.abs() < 1e-6 && m.pitch.abs() < 1e-6,
                "tilt {tilt}: {m:?}"
            );
        }
    }

    #[test]
    fn frontality_is_centred_facing_the_camera_and_off_when_turned() {
        let head = test_head();
        let f0 = frontality(&project(&head, 0.0, 0.0, (0.0, 0.0))).expect("frontal");
        let f30 = frontality(&project(&head, 30.0, 0.0, (0.0, 0.0))).expect("turned");
        assert!(f0.across.abs() < 0.02, "{f0:?}");
        assert!(f30.across > 0.1, "{f30:?}");
    }

    #[test]
    fn eye_openness_of_the_test_head_is_open() {
        let eyes = eye_openness(&project(&test_head(), 0.0, 0.0, (0.0, 0.0))).expect("eyes");
        assert!(eyes > 0.15, "{eyes}");
    }
}
