//! Median milliseconds per pipeline stage, on 1 thread and on 2 (or `--threads N,M`).
//!
//! `cargo run --release -p facegate-face --example bench_stages -- [--models DIR] [--iters N]`
//!
//! Workloads: a 640×480 one-face frame, the crop of `sample1.jpg` at `--frame X,Y` (default
//! 650,250, the frame `tools/reference/bench.mjs` times, where both detectors find exactly one
//! face), and the whole `sample1.jpg` (1920×1280, 3 faces). Images are decoded once, outside the
//! timings.

use std::time::Instant;

use face::align::{align_dlib, clip_floor};
use face::{DetectorOptions, Engine, PipelineOptions, RgbImage};

fn median_ms(iters: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..3.min(iters) {
        f();
    }
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn crop(img: &RgbImage, x: u32, y: u32, w: u32, h: u32) -> anyhow::Result<RgbImage> {
    anyhow::ensure!(
        x + w <= img.width && y + h <= img.height,
        "frame outside the image"
    );
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for row in y..y + h {
        let start = ((row * img.width + x) * 3) as usize;
        pixels.extend_from_slice(&img.pixels[start..start + (w * 3) as usize]);
    }
    RgbImage::from_raw(w, h, pixels).ok_or_else(|| anyhow::anyhow!("bad crop"))
}

fn main() -> anyhow::Result<()> {
    let mut models = face::models::default_dir();
    let mut iters = 30usize;
    let mut threads = vec![1usize, 2];
    let mut frame_at = (650u32, 250u32);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--models" => models = v.into(),
            "--iters" => iters = v.parse()?,
            "--threads" => threads = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--frame" => {
                let (x, y) = v
                    .split_once(',')
                    .ok_or_else(|| anyhow::anyhow!("--frame X,Y"))?;
                frame_at = (x.parse()?, y.parse()?);
            }
            _ => anyhow::bail!("unknown flag {a}"),
        }
    }
    let engine = Engine::load(&models)?;
    let sample1 = face::decode_image(
        &std::fs::read(models.join("sample1.jpg"))?,
        &face::ImageLimits::default(),
    )?;
    let frame = crop(&sample1, frame_at.0, frame_at.1, 640, 480)?;
    let options = PipelineOptions::default();
    let detector = DetectorOptions::tiny();
    let ssd_options = PipelineOptions {
        detector: DetectorOptions::ssd(),
        ..PipelineOptions::default()
    };

    let det = engine
        .describe_single(&frame, &options)?
        .ok_or_else(|| anyhow::anyhow!("no face in the 640x480 frame"))?;
    let det_crop = clip_floor(det.detection.bbox, frame.width, frame.height)
        .ok_or_else(|| anyhow::anyhow!("empty crop"))?;
    let rect = align_dlib(&det.landmarks, det_crop.w as f64, det_crop.h as f64);
    let face_crop =
        clip_floor(rect, frame.width, frame.height).ok_or_else(|| anyhow::anyhow!("empty crop"))?;

    println!("stage                               threads  median_ms");
    for &n in &threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build()?;
        pool.install(|| -> anyhow::Result<()> {
            let row = |name: &str, ms: f64| println!("{name:<36}{n:>7}  {ms:>9.2}");
            row(
                "tiny detect @416 (640x480)",
                median_ms(iters, || {
                    let _ = engine.detect(&frame, &detector);
                }),
            );
            row(
                "landmarks68 (detection crop)",
                median_ms(iters, || {
                    let _ = engine.landmarks(&frame, det_crop, false);
                }),
            );
            row(
                "landmarks68 tiny (detection crop)",
                median_ms(iters, || {
                    let _ = engine.landmarks(&frame, det_crop, true);
                }),
            );
            row(
                "recognition (dlib crop)",
                median_ms(iters, || {
                    let _ = engine.descriptor(&frame, face_crop);
                }),
            );
            row(
                "full tiny pipeline, 1 face 640x480",
                median_ms(iters, || {
                    let _ = engine.describe_single(&frame, &options);
                }),
            );
            row(
                "full tiny pipeline, sample1 (3 faces)",
                median_ms(iters.div_ceil(3), || {
                    let _ = engine.describe_all(&sample1, &options);
                }),
            );
            row(
                "ssd detect (640x480)",
                median_ms(iters.div_ceil(2), || {
                    let _ = engine.detect(&frame, &DetectorOptions::ssd());
                }),
            );
            row(
                "full ssd pipeline, 1 face 640x480",
                median_ms(iters.div_ceil(2), || {
                    let _ = engine.describe_single(&frame, &ssd_options);
                }),
            );
            row(
                "full ssd pipeline, sample1 (3 faces)",
                median_ms(iters.div_ceil(3), || {
                    let _ = engine.describe_all(&sample1, &ssd_options);
                }),
            );
            Ok(())
        })?;
    }
    Ok(())
}
