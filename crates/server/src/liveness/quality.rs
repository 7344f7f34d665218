//! Capture quality of one live frame, after ISO/IEC 29794-5's face image quality measures: face
//! size and position, exposure, sharpness, a frontal pose and open eyes. Each becomes the one
//! piece of guidance the user should act on first.

use face::{BBox, Point, RgbImage};
use serde::Serialize;

use super::pose;

/// What the user should do about the frame, the most important first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guidance {
    Ok,
    NoFace,
    MultipleFaces,
    MoveCloser,
    MoveBack,
    CenterFace,
    TooDark,
    TooBright,
    Blurry,
    LookStraight,
    HoldStill,
    EyesClosed,
}

/// The thresholds of a usable frame.
#[derive(Debug, Clone, Copy)]
pub struct QualityRules {
    /// Face box width over frame width: below this, "move closer".
    pub min_face_ratio: f64,
    /// Above this, or a box past the frame edges, "move back".
    pub max_face_ratio: f64,
    /// Mean luma of the face box (0-255).
    pub min_luma: f64,
    pub max_luma: f64,
    /// Mean absolute Laplacian of the face box's luma, per pixel.
    pub min_sharpness: f64,
    /// |nose offset across the face| (see [`pose::Frontality`]) of a frontal face.
    pub max_frontal_offset: f64,
    /// Eye aspect ratio below which the eyes count as closed.
    pub min_eye_openness: f64,
}

impl Default for QualityRules {
    fn default() -> Self {
        Self {
            min_face_ratio: 0.2,
            max_face_ratio: 0.8,
            min_luma: 50.0,
            max_luma: 215.0,
            min_sharpness: 2.0,
            // Public photos of people "facing the camera" measure 0.01-0.29; a person asked to
            // look straight manages under 0.1, and the movements are measured relative to this
            // frame anyway, so only a clearly turned head is sent back.
            max_frontal_offset: 0.25,
            min_eye_openness: 0.15,
        }
    }
}

/// The measures of one face in one frame (no pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub face_ratio: f64,
    pub inside: bool,
    pub centre_offset: f64,
    pub luma: f64,
    pub sharpness: f64,
    pub frontal_offset: f64,
    pub eye_openness: f64,
}

/// Measures the face in `bbox` with `landmarks` in `image`.
pub fn measure(image: &RgbImage, bbox: &BBox, landmarks: &[Point]) -> Quality {
    let (w, h) = (f64::from(image.width), f64::from(image.height));
    let inside = bbox.x >= -0.05 * bbox.width
        && bbox.y >= -0.15 * bbox.height
        && bbox.x + bbox.width <= w + 0.05 * bbox.width
        && bbox.y + bbox.height <= h + 0.05 * bbox.height;
    let (cx, cy) = (bbox.x + bbox.width / 2.0, bbox.y + bbox.height / 2.0);
    let centre_offset = ((cx - w / 2.0) / w).abs().max(((cy - h / 2.0) / h).abs());
    let (luma, sharpness) = luma_and_sharpness(image, bbox);
    Quality {
        face_ratio: bbox.width / w,
        inside,
        centre_offset,
        luma,
        sharpness,
        frontal_offset: pose::frontality(landmarks).map_or(1.0, |f| f.across.abs()),
        eye_openness: pose::eye_openness(landmarks).unwrap_or(0.0),
    }
}

impl Quality {
    /// The first thing to fix for a frame to be used (`eyes` also asks for open eyes: enrolment).
    pub fn guidance(&self, rules: &QualityRules, eyes: bool) -> Guidance {
        if self.face_ratio > rules.max_face_ratio || !self.inside {
            Guidance::MoveBack
        } else if self.face_ratio < rules.min_face_ratio {
            Guidance::MoveCloser
        } else if self.centre_offset > 0.25 {
            Guidance::CenterFace
        } else if self.luma < rules.min_luma {
            Guidance::TooDark
        } else if self.luma > rules.max_luma {
            Guidance::TooBright
        } else if self.sharpness < rules.min_sharpness {
            Guidance::Blurry
        } else if self.frontal_offset > rules.max_frontal_offset {
            Guidance::LookStraight
        } else if eyes && self.eye_openness < rules.min_eye_openness {
            Guidance::EyesClosed
        } else {
            Guidance::Ok
        }
    }
}

/// Mean luma and mean absolute 4-neighbour Laplacian over the part of `bbox` inside the image,
/// sampled on a grid of at most 64x64 points so the cost does not grow with the frame.
fn luma_and_sharpness(image: &RgbImage, bbox: &BBox) -> (f64, f64) {
    let (iw, ih) = (image.width as i64, image.height as i64);
    let x0 = (bbox.x.floor() as i64).clamp(1, iw - 2);
    let y0 = (bbox.y.floor() as i64).clamp(1, ih - 2);
    let x1 = ((bbox.x + bbox.width).ceil() as i64).clamp(1, iw - 2);
    let y1 = ((bbox.y + bbox.height).ceil() as i64).clamp(1, ih - 2);
    if x1 <= x0 || y1 <= y0 {
        return (0.0, 0.0);
    }
    let luma = |x: i64, y: i64| {
        let [r, g, b] = image.pixel(x as u32, y as u32);
        0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
    };
    let step_x = ((x1 - x0) / 64).max(1);
    let step_y = ((y1 - y0) / 64).max(1);
    let (mut sum, mut lap, mut n) = (0.0, 0.0, 0.0);
    let mut y = y0;
    while y < y1 {
        let mut x = x0;
        while x < x1 {
            let c = luma(x, y);
            sum += c;
            lap +=
                (4.0 * c - luma(x - 1, y) - luma(x + 1, y) - luma(x, y - 1) - luma(x, y + 1)).abs();
            n += 1.0;
            x += step_x;
        }
        y += step_y;
    }
    (sum / n, lap / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u8) -> RgbImage {
        let mut pixels = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                let v = f(x, y);
                pixels.extend_from_slice(&[v, v, v]);
            }
        }
        RgbImage::from_raw(width, height, pixels).expect("size")
    }

    fn good() -> Quality {
        Quality {
            face_ratio: 0.4,
            inside: true,
            centre_offset: 0.05,
            luma: 120.0,
            sharpness: 8.0,
            frontal_offset: 0.02,
            eye_openness: 0.3,
        }
    }

    #[test]
    fn each_problem_gives_its_own_guidance() {
        let rules = QualityRules::default();
        assert_eq!(good().guidance(&rules, true), Guidance::Ok);
        let cases = [
            (
                Quality {
                    face_ratio: 0.1,
                    ..good()
                },
                Guidance::MoveCloser,
            ),
            (
                Quality {
                    face_ratio: 0.9,
                    ..good()
                },
                Guidance::MoveBack,
            ),
            (
                Quality {
                    inside: false,
                    ..good()
                },
                Guidance::MoveBack,
            ),
            (
                Quality {
                    centre_offset: 0.3,
                    ..good()
                },
                Guidance::CenterFace,
            ),
            (
                Quality {
                    luma: 20.0,
                    ..good()
                },
                Guidance::TooDark,
            ),
            (
                Quality {
                    luma: 240.0,
                    ..good()
                },
                Guidance::TooBright,
            ),
            (
                Quality {
                    sharpness: 0.5,
                    ..good()
                },
                Guidance::Blurry,
            ),
            (
                Quality {
                    frontal_offset: 0.3,
                    ..good()
                },
                Guidance::LookStraight,
            ),
            (
                Quality {
                    eye_openness: 0.05,
                    ..good()
                },
                Guidance::EyesClosed,
            ),
        ];
        for (q, expected) in cases {
            assert_eq!(q.guidance(&rules, true), expected, "{q:?}");
        }
        // Closed eyes matter only where asked (enrolment).
        assert_eq!(
            Quality {
                eye_openness: 0.05,
                ..good()
            }
            .guidance(&rules, false),
            Guidance::Ok
        );
    }

    #[test]
    fn a_flat_grey_face_box_is_blurry_and_a_textured_one_is_sharp() {
        let bbox = BBox {
            x: 10.0,
            y: 10.0,
            width: 60.0,
            height: 60.0,
        };
        let flat = image(80, 80, |_, _| 128);
        let textured = image(
            80,
            80,
            |x, y| if (x / 2 + y / 2) % 2 == 0 { 60 } else { 190 },
        );
        let (luma, sharp) = luma_and_sharpness(&flat, &bbox);
        assert!((luma - 128.0).abs() < 1.0 && sharp < 0.01, "{luma} {sharp}");
        let (_, sharp) = luma_and_sharpness(&textured, &bbox);
        assert!(
            sharp > QualityRules::default().min_sharpness * 10.0,
            "{sharp}"
        );
    }

    #[test]
    fn a_dark_frame_measures_dark() {
        let bbox = BBox {
            x: 0.0,
            y: 0.0,
            width: 40.0,
            height: 40.0,
        };
        let (luma, _) = luma_and_sharpness(&image(40, 40, |_, _| 20), &bbox);
        assert!(luma < QualityRules::default().min_luma);
    }
}
