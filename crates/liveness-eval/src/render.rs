//! A 2.5-D head renderer: one frontal photo becomes a head that turns in 3-D.
//!
//! The 68 landmarks of the photo's face get the depths of a generic head (an ellipsoid with a
//! nose ridge and eye sockets, scaled from the landmark geometry and randomised per attempt by
//! [`HeadShape`]); extra points above the brows, a ring around the head and the frame's border
//! complete the mesh, which is triangulated once in the frontal view. A pose rotates the head's
//! vertices (never the background) about a centre behind the face, a pinhole camera with a
//! webcam's ~60° horizontal field of view projects them, and the photo is the texture: the nose
//! moves against the face outline as it would on a real head, which no planar warp of the photo
//! can reproduce.

use face::{Engine, PipelineOptions, Point, RgbImage};

/// Horizontal field of view of the simulated webcam.
const FOV_DEG: f64 = 60.0;
/// Extra texture around the frame so that camera jitter and head motion never sample outside.
const MARGIN: f64 = 48.0;
/// How far behind the jaw-side plane the head turns, in half face widths (a neck axis ~2.5 cm
/// behind the ears' front for a 14 cm wide face).
const PIVOT_BEHIND: f64 = 0.35;
/// Depth of the ring of points around the head (the sides and top curving away), half widths.
const RING_DEPTH: f64 = -0.25;

/// Why a photo could not become a head.
#[derive(Debug)]
#[non_exhaustive]
pub enum RenderError {
    Decode(face::FaceError),
    NoFace,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "photo could not be read: {e}"),
            Self::NoFace => write!(f, "the SSD detector found no face in the photo"),
        }
    }
}

impl std::error::Error for RenderError {}

/// A head pose in degrees. `yaw > 0` is a turn to the user's own left (the nose moves towards
/// the image's +x in the unmirrored camera frame); `pitch > 0` looks up; `roll > 0` tilts the
/// head clockwise in the image.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pose {
    pub yaw: f64,
    pub pitch: f64,
    pub roll: f64,
}

impl Pose {
    pub const FRONTAL: Pose = Pose {
        yaw: 0.0,
        pitch: 0.0,
        roll: 0.0,
    };

    pub fn yaw(yaw: f64) -> Self {
        Self {
            yaw,
            ..Self::FRONTAL
        }
    }

    pub fn pitch(pitch: f64) -> Self {
        Self {
            pitch,
            ..Self::FRONTAL
        }
    }
}

/// The generic head model's proportions for one attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadShape {
    /// Multiplies every depth (1.0: the face's front is 0.95 half-widths before the jaw sides).
    pub depth_scale: f64,
    /// Multiplies the nose's protrusion over the ellipsoid.
    pub nose_scale: f64,
}

impl HeadShape {
    pub const GENERIC: HeadShape = HeadShape {
        depth_scale: 1.0,
        nose_scale: 1.0,
    };

    /// ±25 % on both, so that no evaluation relies on one exact model.
    pub fn random(rng: &mut impl rand::Rng) -> Self {
        Self {
            depth_scale: rng.gen_range(0.75..=1.25),
            nose_scale: rng.gen_range(0.75..=1.25),
        }
    }
}

/// Where the face sits in the output frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Framing {
    pub width: u32,
    pub height: u32,
    /// Jaw width (landmark 0 to 16) as a share of the frame width.
    pub face_fraction: f64,
    /// Face centre in the frame, as shares of width and height.
    pub centre: (f64, f64),
}

impl Framing {
    /// A 320×240 webcam frame, face 30–45 % of the width, near the centre.
    pub fn random_webcam(rng: &mut impl rand::Rng) -> Self {
        Self {
            width: 320,
            height: 240,
            face_fraction: rng.gen_range(0.30..=0.45),
            centre: (rng.gen_range(0.45..=0.55), rng.gen_range(0.45..=0.55)),
        }
    }

    pub fn centred(width: u32, height: u32, face_fraction: f64) -> Self {
        Self {
            width,
            height,
            face_fraction,
            centre: (0.5, 0.5),
        }
    }
}

/// A mouth expression applied by moving the mouth's mesh vertices (0: neutral, 1: full smile).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Expression {
    pub smile: f64,
}

/// A global 2-D motion of the whole picture (camera shake, the user's small shifts): applied
/// after projection, about the frame centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shake {
    pub dx: f64,
    pub dy: f64,
    pub scale: f64,
}

impl Shake {
    pub const NONE: Shake = Shake {
        dx: 0.0,
        dy: 0.0,
        scale: 1.0,
    };
}

/// A decoded photo and the landmarks of its largest face (SSD MobileNetV1, as at enrolment).
pub struct Photo {
    image: RgbImage,
    landmarks: Vec<Point>,
}

impl Photo {
    pub fn from_bytes(engine: &Engine, bytes: &[u8]) -> Result<Self, RenderError> {
        let image = face::decode_image(bytes, &face::ImageLimits::default())
            .map_err(RenderError::Decode)?;
        let options = PipelineOptions {
            detector: face::DetectorOptions::ssd(),
            ..PipelineOptions::default()
        };
        let faces = engine
            .describe_all(&image, &options)
            .map_err(RenderError::Decode)?;
        let largest = faces
            .into_iter()
            .max_by(|a, b| {
                let area = |f: &face::Face| f.detection.bbox.width * f.detection.bbox.height;
                area(a).total_cmp(&area(b))
            })
            .ok_or(RenderError::NoFace)?;
        Ok(Self {
            image,
            landmarks: largest.landmarks,
        })
    }

    pub fn landmarks(&self) -> &[Point] {
        &self.landmarks
    }
}

#[derive(Debug, Clone, Copy)]
struct Vertex {
    /// Position in the frontal frame (pixels).
    frontal: (f64, f64),
    /// Towards the camera from the jaw-side plane, pixels.
    depth: f64,
    /// Part of the head (rotates) or of the background (stays).
    head: bool,
}

/// The face's own axes in the frontal frame: centre at the nose's middle height between the jaw
/// sides, `ex` along the eyes, `ey` down the face, `half_width` half the jaw width.
#[derive(Debug, Clone, Copy)]
struct FaceAxes {
    centre: (f64, f64),
    ex: (f64, f64),
    ey: (f64, f64),
    half_width: f64,
}

impl FaceAxes {
    fn from_landmarks(l: &[Point]) -> Self {
        let (a, b) = (l[0], l[16]);
        let half_width = (((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt() / 2.0).max(1.0);
        let eye = (l[45].x - l[36].x, l[45].y - l[36].y);
        let n = (eye.0.powi(2) + eye.1.powi(2)).sqrt().max(1e-9);
        let ex = (eye.0 / n, eye.1 / n);
        let ey = (-ex.1, ex.0);
        let mid = ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
        let down = (l[29].x - mid.0) * ey.0 + (l[29].y - mid.1) * ey.1;
        Self {
            centre: (mid.0 + ey.0 * down, mid.1 + ey.1 * down),
            ex,
            ey,
            half_width,
        }
    }

    /// Face coordinates (half widths) of a frame point.
    fn local(&self, p: (f64, f64)) -> (f64, f64) {
        let d = (p.0 - self.centre.0, p.1 - self.centre.1);
        (
            (d.0 * self.ex.0 + d.1 * self.ex.1) / self.half_width,
            (d.0 * self.ey.0 + d.1 * self.ey.1) / self.half_width,
        )
    }

    /// The frame point of face coordinates (half widths).
    fn frame(&self, u: f64, v: f64) -> (f64, f64) {
        let h = self.half_width;
        (
            self.centre.0 + (u * self.ex.0 + v * self.ey.0) * h,
            self.centre.1 + (u * self.ex.1 + v * self.ey.1) * h,
        )
    }
}

/// Depth (half widths, towards the camera) of the head's ellipsoid at face coordinates `(u, v)`.
fn ellipsoid_depth(u: f64, v: f64) -> f64 {
    0.95 * (1.0 - u * u - (v / 1.75).powi(2)).max(0.0).sqrt()
}

/// What a facial feature adds to the ellipsoid at landmark `i`, half widths: the nose ridge
/// rising to its tip, the nostrils, eye sockets, lips.
fn feature_depth(i: usize, shape: HeadShape) -> f64 {
    const NOSE: [f64; 9] = [0.08, 0.18, 0.30, 0.42, 0.14, 0.22, 0.27, 0.22, 0.14];
    match i {
        27..=35 => NOSE[i - 27] * shape.nose_scale,
        36..=47 => -0.08,
        48..=67 => 0.03,
        _ => 0.0,
    }
}

/// Displacement of mouth landmark `i` for a full smile, in face coordinates (half widths): the
/// corners outward and up, the lips following, the lower lip a little down.
fn smile_offset(i: usize) -> (f64, f64) {
    match i {
        48 => (-0.11, -0.08),
        54 => (0.11, -0.08),
        49 | 59 | 60 => (-0.06, -0.045),
        53 | 55 | 64 => (0.06, -0.045),
        50 | 61 => (-0.025, -0.02),
        52 | 63 => (0.025, -0.02),
        58 | 67 => (-0.03, 0.0),
        56 | 65 => (0.03, 0.0),
        57 | 66 => (0.0, 0.025),
        3..=5 => (0.0, -0.025),
        11..=13 => (0.0, -0.025),
        31 => (-0.015, -0.01),
        35 => (0.015, -0.01),
        _ => (0.0, 0.0),
    }
}

/// An RGB texture in f32 for bilinear sampling; clamps at its edges.
struct Texture {
    width: usize,
    height: usize,
    pixels: Vec<[f32; 3]>,
}

impl Texture {
    /// The photo resampled into frame coordinates (plus [`MARGIN`]): `scale` frame pixels per
    /// photo pixel, photo point `anchor` at frame point `at`. Box-filtered first when shrinking,
    /// so a large photo does not alias.
    fn from_photo(
        image: &RgbImage,
        scale: f64,
        anchor: (f64, f64),
        at: (f64, f64),
        size: (u32, u32),
    ) -> Self {
        let factor = (1.0 / scale).floor().max(1.0) as usize;
        let reduced = box_reduce(image, factor);
        let width = size.0 as usize + 2 * MARGIN as usize;
        let height = size.1 as usize + 2 * MARGIN as usize;
        let mut pixels = Vec::with_capacity(width * height);
        for ty in 0..height {
            for tx in 0..width {
                let fx = tx as f64 - MARGIN;
                let fy = ty as f64 - MARGIN;
                let sx = anchor.0 + (fx - at.0) / scale;
                let sy = anchor.1 + (fy - at.1) / scale;
                let r = factor as f64;
                pixels.push(reduced.sample((sx + 0.5) / r - 0.5, (sy + 0.5) / r - 0.5));
            }
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    /// Bilinear sample at texel coordinates (texel centres at integers).
    fn sample(&self, x: f64, y: f64) -> [f32; 3] {
        let x = x.clamp(0.0, (self.width - 1) as f64);
        let y = y.clamp(0.0, (self.height - 1) as f64);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let at = |xx: usize, yy: usize| self.pixels[yy * self.width + xx];
        let (a, b, c, d) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
        let mut out = [0.0; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bottom - top) * fy;
        }
        out
    }
}

/// Averages `factor`×`factor` blocks (edge blocks over what exists).
fn box_reduce(image: &RgbImage, factor: usize) -> Texture {
    let (w, h) = (image.width as usize, image.height as usize);
    let (rw, rh) = (w.div_ceil(factor).max(1), h.div_ceil(factor).max(1));
    let mut pixels = vec![[0.0f32; 3]; rw * rh];
    for (ry, row) in pixels.chunks_mut(rw).enumerate() {
        for (rx, out) in row.iter_mut().enumerate() {
            let mut sum = [0.0f32; 3];
            let mut n = 0.0f32;
            for y in ry * factor..((ry + 1) * factor).min(h) {
                for x in rx * factor..((rx + 1) * factor).min(w) {
                    let i = (y * w + x) * 3;
                    for k in 0..3 {
                        sum[k] += f32::from(image.pixels[i + k]);
                    }
                    n += 1.0;
                }
            }
            *out = sum.map(|s| s / n.max(1.0));
        }
    }
    Texture {
        width: rw,
        height: rh,
        pixels,
    }
}

/// One photo framed for one attempt: texture, mesh and camera.
pub struct Head {
    texture: Texture,
    vertices: Vec<Vertex>,
    triangles: Vec<[usize; 3]>,
    axes: FaceAxes,
    landmarks: Vec<Point>,
    width: u32,
    height: u32,
    focal: f64,
    pivot_depth: f64,
    /// The turn that makes the photo's head face the camera (photos are rarely frontal);
    /// every pose is rendered on top of it.
    rest: Pose,
}

impl Head {
    pub fn new(photo: &Photo, framing: Framing, shape: HeadShape) -> Self {
        let source = FaceAxes::from_landmarks(&photo.landmarks);
        let scale = framing.face_fraction * f64::from(framing.width) / (2.0 * source.half_width);
        let at = (
            framing.centre.0 * f64::from(framing.width),
            framing.centre.1 * f64::from(framing.height),
        );
        let texture = Texture::from_photo(
            &photo.image,
            scale,
            source.centre,
            at,
            (framing.width, framing.height),
        );
        let landmarks: Vec<Point> = photo
            .landmarks
            .iter()
            .map(|p| Point {
                x: at.0 + (p.x - source.centre.0) * scale,
                y: at.1 + (p.y - source.centre.1) * scale,
            })
            .collect();
        let axes = FaceAxes::from_landmarks(&landmarks);
        let vertices = build_vertices(&landmarks, &axes, shape, &framing);
        let triangles = triangulate(&vertices);
        let focal = f64::from(framing.width) / 2.0 / (FOV_DEG.to_radians() / 2.0).tan();
        let mut head = Self {
            texture,
            vertices,
            triangles,
            pivot_depth: PIVOT_BEHIND * axes.half_width * shape.depth_scale,
            axes,
            landmarks,
            width: framing.width,
            height: framing.height,
            focal,
            rest: Pose::FRONTAL,
        };
        head.rest = head.facing_yaw();
        head
    }

    /// The yaw (whole degrees, within ±30°) that centres the nose tip between the jaw sides:
    /// a user facing the camera, whichever way the photo's head was turned.
    fn facing_yaw(&self) -> Pose {
        let off_centre = |yaw: f64| {
            let l = self.project_landmarks(Pose::yaw(yaw), Expression::default());
            crate::measure::nose_position(&l).abs()
        };
        let best = (-30..=30)
            .map(f64::from)
            .min_by(|a, b| off_centre(*a).total_cmp(&off_centre(*b)))
            .unwrap_or(0.0);
        Pose::yaw(best)
    }

    /// The turn applied to the photo so that [`Pose::FRONTAL`] faces the camera.
    pub fn rest_pose(&self) -> Pose {
        self.rest
    }

    /// The photo's landmarks in frame pixels: where they are at the photo's own pose, which is
    /// `-rest_pose()` (the rendering then reproduces the framed photo exactly).
    pub fn photo_landmarks(&self) -> &[Point] {
        &self.landmarks
    }

    /// Half the jaw width in frame pixels.
    pub fn half_face_width(&self) -> f64 {
        self.axes.half_width
    }

    /// The face centre (nose middle height, between the jaw sides) in frame pixels.
    pub fn face_centre(&self) -> (f64, f64) {
        self.axes.centre
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Where the 68 landmarks land for `pose` (the model's ground truth, not a detection).
    pub fn project_landmarks(&self, pose: Pose, expression: Expression) -> Vec<Point> {
        let camera = self.camera(pose, Shake::NONE);
        (0..68)
            .map(|i| {
                let (x, y, _) = camera.place(&self.moved(i, expression));
                Point { x, y }
            })
            .collect()
    }

    /// Renders the head at `pose` with `expression`, the whole picture moved by `shake`.
    pub fn render(&self, pose: Pose, expression: Expression, shake: Shake) -> RgbImage {
        let camera = self.camera(pose, shake);
        let placed: Vec<(f64, f64, f64)> = (0..self.vertices.len())
            .map(|i| camera.place(&self.moved(i, expression)))
            .collect();
        let mut raster = Raster::new(self.width as usize, self.height as usize);
        for t in &self.triangles {
            let dest = t.map(|i| placed[i]);
            let tex = t.map(|i| {
                let (x, y) = self.vertices[i].frontal;
                (x + MARGIN, y + MARGIN)
            });
            raster.triangle(&self.texture, dest, tex);
        }
        raster.into_image()
    }

    /// Vertex `i` with the expression's displacement (mouth vertices only).
    fn moved(&self, i: usize, expression: Expression) -> Vertex {
        let mut v = self.vertices[i];
        if i < 68 && expression.smile != 0.0 {
            let (du, dv) = smile_offset(i);
            let (u, w) = self.axes.local(v.frontal);
            v.frontal = self
                .axes
                .frame(u + du * expression.smile, w + dv * expression.smile);
        }
        v
    }

    fn camera(&self, pose: Pose, shake: Shake) -> Camera {
        let pose = Pose {
            yaw: self.rest.yaw + pose.yaw,
            pitch: self.rest.pitch + pose.pitch,
            roll: self.rest.roll + pose.roll,
        };
        Camera {
            focal: self.focal,
            principal: (f64::from(self.width) / 2.0, f64::from(self.height) / 2.0),
            pivot: self.axes.centre,
            pivot_depth: self.pivot_depth,
            rotation: rotation(pose),
            shake,
        }
    }
}

/// Lays out every mesh vertex: landmarks, forehead, ring around the head, frame border.
fn build_vertices(
    landmarks: &[Point],
    axes: &FaceAxes,
    shape: HeadShape,
    framing: &Framing,
) -> Vec<Vertex> {
    let h = axes.half_width;
    let head = |frontal: (f64, f64), depth: f64| Vertex {
        frontal,
        depth: depth * h * shape.depth_scale,
        head: true,
    };
    let mut out: Vec<Vertex> = landmarks
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (u, v) = axes.local((p.x, p.y));
            let depth = ellipsoid_depth(u, v) + feature_depth(i, shape) / shape.depth_scale;
            head((p.x, p.y), depth)
        })
        .collect();
    let brow_v = landmarks[17..=26]
        .iter()
        .map(|p| axes.local((p.x, p.y)).1)
        .fold(f64::INFINITY, f64::min);
    for (du, dv) in forehead_points() {
        let (u, v) = (du, brow_v + dv);
        out.push(head(axes.frame(u, v), ellipsoid_depth(u, v)));
    }
    let chin_v = axes.local((landmarks[8].x, landmarks[8].y)).1;
    let (top, bottom) = (brow_v - 1.3, chin_v + 0.35);
    for k in 0..24 {
        let a = k as f64 / 24.0 * std::f64::consts::TAU;
        let (s, c) = a.sin_cos();
        let v = if s < 0.0 { -s * top } else { s * bottom };
        out.push(head(axes.frame(1.3 * c, v), RING_DEPTH));
    }
    out.extend(border_points(framing).into_iter().map(|frontal| Vertex {
        frontal,
        depth: f64::NEG_INFINITY,
        head: false,
    }));
    out
}

/// Points above the brows (face coordinates relative to the highest brow point): the forehead
/// up to the hairline.
fn forehead_points() -> Vec<(f64, f64)> {
    let mut p = Vec::new();
    for u in [-0.75, -0.4, 0.0, 0.4, 0.75] {
        p.push((u, -0.4));
    }
    for u in [-0.6, -0.2, 0.2, 0.6] {
        p.push((u, -0.85));
    }
    p
}

/// The texture's outer border, every ~40 px, in frame coordinates: background that never moves.
fn border_points(framing: &Framing) -> Vec<(f64, f64)> {
    let (x0, y0) = (-MARGIN, -MARGIN);
    let (x1, y1) = (
        f64::from(framing.width) + MARGIN - 1.0,
        f64::from(framing.height) + MARGIN - 1.0,
    );
    let steps = |len: f64| ((len / 40.0).ceil() as usize).max(1);
    let (nx, ny) = (steps(x1 - x0), steps(y1 - y0));
    let mut p = Vec::new();
    for i in 0..nx {
        let x = x0 + (x1 - x0) * i as f64 / nx as f64;
        p.push((x, y0));
        p.push((x1 - (x - x0), y1));
    }
    for j in 0..ny {
        let y = y0 + (y1 - y0) * j as f64 / ny as f64;
        p.push((x1, y));
        p.push((x0, y1 - (y - y0)));
    }
    p
}

fn triangulate(vertices: &[Vertex]) -> Vec<[usize; 3]> {
    let points: Vec<delaunator::Point> = vertices
        .iter()
        .map(|v| delaunator::Point {
            x: v.frontal.0,
            y: v.frontal.1,
        })
        .collect();
    delaunator::triangulate(&points)
        .triangles
        .chunks_exact(3)
        .map(|t| [t[0], t[1], t[2]])
        .collect()
}

type Matrix = [[f64; 3]; 3];

/// Roll in the image plane, then pitch, then yaw (camera axes: x right, y down, z away).
fn rotation(pose: Pose) -> Matrix {
    let (sy, cy) = pose.yaw.to_radians().sin_cos();
    let (sp, cp) = pose.pitch.to_radians().sin_cos();
    let (sr, cr) = pose.roll.to_radians().sin_cos();
    // Yaw > 0 moves points in front of the pivot (z < 0) towards +x; pitch > 0 moves them up.
    let yaw = [[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]];
    let pitch = [[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]];
    let roll = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
    multiply(&yaw, &multiply(&pitch, &roll))
}

/// `a · b`.
pub fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    let mut m = [[0.0; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// The pinhole camera that took the frontal frame: a frame point at depth 0 lies at distance
/// `focal` (in frame pixels), so the frontal view re-projects onto itself exactly.
struct Camera {
    focal: f64,
    principal: (f64, f64),
    pivot: (f64, f64),
    pivot_depth: f64,
    rotation: Matrix,
    shake: Shake,
}

impl Camera {
    /// Frame position and distance from the camera of a vertex after the head's rotation.
    fn place(&self, v: &Vertex) -> (f64, f64, f64) {
        let (x, y, z) = if v.head {
            let world = self.unproject(v.frontal, v.depth);
            let pivot = self.unproject(self.pivot, -self.pivot_depth);
            let d = [world.0 - pivot.0, world.1 - pivot.1, world.2 - pivot.2];
            let r = &self.rotation;
            let turned = [0, 1, 2].map(|i| r[i][0] * d[0] + r[i][1] * d[1] + r[i][2] * d[2]);
            let w = (
                turned[0] + pivot.0,
                turned[1] + pivot.1,
                turned[2] + pivot.2,
            );
            (
                self.principal.0 + self.focal * w.0 / w.2,
                self.principal.1 + self.focal * w.1 / w.2,
                w.2,
            )
        } else {
            // Background: far behind everything, where the frontal frame has it.
            (v.frontal.0, v.frontal.1, self.focal * 10.0)
        };
        let s = self.shake;
        (
            self.principal.0 + (x - self.principal.0) * s.scale + s.dx,
            self.principal.1 + (y - self.principal.1) * s.scale + s.dy,
            z,
        )
    }

    /// The 3-D point (camera coordinates) seen at frame point `p` with `depth` towards the camera.
    fn unproject(&self, p: (f64, f64), depth: f64) -> (f64, f64, f64) {
        let distance = self.focal - depth;
        let k = distance / self.focal;
        (
            (p.0 - self.principal.0) * k,
            (p.1 - self.principal.1) * k,
            distance,
        )
    }
}

/// Colour and depth buffers of the frame being drawn.
struct Raster {
    width: usize,
    height: usize,
    colour: Vec<[f32; 3]>,
    depth: Vec<f64>,
}

impl Raster {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            colour: vec![[0.0; 3]; width * height],
            depth: vec![f64::INFINITY; width * height],
        }
    }

    /// Draws one textured triangle (affine texture mapping, nearest surface wins).
    fn triangle(&mut self, texture: &Texture, dest: [(f64, f64, f64); 3], tex: [(f64, f64); 3]) {
        let [a, b, c] = dest;
        let area = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
        if area.abs() < 1e-9 {
            return;
        }
        let min_x = a.0.min(b.0).min(c.0).floor().max(0.0) as usize;
        let min_y = a.1.min(b.1).min(c.1).floor().max(0.0) as usize;
        let max_x = (a.0.max(b.0).max(c.0).ceil()).min(self.width as f64 - 1.0);
        let max_y = (a.1.max(b.1).max(c.1).ceil()).min(self.height as f64 - 1.0);
        if max_x < 0.0 || max_y < 0.0 {
            return;
        }
        for py in min_y..=max_y as usize {
            for px in min_x..=max_x as usize {
                let (x, y) = (px as f64, py as f64);
                let w0 = ((b.0 - x) * (c.1 - y) - (b.1 - y) * (c.0 - x)) / area;
                let w1 = ((c.0 - x) * (a.1 - y) - (c.1 - y) * (a.0 - x)) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < -1e-9 || w1 < -1e-9 || w2 < -1e-9 {
                    continue;
                }
                let z = w0 * a.2 + w1 * b.2 + w2 * c.2;
                let i = py * self.width + px;
                if z >= self.depth[i] {
                    continue;
                }
                self.depth[i] = z;
                let tx = w0 * tex[0].0 + w1 * tex[1].0 + w2 * tex[2].0;
                let ty = w0 * tex[0].1 + w1 * tex[1].1 + w2 * tex[2].1;
                self.colour[i] = texture.sample(tx, ty);
            }
        }
    }

    fn into_image(self) -> RgbImage {
        let pixels = self
            .colour
            .iter()
            .flat_map(|c| c.map(|v| v.round().clamp(0.0, 255.0) as u8))
            .collect();
        RgbImage {
            width: self.width as u32,
            height: self.height as u32,
            pixels,
        }
    }
}

/// Draws `image` as a flat picture moved by the homography `h` (frame point = h · picture point)
/// over a plain backdrop: the photo attacks' "print held up to the camera".
pub fn warp_flat(image: &RgbImage, h: &Matrix, backdrop: [u8; 3]) -> RgbImage {
    let (w, ht) = (image.width as usize, image.height as usize);
    let inverse = invert(h);
    let mut pixels = Vec::with_capacity(w * ht * 3);
    let texture = Texture {
        width: w,
        height: ht,
        pixels: image
            .pixels
            .chunks_exact(3)
            .map(|p| [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])])
            .collect(),
    };
    for y in 0..ht {
        for x in 0..w {
            let (sx, sy) = apply(&inverse, (x as f64, y as f64));
            let inside = sx >= -0.5 && sy >= -0.5 && sx <= w as f64 - 0.5 && sy <= ht as f64 - 0.5;
            if inside {
                let c = texture.sample(sx, sy);
                pixels.extend(c.map(|v| v.round().clamp(0.0, 255.0) as u8));
            } else {
                pixels.extend(backdrop);
            }
        }
    }
    RgbImage {
        width: image.width,
        height: image.height,
        pixels,
    }
}

/// `h · (x, y, 1)` dehomogenised.
pub fn apply(h: &Matrix, p: (f64, f64)) -> (f64, f64) {
    let x = h[0][0] * p.0 + h[0][1] * p.1 + h[0][2];
    let y = h[1][0] * p.0 + h[1][1] * p.1 + h[1][2];
    let w = h[2][0] * p.0 + h[2][1] * p.1 + h[2][2];
    let w = if w.abs() < 1e-12 { 1e-12 } else { w };
    (x / w, y / w)
}

fn invert(m: &Matrix) -> Matrix {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let d = if det.abs() < 1e-12 { 1e-12 } else { det };
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            let (r0, r1) = ((j + 1) % 3, (j + 2) % 3);
            let (c0, c1) = ((i + 1) % 3, (i + 2) % 3);
            *cell = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / d;
        }
    }
    inv
}

/// The homography of a flat picture, centred at `centre` (frame pixels) and seen at distance
/// `focal`, turned by `yaw`/`pitch` degrees about its own vertical/horizontal axis through
/// `centre`, rotated `roll` degrees in the image plane, scaled and shifted by `shake`.
pub fn plane_motion(
    centre: (f64, f64),
    focal: f64,
    principal: (f64, f64),
    pose: Pose,
    shake: Shake,
) -> Matrix {
    let r = rotation(pose);
    // Picture point (x, y) is the 3-D point centre + (x - cx, y - cy, 0) at distance `focal`;
    // rotating about the centre and projecting is a homography in (x, y, 1).
    let c = (centre.0 - principal.0, centre.1 - principal.1, focal);
    let columns = [
        (r[0][0], r[1][0], r[2][0]),
        (r[0][1], r[1][1], r[2][1]),
        (
            c.0 - r[0][0] * centre.0 - r[0][1] * centre.1,
            c.1 - r[1][0] * centre.0 - r[1][1] * centre.1,
            c.2 - r[2][0] * centre.0 - r[2][1] * centre.1,
        ),
    ];
    // Project: u = px + f·X/Z with (X, Y, Z) = columns · (x, y, 1).
    let mut h = [[0.0; 3]; 3];
    for (j, col) in columns.iter().enumerate() {
        h[0][j] = focal * col.0 + principal.0 * col.2;
        h[1][j] = focal * col.1 + principal.1 * col.2;
        h[2][j] = col.2;
    }
    let s = shake;
    let post = [
        [s.scale, 0.0, principal.0 * (1.0 - s.scale) + s.dx],
        [0.0, s.scale, principal.1 * (1.0 - s.scale) + s.dy],
        [0.0, 0.0, 1.0],
    ];
    multiply(&post, &h)
}

/// The camera's focal length in frame pixels for a frame `width` wide.
pub fn focal_length(width: u32) -> f64 {
    f64::from(width) / 2.0 / (FOV_DEG.to_radians() / 2.0).tan()
}

pub type Homography = Matrix;
