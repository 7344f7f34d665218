//! The people of `../shared/faces` the evaluation uses: each enrols with `<person>_1.jpg` and is
//! rendered from `<person>_2.jpg`, so enrolment and sign-in never use the same photo.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use face::Engine;

use crate::render::Photo;

/// The identities with at least two photos.
pub const PEOPLE: [&str; 5] = [
    "obama",
    "biden",
    "kit_harington",
    "rose_leslie",
    "alex_lacamoire",
];

/// One person: the enrolment photo's bytes and the photo the renderer animates.
pub struct Person {
    pub name: String,
    pub enrol_photo: Vec<u8>,
    pub photo: Photo,
}

/// `$FACEGATE_SHARED_FACES`, else `<repo>/../shared/faces`.
pub fn default_faces_dir() -> PathBuf {
    std::env::var_os("FACEGATE_SHARED_FACES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/faces"),
        PathBuf::from,
    )
}

/// `$FACEGATE_MODELS`, else `<repo>/models`.
pub fn default_models_dir() -> PathBuf {
    std::env::var_os("FACEGATE_MODELS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// Loads the face engine, failing with a message that says what is missing.
pub fn load_engine(models: &Path) -> anyhow::Result<Engine> {
    if !face::models::is_complete(models) {
        bail!(
            "face models missing in {}: run `./target/release/facegate models fetch` (or set FACEGATE_MODELS)",
            models.display()
        );
    }
    Engine::load(models).with_context(|| format!("loading models from {}", models.display()))
}

/// Reads every person's photos; fails with a clear message when `../shared/faces` is missing.
pub fn load_people(engine: &Engine, faces: &Path) -> anyhow::Result<Vec<Person>> {
    if !faces.join("obama_1.jpg").is_file() {
        bail!(
            "the photos of ../shared/faces are missing in {} (set FACEGATE_SHARED_FACES)",
            faces.display()
        );
    }
    PEOPLE
        .iter()
        .map(|name| {
            let read = |n: u8| {
                let p = faces.join(format!("{name}_{n}.jpg"));
                std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
            };
            let render_bytes = read(2)?;
            let photo = Photo::from_bytes(engine, &render_bytes)
                .with_context(|| format!("{name}_2.jpg"))?;
            Ok(Person {
                name: (*name).to_owned(),
                enrol_photo: read(1)?,
                photo,
            })
        })
        .collect()
}
