//! The imperfections of a real webcam laid over rendered frames: sensor noise, gain and
//! lighting drift, small jitter of the picture, JPEG compression.

use std::f64::consts::TAU;

use face::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::render::Shake;

/// One simulated camera for one attempt: its settings are drawn once, its noise per frame.
pub struct Webcam {
    rng: StdRng,
    quality: u8,
    noise_sigma: f32,
    gain_amplitude: f64,
    gain_period: f64,
    gain_phase: f64,
    light_amplitude: f64,
    light_period: f64,
    jitter_px: f64,
    jitter_scale: f64,
}

impl Webcam {
    /// JPEG quality 70–85, noise σ 1.5–3.5 levels, gain ±3–8 % over 3–8 s, a side light
    /// drifting ±6 % across the frame, jitter up to ±1.2 px and ±1 % scale.
    pub fn random(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self {
            quality: rng.gen_range(70..=85),
            noise_sigma: rng.gen_range(1.5..=3.5),
            gain_amplitude: rng.gen_range(0.03..=0.08),
            gain_period: rng.gen_range(3.0..=8.0),
            gain_phase: rng.gen_range(0.0..TAU),
            light_amplitude: rng.gen_range(0.0..=0.06),
            light_period: rng.gen_range(4.0..=10.0),
            jitter_px: rng.gen_range(0.3..=1.2),
            jitter_scale: rng.gen_range(0.002..=0.01),
            rng,
        }
    }

    pub fn quality(&self) -> u8 {
        self.quality
    }

    /// A small random motion of the whole picture for the next frame.
    pub fn shake(&mut self) -> Shake {
        let j = self.jitter_px;
        let s = self.jitter_scale;
        Shake {
            dx: self.rng.gen_range(-j..=j),
            dy: self.rng.gen_range(-j..=j),
            scale: 1.0 + self.rng.gen_range(-s..=s),
        }
    }

    /// Applies gain, lighting and noise for time `t` (seconds) and encodes as JPEG.
    pub fn capture(&mut self, mut frame: RgbImage, t: f64) -> anyhow::Result<Vec<u8>> {
        self.expose(&mut frame, t);
        encode_jpeg(&frame, self.quality)
    }

    /// Gain, lighting and sensor noise at time `t` (seconds), in place.
    pub fn expose(&mut self, frame: &mut RgbImage, t: f64) {
        let gain = 1.0 + self.gain_amplitude * (TAU * t / self.gain_period + self.gain_phase).sin();
        let light = self.light_amplitude * (TAU * t / self.light_period).sin();
        let width = frame.width as usize;
        let half = width as f64 / 2.0;
        for (i, px) in frame.pixels.chunks_exact_mut(3).enumerate() {
            let x = (i % width) as f64;
            let g = (gain * (1.0 + light * (x - half) / half)) as f32;
            for c in px.iter_mut() {
                let noisy = f32::from(*c) * g + self.noise_sigma * gaussian(&mut self.rng);
                *c = noisy.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Baseline JPEG of an RGB frame.
pub fn encode_jpeg(frame: &RgbImage, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(16 * 1024);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode(
        &frame.pixels,
        frame.width,
        frame.height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}
