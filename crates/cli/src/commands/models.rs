//! `facegate models fetch`: the face-api.js weights and demo images, from the npm package, checked
//! against the sums committed in the face crate.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use face::models;

/// Fetches the models into `dir` unless every file is already there with the right sum.
pub fn fetch(dir: &Path) -> Result<()> {
    if models::verify_dir(dir).is_ok() {
        outln!("models in {} are complete and verified", dir.display());
        return Ok(());
    }
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let tarball = npm_pack(scratch.path())?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let written = extract_model_files(&tarball, dir)?;
    models::verify_dir(dir).with_context(|| {
        format!(
            "{} after extracting {} files from {}",
            dir.display(),
            written,
            models::PACKAGE
        )
    })?;
    outln!(
        "fetched {written} files of {} into {} (SHA-256 verified)",
        models::PACKAGE,
        dir.display()
    );
    Ok(())
}

/// Downloads the package tarball with the npm client, which uses the registry the machine is
/// configured for.
fn npm_pack(into: &Path) -> Result<PathBuf> {
    let output = Command::new("npm")
        .args(["pack", models::PACKAGE, "--silent", "--pack-destination"])
        .arg(into)
        .output()
        .context("cannot run `npm` (Node.js and npm are needed to fetch the models)")?;
    if !output.status.success() {
        bail!(
            "`npm pack {}` failed: {}",
            models::PACKAGE,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let name = String::from_utf8_lossy(&output.stdout);
    let name = name.lines().last().map(str::trim).unwrap_or_default();
    let path = into.join(name);
    if name.is_empty() || !path.is_file() {
        bail!("`npm pack` did not report the tarball it wrote (got {name:?})");
    }
    Ok(path)
}

/// Copies the files the sums list from the tarball's `model/` and `demo/` folders; returns how
/// many were written. Nothing else of the package is extracted.
fn extract_model_files(tarball: &Path, dir: &Path) -> Result<usize> {
    let wanted: Vec<&str> = models::expected_files().map(|(name, _)| name).collect();
    let file = File::open(tarball).with_context(|| format!("cannot open {}", tarball.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut written = 0;
    for entry in archive
        .entries()
        .context("cannot read the package tarball")?
    {
        let mut entry = entry.context("corrupt entry in the package tarball")?;
        let path = entry.path()?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let in_folder = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|p| p.to_str());
        if !matches!(in_folder, Some("model" | "demo")) || !wanted.contains(&name) {
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes)?;
        // Write then rename, so an interrupted fetch never leaves a half file under the real name.
        let partial = dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, &bytes)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, dir.join(name))?;
        written += 1;
    }
    Ok(written)
}
