//! Writes a MongoDB export of tutorial-stack users made from photos, to try
//! `facegate admin import-users` by hand:
//!
//!     cargo run --release -p facegate-server --example mongo_export -- OUT.json \
//!         alice:pass1234word:../shared/faces/obama_1.jpg bob:other-pass:../shared/faces/biden_1.jpg
//!
//! Each user is `username:password:photo`; the email is `<username>@example.org`.

#[path = "../tests/mongo_fixture/mod.rs"]
mod mongo_fixture;

use std::path::PathBuf;

use anyhow::{bail, Context};
use mongo_fixture::{bcrypt_hash, descriptor, json_lines, shaped, user_document, DescriptorShape};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .context("usage: mongo_export OUT user:password:photo...")?,
    );
    let models =
        std::env::var_os("FACEGATE_MODELS").map_or_else(face::models::default_dir, PathBuf::from);
    let engine = face::Engine::load(&models).context("loading the face models")?;
    let mut documents = Vec::new();
    for (i, spec) in args.enumerate() {
        let mut parts = spec.splitn(3, ':');
        let (Some(username), Some(password), Some(photo)) =
            (parts.next(), parts.next(), parts.next())
        else {
            bail!("{spec:?} is not username:password:photo");
        };
        let values = descriptor(&engine, photo.as_ref());
        documents.push(user_document(
            &format!("{:024x}", i + 1),
            username,
            &format!("{username}@example.org"),
            username,
            &bcrypt_hash(password, "2b"),
            shaped(&values, DescriptorShape::KeyedObject),
        ));
    }
    std::fs::write(&out, json_lines(&documents))
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {} user(s) to {}", documents.len(), out.display());
    Ok(())
}
