//! Account endpoints: register, login, me, logout, security events, delete.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, Upload};
use crate::app::AppState;
use crate::auth::account::{self, FaceSource, Registration};
use crate::auth::factors;
use crate::auth::password::Password;
use crate::auth::policy::{FaceFactor, Factor};
use crate::auth::session::{
    clear_cookie, cookie_name, read_cookie, set_cookie, AnySession, FullSession, Level, SessionHash,
};
use crate::auth::Client;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::storage::audit::AuditEvent;
use crate::storage::users::User;

/// Multipart form of `POST /api/register` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegisterForm {
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]+$")]
    username: String,
    /// `local@domain.tld`, at most 254 bytes.
    #[schema(max_length = 254)]
    email: String,
    /// 1-100 characters, not only spaces, no control or invisible characters.
    #[schema(min_length = 1, max_length = 100)]
    full_name: String,
    /// 8-256 characters, not one of the most common passwords.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    /// Must be `true`: explicit consent to storing an encrypted face template.
    consent: bool,
    /// 1-3 JPEG/PNG/WebP images, each with exactly one face (or `enrolment` instead).
    #[schema(value_type = Vec<String>, format = Binary, max_items = 3)]
    face: Vec<Vec<u8>>,
    /// The token of a passed live enrolment (`GET /api/face/live?purpose=enrol`), instead of
    /// `face` images.
    enrolment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    #[schema(max_length = 254)]
    login: String,
    #[schema(value_type = String, max_length = 1024)]
    password: Password,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The second step the sign-in page offers first (`face` unless the face cannot be used);
    /// absent when the account has no usable second factor.
    next: Option<Factor>,
    /// Every second step that can complete this sign-in.
    accepts: Vec<Factor>,
}

/// What the account has enrolled (never a secret, a template or a credential).
#[derive(Serialize, ToSchema)]
pub struct FactorSummary {
    face: FaceFactor,
    passkeys: i64,
    totp: bool,
    recovery_codes_left: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    user: User,
    auth_level: Level,
    /// How this session signed in.
    first_factor: Factor,
    second_factor: Option<Factor>,
    /// At level `password`: the second steps that can complete the sign-in.
    accepts: Vec<Factor>,
    factors: FactorSummary,
}

#[derive(Serialize, ToSchema)]
pub struct EventsResponse {
    events: Vec<AuditEvent>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    #[schema(value_type = String, max_length = 1024)]
    password: Password,
}

fn is_true(v: Option<String>) -> bool {
    matches!(
        v.as_deref().map(str::trim),
        Some("true" | "1" | "on" | "yes")
    )
}

/// Creates the account and enrols the face.
#[utoipa::path(post, path = "/api/register", tag = "auth",
    request_body(content = RegisterForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = User),
        (status = 400, description = "invalid_request, password_too_short, password_too_common, consent_required, no_face, multiple_faces, face_too_small, image_invalid", body = ErrorBody),
        (status = 409, description = "conflict: username or email taken", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    client: Client,
    mut form: Upload,
) -> ApiResult<(StatusCode, Json<User>)> {
    let registration = Registration {
        username: form.text("username")?,
        email: form.text("email")?,
        full_name: form.text("full_name")?,
        password: Password::new(form.text("password")?),
        consent: is_true(form.optional_text("consent")),
        face: FaceSource::from_parts(form.files("face"), form.optional_text("enrolment"))?,
    };
    let user = account::register(&state.auth(), registration, &client).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Checks the password; opens a session at level `password` (cookie).
#[utoipa::path(post, path = "/api/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse, headers(("set-cookie" = String))),
        (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 429, description = "locked_out or rate_limited, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let previous = read_cookie(&headers, cookie_name(&state.config)).map(|t| SessionHash::of(&t));
    let token = account::login(&state.auth(), &req.login, req.password, previous, &client).await?;
    let accepts = factors::second_steps_of(&state.auth(), &token).await?;
    Ok((
        [(header::SET_COOKIE, set_cookie(&state.config, &token))],
        Json(LoginResponse {
            next: accepts.first().copied(),
            accepts,
        }),
    )
        .into_response())
}

/// The signed-in user and the session's level.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("session" = [])),
    responses((status = 200, body = MeResponse), (status = 401, description = "unauthenticated", body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, session: AnySession) -> ApiResult<Json<MeResponse>> {
    let user = state
        .db
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let account = factors::account_factors(&state.auth(), session.user_id).await?;
    Ok(Json(MeResponse {
        user,
        auth_level: session.level,
        first_factor: session.first_factor,
        second_factor: session.second_factor,
        accepts: factors::next_steps(&state.auth(), &session).await?,
        factors: FactorSummary {
            face: account.face,
            passkeys: account.passkeys,
            totp: account.totp,
            recovery_codes_left: account.recovery_codes_left,
        },
    }))
}

/// Destroys the session.
#[utoipa::path(post, path = "/api/logout", tag = "auth", security(("session" = [])),
    responses((status = 204), (status = 401, description = "unauthenticated", body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
) -> ApiResult<Response> {
    account::logout(&state.auth(), &session, &client).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(&state.config))],
    )
        .into_response())
}

/// The account's auth events, newest first (at most 200).
#[utoipa::path(get, path = "/api/me/security-events", tag = "auth", security(("session" = ["full"])),
    responses((status = 200, body = EventsResponse),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
pub async fn security_events(
    State(state): State<AppState>,
    session: FullSession,
) -> ApiResult<Json<EventsResponse>> {
    let events = state.db.events(session.user_id, 200).await?;
    Ok(Json(EventsResponse { events }))
}

/// Deletes the account (password required), its templates and sessions.
#[utoipa::path(delete, path = "/api/me", tag = "auth", security(("session" = ["full"])), request_body = PasswordRequest,
    responses((status = 204),
        (status = 401, description = "unauthenticated or invalid_credentials", body = ErrorBody),
        (status = 403, description = "face_required, or reauth_required: the sign-in is older than sessions.reauth_window_secs (log in again with password and face)", body = ErrorBody),
        (status = 429, description = "locked_out: too many wrong passwords", body = ErrorBody)))]
pub async fn delete_me(
    State(state): State<AppState>,
    session: FullSession,
    client: Client,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> ApiResult<Response> {
    account::delete(&state.auth(), &session, req.password, &client).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(&state.config))],
    )
        .into_response())
}
