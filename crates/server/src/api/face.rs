//! Face endpoints: challenge, verify, live detect, re-enrol.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Upload;
use crate::app::AppState;
use crate::auth::account::{self, FaceSource};
use crate::auth::password::Password;
use crate::auth::session::{set_cookie, AnySession, FullSession, Level};
use crate::auth::{verify, Client};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::faces::DetectResult;

#[derive(Serialize, ToSchema)]
pub struct ChallengeResponse {
    /// One-time nonce, bound to this session.
    challenge: String,
    /// Seconds until it expires.
    expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    level: Level,
}

/// Multipart form of `POST /api/face/verify` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerifyForm {
    /// From `POST /api/face/challenge`; text fields hold at most 4,096 bytes.
    #[schema(max_length = 4096)]
    challenge: String,
    /// 1-5 camera frames (JPEG/PNG/WebP).
    #[schema(value_type = Vec<String>, format = Binary, min_items = 1, max_items = 5)]
    frame: Vec<Vec<u8>>,
}

/// Multipart form of `POST /api/face/detect` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DetectForm {
    /// One small camera frame.
    #[schema(value_type = String, format = Binary)]
    frame: Vec<u8>,
}

/// Multipart form of `PUT /api/me/face` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReenrolForm {
    #[schema(max_length = 1024)]
    password: String,
    /// 1-3 images, each with exactly one face (or `enrolment` instead).
    #[schema(value_type = Vec<String>, format = Binary, max_items = 3)]
    face: Vec<Vec<u8>>,
    /// The token of a passed live enrolment made with this session, instead of `face` images.
    enrolment: Option<String>,
}

/// A one-time challenge for the face check.
#[utoipa::path(post, path = "/api/face/challenge", tag = "face", security(("session" = [])),
    responses((status = 200, body = ChallengeResponse),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "factor_not_accepted: the face cannot complete this sign-in (auth.policy)", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
pub async fn challenge(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
) -> ApiResult<Json<ChallengeResponse>> {
    let (challenge, expires_in) = verify::challenge(&state.auth(), &session, &client).await?;
    Ok(Json(ChallengeResponse {
        challenge,
        expires_in,
    }))
}

/// Checks camera frames against the enrolled face; on a match the session is replaced by one at
/// level `full`.
#[utoipa::path(post, path = "/api/face/verify", tag = "face", security(("session" = [])),
    request_body(content = VerifyForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, body = VerifyResponse, headers(("set-cookie" = String))),
        (status = 400, description = "challenge_invalid, invalid_request, image_invalid; no_face or multiple_faces when no frame holds exactly one face (not counted as a failure)", body = ErrorBody),
        (status = 401, description = "face_mismatch or unauthenticated", body = ErrorBody),
        (status = 403, description = "face_disabled, factor_not_accepted; liveness_required when `face.liveness` is `active` (the default): use GET /api/face/live", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out or rate_limited, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn verify_face(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
    mut form: Upload,
) -> ApiResult<Response> {
    let challenge = form.text("challenge")?;
    let frames = form.files("frame");
    let token = verify::verify(&state.auth(), &session, &challenge, frames, &client).await?;
    Ok((
        [(header::SET_COOKIE, set_cookie(&state.config, &token))],
        Json(VerifyResponse { level: Level::Full }),
    )
        .into_response())
}

/// Face boxes, scores and a hint for one small frame (never descriptors).
#[utoipa::path(post, path = "/api/face/detect", tag = "face",
    request_body(content = DetectForm, content_type = "multipart/form-data"),
    responses((status = 200, body = DetectResult),
        (status = 400, description = "invalid_request, image_invalid", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn detect(
    State(state): State<AppState>,
    client: Client,
    mut form: Upload,
) -> ApiResult<Json<DetectResult>> {
    state
        .limits
        .detect
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    let mut frames = form.files("frame");
    if frames.len() != 1 {
        return Err(ApiError::Validation("send exactly one `frame`".into()));
    }
    let frame = frames.remove(0);
    if frame.len() > state.config.limits.detect_image_bytes {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(Json(state.face.detect(frame).await?))
}

/// Replaces the enrolled face (password required); lifts a disabled face check.
#[utoipa::path(put, path = "/api/me/face", tag = "face", security(("session" = ["full"])),
    request_body(content = ReenrolForm, content_type = "multipart/form-data"),
    responses((status = 204),
        (status = 400, description = "no_face, multiple_faces, face_too_small, image_invalid", body = ErrorBody),
        (status = 401, description = "unauthenticated or invalid_credentials", body = ErrorBody),
        (status = 403, description = "face_required, or reauth_required: the sign-in is older than sessions.reauth_window_secs (log in again with password and face)", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out: too many wrong passwords, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn reenrol(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    mut form: Upload,
) -> ApiResult<StatusCode> {
    let password = Password::new(form.text("password")?);
    let face = FaceSource::from_parts(form.files("face"), form.optional_text("enrolment"))?;
    account::reenrol(&state.auth(), &session, password, face, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
