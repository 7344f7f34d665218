//! Face boxes to crops (spec §5.1, §6): `clipAtImageBorders` + `floor`, and `alignDlib`, each
//! reproduced with its quirks, since a one-pixel difference in the crop moves a descriptor by
//! up to ~0.1.

use crate::kernels::CropRect;
use crate::pipeline::{BBox, Point};

/// `box.clipAtImageBorders(W, H)` then `floor` of each field independently, as
/// `extractFaceTensors` does. `None` when the result has no area (vladmandic drops such boxes)
/// or any value is not finite.
pub fn clip_floor(b: BBox, width: u32, height: u32) -> Option<CropRect> {
    if ![b.x, b.y, b.width, b.height].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (iw, ih) = (f64::from(width), f64::from(height));
    let cx = b.x.max(0.0);
    let cy = b.y.max(0.0);
    let cw = (b.x + b.width - cx).min(iw - cx);
    let ch = (b.y + b.height - cy).min(ih - cy);
    let (x, y, w, h) = (cx.floor(), cy.floor(), cw.floor(), ch.floor());
    if ![x, y, w, h].iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
        return None;
    }
    let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
    // floor(cx) + floor(cw) never exceeds the width for finite in-range values, but guard anyway.
    if x >= width as usize || y >= height as usize {
        return None;
    }
    Some(CropRect {
        x,
        y,
        w: w.min(width as usize - x),
        h: h.min(height as usize - y),
    })
}

/// Mean of `pts`, a left-to-right f64 sum divided by the count.
fn mean(pts: &[Point]) -> Point {
    let (sx, sy) = pts
        .iter()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p.x, sy + p.y));
    let n = pts.len() as f64;
    Point {
        x: sx / n,
        y: sy / n,
    }
}

/// `FaceLandmarks.align(null, { useDlibAlignment: true })`: a square rect from the eye and mouth
/// centers of the 68 `points`. `img_w`/`img_h` are the landmark object's image dims (the face
/// crop's size in the pipeline), used in the source's `min(size, imgW + x)`, kept as written.
pub fn align_dlib(points: &[Point], img_w: f64, img_h: f64) -> BBox {
    if points.len() < 68 {
        return BBox {
            x: 0.0,
            y: 0.0,
            width: 0.0,
            height: 0.0,
        };
    }
    let left = mean(&points[36..42]);
    let right = mean(&points[42..48]);
    let mouth = mean(&points[48..68]);
    let dist = |a: Point, b: Point| ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
    let e = (dist(mouth, left) + dist(mouth, right)) / 2.0;
    let size = (e / 0.45).floor();
    let ref_pt = mean(&[left, right, mouth]);
    let x = (ref_pt.x - 0.5 * size).max(0.0).floor();
    let y = (ref_pt.y - 0.43 * size).max(0.0).floor();
    BBox {
        x,
        y,
        width: size.min(img_w + x),
        height: size.min(img_h + y),
    }
}

/// `alignMinBbox(0.2)`: the points' bounding box grown by 10 % per side (the max accumulators
/// start at 0, as in the source).
pub fn align_min_bbox(points: &[Point], padding: f64) -> BBox {
    let min_x = points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let min_y = points.iter().map(|p| p.y).fold(f64::INFINITY, f64::min);
    let max_x = points.iter().map(|p| p.x).fold(0.0, f64::max);
    let max_y = points.iter().map(|p| p.y).fold(0.0, f64::max);
    let (w, h) = (max_x - min_x, max_y - min_y);
    BBox {
        x: min_x - w * padding / 2.0,
        y: min_y - h * padding / 2.0,
        width: w + w * padding,
        height: h + h * padding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bbox(x: f64, y: f64, width: f64, height: f64) -> BBox {
        BBox {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn clip_floors_each_field_independently() {
        let r = clip_floor(bbox(10.7, 20.2, 30.6, 40.9), 100, 100).expect("inside");
        // cw = 30.6 -> 30, not ceil(41.3) - floor(10.7) = 31.
        assert_eq!(
            r,
            CropRect {
                x: 10,
                y: 20,
                w: 30,
                h: 40
            }
        );
    }

    #[test]
    fn clip_cuts_boxes_hanging_over_the_edges() {
        let r = clip_floor(bbox(-5.5, 90.0, 20.0, 30.0), 100, 100).expect("partly inside");
        assert_eq!(
            r,
            CropRect {
                x: 0,
                y: 90,
                w: 14,
                h: 10
            }
        );
    }

    #[test]
    fn boxes_outside_or_empty_give_none() {
        assert_eq!(clip_floor(bbox(200.0, 10.0, 20.0, 20.0), 100, 100), None);
        assert_eq!(clip_floor(bbox(-50.0, 10.0, 20.0, 20.0), 100, 100), None);
        assert_eq!(clip_floor(bbox(10.0, 10.0, 0.5, 20.0), 100, 100), None);
        assert_eq!(clip_floor(bbox(f64::NAN, 10.0, 5.0, 20.0), 100, 100), None);
    }

    #[test]
    fn align_dlib_is_a_square_from_eye_and_mouth_centers() {
        // Eyes at (30, 40) and (70, 40), mouth at (50, 80).
        let mut pts = vec![Point { x: 0.0, y: 0.0 }; 68];
        pts[36..42].fill(Point { x: 30.0, y: 40.0 });
        pts[42..48].fill(Point { x: 70.0, y: 40.0 });
        pts[48..68].fill(Point { x: 50.0, y: 80.0 });
        let r = align_dlib(&pts, 100.0, 100.0);
        let e = (20.0f64 * 20.0 + 40.0 * 40.0).sqrt();
        let size = (e / 0.45).floor();
        let ref_y = (40.0 + 40.0 + 80.0) / 3.0;
        assert_eq!(r.width, size);
        assert_eq!(r.height, size);
        assert_eq!(r.x, (50.0 - 0.5 * size).max(0.0).floor());
        assert_eq!(r.y, (ref_y - 0.43 * size).max(0.0).floor());
    }

    #[test]
    fn min_bbox_grows_ten_percent_per_side() {
        let pts = [Point { x: 10.0, y: 20.0 }, Point { x: 110.0, y: 70.0 }];
        assert_eq!(align_min_bbox(&pts, 0.2), bbox(0.0, 15.0, 120.0, 60.0));
    }
}
