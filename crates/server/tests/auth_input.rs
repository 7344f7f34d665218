//! Input handling: bad images and oversized bodies give the documented 4xx codes, password
//! policy, CSRF, the live detect endpoint, OpenAPI and health.

mod common;

use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 200) as u8, (y % 200) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// obama_2 shrunk to `face_width`-ish and pasted into a 640x480 grey canvas.
fn small_face_on_canvas(scale_width: u32) -> Vec<u8> {
    let img = image::load_from_memory(&photo("obama_2"))
        .expect("decode")
        .to_rgb8();
    let small = image::imageops::resize(
        &img,
        scale_width,
        scale_width * img.height() / img.width(),
        image::imageops::FilterType::Triangle,
    );
    let mut canvas = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    image::imageops::overlay(&mut canvas, &small, 200, 150);
    let mut out = std::io::Cursor::new(Vec::new());
    canvas
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

async fn register_code(s: &TestServer, faces: Vec<Vec<u8>>) -> (StatusCode, String) {
    let r = register_with(s, &client(), "someone", faces).await;
    let status = r.status();
    (status, error_code(r).await)
}

#[tokio::test]
async fn enrolment_images_without_exactly_one_usable_face_are_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    assert_eq!(
        register_code(&s, vec![b"definitely not an image".to_vec()]).await,
        (StatusCode::BAD_REQUEST, "image_invalid".into())
    );
    assert_eq!(
        register_code(&s, vec![png(1, 1)]).await,
        (StatusCode::BAD_REQUEST, "image_invalid".into())
    );
    assert_eq!(
        register_code(&s, vec![png(400, 300)]).await,
        (StatusCode::BAD_REQUEST, "no_face".into())
    );
    assert_eq!(
        register_code(&s, vec![photo("group_obama_biden")]).await,
        (StatusCode::BAD_REQUEST, "multiple_faces".into())
    );
    assert_eq!(
        register_code(&s, vec![small_face_on_canvas(120)]).await,
        (StatusCode::BAD_REQUEST, "face_too_small".into())
    );
    // A good first image does not excuse a bad second one.
    assert_eq!(
        register_code(&s, vec![photo("obama_1"), png(400, 300)]).await,
        (StatusCode::BAD_REQUEST, "no_face".into())
    );
    assert_eq!(register_code(&s, vec![]).await.1, "invalid_request");
    let four = vec![
        photo("obama_1"),
        photo("obama_2"),
        photo("obama_3"),
        photo("obama_4"),
    ];
    assert_eq!(register_code(&s, four).await.1, "invalid_request");
    // Nothing was created by the refusals.
    let r = login_as(&s, &client(), "someone", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn face_checks_that_see_no_single_face_say_so_and_do_not_count_as_failures() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    // More faceless attempts than the five free failures: none of them may lock the face out.
    for _ in 0..6 {
        let ch = challenge(&s, &c).await;
        let r = verify_with(&s, &c, &ch, vec![png(640, 480), png(320, 240)]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(r).await, "no_face");
    }
    // sample1.jpg: three people, all found by the verification's TinyFaceDetector.
    let crowd = std::fs::read(models_dir().join("sample1.jpg")).expect("sample1.jpg");
    let ch = challenge(&s, &c).await;
    let r = verify_with(&s, &c, &ch, vec![png(640, 480), crowd]).await;
    assert_eq!(error_code(r).await, "multiple_faces");
    let r = face_check(&s, &c, &["obama_2"]).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "faceless frames locked the face check"
    );
    let kinds = event_kinds(&s, &c).await;
    let not_seen = kinds.iter().filter(|k| *k == "face_not_seen").count();
    assert_eq!(
        not_seen, 7,
        "each faceless check is in the security events: {kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "face_failed"), "{kinds:?}");
}

#[tokio::test]
async fn rgba_png_and_exif_rotated_photos_enrol() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    let r = register_with(&s, &c, "rotated", vec![photo("edge_exif_rotated_obama")]).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
    // Enrolled from the EXIF-rotated copy, verified with another upright photo.
    login(&s, &c, "rotated").await;
    assert_eq!(
        face_check(&s, &c, &["obama_1"]).await.status(),
        StatusCode::OK
    );
    let r = register_with(&s, &client(), "rgba", vec![photo("edge_rgba_32bit.png")]).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn oversized_bodies_and_images_are_413() {
    require_fixtures();
    let s = start(|c| {
        c.limits.image_bytes = 400_000;
        c.limits.upload_body_bytes = 1_000_000;
    })
    .await;
    // One image over the per-image limit (obama_4 is ~580 kB).
    let (status, code) = register_code(&s, vec![photo("obama_4")]).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // A whole body over the upload limit.
    let (status, _) = register_code(
        &s,
        vec![photo("obama_3"); 3]
            .into_iter()
            .chain([vec![0u8; 900_000]])
            .collect(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A JSON body over its limit.
    let huge = "x".repeat(64 * 1024);
    let r = client()
        .post(s.url("/api/login"))
        .json(&serde_json::json!({"login": huge, "password": huge}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A decompression bomb: a small file declaring too many pixels.
    let s2 = start(|c| c.limits.image_pixels = 100 * 100).await;
    let r = register_with(&s2, &client(), "bomb", vec![png(400, 300)]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The message says which image and which limit, so a person can act on it.
    let body: serde_json::Value = r.json().await.expect("error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("image 1") && message.contains("pixels"),
        "{body}"
    );
}

#[tokio::test]
async fn weak_passwords_and_missing_consent_are_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    let send = |password: &str, consent: bool| {
        let mut form = register_form("someone", password, vec![photo("obama_1")]);
        if !consent {
            form = Form::new()
                .text("username", "someone")
                .text("email", "someone@example.org")
                .text("full_name", "Some One")
                .text("password", PASSWORD)
                .part("face", Part::bytes(photo("obama_1")).file_name("f.jpg"));
        }
        client().post(s.url("/api/register")).multipart(form).send()
    };
    assert_eq!(
        error_code(send("short", true).await.expect("send")).await,
        "password_too_short"
    );
    assert_eq!(
        error_code(send("iloveyou1", true).await.expect("send")).await,
        "password_too_common"
    );
    assert_eq!(
        error_code(send(&"z".repeat(300), true).await.expect("send")).await,
        "password_too_long"
    );
    assert_eq!(
        error_code(send(PASSWORD, false).await.expect("send")).await,
        "consent_required"
    );
    let long_ok = "a long passphrase ".repeat(4);
    assert_eq!(
        send(&long_ok, true).await.expect("send").status(),
        StatusCode::CREATED,
        "64+ characters accepted"
    );
    let dup = register_with(&s, &client(), "Someone", vec![photo("obama_1")]).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let r = c
        .post(s.url("/api/logout"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "cross_origin");
    let r = c
        .delete(s.url("/api/me"))
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(error_code(r).await, "cross_origin");
    let r = client()
        .post(s.url("/api/login"))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"login": "barack", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(error_code(r).await, "cross_origin");
    // Still signed in: the refused requests changed nothing.
    assert_eq!(
        c.get(s.url("/api/me")).send().await.expect("me").status(),
        StatusCode::OK
    );
    // Same-origin browser requests pass.
    let r = c
        .post(s.url("/api/logout"))
        .header("origin", s.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn detect_returns_boxes_and_hints_but_never_descriptors() {
    require_fixtures();
    let s = start(|_| {}).await;
    let detect = |bytes: Vec<u8>| {
        client()
            .post(s.url("/api/face/detect"))
            .multipart(Form::new().part("frame", Part::bytes(bytes).file_name("f.jpg")))
            .send()
    };
    let r = detect(photo("obama_2")).await.expect("detect");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("body");
    assert!(!text.contains("descriptor"), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["hint"], "ok", "{body}");
    assert_eq!(body["faces"].as_array().expect("faces").len(), 1);
    assert!(body["faces"][0]["score"].as_f64().expect("score") > 0.5);
    let body: serde_json::Value = detect(photo("group_kit_rose"))
        .await
        .expect("detect")
        .json()
        .await
        .expect("json");
    assert_eq!(body["hint"], "multiple_faces");
    let body: serde_json::Value = detect(png(320, 240))
        .await
        .expect("detect")
        .json()
        .await
        .expect("json");
    assert_eq!(body["hint"], "no_face");
    let body: serde_json::Value = detect(small_face_on_canvas(120))
        .await
        .expect("detect")
        .json()
        .await
        .expect("json");
    assert_eq!(body["hint"], "move_closer", "{body}");
    let r = detect(photo("obama_4")).await.expect("detect");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn openapi_describes_every_endpoint_and_health_answers() {
    require_fixtures();
    let s = start(|_| {}).await;
    let doc: serde_json::Value = client()
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/register", "post"),
        ("/api/login", "post"),
        ("/api/face/challenge", "post"),
        ("/api/face/verify", "post"),
        ("/api/face/detect", "post"),
        ("/api/me", "get"),
        ("/api/me", "delete"),
        ("/api/logout", "post"),
        ("/api/me/security-events", "get"),
        ("/api/me/face", "put"),
        ("/api/openapi.json", "get"),
        ("/healthz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let r = client()
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn names_with_control_characters_are_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    // Control characters, and bidirectional or invisible ones that let a name pass for another.
    for name in [
        "Eve\nroot  admin@example.org",
        "Eve\u{1b}[2J",
        "Admin\u{202e}\u{200b} nimdA",
        "Eve\u{2066}",
        "Eve\u{200f}",
        "E\u{feff}ve",
        "Eve\u{2060}",
        "\u{3164}",
    ] {
        let form = reqwest::multipart::Form::new()
            .text("username", "eve")
            .text("email", "eve@example.org")
            .text("full_name", name.to_owned())
            .text("password", PASSWORD)
            .text("consent", "true")
            .part(
                "face",
                reqwest::multipart::Part::bytes(photo("obama_1"))
                    .file_name("f.jpg")
                    .mime_str("image/jpeg")
                    .expect("mime"),
            );
        let r = client()
            .post(s.url("/api/register"))
            .multipart(form)
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(error_code(r).await, "invalid_request", "{name:?}");
    }
}

#[tokio::test]
async fn a_wrong_method_answers_with_the_error_envelope() {
    let s = start(|_| {}).await;
    let r = client()
        .get(s.url("/api/login"))
        .send()
        .await
        .expect("get login");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "method_not_allowed");
}

/// The operations of the document: (path, method, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            all.push((path.clone(), method.clone(), op.clone()));
        }
    }
    all
}

#[tokio::test]
async fn openapi_lists_the_shared_answers_of_every_operation() {
    require_fixtures();
    let s = start(|_| {}).await;
    let doc = get_json(&s, &client(), "/api/openapi.json").await;
    let ops = operations(&doc);
    assert!(ops.len() >= 60, "{} operations", ops.len());
    for (path, method, op) in &ops {
        let has = |status: &str| op["responses"][status].is_object();
        let scopes = op["security"]
            .as_array()
            .filter(|alternatives| alternatives.iter().all(|a| a["session"].is_array()))
            .and_then(|alternatives| alternatives.first())
            .map(|a| a["session"].clone());
        if let Some(scopes) = scopes {
            assert!(has("401"), "{method} {path}: 401");
            if scopes.as_array().expect("scopes").contains(&"full".into()) {
                assert!(has("403"), "{method} {path}: 403 face_required");
            }
        }
        if method != "get" {
            assert!(has("403"), "{method} {path}: 403 cross_origin");
        }
        if op["requestBody"].is_object() {
            assert!(has("400") && has("413"), "{method} {path}: 400 and 413");
        }
        for (status, answer) in op["responses"].as_object().expect("responses") {
            // Readiness answers its own report with 503: load balancers read which check failed.
            if path == "/readyz" && status == "503" {
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Readiness"
                );
                continue;
            }
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    // Every chat operation needs a full session.
    let history = &doc["paths"]["/api/channels/{id}/messages"]["get"];
    assert_eq!(history["security"][0]["session"][0], "full");
}

#[tokio::test]
async fn openapi_states_the_limits_and_the_error_codes() {
    require_fixtures();
    let s = start(|_| {}).await;
    let doc = get_json(&s, &client(), "/api/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    let codes: Vec<String> =
        serde_json::from_value(schemas["ErrorDetail"]["properties"]["code"]["enum"].clone())
            .expect("the error code enum");
    assert_eq!(codes, server::api::contract::error_codes());
    assert!(codes.iter().any(|c| c == "face_required") && codes.iter().any(|c| c == "forbidden"));
    // Two types named FaceFactor once shared one schema: /api/me's face state is a word.
    assert_eq!(
        schemas["FaceFactor"]["enum"],
        serde_json::json!(["enrolled", "disabled", "none"])
    );
    let param = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .expect("parameter")["schema"]
            .clone()
    };
    let limit = param("/api/channels/{id}/messages", "limit");
    assert_eq!(
        (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
        (Some(1), Some(100))
    );
    let limit = param("/api/search", "limit");
    assert_eq!(
        (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
        (Some(1), Some(50))
    );
    let text = &schemas["SendMessage"]["properties"]["text"];
    assert_eq!(text["maxLength"], 4000);
    let username = &schemas["RegisterForm"]["properties"]["username"];
    assert_eq!(
        (
            username["minLength"].as_i64(),
            username["maxLength"].as_i64()
        ),
        (Some(3), Some(32))
    );
}
