//! False match / false non-match rates of the match threshold on a labelled photo folder.
//!
//! `cargo run --release -p facegate-face --example match_rates -- [FACES_DIR] [--models DIR]`
//!
//! Photos are named `<identity>_<n>.jpg` (as in `../shared/faces`); group and edge-case photos
//! (`group_*`, `edge_*`) are left out. Every pair of photos is compared once with the largest
//! detected face of each (SSD detector, as enrolment uses). With so few photos the rates are a
//! sanity check of the separation, not a statistically meaningful FMR: that needs thousands of
//! impostor pairs.

use std::path::PathBuf;

use anyhow::Context;
use face::{decode_image, DetectorOptions, Engine, ImageLimits, PipelineOptions};

fn main() -> anyhow::Result<()> {
    let mut faces_dir = PathBuf::from("../shared/faces");
    let mut models = face::models::default_dir();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--models" => models = args.next().context("--models DIR")?.into(),
            _ => faces_dir = arg.into(),
        }
    }
    let engine = Engine::load(&models)?;
    let options = PipelineOptions {
        detector: DetectorOptions::ssd(),
        ..PipelineOptions::default()
    };
    let mut people = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&faces_dir)
        .with_context(|| format!("cannot list {}", faces_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with("group_") || name.starts_with("edge_") {
            continue;
        }
        let Some((identity, _)) = name.rsplit_once('_') else {
            continue;
        };
        let image = decode_image(&std::fs::read(&path)?, &ImageLimits::default())?;
        let faces = engine.describe_all(&image, &options)?;
        let largest = faces.into_iter().max_by(|a, b| {
            let area = |f: &face::Face| f.detection.bbox.width * f.detection.bbox.height;
            area(a).total_cmp(&area(b))
        });
        match largest {
            Some(face) => people.push((identity.to_string(), name, face.descriptor)),
            None => println!("{name}: no face found"),
        }
    }
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for (i, a) in people.iter().enumerate() {
        for b in &people[i + 1..] {
            let d = face::euclidean_distance(&a.2, &b.2);
            if a.0 == b.0 {
                genuine.push(d)
            } else {
                impostor.push(d)
            }
        }
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::min);
    println!(
        "{} photos, {} genuine pairs (max distance {:.3}), {} impostor pairs (min distance {:.3})",
        people.len(),
        genuine.len(),
        max(&genuine),
        impostor.len(),
        min(&impostor)
    );
    println!("threshold  false non-match  false match");
    for threshold in [0.4, 0.45, 0.5, 0.55, 0.6, 0.65] {
        let fnm = genuine.iter().filter(|&&d| d >= threshold).count();
        let fm = impostor.iter().filter(|&&d| d < threshold).count();
        println!(
            "{threshold:>9.2}  {fnm:>3}/{:<3} ({:>5.1}%)  {fm:>3}/{:<3} ({:>5.1}%)",
            genuine.len(),
            100.0 * fnm as f64 / genuine.len().max(1) as f64,
            impostor.len(),
            100.0 * fm as f64 / impostor.len().max(1) as f64
        );
    }
    Ok(())
}
