//! Makes a MongoDB export of the tutorial stack's `users` collection from real photos: bcrypt
//! hashes as passport-style backends store them (`$2b$`, bcryptjs' `$2a$`, PHP's `$2y$`) and
//! face-api.js descriptors computed by the project's face engine in face-api.js's default mode
//! (`detectSingleFace`: SSD MobileNetV1, 68 landmarks, recognition net).
//!
//! Used by `tests/transfer_import.rs`, and by `examples/mongo_export.rs` to write a file for
//! trying `facegate admin import-users` by hand.
#![allow(dead_code)]

use std::path::Path;

use serde_json::{json, Map, Value};

/// bcrypt's default cost in bcryptjs and most tutorials.
pub const TUTORIAL_COST: u32 = 10;

/// The 128 numbers of the single face in `photo` (panics with the path when unreadable or
/// when it holds no face or several).
pub fn descriptor(engine: &face::Engine, photo: &Path) -> Vec<f32> {
    let bytes = std::fs::read(photo).unwrap_or_else(|e| panic!("reading {}: {e}", photo.display()));
    let image = face::decode_image(&bytes, &face::ImageLimits::default())
        .unwrap_or_else(|e| panic!("decoding {}: {e}", photo.display()));
    let options = face::PipelineOptions {
        detector: face::DetectorOptions::ssd(),
        ..face::PipelineOptions::default()
    };
    let faces = engine
        .describe_all(&image, &options)
        .unwrap_or_else(|e| panic!("describing {}: {e}", photo.display()));
    assert_eq!(faces.len(), 1, "{} must show one face", photo.display());
    faces[0].descriptor.0.to_vec()
}

/// How the old app serialised the descriptor.
#[derive(Debug, Clone, Copy)]
pub enum DescriptorShape {
    /// `Array.from(descriptor)`.
    Array,
    /// A `Float32Array` passed to `JSON.stringify`: `{"0": .., "1": .., ...}`.
    KeyedObject,
}

pub fn shaped(values: &[f32], shape: DescriptorShape) -> Value {
    match shape {
        DescriptorShape::Array => json!(values),
        DescriptorShape::KeyedObject => Value::Object(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), json!(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

/// A bcrypt hash of `password` with the given prefix (`2a`, `2b` or `2y`).
pub fn bcrypt_hash(password: &str, prefix: &str) -> String {
    let made = bcrypt::hash(password, TUTORIAL_COST).expect("bcrypt");
    format!("${prefix}${}", &made[4..])
}

/// One document as `mongoexport` writes it (relaxed extended JSON).
pub fn user_document(
    oid: &str,
    username: &str,
    email: &str,
    full_name: &str,
    password_hash: &str,
    descriptor: Value,
) -> Value {
    json!({
        "_id": {"$oid": oid},
        "username": username,
        "email": email,
        "FullName": full_name,
        "password": password_hash,
        "faceDescriptor": descriptor,
        "createdAt": {"$date": "2021-03-04T10:11:12.000Z"},
        "__v": 0
    })
}

/// JSON lines, one document a line, as `mongoexport` writes them by default.
pub fn json_lines(documents: &[Value]) -> String {
    documents
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
