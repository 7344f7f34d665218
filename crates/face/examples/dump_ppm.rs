//! Writes each image as the face engine sees it (decoded, EXIF-rotated, RGB) to a binary PPM, so
//! the reference script can feed face-api.js exactly the same pixels.
//!
//! `cargo run --release -p facegate-face --example dump_ppm -- OUT_DIR IMAGE...`

use std::io::Write;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out_dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: dump_ppm OUT_DIR IMAGE..."))?;
    std::fs::create_dir_all(&out_dir)?;
    for path in args {
        let bytes = std::fs::read(&path)?;
        let image = face::decode_image(&bytes, &face::ImageLimits::default())
            .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let stem = Path::new(&path)
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| anyhow::anyhow!("{path}: no file name"))?;
        let mut file = std::fs::File::create(Path::new(&out_dir).join(format!("{stem}.ppm")))?;
        write!(file, "P6\n{} {}\n255\n", image.width, image.height)?;
        file.write_all(&image.pixels)?;
    }
    Ok(())
}
