//! Enrolment takes 1-3 photos of one and the same person.

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn registration_with_photos_of_two_people_is_refused() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = client();
    let r = register_with(
        &s,
        &c,
        "mixed",
        vec![photo("rose_leslie_1"), photo("obama_1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "faces_differ");
    // Nothing was created: the username is still free, and one person's photos enrol.
    let r = register_with(&s, &c, "mixed", vec![photo("obama_1"), photo("obama_3")]).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn reenrolment_with_photos_of_two_people_is_refused_and_keeps_the_old_face() {
    require_fixtures();
    let s = start(|_| {}).await;
    let c = full_session(&s, "barack", "obama_1", "obama_2").await;
    let r = reenrol(&s, &c, PASSWORD, &["obama_3", "biden_1"]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "faces_differ");
    // The enrolled face is unchanged: obama still passes a fresh face check.
    let c2 = client();
    login(&s, &c2, "barack").await;
    assert_eq!(
        face_check(&s, &c2, &["obama_4"]).await.status(),
        StatusCode::OK
    );
}
