//! Capacity: how many live checks one server holds at once at 8 frames/s each, with the
//! frame-to-answer latency, and the server's CPU per completed check (from `/proc/<pid>/stat`).
//!
//! The client side must not steal the server's CPU on a shared 2-core machine, so its frames
//! come from a [`FrameBank`]: a genuine head pre-rendered (and JPEG-encoded, with webcam
//! noise) at every pose a simulated user reaches, looked up by pose at run time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::{self, Pacing, Session};
use crate::render::{Expression, Head, Pose};
use crate::species::Presenter;
use crate::user::{Action, SimUser};
use crate::webcam::Webcam;

/// Pre-encoded frames of one head: yaw and pitch every 2°, and a smile.
pub struct FrameBank {
    yaw: Vec<(f64, Vec<Vec<u8>>)>,
    pitch: Vec<(f64, Vec<Vec<u8>>)>,
    smile: Vec<Vec<u8>>,
}

const VARIANTS: usize = 3;

impl FrameBank {
    pub fn build(head: &Head, seed: u64) -> anyhow::Result<Self> {
        let mut webcam = Webcam::random(seed);
        let mut shots = |pose: Pose, smile: f64| -> anyhow::Result<Vec<Vec<u8>>> {
            (0..VARIANTS)
                .map(|i| {
                    let picture = head.render(pose, Expression { smile }, webcam.shake());
                    webcam.capture(picture, i as f64 * 0.7)
                })
                .collect()
        };
        let mut yaw = Vec::new();
        for d in (-14..=14).map(|k| f64::from(k) * 2.0) {
            yaw.push((d, shots(Pose::yaw(d), 0.0)?));
        }
        let mut pitch = Vec::new();
        for d in (-11..=11).map(|k| f64::from(k) * 2.0) {
            pitch.push((d, shots(Pose::pitch(d), 0.0)?));
        }
        let smile = shots(Pose::FRONTAL, 1.0)?;
        Ok(Self { yaw, pitch, smile })
    }

    fn nearest(list: &[(f64, Vec<Vec<u8>>)], angle: f64) -> &[Vec<u8>] {
        list.iter()
            .min_by(|a, b| (a.0 - angle).abs().total_cmp(&(b.0 - angle).abs()))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The stored frame closest to `pose` (the larger of yaw and pitch wins).
    fn frame(&self, pose: Pose, expression: Expression, variant: usize) -> Vec<u8> {
        let set = if expression.smile > 0.5 {
            self.smile.as_slice()
        } else if pose.pitch.abs() > pose.yaw.abs() {
            Self::nearest(&self.pitch, pose.pitch)
        } else {
            Self::nearest(&self.yaw, pose.yaw)
        };
        set.get(variant % set.len().max(1))
            .cloned()
            .unwrap_or_default()
    }
}

/// A simulated user whose frames come from a [`FrameBank`].
pub struct BankPresenter {
    bank: Arc<FrameBank>,
    user: SimUser,
    rng: StdRng,
}

impl BankPresenter {
    pub fn new(bank: Arc<FrameBank>, seed: u64) -> Self {
        Self {
            bank,
            user: SimUser::new(seed),
            rng: StdRng::seed_from_u64(seed ^ 0xba2c),
        }
    }
}

impl Presenter for BankPresenter {
    fn prompt(&mut self, action: Action, t: f64) {
        self.user.prompt(action, t);
    }

    fn frame(&mut self, t: f64) -> anyhow::Result<Vec<u8>> {
        let (pose, expression) = self.user.at(t);
        Ok(self.bank.frame(pose, expression, self.rng.gen()))
    }
}

/// The figures of one level of concurrency.
#[derive(Debug, Clone)]
pub struct Level {
    pub sessions: usize,
    pub seconds: f64,
    pub frames: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub completed: usize,
    pub passed: usize,
    pub busy: usize,
    pub cpu_seconds: f64,
}

/// Who signs in: an account and the frames of its owner.
#[derive(Clone)]
pub struct Sitter {
    pub username: String,
    pub bank: Arc<FrameBank>,
}

/// One sitter per person: their account and a frame bank of their head.
pub fn sitters(people: &[crate::cast::Person], run: u64) -> anyhow::Result<Vec<Sitter>> {
    people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let head = Head::new(
                &p.photo,
                crate::render::Framing::centred(320, 240, 0.38),
                crate::render::HeadShape::GENERIC,
            );
            Ok(Sitter {
                username: crate::eval::username(p, run),
                bank: Arc::new(FrameBank::build(&head, i as u64)?),
            })
        })
        .collect()
}

/// Frame pacing of the capacity runs: 8 frames/s.
pub const EIGHT_PER_SECOND: Duration = Duration::from_millis(125);

/// Holds `sessions` live checks at once for `seconds`, each session starting a new check as soon
/// as its last one ends.
pub async fn hold(
    base: &str,
    sitters: &[Sitter],
    sessions: usize,
    seconds: u64,
    cpu: impl Fn() -> f64,
) -> Level {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let cpu_before = cpu();
    let tasks: Vec<_> = (0..sessions)
        .map(|i| {
            let sitter = sitters[i % sitters.len()].clone();
            let base = base.to_owned();
            tokio::spawn(async move { session_loop(&base, sitter, deadline, i as u64).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut completed, mut passed, mut busy) = (0, 0, 0);
    for t in tasks {
        if let Ok(s) = t.await {
            latencies.extend(s.latencies);
            completed += s.completed;
            passed += s.passed;
            busy += s.busy;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    Level {
        sessions,
        seconds: elapsed,
        frames: latencies.len(),
        p50_ms: percentile(&mut latencies, 0.50),
        p99_ms: percentile(&mut latencies, 0.99),
        completed,
        passed,
        busy,
        cpu_seconds: cpu() - cpu_before,
    }
}

#[derive(Default)]
struct SessionStats {
    latencies: Vec<f64>,
    completed: usize,
    passed: usize,
    busy: usize,
}

async fn session_loop(base: &str, sitter: Sitter, deadline: Instant, seed: u64) -> SessionStats {
    let mut stats = SessionStats::default();
    let mut rng = StdRng::seed_from_u64(seed);
    // Stagger the starts over a second so that frames do not arrive in lockstep.
    tokio::time::sleep(Duration::from_millis(rng.gen_range(0..1000))).await;
    while Instant::now() < deadline {
        let Ok(session) = Session::login(base, &sitter.username).await else {
            break;
        };
        let mut presenter = BankPresenter::new(Arc::clone(&sitter.bank), rng.gen());
        let pacing = Pacing {
            interval: EIGHT_PER_SECOND,
            give_up: deadline.saturating_duration_since(Instant::now()),
            record: false,
        };
        let Ok(report) = client::live_check(&session, &mut presenter, pacing).await else {
            break;
        };
        stats.latencies.extend(&report.latencies_ms);
        match report.code.as_deref() {
            Some("cancelled") => {}
            Some("busy") => stats.busy += 1,
            _ if report.outcome == "passed" || report.outcome == "failed" => {
                stats.completed += 1;
                stats.passed += usize::from(report.passed());
            }
            _ => {}
        }
    }
    stats
}

/// Runs `checks` checks one after another on an otherwise idle server and returns each one's
/// server CPU seconds.
pub async fn cpu_per_check(
    base: &str,
    sitter: &Sitter,
    checks: usize,
    cpu: impl Fn() -> f64,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::new();
    for i in 0..checks {
        let session = Session::login(base, &sitter.username).await?;
        let mut presenter = BankPresenter::new(Arc::clone(&sitter.bank), 1000 + i as u64);
        let before = cpu();
        let pacing = Pacing {
            interval: EIGHT_PER_SECOND,
            ..Pacing::default()
        };
        let report = client::live_check(&session, &mut presenter, pacing).await?;
        if report.outcome == "passed" || report.outcome == "failed" {
            out.push(cpu() - before);
        }
    }
    Ok(out)
}

/// The `q` quantile (nearest rank) of `v`; NaN when empty.
pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub fn print_levels(levels: &[Level]) {
    println!(
        "{:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>5} {:>13}",
        "sessions", "frames/s", "p50 ms", "p99 ms", "checks", "passed", "busy", "", "CPU s / check"
    );
    for l in levels {
        let per_check = if l.completed > 0 {
            l.cpu_seconds / l.completed as f64
        } else {
            f64::NAN
        };
        println!(
            "{:>8} {:>9.1} {:>8.1} {:>8.1} {:>8} {:>9} {:>7} {:>5} {:>13.2}",
            l.sessions,
            l.frames as f64 / l.seconds.max(1e-9),
            l.p50_ms,
            l.p99_ms,
            l.completed,
            l.passed,
            l.busy,
            "",
            per_check
        );
    }
}
