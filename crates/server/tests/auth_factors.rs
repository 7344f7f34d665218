//! Factors beyond the face, over HTTP: authenticator codes (enrolment, ±1 step, no replay,
//! lockout), recovery codes (single use, lost password), the sign-in policy, a disabled face
//! getting back in, password and email changes, and the session list. Passkeys are tested in a
//! real browser (tests/browser/passkeys.test.mjs), whose virtual authenticator signs for real.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

async fn status_and_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Sets up an authenticator app for `c`'s full session; returns the generator the test uses as
/// the user's app and the time (unix s) whose code confirmed it.
async fn enrol_totp(s: &TestServer, c: &reqwest::Client) -> (TOTP, u64) {
    let (status, body) = status_and_json(post(s, c, "/api/me/totp", json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = body["secret"].as_str().expect("secret").to_owned();
    assert!(body["uri"]
        .as_str()
        .is_some_and(|u| u.starts_with("otpauth://totp/")));
    assert!(body["qr_svg"]
        .as_str()
        .is_some_and(|svg| svg.contains("<svg")));
    let bytes = Secret::Encoded(secret).to_bytes().expect("base32 secret");
    let app = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    // Not counted until confirmed by a first code.
    assert_eq!(get_json(s, c, "/api/me").await["factors"]["totp"], false);
    let confirmed_at = now_secs();
    let code = app.generate(confirmed_at);
    let r = post(s, c, "/api/me/totp/confirm", json!({ "code": code })).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get_json(s, c, "/api/me").await["factors"]["totp"], true);
    (app, confirmed_at)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn new_recovery_codes(s: &TestServer, c: &reqwest::Client) -> Vec<String> {
    let (status, body) =
        status_and_json(post(s, c, "/api/me/recovery-codes", json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect()
}

#[tokio::test]
async fn an_authenticator_code_completes_a_sign_in_once_and_never_again() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let (app, now) = enrol_totp(&s, &c).await;

    let d = client();
    let (_, body) = status_and_json(login(&s, &d, "barack").await).await;
    assert_eq!(body["next"], "face", "the face stays the default: {body}");
    assert_eq!(body["accepts"], json!(["face", "totp"]));

    // The code the confirmation used is spent (a step at or before the last accepted one is
    // refused); the code of the next step is accepted (one step of clock drift).
    let spent = app.generate(now);
    let r = post(&s, &d, "/api/login/totp", json!({ "code": spent })).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a replayed code");
    assert_eq!(error_code(r).await, "code_invalid");
    let next = app.generate(now + 30);
    let r = post(&s, &d, "/api/login/totp", json!({ "code": next })).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie(&r).is_some(), "a new session id at level full");
    let me = get_json(&s, &d, "/api/me").await;
    assert_eq!(me["auth_level"], "full");
    assert_eq!(me["first_factor"], "password");
    assert_eq!(me["second_factor"], "totp");

    // The same code again, on another sign-in: refused.
    let e = client();
    login(&s, &e, "barack").await;
    let r = post(&s, &e, "/api/login/totp", json!({ "code": next })).await;
    assert_eq!(error_code(r).await, "code_invalid");
    // A code two steps away is outside the drift allowed.
    let far = app.generate(now + 90);
    let r = post(&s, &e, "/api/login/totp", json!({ "code": far })).await;
    assert_eq!(error_code(r).await, "code_invalid");

    let kinds = event_kinds(&s, &c).await;
    assert!(
        kinds.contains(&"second_factor_failed".to_owned()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"second_factor_succeeded".to_owned()));
    assert!(kinds.contains(&"factor_added".to_owned()));
}

#[tokio::test]
async fn wrong_codes_lock_the_second_step_like_passwords_and_a_right_password_does_not_reset_it() {
    require_fixtures();
    let s = start(|c| {
        c.lockout.password_free_failures = 3;
        c.lockout.password_base_delay_secs = 60;
    })
    .await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let (app, _) = enrol_totp(&s, &c).await;
    for round in 0..3 {
        // A fresh login (a correct password) between guesses must not reset the code counter.
        let d = client();
        login(&s, &d, "barack").await;
        let r = post(&s, &d, "/api/login/totp", json!({ "code": "000000" })).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {round}");
    }
    let d = client();
    login(&s, &d, "barack").await;
    let good = app.generate(now_secs() + 30);
    let r = post(&s, &d, "/api/login/totp", json!({ "code": good })).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((59..=60).contains(&retry_after(&r)), "{}", retry_after(&r));
    assert_eq!(error_code(r).await, "locked_out");
    assert!(event_kinds(&s, &c)
        .await
        .contains(&"second_factor_locked_out".to_owned()));
    // The face still completes the sign-in (its own counter).
    assert_eq!(
        face_check(&s, &d, &["obama_2"]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_say_how_many_are_left() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let codes = new_recovery_codes(&s, &c).await;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        get_json(&s, &c, "/api/me").await["factors"]["recovery_codes_left"],
        10
    );

    let d = client();
    let (_, body) = status_and_json(login(&s, &d, "barack").await).await;
    assert_eq!(body["accepts"], json!(["face", "recovery_code"]));
    // Typed differently (upper case, spaces): still the code.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let (status, body) =
        status_and_json(post(&s, &d, "/api/login/recovery-code", json!({ "code": typed })).await)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes_left"], 9);

    let e = client();
    login(&s, &e, "barack").await;
    let r = post(
        &s,
        &e,
        "/api/login/recovery-code",
        json!({ "code": codes[0] }),
    )
    .await;
    assert_eq!(error_code(r).await, "code_invalid", "a used code");

    // A new set replaces the old one entirely.
    let fresh = new_recovery_codes(&s, &c).await;
    let r = post(
        &s,
        &e,
        "/api/login/recovery-code",
        json!({ "code": codes[1] }),
    )
    .await;
    assert_eq!(error_code(r).await, "code_invalid", "a code of the old set");
    let r = post(
        &s,
        &e,
        "/api/login/recovery-code",
        json!({ "code": fresh[0] }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let kinds = event_kinds(&s, &c).await;
    assert!(
        kinds.contains(&"recovery_code_used".to_owned()),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_lost_password_is_reset_with_a_recovery_code_and_the_face() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let codes = new_recovery_codes(&s, &c).await;

    let d = client();
    // An unknown login answers like a wrong code.
    let r = post(
        &s,
        &d,
        "/api/login/recovery",
        json!({ "login": "nobody", "code": codes[0] }),
    )
    .await;
    assert_eq!(error_code(r).await, "code_invalid");
    let (status, body) = status_and_json(
        post(
            &s,
            &d,
            "/api/login/recovery",
            json!({ "login": "barack", "code": codes[0] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["accepts"],
        json!(["face"]),
        "only a factor that is not the code"
    );
    assert_eq!(body["recovery_codes_left"], 9);
    // The code cannot also be the second step.
    let r = post(
        &s,
        &d,
        "/api/login/recovery-code",
        json!({ "code": codes[1] }),
    )
    .await;
    assert_eq!(error_code(r).await, "factor_not_accepted");
    // Not full yet: the chat stays closed.
    let r = d
        .get(s.url("/api/me/security-events"))
        .send()
        .await
        .expect("get");
    assert_eq!(error_code(r).await, "face_required");

    assert_eq!(
        face_check(&s, &d, &["obama_2"]).await.status(),
        StatusCode::OK
    );
    // A recovery-code session sets the password without the old one.
    let r = post(
        &s,
        &d,
        "/api/me/password",
        json!({ "new_password": "a brand new passphrase" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login_as(&s, &client(), "barack", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_as(&s, &client(), "barack", "a brand new passphrase")
            .await
            .status(),
        StatusCode::OK
    );
    // The old session (another device) was signed out by the change.
    let r = c.get(s.url("/api/me")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_disabled_face_gets_back_in_with_an_authenticator_code_and_re_enrols() {
    require_fixtures();
    let s = start(|c| {
        c.lockout.face_free_failures = 1;
        c.lockout.face_disable_after = 2;
        c.lockout.face_base_delay_secs = 0;
    })
    .await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let (app, _) = enrol_totp(&s, &c).await;
    for _ in 0..2 {
        let d = client();
        login(&s, &d, "barack").await;
        let r = face_check(&s, &d, &["biden_1"]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let d = client();
    let (_, body) = status_and_json(login(&s, &d, "barack").await).await;
    assert_eq!(body["accepts"], json!(["totp"]), "{body}");
    assert_eq!(body["next"], "totp");
    let me = get_json(&s, &d, "/api/me").await;
    assert_eq!(me["factors"]["face"], "disabled");
    let code = app.generate(now_secs() + 30);
    let r = post(&s, &d, "/api/login/totp", json!({ "code": code })).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Full: the face can be re-enrolled, which lifts the disabled state.
    let r = reenrol(&s, &d, PASSWORD, &["obama_1"]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let e = client();
    let (_, body) = status_and_json(login(&s, &e, "barack").await).await;
    assert_eq!(body["accepts"], json!(["face", "totp"]));
    assert_eq!(
        face_check(&s, &e, &["obama_2"]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_passkey_with_face_policy_refuses_the_face_after_a_password() {
    require_fixtures();
    let s = start(|c| {
        c.auth.policy = server::config::SignInPolicy::PasskeyWithFace;
    })
    .await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let (_, body) = status_and_json(login(&s, &c, "barack").await).await;
    assert_eq!(body["accepts"], json!([]), "no passkey yet: {body}");
    assert_eq!(body["next"], Value::Null);
    let r = c
        .post(s.url("/api/face/challenge"))
        .send()
        .await
        .expect("challenge");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "factor_not_accepted");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("only after a passkey")));
}

#[tokio::test]
async fn the_owner_lists_sessions_and_signs_the_others_out() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let d = client();
    login(&s, &d, "barack").await;
    assert_eq!(
        face_check(&s, &d, &["obama_3"]).await.status(),
        StatusCode::OK
    );
    let list = get_json(&s, &c, "/api/me/sessions").await;
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    // The listing names sessions by a one-way handle, never by an id or its stored hash (both
    // 64 hex digits).
    let text = list.to_string();
    let hex64 = text
        .split(|ch: char| !ch.is_ascii_hexdigit())
        .any(|run| run.len() >= 64);
    assert!(!hex64, "a session id or hash in {text}");
    // One session by its id.
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .expect("other");
    let id = other["id"].as_str().expect("id");
    let r = c
        .delete(s.url(&format!("/api/me/sessions/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        d.get(s.url("/api/me")).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
    let r = c
        .delete(s.url(&format!("/api/me/sessions/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "already gone");

    // All the others.
    let e = client();
    login(&s, &e, "barack").await;
    let (status, body) =
        status_and_json(post(&s, &c, "/api/me/sessions/end-others", json!({})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ended"], 1);
    assert_eq!(
        e.get(s.url("/api/me")).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(auth_level(&s, &c).await, "full", "the current one stays");
}

#[tokio::test]
async fn password_and_email_changes_need_the_password_and_sign_other_sessions_out() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    register(&s, &client(), "joe", "biden_1").await;
    let d = client();
    login(&s, &d, "barack").await;

    let r = post(
        &s,
        &c,
        "/api/me/password",
        json!({ "new_password": "another passphrase" }),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "current password missing"
    );
    let r = post(
        &s,
        &c,
        "/api/me/password",
        json!({ "current_password": "wrong one here", "new_password": "another passphrase" }),
    )
    .await;
    assert_eq!(error_code(r).await, "invalid_credentials");
    let r = post(
        &s,
        &c,
        "/api/me/password",
        json!({ "current_password": PASSWORD, "new_password": "short" }),
    )
    .await;
    assert_eq!(error_code(r).await, "password_too_short");
    let r = post(
        &s,
        &c,
        "/api/me/password",
        json!({ "current_password": PASSWORD, "new_password": "password" }),
    )
    .await;
    assert_eq!(error_code(r).await, "password_too_common");
    let r = post(
        &s,
        &c,
        "/api/me/password",
        json!({ "current_password": PASSWORD, "new_password": "another passphrase" }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        d.get(s.url("/api/me")).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(auth_level(&s, &c).await, "full");

    let change = |email: &str, password: &str| {
        c.put(s.url("/api/me/email"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let r = change("joe@example.org", "another passphrase")
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::CONFLICT, "joe's address");
    let r = change("not an address", "another passphrase")
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = change("New.Barack@Example.org", "another passphrase")
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["email"], "new.barack@example.org");
    assert_eq!(
        login_as(
            &s,
            &client(),
            "new.barack@example.org",
            "another passphrase"
        )
        .await
        .status(),
        StatusCode::OK
    );
    let kinds = event_kinds(&s, &c).await;
    assert!(kinds.contains(&"password_changed".to_owned()));
    assert!(kinds.contains(&"email_changed".to_owned()));
}

#[tokio::test]
async fn no_secret_of_a_factor_is_ever_returned_after_enrolment() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let (_, enrolment) = status_and_json(post(&s, &c, "/api/me/totp", json!({})).await).await;
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    let codes = new_recovery_codes(&s, &c).await;
    for path in ["/api/me", "/api/me/security-events", "/api/me/sessions"] {
        let text = get_json(&s, &c, path).await.to_string();
        assert!(!text.contains(&secret), "{path} shows the TOTP secret");
        for code in &codes {
            assert!(
                !text.contains(code.as_str()),
                "{path} shows a recovery code"
            );
        }
    }
    // A second enrolment while one is pending replaces it; once confirmed, it must be removed
    // first.
    let bytes = Secret::Encoded(secret).to_bytes().expect("base32");
    let stale = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    let (_, again) = status_and_json(post(&s, &c, "/api/me/totp", json!({})).await).await;
    let r = post(
        &s,
        &c,
        "/api/me/totp/confirm",
        json!({ "code": stale.generate_current().expect("clock") }),
    )
    .await;
    assert_eq!(
        error_code(r).await,
        "code_invalid",
        "the replaced secret is gone"
    );
    let bytes = Secret::Encoded(again["secret"].as_str().expect("secret").to_owned())
        .to_bytes()
        .expect("base32");
    let app = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    let r = post(
        &s,
        &c,
        "/api/me/totp/confirm",
        json!({ "code": app.generate_current().expect("clock") }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = post(&s, &c, "/api/me/totp", json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = c
        .delete(s.url("/api/me/totp"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get_json(&s, &c, "/api/me").await["factors"]["totp"], false);
}

#[tokio::test]
async fn the_contract_describes_the_factor_endpoints() {
    require_fixtures();
    let s = start(|_| {}).await;
    let doc = get_json(&s, &client(), "/api/openapi.json").await;
    for path in [
        "/api/login/totp",
        "/api/login/recovery-code",
        "/api/login/recovery",
        "/api/login/password",
        "/api/login/passkey/start",
        "/api/login/passkey/finish",
        "/api/login/passkey/second/start",
        "/api/login/passkey/second/finish",
        "/api/me/totp",
        "/api/me/recovery-codes",
        "/api/me/passkeys",
        "/api/me/passkeys/{id}",
        "/api/me/sessions",
        "/api/me/sessions/{id}",
        "/api/me/password",
        "/api/me/email",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[tokio::test]
async fn one_code_sent_twice_at_once_completes_only_one_sign_in() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let (app, confirmed_at) = enrol_totp(&s, &c).await;
    let codes = new_recovery_codes(&s, &c).await;
    let (a, b) = (client(), client());
    login(&s, &a, "barack").await;
    login(&s, &b, "barack").await;
    let code = app.generate(confirmed_at + 30);
    let (ra, rb) = tokio::join!(
        post(&s, &a, "/api/login/totp", json!({ "code": code })),
        post(&s, &b, "/api/login/totp", json!({ "code": code }))
    );
    let ok = [ra.status(), rb.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{} {}", ra.status(), rb.status());

    let (a, b) = (client(), client());
    login(&s, &a, "barack").await;
    login(&s, &b, "barack").await;
    let (ra, rb) = tokio::join!(
        post(
            &s,
            &a,
            "/api/login/recovery-code",
            json!({ "code": codes[0] })
        ),
        post(
            &s,
            &b,
            "/api/login/recovery-code",
            json!({ "code": codes[0] })
        )
    );
    let ok = [ra.status(), rb.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{} {}", ra.status(), rb.status());
}

#[tokio::test]
async fn a_malformed_passkey_id_is_refused_in_the_error_envelope() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "malformed", "obama_1", "obama_2").await;
    // Found by tools/api-contract: axum's own rejection answered in plain text, which the
    // contract (`ErrorBody`, application/json) does not describe.
    for (method, body) in [
        (reqwest::Method::DELETE, None),
        (reqwest::Method::PATCH, Some(json!({"name": "key"}))),
    ] {
        let mut request = c.request(method.clone(), s.url("/api/me/passkeys/not-a-number"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("request");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method}");
        assert_eq!(error_code(r).await, "invalid_request", "{method}");
    }
}
