//! Presentation attack evaluation of facegate's live face check, measured the ISO/IEC 30107-3
//! way: APCER per attack species and BPCER, by driving the real WebSocket protocol of
//! `docs/live-check.md` against a real server.
//!
//! Genuine attempts are rendered from a photo by a 2.5-D head model ([`render`]) that turns in
//! 3-D as a simulated user ([`user`]) follows the server's prompts, with a webcam's noise, drift,
//! jitter and JPEG ([`webcam`]). The attacks ([`species`]) are a still photo, a photo moved to
//! imitate the prompts, a replayed recording and another person.
//!
//! ```no_run
//! use liveness_eval::render::{Expression, Framing, Head, HeadShape, Photo, Pose, Shake};
//! # fn main() -> anyhow::Result<()> {
//! let engine = face::Engine::load(&face::models::default_dir())?;
//! let photo = Photo::from_bytes(&engine, &std::fs::read("obama_2.jpg")?)?;
//! let head = Head::new(&photo, Framing::centred(320, 240, 0.38), HeadShape::GENERIC);
//! let turned = head.render(Pose::yaw(25.0), Expression::default(), Shake::NONE); // user's left
//! # let _ = turned; Ok(())
//! # }
//! ```

pub mod capacity;
pub mod cast;
pub mod client;
pub mod eval;
pub mod measure;
pub mod probe;
pub mod render;
pub mod server;
pub mod species;
pub mod user;
pub mod webcam;
pub mod y4m;
