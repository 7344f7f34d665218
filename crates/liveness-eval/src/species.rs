//! What stands in front of the camera in one attempt: a genuine user or one of the four attack
//! species. Each is a [`Presenter`]: it hears the server's prompts and gives the camera frame
//! (JPEG bytes) for any time since the check started.

use face::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::render::{self, Expression, Head, Homography, Pose, Shake};
use crate::user::{Action, Movement, SimUser};
use crate::webcam::Webcam;

/// The kinds of attempt the evaluation makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Species {
    /// The account's owner, alive (rendered in 3-D from their second photo).
    Genuine,
    /// (1) A still photo of the owner, streamed as frames.
    StillPhoto,
    /// (2) A photo of the owner moved, scaled, rotated and tilted to imitate the prompts.
    MovedPhoto,
    /// (3) A recording of a genuine attempt (another challenge) replayed with its timing.
    Replay,
    /// (4) Another enrolled person following the prompts correctly.
    OtherPerson,
}

impl Species {
    pub const ALL: [Species; 5] = [
        Species::Genuine,
        Species::StillPhoto,
        Species::MovedPhoto,
        Species::Replay,
        Species::OtherPerson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Genuine => "genuine",
            Self::StillPhoto => "still_photo",
            Self::MovedPhoto => "moved_photo",
            Self::Replay => "replay",
            Self::OtherPerson => "other_person",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn is_attack(self) -> bool {
        self != Self::Genuine
    }
}

/// Whatever is in front of the camera during one check.
pub trait Presenter: Send {
    /// The server prompted `action`; `t` is seconds since `ready`.
    fn prompt(&mut self, action: Action, t: f64);
    /// The camera frame at `t` seconds since `ready` (JPEG).
    fn frame(&mut self, t: f64) -> anyhow::Result<Vec<u8>>;
}

/// A live person: the 3-D head follows the simulated user through a webcam. Also attack (4)
/// when the head is someone else's.
pub struct Performer {
    head: Head,
    user: SimUser,
    webcam: Webcam,
}

impl Performer {
    pub fn new(head: Head, seed: u64) -> Self {
        Self {
            head,
            user: SimUser::new(seed),
            webcam: Webcam::random(seed ^ 0x5eed_cafe),
        }
    }

    /// A performer following a fixed script instead of prompts.
    pub fn scripted(head: Head, seed: u64, script: &[Movement]) -> Self {
        let mut p = Self::new(head, seed);
        for m in script {
            p.user.push(*m);
        }
        p
    }

    /// The raw rendered frame at `t` (no webcam effects), e.g. for video clips.
    pub fn picture(&mut self, t: f64) -> RgbImage {
        let (pose, expression) = self.user.at(t);
        self.head.render(pose, expression, self.webcam.shake())
    }
}

impl Presenter for Performer {
    fn prompt(&mut self, action: Action, t: f64) {
        self.user.prompt(action, t);
    }

    fn frame(&mut self, t: f64) -> anyhow::Result<Vec<u8>> {
        let picture = self.picture(t);
        self.webcam.capture(picture, t)
    }
}

/// Attack (1): the owner's frontal picture held still in front of the camera.
pub struct StillPhoto {
    head: Head,
    webcam: Webcam,
}

impl StillPhoto {
    pub fn new(head: Head, seed: u64) -> Self {
        Self {
            head,
            webcam: Webcam::random(seed ^ 0x5eed_cafe),
        }
    }
}

impl Presenter for StillPhoto {
    fn prompt(&mut self, _action: Action, _t: f64) {}

    fn frame(&mut self, t: f64) -> anyhow::Result<Vec<u8>> {
        // A frontal pose with only the camera's shake is exactly the flat picture moved.
        let picture = self
            .head
            .render(Pose::FRONTAL, Expression::default(), self.webcam.shake());
        self.webcam.capture(picture, t)
    }
}

/// How a moved photo imitates one prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trick {
    /// The print tilted in 3-D about its vertical (turns) or horizontal (up/down) axis.
    Tilt { degrees: f64 },
    /// The print squeezed along the movement's axis (as if seen at an angle, no perspective).
    Squeeze { factor: f64 },
    /// The print rotated in its plane.
    Rotate { degrees: f64 },
}

/// Attack (2): the owner's frontal picture treated as a flat print and moved with homographies
/// that imitate each prompt (shifted towards where the nose would go, tilted, squeezed, rotated),
/// timed like a person would.
pub struct MovedPhoto {
    picture: RgbImage,
    centre: (f64, f64),
    half_width: f64,
    focal: f64,
    backdrop: [u8; 3],
    rng: StdRng,
    moves: Vec<(Movement, Trick, f64)>,
    webcam: Webcam,
}

impl MovedPhoto {
    pub fn new(head: &Head, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let grey = rng.gen_range(90..=170);
        Self {
            picture: head.render(Pose::FRONTAL, Expression::default(), Shake::NONE),
            centre: head.face_centre(),
            half_width: head.half_face_width(),
            focal: render::focal_length(head.size().0),
            backdrop: [grey, grey, grey.saturating_sub(8)],
            rng,
            moves: Vec::new(),
            webcam: Webcam::random(seed ^ 0x5eed_cafe),
        }
    }

    /// A moved photo following fixed moves (movement, trick, shift in half face widths).
    pub fn scripted(head: &Head, seed: u64, moves: &[(Movement, Trick, f64)]) -> Self {
        let mut p = Self::new(head, seed);
        p.moves.extend_from_slice(moves);
        p
    }

    /// The camera's view at `t` before any webcam effect.
    pub fn picture(&mut self, t: f64) -> RgbImage {
        let h = self.motion(t);
        render::warp_flat(&self.picture, &h, self.backdrop)
    }

    /// The homography of the print at `t`: every scheduled move's share, plus hand shake.
    fn motion(&mut self, t: f64) -> Homography {
        let mut pose = Pose::FRONTAL;
        let (mut dx, mut dy, mut scale) = (0.0, 0.0, 1.0);
        let mut squeeze = (1.0, 1.0);
        for (m, trick, shift) in &self.moves {
            let a = m.amount_at(t);
            if a == 0.0 {
                continue;
            }
            let dir = m.action.pose(1.0);
            // Where the nose of a real turn goes: +x for the user's left, -y for up.
            dx += a * shift * dir.yaw * self.half_width;
            dy -= a * shift * dir.pitch * self.half_width;
            match *trick {
                Trick::Tilt { degrees } => {
                    pose.yaw += a * degrees * dir.yaw;
                    pose.pitch += a * degrees * dir.pitch;
                }
                Trick::Squeeze { factor } => {
                    if dir.yaw != 0.0 {
                        squeeze.0 *= 1.0 - a * (1.0 - factor);
                    } else {
                        squeeze.1 *= 1.0 - a * (1.0 - factor);
                    }
                    scale *= 1.0 + a * 0.03;
                }
                Trick::Rotate { degrees } => {
                    pose.roll += a * degrees * (dir.yaw + dir.pitch);
                }
            }
        }
        let shake = self.webcam.shake();
        let shake = Shake {
            dx: shake.dx + dx,
            dy: shake.dy + dy,
            scale: shake.scale * scale,
        };
        let (w, h) = (self.picture.width, self.picture.height);
        let principal = (f64::from(w) / 2.0, f64::from(h) / 2.0);
        let tilt = render::plane_motion(self.centre, self.focal, principal, pose, shake);
        let squash = [
            [squeeze.0, 0.0, self.centre.0 * (1.0 - squeeze.0)],
            [0.0, squeeze.1, self.centre.1 * (1.0 - squeeze.1)],
            [0.0, 0.0, 1.0],
        ];
        render::multiply(&tilt, &squash)
    }
}

impl Presenter for MovedPhoto {
    fn prompt(&mut self, action: Action, t: f64) {
        let rng = &mut self.rng;
        let trick = match rng.gen_range(0..3) {
            0 => Trick::Tilt {
                degrees: rng.gen_range(20.0..=40.0),
            },
            1 => Trick::Squeeze {
                factor: rng.gen_range(0.75..=0.9),
            },
            _ => Trick::Rotate {
                degrees: rng.gen_range(8.0..=20.0),
            },
        };
        let shift = rng.gen_range(0.15..=0.5);
        let movement = Movement {
            action,
            start: t + rng.gen_range(0.3..=0.7),
            ramp: rng.gen_range(0.35..=0.6),
            hold: rng.gen_range(0.5..=1.0),
            back: rng.gen_range(0.35..=0.6),
            degrees: 1.0,
        };
        self.moves.push((movement, trick, shift));
    }

    fn frame(&mut self, t: f64) -> anyhow::Result<Vec<u8>> {
        let picture = self.picture(t);
        self.webcam.capture(picture, t)
    }
}

/// One recorded attempt: every frame sent, with its time since `ready`, and the prompts it
/// answered with theirs.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub frames: Vec<(f64, Vec<u8>)>,
    pub prompts: Vec<(String, f64)>,
}

/// Attack (3): a recording of a genuine attempt streamed into a new check with the same timing,
/// deaf to the new prompts.
pub struct Replay {
    recording: Recording,
}

impl Replay {
    pub fn new(recording: Recording) -> Self {
        Self { recording }
    }

    /// The prompts the recording answered, and when.
    pub fn recorded_prompts(&self) -> &[(String, f64)] {
        &self.recording.prompts
    }
}

impl Presenter for Replay {
    fn prompt(&mut self, _action: Action, _t: f64) {}

    fn frame(&mut self, t: f64) -> anyhow::Result<Vec<u8>> {
        // The latest recorded frame at or before `t` (the last one once the recording ends).
        let frames = &self.recording.frames;
        let i = frames.partition_point(|(ft, _)| *ft <= t).saturating_sub(1);
        frames
            .get(i)
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| anyhow::anyhow!("empty recording"))
    }
}
