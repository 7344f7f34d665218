//! Operations over HTTP: the Prometheus `/metrics` listener (requests by route template, face
//! outcomes and stages, sockets, the database pool; no secret and no raw id in it), `/readyz`
//! beside `/healthz`, and the live check's goodbye when the node drains. The signal-driven drain
//! of the real binary is tested in `crates/cli/tests/shutdown.rs`.

mod common;

use reqwest::StatusCode;
use serde_json::Value;

use common::{
    metric_sample as sample, password_only_user, require_fixtures, scrape_metrics as scrape, start,
    verified_user, PASSWORD,
};

#[tokio::test]
async fn metrics_count_requests_by_route_and_face_outcomes_without_secrets_or_ids() {
    require_fixtures();
    let s = start(|c| c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"))).await;
    let metrics_addr = s.metrics_addr.expect("metrics listener bound");
    let alice = verified_user(&s, "alice", &["obama_1.jpg"], &["obama_2.jpg"])
        .await
        .expect("alice");
    // Bob shows Alice's face: a mismatch.
    let bob = password_only_user(&s, "bob", "biden_1.jpg")
        .await
        .expect("bob signed in with his password");
    let (status, body) = bob.face_check(&["obama_2.jpg"]).await.expect("face check");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A path with an id that must not become a label.
    let raw_id = "7cf1a9e3d2b4";
    let (status, _) = alice
        .client
        .delete(&format!("/api/me/sessions/{raw_id}"))
        .await
        .expect("end session");
    assert!(status.is_client_error(), "{status}");
    let _socket = alice.client.ws("").await.expect("chat socket");

    let text = scrape(metrics_addr).await;
    assert_eq!(
        sample(
            &text,
            r#"facegate_face_verifications_total{outcome="match"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"facegate_face_verifications_total{outcome="mismatch"}"#
        ),
        Some(1.0),
        "{text}"
    );
    let ended = r#"facegate_http_request_duration_seconds_count{method="DELETE",route="/api/me/sessions/{id}",status="4xx"}"#;
    assert_eq!(sample(&text, ended), Some(1.0), "{text}");
    let registered = r#"facegate_http_request_duration_seconds_count{method="POST",route="/api/register",status="2xx"}"#;
    assert_eq!(sample(&text, registered), Some(2.0), "{text}");
    for stage in ["decode", "detection", "landmarks", "descriptor"] {
        let series = format!(r#"facegate_face_stage_duration_seconds_count{{stage="{stage}"}}"#);
        assert!(
            sample(&text, &series).is_some_and(|n| n >= 1.0),
            "{series} in {text}"
        );
    }
    assert_eq!(
        sample(&text, r#"facegate_websocket_connections{socket="chat"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, r#"facegate_db_pool_connections{state="open"}"#).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let cookie = alice.client.cookie_header().expect("alice's cookie");
    let session_id = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .expect("name=value")
        .1;
    for secret in [raw_id, session_id, "alice", "bob", PASSWORD] {
        assert!(!text.contains(secret), "{secret:?} leaked into the metrics");
    }
    // The main listener never serves them.
    let main = reqwest::get(s.url("/metrics"))
        .await
        .expect("main listener");
    let body = main.text().await.expect("body");
    assert!(
        !body.contains("facegate_http_request"),
        "metrics on the main listener"
    );
}

#[tokio::test]
async fn face_lockouts_and_the_attempts_they_refuse_are_counted() {
    require_fixtures();
    let s = start(|c| c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"))).await;
    let bob = password_only_user(&s, "bob", "biden_1.jpg")
        .await
        .expect("bob signed in with his password");
    let free = s.config.face_lockout().face_free_failures;
    let mut mismatches = 0;
    let refused = loop {
        let (status, body) = bob.face_check(&["obama_2.jpg"]).await.expect("face check");
        match status {
            StatusCode::UNAUTHORIZED => mismatches += 1,
            StatusCode::TOO_MANY_REQUESTS => break body,
            other => panic!("unexpected {other} {body}"),
        }
        assert!(
            mismatches <= free + 1,
            "no lockout after {mismatches} failures"
        );
    };
    assert_eq!(refused["error"]["code"], "locked_out", "{refused}");
    let text = scrape(s.metrics_addr.expect("metrics listener")).await;
    assert_eq!(
        sample(
            &text,
            r#"facegate_face_verifications_total{outcome="mismatch"}"#
        ),
        Some(f64::from(mismatches)),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"facegate_face_verifications_total{outcome="locked_out"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // The lockout as it starts, and the attempt it refused.
    assert_eq!(
        sample(&text, r#"facegate_lockouts_total{kind="face"}"#),
        Some(2.0),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_are_off_unless_a_listener_is_configured() {
    require_fixtures();
    let s = start(|_| {}).await;
    assert_eq!(s.metrics_addr, None);
}

#[tokio::test]
async fn readyz_answers_200_while_the_database_answers_and_503_naming_it_once_closed() {
    require_fixtures();
    let s = start(|_| {}).await;
    let ready = reqwest::get(s.url("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["database"], "ok", "{body}");

    s.state.db.pool().close().await;
    let unready = reqwest::get(s.url("/readyz")).await.expect("readyz");
    assert_eq!(unready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = unready.json().await.expect("json");
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["failed"], serde_json::json!(["database"]), "{body}");
    assert_eq!(body["checks"]["database"], "error", "{body}");
    // Liveness does not depend on the database.
    let live = reqwest::get(s.url("/healthz")).await.expect("healthz");
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_fails_as_soon_as_the_node_drains() {
    require_fixtures();
    let s = start(|_| {}).await;
    let state = axum::extract::State(s.state.clone());
    let (status, _) = server::ops::readyz(state.clone()).await;
    assert_eq!(status, StatusCode::OK);
    // Asked in-process: draining also stops the listener, so no new request would reach it.
    s.state.shutdown.begin();
    let (status, body) = server::ops::readyz(state).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body = serde_json::to_value(&body.0).expect("json");
    assert_eq!(body["failed"], serde_json::json!(["draining"]), "{body}");
    assert_eq!(body["checks"]["draining"], "shutting_down", "{body}");
}

#[tokio::test]
async fn a_live_check_in_progress_is_told_the_server_restarts() {
    require_fixtures();
    let s = start(|c| c.face.liveness = server::config::LivenessMode::Active).await;
    let client = s.client();
    let mut socket = client
        .socket("/api/face/live?purpose=enrol", Some(&s.base()))
        .await
        .expect("live check socket");
    let ready = socket.next_json().await.expect("ready");
    assert_eq!(ready["type"], "ready", "{ready}");
    s.state.shutdown.begin();
    let result = socket.next_of("result").await.expect("result");
    assert_eq!(result["outcome"], "failed", "{result}");
    assert_eq!(result["reason"], "server_restarting", "{result}");
    assert_eq!(socket.closed().await.expect("closed"), Some(1012));
}
