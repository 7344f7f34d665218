//! One live check as a pure state machine. It is fed what the server saw in each frame and the
//! server's clock, and answers with guidance, prompts and finally a verdict. No I/O and no clock
//! of its own, so tests drive it frame by frame (docs/live-check.md describes the protocol).
//!
//! Phases: **align** (frontal, good-quality frames become the reference: the landmarks the head
//! movement is measured from, the first identity descriptors, and at enrolment the 3 captured
//! frames), then for each step **hold** (face the camera for a random time; the movement asked
//! next must not happen yet), **prompt** (the asked movement must be seen in two consecutive
//! frames after the prompt and before its window closes; a different movement fails) and
//! **return** (face the camera again: one more identity frame). Across all phases after align
//! the face is one continuous track.

use std::sync::Arc;

use face::{BBox, Descriptor, Point};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::pose::{self, Movement};
use super::quality::{Guidance, Quality, QualityRules};

pub use crate::config::Action;

/// Why the check is being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Verify,
    Enrol,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Enrol => "enrol",
        }
    }
}

/// Every threshold and time of a check (milliseconds of the server's clock).
#[derive(Debug, Clone)]
pub struct CheckRules {
    /// Steps of a random sequence.
    pub steps: usize,
    /// Movements a random sequence draws from.
    pub actions: Vec<Action>,
    /// A fixed sequence instead of a random one (tests only).
    pub script: Vec<Action>,
    /// Nose parallax (eye-corner distances) that counts as a turn left or right.
    pub turn_threshold: f64,
    /// Nose parallax that counts as looking up or down.
    pub tilt_threshold: f64,
    /// `happy` probability that counts as a smile (and must rise by 0.3 over the reference).
    pub smile_threshold: f32,
    /// How long a prompt waits for its movement.
    pub step_window_ms: i64,
    /// How soon after its prompt the movement must begin (reach half its threshold).
    pub start_ms: i64,
    /// A movement seen sooner than this after its prompt began before the prompt.
    pub reaction_ms: i64,
    /// The random time the face must hold still before each prompt.
    pub hold_ms: (i64, i64),
    /// How long the user has to face the camera again after a step.
    pub return_ms: i64,
    /// How long the align phase may take before the check gives up (`no_face`).
    pub align_ms: i64,
    /// The whole check.
    pub total_ms: i64,
    /// Frontal frames that make the reference at sign-in.
    pub reference_frames: usize,
    /// Frames kept at enrolment, at least `capture_gap_ms` apart.
    pub enrol_frames: usize,
    pub capture_gap_ms: i64,
    /// Consecutive frames without a face that end the track.
    pub max_missing_frames: u32,
    /// A descriptor this far or further from the reference's is another face (track cut).
    pub continuity_distance: f64,
    pub quality: QualityRules,
}

impl Default for CheckRules {
    fn default() -> Self {
        Self {
            // A recording of another check passes only if its order is this one's (1 in 256
            // with four steps of four movements) and its timing fits every window (about 1 in
            // 2 per step, see `start_ms`): about 1 in 4,000. Three steps without repeats gave
            // 1 in 36 orders and accepted 1 replay in 20 once.
            steps: 4,
            actions: vec![
                Action::TurnLeft,
                Action::TurnRight,
                Action::LookUp,
                Action::LookDown,
            ],
            script: Vec::new(),
            // A real head turned 20° shows 0.3-0.5 (rendered heads of five people, and the depth
            // of a nose in front of the ear-level jaw, about one eye-corner distance); a flat
            // picture moved, squeezed or tilted in 3-D by up to 40° stays under 0.1.
            turn_threshold: 0.18,
            tilt_threshold: 0.16,
            smile_threshold: 0.6,
            step_window_ms: 3_500,
            // A recording's movement began at its own prompt's time: with holds drawn over 3 s
            // and 1.5 s to begin, it falls inside the new window about 1 time in 2 (measured:
            // 18 of 37 replays whose first movement was the one asked). The simulated users
            // begin 0.3-0.7 s after a prompt; people reading an arrow, within about a second.
            start_ms: 1_500,
            reaction_ms: 200,
            // Random holds make a recording's movements fall before the prompts of a new check.
            hold_ms: (500, 3_500),
            return_ms: 4_000,
            align_ms: 20_000,
            total_ms: 60_000,
            reference_frames: 3,
            enrol_frames: 3,
            capture_gap_ms: 250,
            max_missing_frames: 6,
            continuity_distance: 0.6,
            quality: QualityRules::default(),
        }
    }
}

/// One face as the server saw it in a frame (no pixels).
#[derive(Debug, Clone)]
pub struct FaceSeen {
    pub bbox: BBox,
    pub landmarks: Vec<Point>,
    pub quality: Quality,
    /// Computed when [`LiveCheck::needs`] asked for it.
    pub descriptor: Option<Descriptor>,
    /// FaceExpressionNet's `happy`, when asked for.
    pub happy: Option<f32>,
}

impl FaceSeen {
    /// The box around the 68 landmarks. The track follows this rather than the detector's box:
    /// the detectors' boxes for one face differ in scale by up to 1.7 times between a whole
    /// frame and a crop, the landmarks barely.
    pub fn extent(&self) -> Option<BBox> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in &self.landmarks {
            (x0, y0, x1, y1) = (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y));
        }
        (x1 > x0 && y1 > y0).then(|| BBox {
            x: x0,
            y: y0,
            width: x1 - x0,
            height: y1 - y0,
        })
    }
}

/// What a frame held.
#[derive(Debug, Clone)]
pub enum Seen {
    NoFace,
    One(FaceSeen),
    Several,
}

/// The optional analyses the next frame needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Needs {
    pub descriptor: DescriptorNeed,
    pub expressions: bool,
    /// Look again with the thorough (slow) detector when the fast one finds no face: once the
    /// track exists, a missed frame can end the check.
    pub thorough: bool,
    /// The face's last box, once the track exists: look for it there first.
    pub track: Option<BBox>,
    /// Look at the whole frame before the track's box (every few frames, so that a second
    /// face anywhere in view is still seen).
    pub whole_frame_first: bool,
}

/// Whether the next frame's descriptor is wanted.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum DescriptorNeed {
    #[default]
    No,
    Yes,
    /// Only when the frame faces the camera as the reference did: the check uses no other
    /// (a turned head's descriptor drifts), and the landmarks tell before the 5 ms are spent.
    IfFacing(Arc<Facing>),
}

/// Facing the camera: the movement from the reference under half of each threshold, and a
/// roughly frontal face.
#[derive(Debug, Clone, PartialEq)]
pub struct Facing {
    reference: Vec<Point>,
    turn_threshold: f64,
    tilt_threshold: f64,
    max_frontal_offset: f64,
}

impl Facing {
    /// Whether a face with these landmarks and frontal offset faces the camera.
    pub fn holds(&self, landmarks: &[Point], frontal_offset: f64) -> bool {
        frontal_offset <= self.max_frontal_offset
            && pose::movement(&self.reference, landmarks)
                .is_some_and(|m| within_half(m, self.turn_threshold, self.tilt_threshold))
    }
}

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A prompt was not followed in its window (or the face did not come back to the camera).
    StepMissed,
    /// The asked movement was there before the prompt.
    MovedEarly,
    /// A movement other than the one asked.
    WrongMovement,
    /// The face left the view mid-check.
    FaceLost,
    /// The track was cut: the box or the identity jumped.
    FaceChanged,
    MultipleFaces,
    /// No usable face before the align phase's time ran out: nothing was checked.
    NoFace,
    /// The whole check ran past its time.
    Timeout,
}

impl Failure {
    /// The `reason` of the protocol's failed `result`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::StepMissed => "step_missed",
            Self::MovedEarly => "moved_early",
            Self::WrongMovement => "wrong_movement",
            Self::FaceLost => "face_lost",
            Self::FaceChanged => "face_changed",
            Self::MultipleFaces => "multiple_faces",
            Self::NoFace => "no_face",
            Self::Timeout => "timeout",
        }
    }
}

/// The end of a check.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every step was met by one continuous face. The identity decision is the caller's.
    Passed {
        /// Descriptors of the frames facing the camera (reference and returns).
        identity: Vec<Descriptor>,
        /// Enrolment: the descriptors of the captured frames.
        captured: Vec<Descriptor>,
    },
    Failed {
        failure: Failure,
        /// Whether any prompt was shown: a check that got that far counts as a face attempt
        /// even when it ends in a way that is not itself a mismatch.
        prompted: bool,
    },
}

/// A message for the client produced while handling a frame or the clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Capture {
        captured: usize,
        of: usize,
    },
    Prompt {
        step: usize,
        of: usize,
        action: Action,
        time_limit_ms: i64,
    },
    Step {
        step: usize,
        passed: bool,
    },
}

/// What handling one frame gave.
#[derive(Debug, Clone, Default)]
pub struct FrameReply {
    pub guidance: Option<Guidance>,
    pub events: Vec<Event>,
    /// This frame was used as an identity (frontal) frame.
    pub identity_frame: bool,
    pub verdict: Option<Verdict>,
}

#[derive(Debug, Clone)]
enum Phase {
    Align,
    Hold {
        step: usize,
        until: i64,
    },
    Prompt {
        step: usize,
        asked_at: i64,
        hits: u32,
        /// The movement has begun (see [`CheckRules::start_ms`]).
        begun: bool,
    },
    Return {
        step: usize,
        deadline: i64,
    },
    Done,
}

/// The running check.
#[derive(Debug)]
pub struct LiveCheck {
    purpose: Purpose,
    rules: CheckRules,
    plan: Vec<Action>,
    holds: Vec<i64>,
    started_at: i64,
    phase: Phase,
    phase_started_at: i64,
    reference: Vec<Vec<Point>>,
    reference_landmarks: Vec<Point>,
    /// Facing the camera as in the reference (set with it).
    facing: Option<Arc<Facing>>,
    reference_descriptor: Option<Descriptor>,
    reference_happy: f32,
    captured: Vec<Descriptor>,
    last_capture_at: Option<i64>,
    identity: Vec<Descriptor>,
    last_box: Option<BBox>,
    missing: u32,
    frames: u64,
    prompted: bool,
}

impl LiveCheck {
    /// A new check starting at `now`; the prompt sequence and the hold times are drawn from
    /// `rng` (or taken from the rules' script).
    pub fn new(purpose: Purpose, rules: CheckRules, rng: &mut impl Rng, now: i64) -> Self {
        let plan = if rules.script.is_empty() {
            draw_plan(&rules.actions, rules.steps, rng)
        } else {
            rules.script.clone()
        };
        let (lo, hi) = rules.hold_ms;
        let holds = if rules.script.is_empty() {
            plan.iter()
                .map(|_| rng.gen_range(lo..=hi.max(lo)))
                .collect()
        } else {
            // A fixed script is for tests with recorded clips: fixed timing too.
            vec![(lo + hi) / 2; plan.len()]
        };
        Self {
            purpose,
            rules,
            plan,
            holds,
            started_at: now,
            phase: Phase::Align,
            phase_started_at: now,
            reference: Vec::new(),
            reference_landmarks: Vec::new(),
            facing: None,
            reference_descriptor: None,
            reference_happy: 0.0,
            captured: Vec::new(),
            last_capture_at: None,
            identity: Vec::new(),
            last_box: None,
            missing: 0,
            frames: 0,
            prompted: false,
        }
    }

    /// Number of prompts this check will give.
    pub fn steps(&self) -> usize {
        self.plan.len()
    }

    pub fn prompted(&self) -> bool {
        self.prompted
    }

    /// Which optional analyses the next frame needs. A descriptor costs more than the rest of
    /// a frame together (5 ms), so it is taken where identity is decided: the reference, the
    /// frames facing the camera after each movement, and every fourth frame of a hold for the
    /// track's continuity (descriptors of a turned head drift). The thorough detector (60 ms)
    /// looks only from the prompt of a movement until the head faces the camera again, where
    /// the fast one misses turned heads; in a hold, a face it misses is a missed frame.
    pub fn needs(&self) -> Needs {
        let smile_planned = self.plan.contains(&Action::Smile);
        let needs = match self.phase {
            Phase::Align => {
                return Needs {
                    descriptor: DescriptorNeed::Yes,
                    expressions: smile_planned,
                    ..Needs::default()
                }
            }
            // The head is still turned when this phase begins, where the fast detector misses
            // many frames in a row.
            Phase::Return { .. } => Needs {
                descriptor: self.if_facing(),
                thorough: true,
                ..Needs::default()
            },
            Phase::Hold { step, .. } => Needs {
                descriptor: if self.frames % 4 == 0 {
                    self.if_facing()
                } else {
                    DescriptorNeed::No
                },
                expressions: self.plan.get(step) == Some(&Action::Smile),
                ..Needs::default()
            },
            Phase::Prompt { step, .. } => Needs {
                expressions: self.plan.get(step) == Some(&Action::Smile),
                thorough: true,
                ..Needs::default()
            },
            Phase::Done => return Needs::default(),
        };
        // Once the track exists the face is looked for near its last box; every fourth frame
        // looks at the whole frame first, so a second face joining is seen within half a
        // second (the end of the check looks for one again with SSD).
        Needs {
            track: self.last_box,
            whole_frame_first: self.frames % 4 == 0,
            ..needs
        }
    }

    /// A descriptor only if the frame faces the camera (once the reference is set; always
    /// before).
    fn if_facing(&self) -> DescriptorNeed {
        self.facing
            .clone()
            .map_or(DescriptorNeed::Yes, DescriptorNeed::IfFacing)
    }

    /// When the clock alone next changes something (a prompt to give, a window that closes).
    pub fn next_deadline(&self) -> i64 {
        let total = self.started_at + self.rules.total_ms;
        let phase = match self.phase {
            Phase::Align => self.started_at + self.rules.align_ms,
            Phase::Hold { until, .. } => until,
            Phase::Prompt {
                asked_at, begun, ..
            } => asked_at + self.prompt_limit(begun),
            Phase::Return { deadline, .. } => deadline,
            Phase::Done => total,
        };
        phase.min(total)
    }

    /// Lets the clock act: gives a prompt whose hold is over, or fails a check whose window or
    /// time ran out.
    pub fn on_clock(&mut self, now: i64) -> FrameReply {
        let mut reply = FrameReply::default();
        if matches!(self.phase, Phase::Done) {
            return reply;
        }
        if now >= self.started_at + self.rules.total_ms {
            let failure = if matches!(self.phase, Phase::Align) && self.reference.is_empty() {
                Failure::NoFace
            } else {
                Failure::Timeout
            };
            return self.fail(reply, failure);
        }
        match self.phase {
            Phase::Align if now >= self.started_at + self.rules.align_ms => {
                let failure = if self.reference.is_empty() && self.captured.is_empty() {
                    Failure::NoFace
                } else {
                    Failure::Timeout
                };
                self.fail(reply, failure)
            }
            Phase::Hold { step, until } if now >= until => {
                self.prompted = true;
                self.enter(
                    Phase::Prompt {
                        step,
                        asked_at: now,
                        hits: 0,
                        begun: false,
                    },
                    now,
                );
                reply.events.push(Event::Prompt {
                    step: step + 1,
                    of: self.plan.len(),
                    action: self.plan[step],
                    time_limit_ms: self.rules.step_window_ms,
                });
                reply
            }
            Phase::Prompt {
                asked_at, begun, ..
            } if now >= asked_at + self.prompt_limit(begun) => {
                self.fail(reply, Failure::StepMissed)
            }
            Phase::Return { deadline, .. } if now >= deadline => {
                self.fail(reply, Failure::StepMissed)
            }
            _ => reply,
        }
    }

    /// Handles one analysed frame received at `now`.
    pub fn on_frame(&mut self, seen: Seen, now: i64) -> FrameReply {
        self.frames += 1;
        let mut reply = self.on_clock(now);
        if reply.verdict.is_some() || matches!(self.phase, Phase::Done) {
            return reply;
        }
        if matches!(self.phase, Phase::Align) {
            self.align(seen, now, &mut reply);
            return reply;
        }
        let face = match seen {
            Seen::One(face) => face,
            Seen::Several => {
                reply.guidance = Some(Guidance::MultipleFaces);
                return self.fail(reply, Failure::MultipleFaces);
            }
            Seen::NoFace => {
                self.missing += 1;
                reply.guidance = Some(Guidance::NoFace);
                if self.missing > self.rules.max_missing_frames {
                    return self.fail(reply, Failure::FaceLost);
                }
                return reply;
            }
        };
        self.missing = 0;
        if self.box_jumps(&face) {
            return self.fail(reply, Failure::FaceChanged);
        }
        self.last_box = face.extent();
        let Some(movement) = pose::movement(&self.reference_landmarks, &face.landmarks) else {
            reply.guidance = Some(Guidance::LookStraight);
            return reply;
        };
        if self.neutral(movement) && self.identity_changes(&face) {
            return self.fail(reply, Failure::FaceChanged);
        }
        reply.guidance = Some(Guidance::Ok);
        match self.phase.clone() {
            Phase::Hold { step, .. } => self.hold(step, movement, &face, &mut reply),
            Phase::Prompt {
                step,
                asked_at,
                hits,
                begun,
            } => self.prompt(
                step,
                (asked_at, hits, begun),
                movement,
                &face,
                now,
                &mut reply,
            ),
            Phase::Return { step, .. } => self.ret(step, &face, now, &mut reply),
            Phase::Align | Phase::Done => {}
        }
        reply
    }

    fn enter(&mut self, phase: Phase, now: i64) {
        self.phase = phase;
        self.phase_started_at = now;
    }

    fn fail(&mut self, mut reply: FrameReply, failure: Failure) -> FrameReply {
        self.phase = Phase::Done;
        reply.verdict = Some(Verdict::Failed {
            failure,
            prompted: self.prompted,
        });
        reply
    }

    fn align(&mut self, seen: Seen, now: i64, reply: &mut FrameReply) {
        let face = match seen {
            Seen::One(face) => face,
            Seen::NoFace => {
                reply.guidance = Some(Guidance::NoFace);
                return;
            }
            Seen::Several => {
                // Nothing is decided yet: start the reference again once one face is left.
                reply.guidance = Some(Guidance::MultipleFaces);
                self.restart_reference();
                return;
            }
        };
        let enrol = self.purpose == Purpose::Enrol;
        let guidance = face.quality.guidance(&self.rules.quality, enrol);
        reply.guidance = Some(guidance);
        if guidance != Guidance::Ok {
            return;
        }
        if self.box_jumps(&face) || self.identity_changes(&face) {
            // Someone else, or a jump, while aligning: begin again with this face.
            self.restart_reference();
        }
        self.last_box = face.extent();
        let Some(descriptor) = face.descriptor else {
            return;
        };
        if enrol {
            let spaced = self
                .last_capture_at
                .is_none_or(|t| now - t >= self.rules.capture_gap_ms);
            if !spaced {
                reply.guidance = Some(Guidance::HoldStill);
                return;
            }
            self.last_capture_at = Some(now);
            self.captured.push(descriptor);
            reply.events.push(Event::Capture {
                captured: self.captured.len(),
                of: self.rules.enrol_frames,
            });
        }
        self.reference.push(face.landmarks.clone());
        self.identity.push(descriptor);
        self.reference_happy = self.reference_happy.max(face.happy.unwrap_or(0.0));
        if self.reference_descriptor.is_none() {
            self.reference_descriptor = Some(descriptor);
        }
        reply.identity_frame = true;
        let wanted = if enrol {
            self.rules.enrol_frames
        } else {
            self.rules.reference_frames
        };
        if self.reference.len() >= wanted {
            self.reference_landmarks = mean_landmarks(&self.reference);
            self.facing = Some(Arc::new(Facing {
                reference: self.reference_landmarks.clone(),
                turn_threshold: self.rules.turn_threshold,
                tilt_threshold: self.rules.tilt_threshold,
                max_frontal_offset: self.rules.quality.max_frontal_offset,
            }));
            if self.reference_happy > 0.4 {
                // Already smiling: a smile cannot be asked for; ask for a movement instead.
                replace_smiles(&mut self.plan, &self.rules.actions);
            }
            let until = now + self.holds[0];
            self.enter(Phase::Hold { step: 0, until }, now);
        }
    }

    fn restart_reference(&mut self) {
        self.reference.clear();
        self.identity.clear();
        self.captured.clear();
        self.reference_descriptor = None;
        self.reference_happy = 0.0;
        self.last_capture_at = None;
        self.last_box = None;
    }

    /// A face whose landmarks jump or change size abruptly means another face took over the
    /// track (only a jump of most of a face counts).
    fn box_jumps(&self, face: &FaceSeen) -> bool {
        let (Some(last), Some(current)) = (self.last_box, face.extent()) else {
            return false;
        };
        let size = last.width.max(last.height);
        let (lx, ly) = (last.x + last.width / 2.0, last.y + last.height / 2.0);
        let (cx, cy) = (
            current.x + current.width / 2.0,
            current.y + current.height / 2.0,
        );
        let jump = (cx - lx).hypot(cy - ly) / size;
        let scale = current.width / last.width;
        jump > 0.8 || !(0.6..=1.67).contains(&scale)
    }

    /// A descriptor (of a frame facing the camera) far from the reference's is another person.
    fn identity_changes(&self, face: &FaceSeen) -> bool {
        match (self.reference_descriptor, face.descriptor) {
            (Some(reference), Some(d)) => {
                face::euclidean_distance(&reference, &d) >= self.rules.continuity_distance
            }
            _ => false,
        }
    }

    fn hold(&mut self, step: usize, m: Movement, face: &FaceSeen, reply: &mut FrameReply) {
        if self.reached(m, face).is_some() {
            reply.guidance = Some(Guidance::HoldStill);
            *reply = self.fail(std::mem::take(reply), Failure::MovedEarly);
            return;
        }
        if self.plan[step] == Action::Smile && self.smiling(face) {
            *reply = self.fail(std::mem::take(reply), Failure::MovedEarly);
            return;
        }
        if !self.neutral(m) {
            reply.guidance = Some(Guidance::LookStraight);
        }
    }

    /// How long the current prompt may still run: until its movement must begin, then until
    /// its window closes.
    fn prompt_limit(&self, begun: bool) -> i64 {
        if begun {
            self.rules.step_window_ms
        } else {
            self.rules.start_ms.min(self.rules.step_window_ms)
        }
    }

    fn prompt(
        &mut self,
        step: usize,
        (asked_at, hits, begun): (i64, u32, bool),
        m: Movement,
        face: &FaceSeen,
        now: i64,
        reply: &mut FrameReply,
    ) {
        let action = self.plan[step];
        let reached = self.reached(m, face);
        let smiled = action == Action::Smile && self.smiling(face);
        let done = reached == Some(action) || smiled;
        if now - asked_at < self.rules.reaction_ms {
            // This frame was taken before the user could have seen the prompt.
            if done {
                *reply = self.fail(std::mem::take(reply), Failure::MovedEarly);
            }
            return;
        }
        if action != Action::Smile && reached.is_some_and(|r| r != action) {
            *reply = self.fail(std::mem::take(reply), Failure::WrongMovement);
            return;
        }
        let begun = begun || done || self.begins(action, m, face);
        let hits = if done { hits + 1 } else { 0 };
        if hits >= 2 {
            reply.events.push(Event::Step {
                step: step + 1,
                passed: true,
            });
            let deadline = now + self.rules.return_ms;
            self.enter(Phase::Return { step, deadline }, now);
        } else {
            self.phase = Phase::Prompt {
                step,
                asked_at,
                hits,
                begun,
            };
        }
    }

    fn ret(&mut self, step: usize, face: &FaceSeen, now: i64, reply: &mut FrameReply) {
        let facing = self
            .facing
            .as_ref()
            .is_some_and(|f| f.holds(&face.landmarks, face.quality.frontal_offset));
        let Some(descriptor) = face.descriptor.filter(|_| facing) else {
            reply.guidance = Some(Guidance::LookStraight);
            return;
        };
        self.identity.push(descriptor);
        reply.identity_frame = true;
        if step + 1 < self.plan.len() {
            let until = now + self.holds[step + 1];
            self.enter(
                Phase::Hold {
                    step: step + 1,
                    until,
                },
                now,
            );
        } else {
            self.phase = Phase::Done;
            reply.verdict = Some(Verdict::Passed {
                identity: std::mem::take(&mut self.identity),
                captured: std::mem::take(&mut self.captured),
            });
        }
    }

    /// The asked movement has gone half of the way its threshold asks.
    fn begins(&self, action: Action, m: Movement, face: &FaceSeen) -> bool {
        let (yaw, pitch) = (
            m.yaw / self.rules.turn_threshold,
            m.pitch / self.rules.tilt_threshold,
        );
        match action {
            Action::TurnLeft => yaw >= 0.5,
            Action::TurnRight => yaw <= -0.5,
            Action::LookUp => pitch >= 0.5,
            Action::LookDown => pitch <= -0.5,
            Action::Smile => face.happy.is_some_and(|h| h - self.reference_happy >= 0.15),
        }
    }

    /// The pose movement `m` reaches, if any (the dominant direction past its threshold).
    fn reached(&self, m: Movement, _face: &FaceSeen) -> Option<Action> {
        let yaw = m.yaw / self.rules.turn_threshold;
        let pitch = m.pitch / self.rules.tilt_threshold;
        if yaw.abs() >= pitch.abs() {
            if yaw >= 1.0 {
                Some(Action::TurnLeft)
            } else if yaw <= -1.0 {
                Some(Action::TurnRight)
            } else {
                None
            }
        } else if pitch >= 1.0 {
            Some(Action::LookUp)
        } else if pitch <= -1.0 {
            Some(Action::LookDown)
        } else {
            None
        }
    }

    fn smiling(&self, face: &FaceSeen) -> bool {
        face.happy
            .is_some_and(|h| h >= self.rules.smile_threshold && h - self.reference_happy >= 0.3)
    }

    /// Facing the camera: under half of each threshold.
    fn neutral(&self, m: Movement) -> bool {
        within_half(m, self.rules.turn_threshold, self.rules.tilt_threshold)
    }
}

/// A movement under half of each threshold: the head faces the camera as in the reference.
fn within_half(m: Movement, turn_threshold: f64, tilt_threshold: f64) -> bool {
    m.yaw.abs() < turn_threshold / 2.0 && m.pitch.abs() < tilt_threshold / 2.0
}

/// `steps` actions drawn independently and uniformly from `actions` (four movements, four steps:
/// 256 sequences). A movement may come twice in a row: forbidding it would cut the sequences a
/// replay must match by more than half (108) and stop nothing.
fn draw_plan(actions: &[Action], steps: usize, rng: &mut impl Rng) -> Vec<Action> {
    (0..steps)
        .map_while(|_| actions.choose(rng).copied())
        .collect()
}

fn replace_smiles(plan: &mut [Action], actions: &[Action]) {
    for i in 0..plan.len() {
        if plan[i] != Action::Smile {
            continue;
        }
        let used: Vec<Action> = plan.to_vec();
        let replacement = actions
            .iter()
            .chain(Action::ALL.iter())
            .copied()
            .find(|a| *a != Action::Smile && !used.contains(a))
            .unwrap_or(Action::TurnLeft);
        plan[i] = replacement;
    }
}

fn mean_landmarks(sets: &[Vec<Point>]) -> Vec<Point> {
    let n = sets.len() as f64;
    (0..sets[0].len())
        .map(|i| Point {
            x: sets.iter().map(|s| s[i].x).sum::<f64>() / n,
            y: sets.iter().map(|s| s[i].y).sum::<f64>() / n,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::pose::tests::{project, test_head};
    use rand::SeedableRng;

    const T0: i64 = 1_000_000;
    const FRAME_MS: i64 = 110;

    fn quality() -> Quality {
        Quality {
            face_ratio: 0.4,
            inside: true,
            centre_offset: 0.02,
            luma: 120.0,
            sharpness: 8.0,
            frontal_offset: 0.02,
            eye_openness: 0.3,
        }
    }

    fn descriptor(x: f32) -> Descriptor {
        let mut d = [0f32; 128];
        d[0] = x;
        Descriptor(d)
    }

    fn seen(landmarks: Vec<Point>, who: f32) -> Seen {
        let xs = landmarks.iter().map(|p| p.x);
        let ys = landmarks.iter().map(|p| p.y);
        let (x0, x1) = (
            xs.clone().fold(f64::MAX, f64::min),
            xs.fold(f64::MIN, f64::max),
        );
        let (y0, y1) = (
            ys.clone().fold(f64::MAX, f64::min),
            ys.fold(f64::MIN, f64::max),
        );
        Seen::One(FaceSeen {
            bbox: BBox {
                x: x0,
                y: y0,
                width: x1 - x0,
                height: y1 - y0,
            },
            landmarks,
            quality: quality(),
            descriptor: Some(descriptor(who)),
            happy: Some(0.0),
        })
    }

    /// How a simulated presenter answers: the landmarks of its next frame, given the prompt it
    /// is following (or `None` while it faces the camera) and the time since that prompt.
    type Presenter = dyn FnMut(Option<Action>, i64) -> Seen;

    /// Runs a check with a script, answering prompts through `presenter`; returns the verdict.
    fn run(script: &[Action], presenter: &mut Presenter) -> Verdict {
        let rules = CheckRules {
            script: script.to_vec(),
            ..CheckRules::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut check = LiveCheck::new(Purpose::Verify, rules, &mut rng, T0);
        let mut current: Option<(Action, i64)> = None;
        let mut now = T0;
        for _ in 0..1000 {
            now += FRAME_MS;
            let clock = check.on_clock(now);
            for e in &clock.events {
                if let Event::Prompt { action, .. } = e {
                    current = Some((*action, now));
                }
            }
            if let Some(v) = clock.verdict {
                return v;
            }
            let frame = presenter(current.map(|c| c.0), current.map_or(0, |c| now - c.1));
            let reply = check.on_frame(frame, now);
            for e in &reply.events {
                if let Event::Step { .. } = e {
                    current = None;
                }
            }
            if let Some(v) = reply.verdict {
                return v;
            }
        }
        panic!("the check never ended");
    }

    fn pose_of(action: Option<Action>, since: i64) -> (f64, f64) {
        // A person who reacts after 400 ms and turns 22°.
        let angle = if since >= 400 { 22.0 } else { 0.0 };
        match action {
            Some(Action::TurnLeft) => (angle, 0.0),
            Some(Action::TurnRight) => (-angle, 0.0),
            Some(Action::LookUp) => (0.0, angle),
            Some(Action::LookDown) => (0.0, -angle),
            _ => (0.0, 0.0),
        }
    }

    fn genuine() -> impl FnMut(Option<Action>, i64) -> Seen {
        let head = test_head();
        move |action, since| {
            let (yaw, pitch) = pose_of(action, since);
            seen(project(&head, yaw, pitch, (0.0, 0.0)), 0.0)
        }
    }

    const SCRIPT: [Action; 3] = [Action::TurnLeft, Action::LookUp, Action::TurnRight];

    #[test]
    fn a_person_who_follows_the_prompts_passes_with_frontal_identity_frames() {
        match run(&SCRIPT, &mut genuine()) {
            Verdict::Passed { identity, .. } => assert_eq!(identity.len(), 3 + 3),
            other => panic!("expected a pass, got {other:?}"),
        }
    }

    fn failure(v: Verdict) -> Failure {
        match v {
            Verdict::Failed { failure, .. } => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_still_photo_misses_the_first_step() {
        let frontal = project(&test_head(), 0.0, 0.0, (0.0, 0.0));
        assert_eq!(
            failure(run(&SCRIPT, &mut move |_, _| seen(frontal.clone(), 0.0))),
            Failure::StepMissed
        );
    }

    #[test]
    fn a_photo_tilted_like_a_turn_misses_the_step() {
        let frontal = project(&test_head(), 0.0, 0.0, (0.0, 0.0));
        // The print turned 35° about its vertical axis (a homography of the frontal face).
        let mut tilted = move |action: Option<Action>, since: i64| {
            let t: f64 = if action.is_some() && since >= 400 {
                35f64.to_radians()
            } else {
                0.0
            };
            let pts = frontal
                .iter()
                .map(|p| {
                    let x = (p.x - 160.0) / 100.0;
                    let depth = 5.0 - x * t.sin();
                    Point {
                        x: 160.0 + 500.0 * x * t.cos() / depth,
                        y: 120.0 + 5.0 * (p.y - 120.0) / depth,
                    }
                })
                .collect();
            seen(pts, 0.0)
        };
        assert_eq!(failure(run(&SCRIPT, &mut tilted)), Failure::StepMissed);
    }

    #[test]
    fn turning_before_the_prompt_fails_as_moved_early() {
        let head = test_head();
        // Turns left straight after the reference frames, whatever is asked.
        let mut frames = 0;
        let mut eager = move |_: Option<Action>, _: i64| {
            frames += 1;
            let yaw = if frames > 4 { 22.0 } else { 0.0 };
            seen(project(&head, yaw, 0.0, (0.0, 0.0)), 0.0)
        };
        assert_eq!(failure(run(&SCRIPT, &mut eager)), Failure::MovedEarly);
    }

    /// A person who follows every prompt, beginning `delay` ms after it and turning 22° over
    /// the next 300 ms.
    fn reacting_after(delay: i64) -> impl FnMut(Option<Action>, i64) -> Seen {
        let head = test_head();
        move |action, since| {
            let fraction = ((since - delay) as f64 / 300.0).clamp(0.0, 1.0);
            let (yaw, pitch) = pose_of(action, 400);
            seen(
                project(&head, yaw * fraction, pitch * fraction, (0.0, 0.0)),
                0.0,
            )
        }
    }

    #[test]
    fn a_movement_must_begin_soon_after_its_prompt() {
        let start = CheckRules::default().start_ms;
        assert!(matches!(
            run(&SCRIPT, &mut reacting_after(start - 400)),
            Verdict::Passed { .. }
        ));
        // Finishing well inside the window is not enough when the movement began too late,
        // as a recording made for another check's timing does.
        assert_eq!(
            failure(run(&SCRIPT, &mut reacting_after(start + 200))),
            Failure::StepMissed
        );
    }

    #[test]
    fn the_wrong_movement_fails_at_once() {
        let head = test_head();
        let mut mirrored = move |action: Option<Action>, since: i64| {
            let (yaw, pitch) = pose_of(action, since);
            seen(project(&head, -yaw, pitch, (0.0, 0.0)), 0.0)
        };
        assert_eq!(failure(run(&SCRIPT, &mut mirrored)), Failure::WrongMovement);
    }

    #[test]
    fn a_face_that_leaves_the_view_mid_check_is_lost() {
        let mut inner = genuine();
        let mut leaves = move |action: Option<Action>, since: i64| {
            if action == Some(Action::LookUp) {
                Seen::NoFace
            } else {
                inner(action, since)
            }
        };
        assert_eq!(failure(run(&SCRIPT, &mut leaves)), Failure::FaceLost);
    }

    #[test]
    fn another_face_taking_over_the_track_is_a_cut() {
        let head = test_head();
        let mut swap = move |action: Option<Action>, since: i64| {
            let (yaw, pitch) = pose_of(action, since);
            let who = if action == Some(Action::LookUp) {
                0.9
            } else {
                0.0
            };
            seen(project(&head, yaw, pitch, (0.0, 0.0)), who)
        };
        assert_eq!(failure(run(&SCRIPT, &mut swap)), Failure::FaceChanged);
        let mut jump = |action: Option<Action>, since: i64| {
            let (yaw, pitch) = pose_of(action, since);
            let shift = if action == Some(Action::LookUp) {
                120.0
            } else {
                0.0
            };
            seen(project(&test_head(), yaw, pitch, (shift, 0.0)), 0.0)
        };
        assert_eq!(failure(run(&SCRIPT, &mut jump)), Failure::FaceChanged);
    }

    #[test]
    fn a_second_face_after_alignment_fails_the_check() {
        let mut inner = genuine();
        let mut crowd = move |action: Option<Action>, since: i64| {
            if action.is_some() {
                Seen::Several
            } else {
                inner(action, since)
            }
        };
        assert_eq!(failure(run(&SCRIPT, &mut crowd)), Failure::MultipleFaces);
    }

    #[test]
    fn no_face_at_all_is_no_face_and_not_prompted() {
        match run(&SCRIPT, &mut |_, _| Seen::NoFace) {
            Verdict::Failed { failure, prompted } => {
                assert_eq!(failure, Failure::NoFace);
                assert!(!prompted);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_prompt_is_given_only_after_the_hold_and_times_out_after_its_window() {
        let rules = CheckRules {
            script: SCRIPT.to_vec(),
            ..CheckRules::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut check = LiveCheck::new(Purpose::Verify, rules.clone(), &mut rng, T0);
        let frontal = project(&test_head(), 0.0, 0.0, (0.0, 0.0));
        let mut now = T0;
        for _ in 0..3 {
            now += FRAME_MS;
            assert!(check
                .on_frame(seen(frontal.clone(), 0.0), now)
                .events
                .is_empty());
        }
        let hold_end = check.next_deadline();
        assert!(hold_end - now >= rules.hold_ms.0 && hold_end - now <= rules.hold_ms.1);
        assert!(check.on_clock(hold_end - 1).events.is_empty());
        let reply = check.on_clock(hold_end);
        assert!(matches!(
            reply.events[..],
            [Event::Prompt {
                step: 1,
                of: 3,
                action: Action::TurnLeft,
                ..
            }]
        ));
        // A face that does not begin to move fails when the movement should have begun.
        assert_eq!(check.next_deadline(), hold_end + rules.start_ms);
        assert!(check
            .on_clock(hold_end + rules.start_ms - 1)
            .verdict
            .is_none());
        let verdict = check.on_clock(hold_end + rules.start_ms).verdict;
        assert!(matches!(
            verdict,
            Some(Verdict::Failed {
                failure: Failure::StepMissed,
                prompted: true
            })
        ));
    }

    #[test]
    fn random_plans_cover_every_sequence_of_the_default_steps() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let rules = CheckRules::default();
        let plans: Vec<Vec<Action>> = (0..5_000)
            .map(|_| draw_plan(&rules.actions, rules.steps, &mut rng))
            .collect();
        assert!(plans.iter().all(|p| p.len() == rules.steps));
        let mut counts: std::collections::HashMap<&Vec<Action>, usize> = Default::default();
        for p in &plans {
            *counts.entry(p).or_default() += 1;
        }
        // 4^4 = 256 sequences, about 20 draws each: none missing and none far more likely
        // than the rest (a replay's chance is the likeliest sequence's).
        assert_eq!(counts.len(), 256);
        let most = counts.values().copied().max().unwrap_or(0);
        assert!(most <= 40, "one sequence drawn {most} times in 5000");
    }

    #[test]
    fn enrolment_keeps_spaced_captures_of_open_eyed_frames() {
        let rules = CheckRules {
            script: SCRIPT.to_vec(),
            ..CheckRules::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut check = LiveCheck::new(Purpose::Enrol, rules, &mut rng, T0);
        let frontal = project(&test_head(), 0.0, 0.0, (0.0, 0.0));
        let mut captures = 0;
        let mut now = T0;
        // Frames 100 ms apart: only every third one is far enough from the last capture.
        for _ in 0..9 {
            now += 100;
            let reply = check.on_frame(seen(frontal.clone(), 0.0), now);
            captures += reply
                .events
                .iter()
                .filter(|e| matches!(e, Event::Capture { .. }))
                .count();
        }
        assert_eq!(captures, 3);
        assert!(matches!(check.phase, Phase::Hold { step: 0, .. }));
    }

    #[test]
    fn after_the_reference_the_face_is_followed_and_descriptors_are_taken_facing_the_camera() {
        let rules = CheckRules {
            script: SCRIPT.to_vec(),
            ..CheckRules::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut check = LiveCheck::new(Purpose::Verify, rules, &mut rng, T0);
        let frontal = project(&test_head(), 0.0, 0.0, (0.0, 0.0));
        let first = check.needs();
        assert_eq!((first.track, first.descriptor), (None, DescriptorNeed::Yes));
        let mut now = T0;
        while !matches!(check.phase, Phase::Hold { .. }) {
            now += FRAME_MS;
            check.on_frame(seen(frontal.clone(), 0.0), now);
            assert!(now < T0 + 10 * FRAME_MS, "no hold after 10 frontal frames");
        }
        let (mut whole_first, mut facing_rule) = (0, None);
        for _ in 0..8 {
            let needs = check.needs();
            assert!(needs.track.is_some(), "the track's box is not handed on");
            whole_first += usize::from(needs.whole_frame_first);
            if let DescriptorNeed::IfFacing(rule) = needs.descriptor {
                facing_rule = Some(rule);
            }
            now += 10;
            check.on_frame(seen(frontal.clone(), 0.0), now);
        }
        assert_eq!(
            whole_first, 2,
            "every fourth frame looks at the whole frame first"
        );
        let facing = facing_rule.expect("a hold asks for a descriptor every fourth frame");
        assert!(facing.holds(&frontal, 0.02));
        let turned = project(&test_head(), 25.0, 0.0, (0.0, 0.0));
        assert!(
            !facing.holds(&turned, 0.02),
            "a turned head's descriptor is wanted"
        );
        assert!(
            !facing.holds(&frontal, 0.9),
            "a face far from frontal passes as facing"
        );
    }
}
