//! Median time to decode image files with `face::decode_image` beside the `image` crate's
//! decoder (zune-jpeg for JPEG), which `decode_image` used for JPEG before it reproduced
//! libjpeg-turbo.
//!
//! `cargo run --release -p facegate-face --example decode_timing -- [--runs N] IMAGE...`

use std::time::Instant;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 15;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args
            .get(i + 1)
            .ok_or_else(|| anyhow::anyhow!("--runs N"))?
            .parse()?;
        args.drain(i..i + 2);
    }
    anyhow::ensure!(!args.is_empty(), "usage: decode_timing [--runs N] IMAGE...");
    println!(
        "{:<32} {:>11} {:>14} {:>12}",
        "image", "size", "decode_image", "image crate"
    );
    for path in &args {
        let bytes = std::fs::read(path)?;
        let decoded = face::decode_image(&bytes, &face::ImageLimits::default())
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let ours = median_ms(runs, || {
            let _ = std::hint::black_box(face::decode_image(&bytes, &face::ImageLimits::default()));
        });
        let theirs = median_ms(runs, || {
            let _ = std::hint::black_box(image::load_from_memory(&bytes).map(|i| i.into_rgb8()));
        });
        let name = std::path::Path::new(path)
            .file_name()
            .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        println!(
            "{name:<32} {:>11} {ours:>11.2} ms {theirs:>9.2} ms",
            format!("{}x{}", decoded.width, decoded.height)
        );
    }
    Ok(())
}
