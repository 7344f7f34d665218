//! The renderer against the face engine: a frontal rendering is still the person with the same
//! landmarks, a rendered turn moves the nose against the face outline the right way and by a
//! plausible amount while a flat picture's tilt does not, and a seed fixes every frame.
//!
//! Needs the photos of `../shared/faces` and the models (`facegate models fetch`): without them
//! the tests fail and say so.

use std::sync::OnceLock;

use face::{Engine, Point};
use liveness_eval::cast::{self, Person};
use liveness_eval::measure;
use liveness_eval::probe;
use liveness_eval::render::{self, Expression, Framing, Head, HeadShape, Pose, Shake};
use liveness_eval::species::{Performer, Presenter};
use liveness_eval::user::Action;

struct Fixtures {
    engine: Engine,
    people: Vec<Person>,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let engine = cast::load_engine(&cast::default_models_dir())
            .unwrap_or_else(|e| panic!("face models needed: {e:#}"));
        let people = cast::load_people(&engine, &cast::default_faces_dir())
            .unwrap_or_else(|e| panic!("photos needed: {e:#}"));
        Fixtures { engine, people }
    })
}

fn person(name: &str) -> &'static Person {
    fixtures()
        .people
        .iter()
        .find(|p| p.name == name)
        .expect("person in the cast")
}

fn head(p: &Person) -> Head {
    Head::new(
        &p.photo,
        Framing::centred(320, 240, 0.38),
        HeadShape::GENERIC,
    )
}

/// The one face the live pipeline sees in `image` after a JPEG round trip.
fn seen(image: &face::RgbImage) -> face::Face {
    let jpeg = liveness_eval::webcam::encode_jpeg(image, 80).expect("jpeg");
    let decoded = face::decode_image(&jpeg, &face::ImageLimits::default()).expect("decode");
    probe::detect(&fixtures().engine, &decoded)
        .expect("engine")
        .expect("exactly one face in the rendered frame")
}

fn mean_distance(a: &[Point], b: &[Point]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt())
        .sum::<f64>()
        / a.len() as f64
}

fn photo_pose(h: &Head) -> Pose {
    let r = h.rest_pose();
    Pose {
        yaw: -r.yaw,
        pitch: -r.pitch,
        roll: -r.roll,
    }
}

#[test]
fn rendering_at_the_photos_own_pose_is_the_same_person_with_the_same_landmarks() {
    for name in cast::PEOPLE {
        let p = person(name);
        let h = head(p);
        let face = seen(&h.render(photo_pose(&h), Expression::default(), Shake::NONE));
        let source = probe::describe_ssd(
            &fixtures().engine,
            &std::fs::read(cast::default_faces_dir().join(format!("{name}_2.jpg"))).expect("photo"),
        )
        .expect("source descriptor");
        let distance = face::euclidean_distance(&face.descriptor, &source);
        assert!(
            distance < 0.35,
            "{name}: rendering {distance:.3} from its photo"
        );
        let off = mean_distance(&face.landmarks, h.photo_landmarks()) / h.half_face_width();
        assert!(
            off < 0.08,
            "{name}: landmarks {off:.3} half-widths from the photo's"
        );
    }
}

#[test]
fn model_turn_moves_the_nose_towards_the_users_side_by_a_plausible_amount() {
    let h = head(person("obama"));
    let frontal = h.project_landmarks(Pose::FRONTAL, Expression::default());
    let base = measure::nose_position(&frontal);
    for (yaw, sign) in [(25.0, 1.0), (-25.0, -1.0)] {
        let turned = h.project_landmarks(Pose::yaw(yaw), Expression::default());
        let moved = (measure::nose_position(&turned) - base) * sign;
        // A real head at 25°: the nose tip (~1.4 half face widths in front of the neck axis)
        // moves ~0.6 half-widths, the jaw sides ~0.1; at the ~30 cm that a face 38 % of a 60°
        // frame implies, perspective enlarges the nearer nose's offset by up to ~1.4×.
        assert!(
            (0.4..1.4).contains(&moved),
            "yaw {yaw}: nose moved {moved:.3}"
        );
    }
    let up = h.project_landmarks(Pose::pitch(20.0), Expression::default());
    assert!(
        up[30].y < frontal[30].y - 0.15 * h.half_face_width(),
        "looking up raises the nose"
    );
}

#[test]
fn rendered_turn_shows_nose_parallax_that_a_tilted_flat_picture_does_not() {
    for name in ["obama", "alex_lacamoire"] {
        let h = head(person(name));
        let frontal_image = h.render(Pose::FRONTAL, Expression::default(), Shake::NONE);
        let reference = seen(&frontal_image).landmarks;
        for (yaw, sign) in [(25.0, 1.0), (-25.0, -1.0)] {
            let turned = seen(&h.render(Pose::yaw(yaw), Expression::default(), Shake::NONE));
            let (px, _) = measure::nose_parallax(&reference, &turned.landmarks).expect("fit");
            assert!(px * sign > 0.2, "{name} yaw {yaw}: nose parallax {px:.3}");
        }
        let (w, ht) = h.size();
        for tilt in [25.0, -25.0, 40.0, -40.0] {
            let hm = render::plane_motion(
                h.face_centre(),
                render::focal_length(w),
                (f64::from(w) / 2.0, f64::from(ht) / 2.0),
                Pose::yaw(tilt),
                Shake::NONE,
            );
            let flat = seen(&render::warp_flat(&frontal_image, &hm, [128, 128, 128]));
            let (px, _) = measure::nose_parallax(&reference, &flat.landmarks).expect("fit");
            assert!(
                px.abs() < 0.15,
                "{name} flat tilt {tilt}: nose parallax {px:.3}"
            );
        }
    }
}

#[test]
fn a_seed_fixes_every_frame() {
    let frames = || {
        let mut p = Performer::new(head(person("biden")), 42);
        p.prompt(Action::TurnLeft, 0.5);
        [0.0, 1.3, 1.9, 3.0]
            .map(|t| p.frame(t).expect("frame"))
            .to_vec()
    };
    let (a, b) = (frames(), frames());
    assert_eq!(a, b);
    assert_ne!(a[0], a[2], "the head moved between frames");
}

#[test]
fn the_frontal_pose_faces_the_camera_whichever_way_the_photo_looked() {
    for name in cast::PEOPLE {
        let h = head(person(name));
        let face = seen(&h.render(Pose::FRONTAL, Expression::default(), Shake::NONE));
        let off = measure::nose_position(&face.landmarks);
        // The server's frontality is half this (nose offset over the whole jaw width) and must
        // stay under 0.25.
        assert!(
            off.abs() < 0.3,
            "{name}: nose {off:.3} off centre (rest pose {:?})",
            h.rest_pose()
        );
    }
}
