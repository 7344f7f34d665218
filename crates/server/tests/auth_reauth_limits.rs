//! Re-authentication (the password asked again before deleting the account or re-enrolling the
//! face) is held to the same per-account password limits as login.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn wrong_passwords_at_reauthentication_lock_like_login_and_are_audited() {
    require_fixtures();
    let s = start(|c| {
        c.lockout.password_free_failures = 3;
        c.lockout.password_base_delay_secs = 60;
    })
    .await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    for _ in 0..3 {
        let r = delete_account(&s, &c, "a wrong guess!!").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The gate is now shut for this account, even for the right password and other endpoints.
    let r = delete_account(&s, &c, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((59..=60).contains(&retry_after(&r)));
    assert_eq!(error_code(r).await, "locked_out");
    let r = reenrol(&s, &c, PASSWORD, &["obama_3"]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = login_as(&s, &client(), "barack", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let kinds = event_kinds(&s, &c).await;
    assert!(
        kinds.iter().filter(|k| *k == "login_failed").count() >= 3,
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k == "password_locked_out"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn the_right_password_at_reauthentication_clears_the_failure_count() {
    require_fixtures();
    let s = start(|c| {
        c.lockout.password_free_failures = 3;
        c.lockout.password_base_delay_secs = 60;
    })
    .await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    for _ in 0..2 {
        assert_eq!(
            delete_account(&s, &c, "a wrong guess!!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = reenrol(&s, &c, PASSWORD, &["obama_3"]).await;
    assert!(r.status().is_success(), "re-enrol: {}", r.status());
    // Two more failures would lock if the earlier two still counted.
    for _ in 0..2 {
        assert_eq!(
            delete_account(&s, &c, "a wrong guess!!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        delete_account(&s, &c, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
}
