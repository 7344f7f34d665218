//! Re-enrolling the face and deleting the account need a recent sign-in (password and face,
//! `sessions.reauth_window_secs`): an older full session is refused with 403 `reauth_required`
//! and changes nothing, even with the right password.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn an_old_sign_in_cannot_reenrol_the_face_or_delete_the_account() {
    require_fixtures();
    // A window of 0 s: every sign-in is already too old.
    let s = start(|c| c.sessions.reauth_window_secs = 0).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;

    let r = reenrol(&s, &c, PASSWORD, &["biden_1"]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "reauth_required");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("log in again")),
        "{body}"
    );
    let r = delete_account(&s, &c, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(r).await, "reauth_required");

    // Nothing changed: the session still works, the account exists, the old face still passes.
    assert_eq!(auth_level(&s, &c).await, "full");
    let d = client();
    login(&s, &d, "barack").await;
    assert_eq!(
        face_check(&s, &d, &["obama_2"]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_stale_session_s_password_guesses_are_not_even_checked() {
    require_fixtures();
    let s = start(|c| {
        c.sessions.reauth_window_secs = 0;
        c.lockout.password_free_failures = 1;
        c.lockout.password_base_delay_secs = 600;
    })
    .await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    for _ in 0..3 {
        let r = delete_account(&s, &c, "a wrong guess here").await;
        assert_eq!(error_code(r).await, "reauth_required");
    }
    // No password failure was counted: a normal login is not locked out.
    assert_eq!(
        login_as(&s, &client(), "barack", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_fresh_sign_in_within_the_window_may_delete_the_account() {
    require_fixtures();
    let s = start(|c| c.sessions.reauth_window_secs = 600).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    assert_eq!(
        delete_account(&s, &c, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
}
