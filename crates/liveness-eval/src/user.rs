//! A simulated user: reacts to the server's prompts with a smooth head movement, holds it,
//! comes back to face the camera, and sways a little all the time.

use std::f64::consts::TAU;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::render::{Expression, Pose};

/// A prompt's action, as `docs/live-check.md` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    TurnLeft,
    TurnRight,
    LookUp,
    LookDown,
    Smile,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "turn_left" => Self::TurnLeft,
            "turn_right" => Self::TurnRight,
            "look_up" => Self::LookUp,
            "look_down" => Self::LookDown,
            "smile" => Self::Smile,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::TurnLeft => "turn_left",
            Self::TurnRight => "turn_right",
            Self::LookUp => "look_up",
            Self::LookDown => "look_down",
            Self::Smile => "smile",
        }
    }

    /// The pose of a full movement of `degrees` (the user's left is +yaw, up is +pitch).
    pub fn pose(self, degrees: f64) -> Pose {
        match self {
            Self::TurnLeft => Pose::yaw(degrees),
            Self::TurnRight => Pose::yaw(-degrees),
            Self::LookUp => Pose::pitch(degrees),
            Self::LookDown => Pose::pitch(-degrees),
            Self::Smile => Pose::FRONTAL,
        }
    }
}

/// One movement: from frontal to `target` and back, with smooth ramps (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Movement {
    pub action: Action,
    pub start: f64,
    pub ramp: f64,
    pub hold: f64,
    pub back: f64,
    pub degrees: f64,
}

impl Movement {
    /// How far along the movement is at `t`: 0 (frontal) to 1 (held).
    pub fn amount_at(&self, t: f64) -> f64 {
        let s = t - self.start;
        let smooth = |x: f64| {
            let x = x.clamp(0.0, 1.0);
            x * x * (3.0 - 2.0 * x)
        };
        if s <= 0.0 {
            0.0
        } else if s < self.ramp {
            smooth(s / self.ramp)
        } else if s < self.ramp + self.hold {
            1.0
        } else {
            1.0 - smooth((s - self.ramp - self.hold) / self.back)
        }
    }

    pub fn end(&self) -> f64 {
        self.start + self.ramp + self.hold + self.back
    }
}

/// The user's whole motion over a check: prompts add movements; `pose_at` reads it.
pub struct SimUser {
    rng: StdRng,
    movements: Vec<Movement>,
    sway: [(f64, f64, f64); 3],
}

impl SimUser {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut sway = || {
            (
                rng.gen_range(0.5..=2.0),
                rng.gen_range(3.0..=7.0),
                rng.gen_range(0.0..TAU),
            )
        };
        let sway = [sway(), sway(), sway()];
        Self {
            rng,
            movements: Vec::new(),
            sway,
        }
    }

    /// The prompt `action` arrived at `t`: react after 300–700 ms, turn 20–28° (yaw) or
    /// 15–22° (pitch) in 0.35–0.6 s, hold 0.5–1 s, come back in 0.35–0.6 s.
    pub fn prompt(&mut self, action: Action, t: f64) {
        let degrees = match action {
            Action::TurnLeft | Action::TurnRight => self.rng.gen_range(20.0..=28.0),
            Action::LookUp | Action::LookDown => self.rng.gen_range(15.0..=22.0),
            Action::Smile => 1.0,
        };
        let m = Movement {
            action,
            start: t + self.rng.gen_range(0.3..=0.7),
            ramp: self.rng.gen_range(0.35..=0.6),
            hold: self.rng.gen_range(0.5..=1.0),
            back: self.rng.gen_range(0.35..=0.6),
            degrees,
        };
        self.push(m);
    }

    /// Adds a movement as given (a fixed script).
    pub fn push(&mut self, m: Movement) {
        self.movements.push(m);
    }

    pub fn movements(&self) -> &[Movement] {
        &self.movements
    }

    /// Pose and expression at `t` seconds.
    pub fn at(&self, t: f64) -> (Pose, Expression) {
        let wave = |(amp, period, phase): (f64, f64, f64)| amp * (TAU * t / period + phase).sin();
        let mut pose = Pose {
            yaw: wave(self.sway[0]),
            pitch: 0.75 * wave(self.sway[1]),
            roll: 0.75 * wave(self.sway[2]),
        };
        let mut expression = Expression::default();
        for m in &self.movements {
            let a = m.amount_at(t);
            if a == 0.0 {
                continue;
            }
            if m.action == Action::Smile {
                expression.smile = expression.smile.max(a);
            }
            let target = m.action.pose(m.degrees);
            pose.yaw += a * target.yaw;
            pose.pitch += a * target.pitch;
        }
        (pose, expression)
    }
}
