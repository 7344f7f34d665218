//! Brute-force limits, persistence across a restart, and templates encrypted at rest.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn face_check_locks_after_five_failures_with_retry_after_of_thirty_seconds() {
    require_fixtures();
    let s = start(|_| {}).await;
    let owner = full_session(&s, "barack", "obama_1", "obama_2").await;
    let c = client();
    login(&s, &c, "barack").await;
    for i in 0..5 {
        let r = face_check(&s, &c, &["biden_1"]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "failure {i}");
    }
    // Even the right face is refused while locked.
    let r = face_check(&s, &c, &["obama_2"]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&r);
    assert!((30..=31).contains(&wait), "Retry-After {wait}");
    assert_eq!(error_code(r).await, "locked_out");

    // The owner sees the failures and the lockout.
    let kinds = event_kinds(&s, &owner).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "face_failed").count(),
        5,
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "face_locked_out"), "{kinds:?}");
}

#[tokio::test]
async fn face_delay_doubles_and_the_face_is_disabled_until_reenrolment() {
    require_fixtures();
    // Free failures 2, zero delays, disabled at 4: fast versions of 5 / 30 s / 50.
    let s = start(|c| {
        c.lockout.face_free_failures = 2;
        c.lockout.face_base_delay_secs = 0;
        c.lockout.face_disable_after = 4;
    })
    .await;
    let owner = full_session(&s, "barack", "obama_1", "obama_2").await;
    let c = client();
    login(&s, &c, "barack").await;
    for _ in 0..4 {
        assert_eq!(
            face_check(&s, &c, &["biden_1"]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = face_check(&s, &c, &["obama_2"]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "face_disabled");

    let events = get_json(&s, &owner, "/api/me/security-events").await;
    let list = events["events"].as_array().expect("array");
    let failed = list
        .iter()
        .find(|e| e["kind"] == "face_failed")
        .expect("a face_failed event");
    assert_eq!(failed["ip"], "127.0.0.1");
    assert!(failed["user_agent"].is_string() || failed["user_agent"].is_null());
    assert!(list.iter().any(|e| e["kind"] == "face_disabled"));

    assert_eq!(
        reenrol(&s, &owner, PASSWORD, &["obama_3"]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        face_check(&s, &c, &["obama_2"]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_an_unknown_login_alike_with_retry_after() {
    require_fixtures();
    let s = start(|c| {
        c.lockout.password_free_failures = 3;
        c.lockout.password_base_delay_secs = 60;
    })
    .await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    // An unknown login gets the same lockout: if only real accounts could be locked, the
    // lockout would tell which logins exist.
    for login in ["barack", "nobody-here"] {
        for _ in 0..3 {
            let r = login_as(&s, &c, login, "wrong password!!").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{login}");
        }
        // Locked even with the right password.
        let r = login_as(&s, &c, login, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{login}");
        assert!((59..=60).contains(&retry_after(&r)), "{login}");
        assert_eq!(error_code(r).await, "locked_out", "{login}");
    }
    // Counted per login (trimmed, any case), not globally.
    let r = login_as(&s, &c, " NOBODY-here ", "wrong password!!").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = login_as(&s, &c, "somebody-else", "wrong password!!").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hourly_password_failure_cap_holds_per_account() {
    require_fixtures();
    let s = start(|c| {
        c.lockout.password_free_failures = 1000;
        c.lockout.password_max_failures_per_hour = 4;
    })
    .await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    for _ in 0..4 {
        assert_eq!(
            login_as(&s, &c, "barack", "wrong password!!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login_as(&s, &c, "barack", "wrong password!!").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) > 3500);
}

#[tokio::test]
async fn one_address_is_rate_limited_on_login_register_and_detect() {
    require_fixtures();
    let s = start(|c| {
        c.rate_limit.login_burst = 2;
        c.rate_limit.login_per_sec = 0.001;
        c.rate_limit.register_burst = 1;
        c.rate_limit.register_per_sec = 0.001;
        c.rate_limit.detect_burst = 1;
        c.rate_limit.detect_per_sec = 0.001;
    })
    .await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let r = register_with(&s, &c, "joe", vec![photo("biden_1")]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(r).await, "rate_limited");
    for _ in 0..2 {
        login_as(&s, &c, "someone", "whatever password").await;
    }
    let r = login_as(&s, &c, "barack", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) >= 1);
    let frame = || {
        reqwest::multipart::Form::new().part(
            "frame",
            reqwest::multipart::Part::bytes(small_jpeg()).file_name("f.jpg"),
        )
    };
    assert_eq!(
        c.post(s.url("/api/face/detect"))
            .multipart(frame())
            .send()
            .await
            .expect("detect")
            .status(),
        StatusCode::OK
    );
    let r = c
        .post(s.url("/api/face/detect"))
        .multipart(frame())
        .send()
        .await
        .expect("detect");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// obama_2 scaled to 320 px wide, as the camera UI sends it.
fn small_jpeg() -> Vec<u8> {
    let img = image::load_from_memory(&photo("obama_2")).expect("decode");
    let small = img.resize(320, 320, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    small
        .to_rgb8()
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

#[tokio::test]
async fn restart_keeps_accounts_templates_and_lockout_counters() {
    require_fixtures();
    let s = start(|c| c.lockout.face_free_failures = 2).await;
    let a = client();
    register(&s, &a, "barack", "obama_1").await;
    let b = client();
    register(&s, &b, "barack2", "obama_3").await;
    login(&s, &b, "barack2").await;
    for _ in 0..2 {
        assert_eq!(
            face_check(&s, &b, &["biden_1"]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let (dir, config) = s.stop().await;
    let s = start_in(dir, config).await;

    let a = client();
    login(&s, &a, "barack").await;
    assert_eq!(
        face_check(&s, &a, &["obama_2"]).await.status(),
        StatusCode::OK,
        "templates survive"
    );
    let b = client();
    login(&s, &b, "barack2").await;
    let r = face_check(&s, &b, &["obama_2"]).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "lockout counters survive"
    );
}

#[tokio::test]
async fn database_holds_no_plaintext_descriptor() {
    require_fixtures();
    // The files on disk are what is read: SQLite's.
    let s = start_sqlite(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let engine = face::Engine::load(&models_dir()).expect("engine");
    let img = face::decode_image(&photo("obama_1"), &face::ImageLimits::default()).expect("decode");
    let options = face::PipelineOptions::default();
    let descriptor = engine
        .describe_single(&img, &options)
        .expect("describe")
        .expect("a face")
        .descriptor;

    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", s.db_path().display());
        if let Ok(bytes) = std::fs::read(&path) {
            stored.extend(bytes);
        }
    }
    assert!(stored.len() > 4096, "database files must exist");
    let le: Vec<u8> = descriptor.0.iter().flat_map(|v| v.to_le_bytes()).collect();
    let be: Vec<u8> = descriptor.0.iter().flat_map(|v| v.to_be_bytes()).collect();
    for start in (0..le.len() - 12).step_by(4) {
        assert!(
            !contains(&stored, &le[start..start + 12]),
            "plain descriptor floats at {start}"
        );
        assert!(!contains(&stored, &be[start..start + 12]));
    }
    // The key is a separate 32-byte file, readable by its owner only.
    let key = s.dir.path().join("secret.key");
    assert_eq!(std::fs::metadata(&key).expect("key file").len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_blocking_pool_answers_503_with_retry_after() {
    require_fixtures();
    let s = start(|c| {
        c.pool.workers = 1;
        c.pool.queue = 0;
    })
    .await;
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let pool = s.state.pool.clone();
    let occupant = tokio::spawn(async move {
        pool.run(move || {
            started_tx.send(()).ok();
            release_rx.recv().ok();
        })
        .await
    });
    tokio::task::spawn_blocking(move || started_rx.recv())
        .await
        .expect("join")
        .expect("occupant started");
    let r = login_as(&s, &client(), "anyone", "some password here").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&r) >= 1);
    assert_eq!(error_code(r).await, "busy");
    release_tx.send(()).expect("release");
    occupant.await.expect("join").expect("occupant ran");
    let r = login_as(&s, &client(), "anyone", "some password here").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the pool serves again once free"
    );
}
