//! The login flow end to end over HTTP: register → login → challenge → verify → full, session
//! rotation, replayed challenges, the password-only session's limits, logout and deletion.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn obama_registers_logs_in_and_passes_the_face_check_with_another_photo() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    let r = register_with(&s, &c, "barack", vec![photo("obama_1")]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let user: serde_json::Value = r.json().await.expect("json");
    assert_eq!(user["username"], "barack");
    assert!(user.get("password_hash").is_none());

    let r = login(&s, &c, "barack").await;
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["next"], "face");
    assert_eq!(auth_level(&s, &c).await, "password");

    let r = face_check(&s, &c, &["obama_2"]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["level"], "full");
    let me = get_json(&s, &c, "/api/me").await;
    assert_eq!(me["auth_level"], "full");
    assert_eq!(me["user"]["email"], "barack@example.org");

    let kinds = event_kinds(&s, &c).await;
    assert!(
        ["registered", "login_succeeded", "face_succeeded"]
            .iter()
            .all(|k| kinds.iter().any(|seen| seen == k)),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn someone_else_s_face_is_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    let r = face_check(&s, &c, &["biden_1"]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "face_mismatch");
    assert_eq!(
        auth_level(&s, &c).await,
        "password",
        "a failed check must not raise the level"
    );
}

#[tokio::test]
async fn the_login_can_be_the_email_in_any_case_and_login_login_succeeds_with_several_frames() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register_with(&s, &c, "barack", vec![photo("obama_1"), photo("obama_3")]).await;
    let r = login_as(&s, &c, "Barack@Example.org", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Two of three frames match: a strict majority passes.
    let r = face_check(&s, &c, &["obama_2", "obama_4", "biden_1"]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn session_cookie_changes_at_login_and_at_face_success_and_old_ids_die() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let first = set_cookie(&login(&s, &c, "barack").await).expect("login sets a cookie");
    let second = set_cookie(&login(&s, &c, "barack").await).expect("login sets a cookie");
    assert_ne!(first, second, "every login creates a new session id");
    let r = face_check(&s, &c, &["obama_2"]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let full = set_cookie(&r).expect("face success sets a cookie");
    assert_ne!(full, second);
    for value in [&first, &second] {
        assert_eq!(
            status_with_cookie(&s, Method::GET, "/api/me", value).await,
            StatusCode::UNAUTHORIZED,
            "the password-level id must be gone"
        );
    }
    assert_eq!(
        status_with_cookie(&s, Method::GET, "/api/me", &full).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn session_cookie_is_httponly_and_samesite() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let r = login(&s, &c, "barack").await;
    let raw = raw_set_cookie(&r);
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax") && raw.contains("Path=/"),
        "{raw}"
    );
    assert!(
        !raw.contains("Secure"),
        "plain http must not set Secure: {raw}"
    );
}

#[tokio::test]
async fn https_public_url_gives_secure_host_prefixed_cookie() {
    require_fixtures();
    let s = start(|c| c.public_url = Some("https://chat.example.org".into())).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let r = login(&s, &c, "barack").await;
    let raw = raw_set_cookie(&r);
    assert!(
        raw.starts_with("__Host-facegate_session=") && raw.contains("Secure"),
        "{raw}"
    );
}

#[tokio::test]
async fn a_replayed_or_foreign_challenge_is_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    let ch = challenge(&s, &c).await;
    let r = verify_with(&s, &c, &ch, vec![photo("biden_1")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = verify_with(&s, &c, &ch, vec![photo("obama_2")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "challenge_invalid");

    // A challenge issued to another session does not work in this one.
    let other = client();
    login(&s, &other, "barack").await;
    let foreign = challenge(&s, &other).await;
    let r = verify_with(&s, &c, &foreign, vec![photo("obama_2")]).await;
    assert_eq!(error_code(r).await, "challenge_invalid");
    let r = verify_with(&s, &c, "made-up", vec![photo("obama_2")]).await;
    assert_eq!(error_code(r).await, "challenge_invalid");
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    require_fixtures();
    let s = start(|c| c.sessions.challenge_ttl_secs = 0).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    let r = c
        .post(s.url("/api/face/challenge"))
        .send()
        .await
        .expect("challenge");
    let ch: serde_json::Value = r.json().await.expect("json");
    let r = verify_with(
        &s,
        &c,
        ch["challenge"].as_str().expect("str"),
        vec![photo("obama_2")],
    )
    .await;
    assert_eq!(error_code(r).await, "challenge_invalid");
}

#[tokio::test]
async fn a_password_only_session_is_refused_by_every_full_endpoint() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    let responses = vec![
        c.get(s.url("/api/me/security-events"))
            .send()
            .await
            .expect("events"),
        reenrol(&s, &c, PASSWORD, &["obama_2"]).await,
        delete_account(&s, &c, PASSWORD).await,
        c.get(s.url("/api/channels"))
            .send()
            .await
            .expect("chat channels"),
    ];
    for r in responses {
        let url = r.url().to_string();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{url}");
        assert_eq!(error_code(r).await, "face_required", "{url}");
    }
    // Without any session: 401.
    let r = client()
        .get(s.url("/api/me/security-events"))
        .send()
        .await
        .expect("events");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "unauthenticated");
}

#[tokio::test]
async fn password_level_session_expires() {
    require_fixtures();
    let s = start(|c| c.sessions.password_level_ttl_secs = 0).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    login(&s, &c, "barack").await;
    let r = c.get(s.url("/api/me")).send().await.expect("me");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_user_and_wrong_password_answer_identically() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    register(&s, &c, "barack", "obama_1").await;
    let wrong = login_as(&s, &c, "barack", "not the password at all").await;
    let unknown = login_as(&s, &c, "nobody-here", "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), unknown.status());
    assert!(set_cookie(&wrong).is_none() && set_cookie(&unknown).is_none());
    let a = wrong.text().await.expect("body");
    let b = unknown.text().await.expect("body");
    assert_eq!(a, b);
    assert!(a.contains("invalid_credentials"));
}

#[tokio::test]
async fn logout_destroys_the_session_server_side() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    // A second full session whose raw cookie is replayed after its logout.
    let r = client();
    login(&s, &r, "barack").await;
    let ch = challenge(&s, &r).await;
    let full = verify_with(&s, &r, &ch, vec![photo("obama_2")]).await;
    let cookie = set_cookie(&full).expect("cookie");
    assert_eq!(
        status_with_cookie(&s, Method::POST, "/api/logout", &cookie).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status_with_cookie(&s, Method::GET, "/api/me", &cookie).await,
        StatusCode::UNAUTHORIZED
    );
    // The other session of the same account is unaffected.
    assert_eq!(
        c.get(s.url("/api/me")).send().await.expect("me").status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn reenrolment_replaces_the_face() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let r = reenrol(&s, &c, "wrong password!!", &["biden_1"]).await;
    assert_eq!(error_code(r).await, "invalid_credentials");
    let r = reenrol(&s, &c, PASSWORD, &["biden_1"]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let d = client();
    login(&s, &d, "barack").await;
    assert_eq!(
        face_check(&s, &d, &["obama_2"]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        face_check(&s, &d, &["biden_2"]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_the_account_leaves_no_row_of_the_user() {
    require_fixtures();
    let s = start(|_| {}).await;
    let keep = full_session(&s, "joe", "biden_1", "biden_2").await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let id = get_json(&s, &c, "/api/me").await["user"]["id"]
        .as_i64()
        .expect("id");
    // Leave some chat traces when the chat API is there (ignored otherwise).
    let _ = c
        .post(s.url("/api/channels"))
        .json(&serde_json::json!({"name": "general", "kind": "group", "members": []}))
        .send()
        .await;

    let r = delete_account(&s, &c, "wrong password!!").await;
    assert_eq!(error_code(r).await, "invalid_credentials");
    let r = delete_account(&s, &c, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(s.url("/api/me")).send().await.expect("me").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_as(&s, &client(), "barack", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        keep.get(s.url("/api/me"))
            .send()
            .await
            .expect("me")
            .status(),
        StatusCode::OK
    );

    let rows = rows_referencing_user(&s, id).await;
    assert_eq!(rows, Vec::<(String, i64)>::new(), "rows left behind");
    let other_rows = rows_referencing_user(&s, id - 1).await;
    assert!(
        !other_rows.is_empty(),
        "the check must see the other user's rows"
    );
}

/// Every (table, count) of rows whose foreign key to `users` (or users.id itself) is `id`,
/// from the engine's own catalogue, so a table added later is checked without listing it here.
async fn rows_referencing_user(s: &TestServer, id: i64) -> Vec<(String, i64)> {
    use server::storage::Backend;
    use sqlx::Row;
    let db = s.second_db_handle().await;
    let pool = db.pool();
    let catalogue = match db.backend() {
        Backend::Sqlite => {
            "SELECT t.name AS tbl, f.\"from\" AS col FROM sqlite_master t \
             JOIN pragma_foreign_key_list(t.name) f \
             WHERE t.type = 'table' AND f.\"table\" = 'users'"
        }
        Backend::Postgres => {
            "SELECT c.conrelid::regclass::text AS tbl, a.attname::text AS col FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) \
             WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass"
        }
    };
    let mut columns: Vec<(String, String)> = sqlx::query(catalogue)
        .fetch_all(pool)
        .await
        .expect("foreign keys")
        .iter()
        .map(|r| (r.get("tbl"), r.get("col")))
        .collect();
    assert!(
        columns.len() >= 10,
        "the catalogue lists the foreign keys: {columns:?}"
    );
    columns.push(("users".into(), "id".into()));
    let mut found = Vec::new();
    for (table, col) in columns {
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM \"{table}\" WHERE \"{col}\" = $1"
        ))
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("count")
        .get("n");
        if n > 0 {
            found.push((format!("{table}.{col}"), n));
        }
    }
    found
}
