//! The live face check over its WebSocket (docs/live-check.md), against the real server and
//! engine, with camera-sized frames cut from the shared photos. A genuine head turning on cue
//! is the liveness evaluation's part (crates/liveness-eval); here: what a still photo, a
//! misbehaving client and the endpoint's guards get.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::{photo, require_fixtures, start, Client, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::LivenessMode;
use tokio_tungstenite::tungstenite::Message;

/// A 320x240 JPEG framing the photo's face like a webcam: the face about 35 % of the width,
/// centred; where the photo ends, its edge pixels continue.
fn camera_frame(name: &str) -> Vec<u8> {
    let bytes = photo(name);
    let image = image::load_from_memory(&bytes)
        .expect("decode photo")
        .to_rgb8();
    let engine = face::Engine::load(&common::models_dir()).expect("models");
    let rgb = face::RgbImage::from_raw(image.width(), image.height(), image.as_raw().clone())
        .expect("rgb");
    let detections = engine
        .detect(&rgb, &face::DetectorOptions::ssd())
        .expect("detect");
    let face = detections.first().expect("a face in the photo").bbox;
    let scale = 0.35 * 320.0 / face.width;
    let (cx, cy) = (face.x + face.width / 2.0, face.y + face.height / 2.0);
    let (w, h) = (image.width() as i64 - 1, image.height() as i64 - 1);
    let frame = image::RgbImage::from_fn(320, 240, |x, y| {
        let sx = (cx + (f64::from(x) - 160.0) / scale).round() as i64;
        let sy = (cy + (f64::from(y) - 120.0) / scale).round() as i64;
        *image.get_pixel(sx.clamp(0, w) as u32, sy.clamp(0, h) as u32)
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), 85)
        .encode_image(&frame)
        .expect("encode jpeg");
    out
}

async fn live_server() -> TestServer {
    start(|c| c.face.liveness = LivenessMode::Active).await
}

/// Registers `username` with `enrol` by photo (the API path) and logs in: a password-level
/// session waiting for its face step.
async fn signed_in(server: &TestServer, username: &str, enrol: &str) -> Client {
    let client = server.client();
    let (status, body) = client
        .register(username, PASSWORD, &[enrol])
        .await
        .expect("register");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = client.login(username, PASSWORD).await.expect("login");
    assert_eq!(status, StatusCode::OK, "{body}");
    client
}

async fn open_live(client: &Client, purpose: &str) -> common::WsClient {
    let origin = client.base.clone();
    client
        .socket(&format!("/api/face/live?purpose={purpose}"), Some(&origin))
        .await
        .expect("live socket")
}

/// Streams `frame` at about 9 frames a second, one in flight, until the `result`; returns it
/// with every message seen before it.
async fn stream_until_result(ws: &mut common::WsClient, frame: &[u8]) -> (Value, Vec<Value>) {
    let ready = ws.next_json().await.expect("ready");
    assert_eq!(ready["type"], "ready", "{ready}");
    let mut seen = vec![ready];
    for _ in 0..600 {
        ws.send_raw(Message::Binary(frame.to_vec().into()))
            .await
            .expect("send frame");
        loop {
            let message = ws.next_json().await.expect("answer");
            let kind = message["type"].as_str().unwrap_or_default().to_owned();
            seen.push(message.clone());
            if kind == "result" {
                return (message, seen);
            }
            if kind == "frame" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(110)).await;
    }
    panic!("no result after 600 frames");
}

#[tokio::test]
async fn the_upload_check_is_refused_while_liveness_is_on() {
    require_fixtures();
    let server = live_server().await;
    let client = signed_in(&server, "upload", "obama_1").await;
    let (status, body) = client.face_check(&["obama_2"]).await.expect("verify");
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "liveness_required");
}

#[tokio::test]
async fn a_still_photo_of_the_user_fails_at_the_first_prompt_and_counts() {
    require_fixtures();
    let server = live_server().await;
    let client = signed_in(&server, "stillphoto", "obama_1").await;
    let mut ws = open_live(&client, "verify").await;
    let (result, seen) = stream_until_result(&mut ws, &camera_frame("obama_2")).await;
    let guidance: std::collections::BTreeSet<String> = seen
        .iter()
        .filter_map(|m| m["guidance"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(result["outcome"], "failed", "{result}");
    assert_ne!(result["code"], "no_face", "guidance seen: {guidance:?}");
    assert_eq!(result["code"], "liveness_failed", "{result}");
    assert_eq!(result["reason"], "step_missed", "{result}");
    assert!(result.get("ticket").is_none(), "{result}");
    // The photo was good enough to align on, so a prompt came before the failure, and every
    // frame was answered with the face's box.
    let prompt = seen
        .iter()
        .find(|m| m["type"] == "prompt")
        .expect("a prompt");
    assert_eq!(prompt["step"], 1);
    assert!(["turn_left", "turn_right", "look_up", "look_down"]
        .contains(&prompt["action"].as_str().unwrap_or_default()));
    assert!(seen
        .iter()
        .filter(|m| m["type"] == "frame")
        .all(|m| m["face"]["width"].as_f64().unwrap_or(0.0) > 50.0));
    assert_eq!(ws.closed().await.expect("close"), Some(1000));
    let events = server.state.db.events(1, 50).await.expect("events");
    assert!(
        events.iter().any(|e| e.kind == "face_failed"
            && e.detail.as_deref() == Some("live check: step_missed; 1 consecutive failure(s)")),
        "{events:?}"
    );
    let counters = server.state.db.counters(1).await.expect("counters");
    assert_eq!(counters.face_consecutive, 1);
    let failures = events.iter().filter(|e| e.kind == "face_failed").count();
    assert_eq!(failures, 1, "one failure, one event: {events:?}");
    // Without a passed check there is no ticket to finish with.
    let (status, body) = client
        .post_json(
            "/api/face/live/finish",
            &json!({ "ticket": "00".repeat(32) }),
        )
        .await
        .expect("finish");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "challenge_invalid");
    let (_, me) = client.get("/api/me").await.expect("me");
    assert_eq!(me["auth_level"], "password", "{me}");
}

#[tokio::test]
async fn cancelling_before_any_prompt_is_not_counted() {
    require_fixtures();
    let server = live_server().await;
    let client = signed_in(&server, "canceller", "obama_1").await;
    let mut ws = open_live(&client, "verify").await;
    assert_eq!(ws.next_json().await.expect("ready")["type"], "ready");
    ws.send_json(&json!({ "type": "cancel" }))
        .await
        .expect("cancel");
    let result = ws.next_of("result").await.expect("result");
    assert_eq!(result["code"], "cancelled", "{result}");
    let counters = server.state.db.counters(1).await.expect("counters");
    assert_eq!(
        counters.face_consecutive, 0,
        "a check that never prompted is given back"
    );
}

#[tokio::test]
async fn the_live_socket_needs_the_servers_origin_and_a_session_to_verify() {
    require_fixtures();
    let server = live_server().await;
    let client = signed_in(&server, "guarded", "obama_1").await;
    let refused = |r: Result<common::WsClient, tokio_tungstenite::tungstenite::Error>| match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Ok(_) => 101,
        Err(e) => panic!("unexpected error {e}"),
    };
    let path = "/api/face/live?purpose=verify";
    assert_eq!(refused(client.socket(path, None).await), 403);
    assert_eq!(
        refused(client.socket(path, Some("http://evil.example")).await),
        403
    );
    let stranger = server.client();
    let origin = stranger.base.clone();
    assert_eq!(refused(stranger.socket(path, Some(&origin)).await), 401);
    assert_eq!(
        refused(
            client
                .socket("/api/face/live?purpose=other", Some(&origin))
                .await
        ),
        400
    );
    // Enrolment needs no session (registration comes after it).
    assert_eq!(
        refused(
            stranger
                .socket("/api/face/live?purpose=enrol", Some(&origin))
                .await
        ),
        101
    );
}

#[tokio::test]
async fn frames_that_are_not_images_or_come_too_fast_end_the_check() {
    require_fixtures();
    let server = live_server().await;
    let client = signed_in(&server, "garbage", "obama_1").await;
    let mut ws = open_live(&client, "verify").await;
    assert_eq!(ws.next_json().await.expect("ready")["type"], "ready");
    ws.send_raw(Message::Binary(b"this is not a picture".to_vec().into()))
        .await
        .expect("send");
    let result = ws.next_of("result").await.expect("result");
    assert_eq!(result["code"], "image_invalid", "{result}");
    assert_eq!(ws.closed().await.expect("close"), Some(4004));

    let mut ws = open_live(&client, "verify").await;
    assert_eq!(ws.next_json().await.expect("ready")["type"], "ready");
    let frame = camera_frame("obama_2");
    for _ in 0..40 {
        if ws
            .send_raw(Message::Binary(frame.clone().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let result = ws.next_of("result").await.expect("result");
    assert_eq!(result["code"], "invalid_request", "{result}");
    assert_eq!(ws.closed().await.expect("close"), Some(4003));
}

#[tokio::test]
async fn an_unknown_enrolment_token_registers_nobody() {
    require_fixtures();
    let server = live_server().await;
    let form = reqwest::multipart::Form::new()
        .text("username", "tokenless")
        .text("email", "tokenless@example.org")
        .text("full_name", "Token Less")
        .text("password", PASSWORD)
        .text("consent", "true")
        .text("enrolment", "ab".repeat(32));
    let response = server
        .client()
        .http
        .post(server.url("/api/register"))
        .multipart(form)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "enrolment_invalid", "{body}");
    assert!(server
        .state
        .db
        .list_users(10, 0)
        .await
        .expect("users")
        .is_empty());
}

#[tokio::test]
async fn a_photo_of_two_people_is_refused_even_when_the_fast_detector_sees_one() {
    require_fixtures();
    let server = start(|_| {}).await; // liveness off: the frame-upload check
    let client = signed_in(&server, "pair", "biden_1").await;
    let (status, body) = client
        .face_check(&["group_obama_biden"])
        .await
        .expect("verify");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "multiple_faces", "{body}");
    let (status, body) = client.face_check(&["biden_2"]).await.expect("verify");
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_plain_get_says_what_opening_the_check_would_answer_without_counting() {
    require_fixtures();
    let server = live_server().await;
    let client = signed_in(&server, "prober", "obama_1").await;
    for _ in 0..3 {
        let (status, body) = client
            .get("/api/face/live?purpose=verify")
            .await
            .expect("get");
        assert_eq!(status, StatusCode::UPGRADE_REQUIRED, "{body}");
        assert_eq!(body["error"]["code"], "upgrade_required");
    }
    let counters = server.state.db.counters(1).await.expect("counters");
    assert_eq!(counters.face_consecutive, 0, "asking counts no attempt");
    let (status, _) = server
        .client()
        .get("/api/face/live?purpose=verify")
        .await
        .expect("get");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Locked out: the same answer the upgrade would get.
    server
        .state
        .db
        .update_counters(1, |c| {
            c.face_consecutive = 10;
            c.face_last_failure_at = Some(server::auth::now_ms());
        })
        .await
        .expect("lock");
    let (status, body) = client
        .get("/api/face/live?purpose=verify")
        .await
        .expect("get");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "locked_out");

    let off = start(|_| {}).await;
    let (status, _) = off
        .client()
        .get("/api/face/live?purpose=enrol")
        .await
        .expect("get");
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "liveness off: the page falls back to photos"
    );
}
