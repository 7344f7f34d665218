//! Fake-webcam clips (YUV4MPEG2, 4:2:0, full-range BT.601 as `C420jpeg` says) for Chromium's
//! `--use-file-for-fake-video-capture`: a genuine person following a fixed prompt script, and
//! each attack species, for the browser tests of the live check.
//!
//! The script is the one the test server is given (`FACEGATE_FACE_LIVENESS_SCRIPT=turn_left,
//! turn_right`). Every clip has the same timeline ([`TIMELINE`]), written beside the clips as
//! `clips.json`: frontal for 5 s, the first movement held 3 s, frontal 4 s, the second held 3 s,
//! frontal to the end, so that a prompt arriving up to about a second early or late still finds
//! the head turned while the prompt's window is open.

use std::io::Write;
use std::path::Path;

use face::RgbImage;

use crate::cast::Person;
use crate::render::{Framing, Head, HeadShape, Pose};
use crate::species::{MovedPhoto, Performer, Trick};
use crate::user::{Action, Movement};
use crate::webcam::Webcam;

/// Seconds: (start of movement 1, start of movement 2, clip length); each movement ramps for
/// 0.4 s, holds 2.1 s and comes back in 0.4 s. With a fixed script the server holds 1.5 s
/// before each prompt, so the first prompt comes about 2 s after the camera starts (before
/// the clip's first turn) and the second about 8 s (before its second).
pub const TIMELINE: (f64, f64, f64) = (3.5, 9.5, 18.0);
const RAMP: f64 = 0.4;
const HOLD: f64 = 2.1;

/// Clip size and rate.
#[derive(Debug, Clone, Copy)]
pub struct ClipFormat {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// The two movements of the fixed script, in order.
fn script(first: Action, second: Action, degrees: f64) -> [Movement; 2] {
    let m = |action, start| Movement {
        action,
        start,
        ramp: RAMP,
        hold: HOLD,
        back: RAMP,
        degrees,
    };
    [m(first, TIMELINE.0), m(second, TIMELINE.1)]
}

fn head(person: &Person, format: ClipFormat) -> Head {
    Head::new(
        &person.photo,
        Framing::centred(format.width, format.height, 0.38),
        HeadShape::GENERIC,
    )
}

/// Writes every clip for `owner` (the account's person) and `other` into `dir`; returns the
/// file names.
pub fn write_clips(
    dir: &Path,
    owner: &Person,
    other: &Person,
    format: ClipFormat,
) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let name = &owner.name;
    let frames = (TIMELINE.2 * f64::from(format.fps)).round() as usize;
    let times: Vec<f64> = (0..frames)
        .map(|i| i as f64 / f64::from(format.fps))
        .collect();
    let mut written = Vec::new();
    let mut write = |file: String, pictures: &mut dyn FnMut(f64) -> anyhow::Result<RgbImage>| {
        write_clip(&dir.join(&file), format, &times, pictures)?;
        written.push(file);
        anyhow::Ok(())
    };

    let genuine = script(Action::TurnLeft, Action::TurnRight, 25.0);
    let mut live = Performer::scripted(head(owner, format), 11, &genuine);
    let mut cam = Webcam::random(11);
    write(format!("genuine_{name}.y4m"), &mut |t| {
        Ok(exposed(&mut cam, live.picture(t), t))
    })?;

    let still = head(owner, format);
    let mut cam = Webcam::random(12);
    write(format!("still_photo_{name}.y4m"), &mut |t| {
        let picture = still.render(Pose::FRONTAL, Default::default(), cam.shake());
        Ok(exposed(&mut cam, picture, t))
    })?;

    let tricks = [Trick::Tilt { degrees: 35.0 }, Trick::Tilt { degrees: 35.0 }];
    let moves: Vec<_> = genuine
        .iter()
        .zip(tricks)
        .map(|(m, k)| (*m, k, 0.35))
        .collect();
    let mut moved = MovedPhoto::scripted(&head(owner, format), 13, &moves);
    let mut cam = Webcam::random(13);
    write(format!("moved_photo_{name}.y4m"), &mut |t| {
        Ok(exposed(&mut cam, moved.picture(t), t))
    })?;

    // A genuine attempt recorded for another challenge (the other order), replayed as the
    // browser would have sent it: through JPEG.
    let recorded = script(Action::TurnRight, Action::TurnLeft, 25.0);
    let mut past = Performer::scripted(head(owner, format), 14, &recorded);
    let mut cam = Webcam::random(14);
    write(format!("replay_{name}.y4m"), &mut |t| {
        let jpeg = cam.capture(past.picture(t), t)?;
        Ok(face::decode_image(&jpeg, &face::ImageLimits::default())?)
    })?;

    let mut impostor = Performer::scripted(head(other, format), 15, &genuine);
    let mut cam = Webcam::random(15);
    write(
        format!("other_person_{}_as_{name}.y4m", other.name),
        &mut |t| Ok(exposed(&mut cam, impostor.picture(t), t)),
    )?;
    Ok(written)
}

fn exposed(cam: &mut Webcam, mut picture: RgbImage, t: f64) -> RgbImage {
    cam.expose(&mut picture, t);
    picture
}

/// Writes `clips.json`: the timeline and script every clip follows.
pub fn write_manifest(dir: &Path, files: &[String], format: ClipFormat) -> anyhow::Result<()> {
    let manifest = serde_json::json!({
        "script": "turn_left,turn_right",
        "width": format.width,
        "height": format.height,
        "fps": format.fps,
        "seconds": TIMELINE.2,
        "movements": [
            {"action": "turn_left", "start": TIMELINE.0, "held_from": TIMELINE.0 + RAMP,
             "held_until": TIMELINE.0 + RAMP + HOLD, "frontal_again": TIMELINE.0 + 2.0 * RAMP + HOLD},
            {"action": "turn_right", "start": TIMELINE.1, "held_from": TIMELINE.1 + RAMP,
             "held_until": TIMELINE.1 + RAMP + HOLD, "frontal_again": TIMELINE.1 + 2.0 * RAMP + HOLD},
        ],
        "degrees": 25.0,
        "replay": "the genuine person performing turn_right then turn_left (another challenge), through JPEG",
        "moved_photo": "the frontal picture tilted 35 degrees as a flat print and shifted, on the same timeline",
        "files": files,
    });
    std::fs::write(
        dir.join("clips.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(())
}

/// One clip: the header, then each picture as an I420 frame.
fn write_clip(
    path: &Path,
    format: ClipFormat,
    times: &[f64],
    pictures: &mut dyn FnMut(f64) -> anyhow::Result<RgbImage>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("y4m.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    writeln!(
        out,
        "YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg",
        format.width, format.height, format.fps
    )?;
    for &t in times {
        let picture = pictures(t)?;
        out.write_all(b"FRAME\n")?;
        out.write_all(&to_i420(&picture))?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Full-range BT.601 (JFIF) Y, then U and V averaged over 2×2 blocks.
pub fn to_i420(image: &RgbImage) -> Vec<u8> {
    let (w, h) = (image.width as usize, image.height as usize);
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        let p = &image.pixels[i..i + 3];
        (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))
    };
    let byte = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    let mut out = Vec::with_capacity(w * h * 3 / 2);
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            out.push(byte(0.299 * r + 0.587 * g + 0.114 * b));
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let mut u = Vec::with_capacity(cw * ch);
    let mut v = Vec::with_capacity(cw * ch);
    for cy in 0..ch {
        for cx in 0..cw {
            let mut s = (0.0, 0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px(2 * cx + dx, 2 * cy + dy);
                s = (s.0 + p.0 / 4.0, s.1 + p.1 / 4.0, s.2 + p.2 / 4.0);
            }
            u.push(byte(128.0 - 0.168736 * s.0 - 0.331264 * s.1 + 0.5 * s.2));
            v.push(byte(128.0 + 0.5 * s.0 - 0.418688 * s.1 - 0.081312 * s.2));
        }
    }
    out.extend(u);
    out.extend(v);
    out
}
