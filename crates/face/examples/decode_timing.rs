//! Time to decode image files with `face::decode_image` beside the `image` crate's decoder
//! (zune-jpeg for JPEG), which `decode_image` used for JPEG before it reproduced libjpeg-turbo.
//! The two alternate run by run, so that a busy machine slows both alike; prints the median and
//! the fastest run of each.
//!
//! `cargo run --release -p facegate-face --example decode_timing -- [--runs N] IMAGE...`

use std::time::Instant;

/// Median and minimum milliseconds of `a` and of `b`, run alternately `runs` times each.
fn alternate_ms(runs: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> [(f64, f64); 2] {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64() * 1e3
    };
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        times[0].push(time(&mut a));
        times[1].push(time(&mut b));
    }
    times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        (t[t.len() / 2], t[0])
    })
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
        "{:<28} {:>10} {:>22} {:>22}",
        "image", "size", "decode_image med/min", "image crate med/min"
    );
    for path in &args {
        let bytes = std::fs::read(path)?;
        let decoded = face::decode_image(&bytes, &face::ImageLimits::default())
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let [ours, theirs] = alternate_ms(
            runs,
            || {
                let _ =
                    std::hint::black_box(face::decode_image(&bytes, &face::ImageLimits::default()));
            },
            || {
                let _ =
                    std::hint::black_box(image::load_from_memory(&bytes).map(|i| i.into_rgb8()));
            },
        );
        let name = std::path::Path::new(path)
            .file_name()
            .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        println!(
            "{name:<28} {:>10} {:>10.2} /{:>6.2} ms {:>10.2} /{:>6.2} ms",
            format!("{}x{}", decoded.width, decoded.height),
            ours.0,
            ours.1,
            theirs.0,
            theirs.1
        );
    }
    Ok(())
}
