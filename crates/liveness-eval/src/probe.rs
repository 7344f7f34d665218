//! How good the renderer is, seen by the face engine itself: every person's head rendered at
//! fixed poses and moved as a flat picture, each frame run through the server's live pipeline
//! (TinyFaceDetector at 320), with the descriptor distance to the enrolment photo and the
//! landmark numbers of [`crate::measure`].

use face::{Engine, PipelineOptions, Point};

use crate::cast::Person;
use crate::measure;
use crate::render::{self, Expression, Framing, Head, HeadShape, Pose, Shake};
use crate::webcam;

/// One rendered frame, as the engine saw it.
#[derive(Debug, Clone)]
pub struct ProbeRow {
    pub person: String,
    pub kind: &'static str,
    pub pose: Pose,
    pub smile: f64,
    pub found: bool,
    pub distance: f64,
    pub nose_position: f64,
    pub parallax: (f64, f64),
    pub happy: f32,
}

/// The options the server's live check uses (tiny detector at 320), with expressions.
pub fn live_options() -> PipelineOptions {
    PipelineOptions {
        detector: face::DetectorOptions::Tiny {
            input_size: 320,
            score_threshold: 0.5,
        },
        tiny_landmarks: false,
        expressions: true,
    }
}

/// The poses probed: frontal, yaw ±10/20/30, pitch ±20.
pub fn probe_poses() -> Vec<Pose> {
    let mut p = vec![Pose::FRONTAL];
    for yaw in [10.0, 20.0, 30.0, -10.0, -20.0, -30.0] {
        p.push(Pose::yaw(yaw));
    }
    p.push(Pose::pitch(20.0));
    p.push(Pose::pitch(-20.0));
    p
}

/// Renders `person` (from their second photo, compared with the first) at every probe pose, as a
/// 3-D head and as a flat picture tilted by the same angles (and twice them), plus a smile.
pub fn probe_person(engine: &Engine, person: &Person) -> anyhow::Result<Vec<ProbeRow>> {
    let enrol_descriptor = describe_ssd(engine, &person.enrol_photo)?;
    let name = person.name.as_str();
    let head = Head::new(
        &person.photo,
        Framing::centred(320, 240, 0.38),
        HeadShape::GENERIC,
    );
    let frontal_frame = head.render(Pose::FRONTAL, Expression::default(), Shake::NONE);
    let reference = detect(engine, &frontal_frame)?
        .map(|f| f.landmarks)
        .ok_or_else(|| anyhow::anyhow!("{name}: no face in the frontal rendering"))?;
    let mut rows = Vec::new();
    let mut push = |kind, pose, smile, image: &face::RgbImage| -> anyhow::Result<()> {
        let jpeg = webcam::encode_jpeg(image, 80)?;
        let decoded = face::decode_image(&jpeg, &face::ImageLimits::default())?;
        let mut r = row(
            engine,
            name,
            kind,
            pose,
            &decoded,
            &reference,
            &enrol_descriptor,
        )?;
        r.smile = smile;
        rows.push(r);
        Ok(())
    };
    for pose in probe_poses() {
        push(
            "head",
            pose,
            0.0,
            &head.render(pose, Expression::default(), Shake::NONE),
        )?;
    }
    let (w, h) = head.size();
    for pose in probe_poses().into_iter().skip(1) {
        for factor in [1.0, 2.0] {
            let tilt = Pose {
                yaw: pose.yaw * factor,
                pitch: pose.pitch * factor,
                roll: 0.0,
            };
            let hm = render::plane_motion(
                head.face_centre(),
                render::focal_length(w),
                (f64::from(w) / 2.0, f64::from(h) / 2.0),
                tilt,
                Shake::NONE,
            );
            push(
                "flat",
                tilt,
                0.0,
                &render::warp_flat(&frontal_frame, &hm, [128, 128, 128]),
            )?;
        }
    }
    for smile in [0.5, 1.0, 1.5] {
        let image = head.render(Pose::FRONTAL, Expression { smile }, Shake::NONE);
        push("smile", Pose::FRONTAL, smile, &image)?;
    }
    Ok(rows)
}

fn row(
    engine: &Engine,
    person: &str,
    kind: &'static str,
    pose: Pose,
    image: &face::RgbImage,
    reference: &[Point],
    enrol: &face::Descriptor,
) -> anyhow::Result<ProbeRow> {
    let found = detect(engine, image)?;
    Ok(match found {
        Some(f) => ProbeRow {
            person: person.to_owned(),
            kind,
            pose,
            smile: 0.0,
            found: true,
            distance: face::euclidean_distance(&f.descriptor, enrol),
            nose_position: measure::nose_position(&f.landmarks),
            parallax: measure::nose_parallax(reference, &f.landmarks)
                .unwrap_or((f64::NAN, f64::NAN)),
            happy: f.expressions.map_or(f32::NAN, |e| e.happy),
        },
        None => ProbeRow {
            person: person.to_owned(),
            kind,
            pose,
            smile: 0.0,
            found: false,
            distance: f64::NAN,
            nose_position: f64::NAN,
            parallax: (f64::NAN, f64::NAN),
            happy: f32::NAN,
        },
    })
}

/// The single face the live pipeline finds in `image`, if exactly one.
pub fn detect(engine: &Engine, image: &face::RgbImage) -> anyhow::Result<Option<face::Face>> {
    let mut faces = engine.describe_all(image, &live_options())?;
    Ok(if faces.len() == 1 { faces.pop() } else { None })
}

/// The enrolment descriptor of a photo (SSD, largest face), as registration computes it.
pub fn describe_ssd(engine: &Engine, bytes: &[u8]) -> anyhow::Result<face::Descriptor> {
    let image = face::decode_image(bytes, &face::ImageLimits::default())?;
    let options = PipelineOptions {
        detector: face::DetectorOptions::ssd(),
        ..PipelineOptions::default()
    };
    engine
        .describe_all(&image, &options)?
        .into_iter()
        .max_by(|a, b| {
            let area = |f: &face::Face| f.detection.bbox.width * f.detection.bbox.height;
            area(a).total_cmp(&area(b))
        })
        .map(|f| f.descriptor)
        .ok_or_else(|| anyhow::anyhow!("no face in the enrolment photo"))
}

/// The rows as a table.
pub fn print_rows(rows: &[ProbeRow]) {
    println!(
        "{:<15} {:<6} {:>6} {:>6} {:>5} {:>5} {:>6} {:>8} {:>8} {:>8} {:>6}",
        "person",
        "kind",
        "yaw",
        "pitch",
        "smile",
        "found",
        "dist",
        "nose_pos",
        "par_x",
        "par_y",
        "happy"
    );
    for r in rows {
        println!(
            "{:<15} {:<6} {:>6.1} {:>6.1} {:>5.1} {:>5} {:>6.3} {:>8.3} {:>8.3} {:>8.3} {:>6.3}",
            r.person,
            r.kind,
            r.pose.yaw,
            r.pose.pitch,
            r.smile,
            if r.found { "yes" } else { "NO" },
            r.distance,
            r.nose_position,
            r.parallax.0,
            r.parallax.1,
            r.happy
        );
    }
}

/// Writes PNGs of `person`'s head at the probe poses into `dir` (to look at the renderer).
pub fn write_pngs(person: &Person, dir: &std::path::Path) -> anyhow::Result<()> {
    let person_name = &person.name;
    let head = Head::new(
        &person.photo,
        Framing::centred(320, 240, 0.38),
        HeadShape::GENERIC,
    );
    for pose in probe_poses() {
        let img = head.render(pose, Expression::default(), Shake::NONE);
        let path = dir.join(format!(
            "{person_name}_yaw{}_pitch{}.png",
            pose.yaw, pose.pitch
        ));
        image::save_buffer(
            &path,
            &img.pixels,
            img.width,
            img.height,
            image::ExtendedColorType::Rgb8,
        )?;
    }
    Ok(())
}

/// Detection over simulated genuine performances: the share of frames in which the live
/// pipeline finds exactly one face, while facing the camera and while turned (the simulated
/// user answers a prompt of each action), over `seeds` attempts of random framing and shape.
pub fn sequence_detection(
    engine: &Engine,
    person: &Person,
    seeds: u64,
) -> anyhow::Result<Vec<(String, usize, usize)>> {
    use crate::species::{Performer, Presenter};
    use crate::user::Action;
    use rand::SeedableRng;
    let actions = [
        Action::TurnLeft,
        Action::LookUp,
        Action::TurnRight,
        Action::LookDown,
    ];
    let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for seed in 0..seeds {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let head = Head::new(
            &person.photo,
            Framing::random_webcam(&mut rng),
            HeadShape::random(&mut rng),
        );
        let mut performer = Performer::new(head, seed);
        for (i, a) in actions.iter().enumerate() {
            performer.prompt(*a, 1.0 + 3.0 * i as f64);
        }
        for k in 0..((13.0 / 0.115) as usize) {
            let t = k as f64 * 0.115;
            let jpeg = performer.frame(t)?;
            let image = face::decode_image(&jpeg, &face::ImageLimits::default())?;
            let found = detect(engine, &image)?.is_some();
            // Which movement (if any) is well under way at t.
            let phase = (0..4)
                .find(|i| {
                    let start = 1.0 + 3.0 * *i as f64 + 0.7 + 0.6;
                    (start..start + 0.5).contains(&t)
                })
                .map_or("facing", |i| actions[i].name());
            let c = counts.entry(phase.to_owned()).or_default();
            c.0 += usize::from(found);
            c.1 += 1;
        }
    }
    Ok(counts.into_iter().map(|(k, (f, n))| (k, f, n)).collect())
}
