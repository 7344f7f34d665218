//! The live face check (presentation-attack detection): the server drives an interactive
//! capture over a WebSocket, analyses every frame itself, asks for a random sequence of head
//! movements timed by its own clock, and decides (docs/live-check.md).
//!
//! - [`pose`]: head movement from the landmarks, blind to any motion of a flat picture.
//! - [`quality`]: capture quality and the guidance the user sees.
//! - [`check`]: one check as a pure state machine over (frame analysis, time).
//! - this module: the analysis of a frame by the face engine, and the end of a check (identity
//!   decision, the multiple-face check with the thorough detector).
//!
//! What it stops: a printed or on-screen photo held still or moved, tilted, squeezed or rotated
//! (a flat picture shows no parallax between nose and face outline), a recording of an earlier
//! check replayed (the prompts and their timing differ every time), another person following
//! the prompts (identity). What it cannot stop: a 3-D animation of the user's face rendered in
//! real time to the prompts, a deepfake, or frames injected by a modified client.

pub mod check;
pub mod pose;
pub mod quality;

use axum::body::Bytes;
use face::{BBox, Descriptor, DetectorOptions, Engine, RgbImage};

use crate::error::ApiError;
use crate::faces::{FaceBox, FaceService, Lane};
use crate::metrics::{FaceStage, FaceTimer};
use check::{DescriptorNeed, FaceSeen, Needs, Seen};

/// One analysed live frame.
#[derive(Debug, Clone)]
pub struct Analysed {
    pub width: u32,
    pub height: u32,
    pub seen: Seen,
}

impl Analysed {
    /// The box of the one face, for the client's overlay.
    pub fn face_box(&self) -> Option<FaceBox> {
        match &self.seen {
            Seen::One(f) => Some(FaceBox {
                x: f.bbox.x,
                y: f.bbox.y,
                width: f.bbox.width,
                height: f.bbox.height,
                score: 0.0,
            }),
            _ => None,
        }
    }
}

/// Following the track: TinyFaceDetector on a crop around the face's last landmarks at a small
/// input, less strict than on a whole frame since only the followed face can be there. On
/// rendered checks (5 people, 1,130 frames) it found the face in 1,114 frames at half the cost
/// of the whole frame at 224, which found 974 (SSD: all, at 25 times the cost); turned heads,
/// which the whole frame misses most, it found 168 times in 170. At 128 it costs a third but
/// its boxes are a seventh larger and less steady.
const TRACK: DetectorOptions = DetectorOptions::Tiny {
    input_size: 160,
    score_threshold: 0.3,
};
/// Within that crop, a second face counts only at the usual whole-frame score: the lower
/// threshold is for the followed face.
const TRACK_SECOND_FACE_SCORE: f64 = 0.5;
/// The crop around the last landmarks' box that [`TRACK`] looks in, in box sizes: about twice
/// the detector's box, room for a head that moved between two frames.
const TRACK_REGION: f64 = 2.2;

/// The live check's use of the face engine.
#[derive(Clone)]
pub struct LiveService {
    face: FaceService,
    /// TinyFaceDetector at the live input size, on the whole frame: before the track exists,
    /// when the face is not near its last box, and every few frames to see a second face. A
    /// live frame is small (about 320x240) and the face fills much of it, so a 224 input finds
    /// it at a third of the cost of 416 (1.5 ms against 5.3 ms).
    detector: DetectorOptions,
    /// The same detector at the larger input, when the fast one finds nothing (a face far from
    /// the camera, some turned heads).
    closer_look: DetectorOptions,
    /// The thorough one, when neither finds a face: TinyFaceDetector misses up to half of the
    /// frames of a turned head, which SSD MobileNetV1 finds (60 ms, so only where a step needs
    /// it).
    fallback: DetectorOptions,
}

impl LiveService {
    pub fn new(
        face: FaceService,
        detector: DetectorOptions,
        closer_look: DetectorOptions,
        fallback: DetectorOptions,
    ) -> Self {
        Self {
            face,
            detector,
            closer_look,
            fallback,
        }
    }

    /// Decodes and analyses one frame: the fast detector, landmarks and quality of a single
    /// face, plus the descriptor and expressions when `needs` asks.
    pub async fn analyse(&self, frame: Bytes, needs: Needs) -> Result<Analysed, ApiError> {
        let this = self.clone();
        self.face
            .run(move |s| {
                let (image, _pixels) = s.decode_live(&frame)?;
                let seen = this.analyse_image(s.engine(), s.timer(), &image, needs)?;
                Ok(Analysed {
                    width: image.width,
                    height: image.height,
                    seen,
                })
            })
            .await
    }

    fn analyse_image(
        &self,
        engine: &Engine,
        timer: &FaceTimer,
        image: &RgbImage,
        needs: Needs,
    ) -> Result<Seen, ApiError> {
        let detect = |stage: FaceStage, options: &DetectorOptions| {
            timer
                .time(stage, || engine.detect(image, options))
                .map_err(crate::faces::engine_error)
        };
        let near = |track: &BBox| {
            let side = track.width.max(track.height) * TRACK_REGION;
            let region = BBox {
                x: track.x + track.width / 2.0 - side / 2.0,
                y: track.y + track.height / 2.0 - side / 2.0,
                width: side,
                height: side,
            };
            let mut found = timer
                .time(FaceStage::Detection, || {
                    engine.detect_in(image, &region, &TRACK)
                })
                .map_err(crate::faces::engine_error)?;
            // Highest score first: the followed face, then any other that is surely a face.
            let mut rank = 0;
            found.retain(|d| {
                rank += 1;
                rank == 1 || d.score >= TRACK_SECOND_FACE_SCORE
            });
            Ok::<_, ApiError>(found)
        };
        // Near the track first, or the whole frame first (every few frames), then the other.
        let mut detections = Vec::new();
        if let Some(track) = needs.track.filter(|_| !needs.whole_frame_first) {
            detections = near(&track)?;
        }
        if detections.is_empty() {
            detections = detect(FaceStage::Detection, &self.detector)?;
        }
        if let Some(track) = needs.track.filter(|_| needs.whole_frame_first) {
            if detections.is_empty() {
                detections = near(&track)?;
            }
        }
        if detections.is_empty() && self.closer_look != self.detector {
            detections = detect(FaceStage::DetectionRetry, &self.closer_look)?;
        }
        if detections.is_empty() && needs.thorough {
            detections = detect(FaceStage::DetectionThorough, &self.fallback)?;
        }
        let detection = match detections.as_slice() {
            [] => return Ok(Seen::NoFace),
            [d] => d,
            _ => return Ok(Seen::Several),
        };
        let Some(landmarks) = timer.time(FaceStage::Landmarks, || {
            engine.detection_landmarks(image, detection, false)
        }) else {
            return Ok(Seen::NoFace);
        };
        let quality = timer.time(FaceStage::Liveness, || {
            quality::measure(image, &detection.bbox, &landmarks)
        });
        let wanted = match &needs.descriptor {
            DescriptorNeed::No => false,
            DescriptorNeed::Yes => true,
            DescriptorNeed::IfFacing(facing) => facing.holds(&landmarks, quality.frontal_offset),
        };
        let descriptor = wanted
            .then(|| {
                timer.time(FaceStage::Descriptor, || {
                    engine.landmarks_descriptor(image, detection, &landmarks)
                })
            })
            .flatten();
        let happy = needs
            .expressions
            .then(|| {
                timer.time(FaceStage::Expressions, || {
                    engine.expressions(image, &landmarks)
                })
            })
            .flatten()
            .map(|e| e.happy);
        Ok(Seen::One(FaceSeen {
            bbox: detection.bbox,
            landmarks,
            quality,
            descriptor,
            happy,
        }))
    }

    /// Whether the thorough detector finds more than one face in any of `frames`: the fast
    /// detector misses the second face of some pairs. It runs in the background lane: at 60 ms
    /// a frame it would otherwise hold a worker that frames of other checks wait for (at 20
    /// checks at once, their p99 latency went from 165 ms to 37 ms).
    pub async fn shows_several_faces(&self, frames: Vec<Bytes>) -> Result<bool, ApiError> {
        Ok(self
            .face
            .first_with_several_faces(frames, Lane::Background)
            .await?
            .is_some())
    }
}

/// The identity decision of a passed check: the frames facing the camera against the templates
/// by the match rule of [`crate::faces::decide`].
pub fn identity_matches(frames: &[Descriptor], templates: &[Descriptor], threshold: f64) -> bool {
    let frames: Vec<Option<Descriptor>> = frames.iter().copied().map(Some).collect();
    crate::faces::decide(&frames, templates, threshold).passed
}
