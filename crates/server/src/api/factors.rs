//! Endpoints of the factors beyond the password and the face: the second steps of a sign-in
//! (authenticator code, recovery code, passkey), passkey sign-in in place of the password,
//! and their management in the settings, with the account's sessions and password and email.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::{
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use super::extract::{ApiJson, ApiPath};
use crate::app::AppState;
use crate::auth::account::{self, SessionInfo};
use crate::auth::passkey::{self, PasskeyInfo};
use crate::auth::password::Password;
use crate::auth::policy::Factor;
use crate::auth::session::{
    cookie_name, read_cookie, set_cookie, AnySession, FullSession, Level, SessionHash, SessionToken,
};
use crate::auth::totp::{self, TotpEnrolment};
use crate::auth::{factors, mail, recovery, Client};
use crate::error::{ApiResult, ErrorBody};
use crate::storage::users::User;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// 6 digits from the authenticator app, or a recovery code (`xxxx-xxxx-xxxx-xxxx`).
    #[schema(max_length = 64)]
    code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverySignInRequest {
    /// Username or email.
    #[schema(max_length = 254)]
    login: String,
    #[schema(max_length = 64)]
    code: String,
}

/// A sign-in raised to `full`.
#[derive(Serialize, ToSchema)]
pub struct FullResponse {
    level: Level,
    /// Recovery codes still unused, when one was just used.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_left: Option<i64>,
}

/// A first step passed: what may complete the sign-in.
#[derive(Serialize, ToSchema)]
pub struct FirstStepResponse {
    /// The second steps this account can use now, the default first.
    accepts: Vec<Factor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_left: Option<i64>,
}

/// Options for `navigator.credentials.get` and the ceremony id to send back.
#[derive(Serialize, ToSchema)]
pub struct PasskeyRequestOptions {
    ceremony: String,
    #[schema(value_type = Object)]
    options: RequestChallengeResponse,
}

/// Options for `navigator.credentials.create` and the ceremony id to send back.
#[derive(Serialize, ToSchema)]
pub struct PasskeyCreationOptions {
    ceremony: String,
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyAssertion {
    #[schema(max_length = 64)]
    ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get`, base64url fields.
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyAttestation {
    #[schema(max_length = 64)]
    ceremony: String,
    /// The user's label for the passkey (1–64 characters).
    #[schema(max_length = 64)]
    name: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create`, base64url fields.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeyName {
    #[schema(max_length = 64)]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    passkeys: Vec<PasskeyInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once: only their hashes are kept.
    codes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct EndedSessions {
    ended: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// Required, except in a session begun with a recovery code.
    #[schema(value_type = Option<String>, max_length = 1024)]
    current_password: Option<Password>,
    /// 8-256 characters, not one of the most common passwords.
    #[schema(value_type = String, min_length = 8, max_length = 256)]
    new_password: Password,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChange {
    #[schema(value_type = String, max_length = 1024)]
    password: Password,
    #[schema(max_length = 254)]
    email: String,
}

fn previous_session(state: &AppState, headers: &HeaderMap) -> Option<SessionHash> {
    read_cookie(headers, cookie_name(&state.config)).map(|t| SessionHash::of(&t))
}

fn with_cookie(state: &AppState, token: &SessionToken, body: impl Serialize) -> Response {
    (
        [(header::SET_COOKIE, set_cookie(&state.config, token))],
        Json(body),
    )
        .into_response()
}

fn full(recovery_codes_left: Option<i64>) -> FullResponse {
    FullResponse {
        level: Level::Full,
        recovery_codes_left,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondPassword {
    #[schema(value_type = String, max_length = 1024)]
    password: Password,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkToken {
    /// The token of the emailed link (the part after `#`).
    #[schema(max_length = 128)]
    token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// Username or email.
    #[schema(max_length = 254)]
    login: String,
}

/// Follows an address-verification link.
#[utoipa::path(post, path = "/api/email/verify", tag = "auth", request_body = LinkToken,
    responses(
        (status = 204),
        (status = 400, description = "challenge_invalid (unknown, used or expired link, or the address changed since), invalid_request", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LinkToken>,
) -> ApiResult<StatusCode> {
    mail::verify_address(&state.auth(), &req.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Emails a password-reset link to the account's verified address, when email is configured.
/// The answer is the same whether or not the login exists.
#[utoipa::path(post, path = "/api/password-reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 202, description = "accepted: a link was sent if the login has a verified address"),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "rate_limited, with Retry-After", body = ErrorBody)))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    mail::request_reset(&state.auth(), &req.login, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Follows a password-reset link: the first step of a sign-in that the face or a passkey
/// completes, after which the password can be set without the old one.
#[utoipa::path(post, path = "/api/password-reset/finish", tag = "auth", request_body = LinkToken,
    responses(
        (status = 200, body = FirstStepResponse, headers(("set-cookie" = String))),
        (status = 400, description = "challenge_invalid (unknown, used or expired link), invalid_request", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn follow_reset_link(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LinkToken>,
) -> ApiResult<Response> {
    let previous = previous_session(&state, &headers);
    let token = mail::begin_reset(&state.auth(), &req.token, previous, &client).await?;
    let accepts = factors::second_steps_of(&state.auth(), &token).await?;
    Ok(with_cookie(
        &state,
        &token,
        FirstStepResponse {
            accepts,
            recovery_codes_left: None,
        },
    ))
}

/// Completes a sign-in begun with a passkey by the password.
#[utoipa::path(post, path = "/api/login/password", tag = "factors", security(("session" = [])), request_body = SecondPassword,
    responses(
        (status = 200, body = FullResponse, headers(("set-cookie" = String))),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "invalid_credentials, unauthenticated", body = ErrorBody),
        (status = 403, description = "factor_not_accepted: the sign-in did not begin with a passkey", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn sign_in_password_second(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
    ApiJson(req): ApiJson<SecondPassword>,
) -> ApiResult<Response> {
    let token =
        account::second_step_password(&state.auth(), &session, req.password, &client).await?;
    Ok(with_cookie(&state, &token, full(None)))
}

/// Completes the sign-in with a code from the authenticator app.
#[utoipa::path(post, path = "/api/login/totp", tag = "factors", security(("session" = [])), request_body = CodeRequest,
    responses(
        (status = 200, body = FullResponse, headers(("set-cookie" = String))),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "code_invalid (wrong, expired or already used), unauthenticated", body = ErrorBody),
        (status = 403, description = "factor_not_accepted: no confirmed authenticator app, or not a second step of this sign-in", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out (the password's rules), with Retry-After", body = ErrorBody)))]
pub async fn sign_in_totp(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Response> {
    let token = totp::sign_in(&state.auth(), &session, &req.code, &client).await?;
    Ok(with_cookie(&state, &token, full(None)))
}

/// Completes the sign-in with a recovery code (single use).
#[utoipa::path(post, path = "/api/login/recovery-code", tag = "factors", security(("session" = [])), request_body = CodeRequest,
    responses(
        (status = 200, body = FullResponse, headers(("set-cookie" = String))),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "code_invalid, unauthenticated", body = ErrorBody),
        (status = 403, description = "factor_not_accepted: no code left, or not a second step of this sign-in", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out, with Retry-After", body = ErrorBody)))]
pub async fn sign_in_recovery_code(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Response> {
    let (token, left) = recovery::sign_in(&state.auth(), &session, &req.code, &client).await?;
    Ok(with_cookie(&state, &token, full(Some(left))))
}

/// Begins a sign-in with a recovery code in place of a lost password; the face or a passkey
/// must follow, after which the password can be set anew without the old one.
#[utoipa::path(post, path = "/api/login/recovery", tag = "factors", request_body = RecoverySignInRequest,
    responses(
        (status = 200, body = FirstStepResponse, headers(("set-cookie" = String))),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "code_invalid (also for an unknown login)", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out or rate_limited, with Retry-After", body = ErrorBody)))]
pub async fn begin_recovery(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RecoverySignInRequest>,
) -> ApiResult<Response> {
    let previous = previous_session(&state, &headers);
    let (token, left) =
        recovery::begin_sign_in(&state.auth(), &req.login, &req.code, previous, &client).await?;
    let accepts = factors::second_steps_of(&state.auth(), &token).await?;
    Ok(with_cookie(
        &state,
        &token,
        FirstStepResponse {
            accepts,
            recovery_codes_left: Some(left),
        },
    ))
}

/// Starts a passkey sign-in in place of the password (no login needed).
#[utoipa::path(post, path = "/api/login/passkey/start", tag = "factors",
    responses(
        (status = 200, body = PasskeyRequestOptions),
        (status = 400, description = "passkeys_unavailable: the server's host cannot be a WebAuthn relying party", body = ErrorBody),
        (status = 429, description = "rate_limited, with Retry-After", body = ErrorBody)))]
pub async fn passkey_sign_in_start(
    State(state): State<AppState>,
    client: Client,
) -> ApiResult<Json<PasskeyRequestOptions>> {
    let (ceremony, options) = passkey::sign_in_start(&state.auth(), &client).await?;
    Ok(Json(PasskeyRequestOptions { ceremony, options }))
}

/// Finishes a passkey sign-in: a session at level `password` whose first factor is the passkey.
#[utoipa::path(post, path = "/api/login/passkey/finish", tag = "factors", request_body = PasskeyAssertion,
    responses(
        (status = 200, body = FirstStepResponse, headers(("set-cookie" = String))),
        (status = 400, description = "challenge_invalid (unknown, used or expired ceremony), invalid_request, passkeys_unavailable", body = ErrorBody),
        (status = 401, description = "passkey_invalid", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn passkey_sign_in_finish(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PasskeyAssertion>,
) -> ApiResult<Response> {
    let previous = previous_session(&state, &headers);
    let token = passkey::sign_in_finish(
        &state.auth(),
        &req.ceremony,
        &req.credential,
        previous,
        &client,
    )
    .await?;
    let accepts = factors::second_steps_of(&state.auth(), &token).await?;
    Ok(with_cookie(
        &state,
        &token,
        FirstStepResponse {
            accepts,
            recovery_codes_left: None,
        },
    ))
}

/// Starts a passkey as the second step of this sign-in.
#[utoipa::path(post, path = "/api/login/passkey/second/start", tag = "factors", security(("session" = [])),
    responses(
        (status = 200, body = PasskeyRequestOptions),
        (status = 400, description = "passkeys_unavailable", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "factor_not_accepted: no passkey, or not a second step of this sign-in", body = ErrorBody),
        (status = 429, description = "rate_limited, with Retry-After", body = ErrorBody)))]
pub async fn passkey_second_start(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
) -> ApiResult<Json<PasskeyRequestOptions>> {
    let (ceremony, options) = passkey::second_step_start(&state.auth(), &session, &client).await?;
    Ok(Json(PasskeyRequestOptions { ceremony, options }))
}

/// Finishes the passkey second step: the session becomes `full`.
#[utoipa::path(post, path = "/api/login/passkey/second/finish", tag = "factors", security(("session" = [])), request_body = PasskeyAssertion,
    responses(
        (status = 200, body = FullResponse, headers(("set-cookie" = String))),
        (status = 400, description = "challenge_invalid, invalid_request, passkeys_unavailable", body = ErrorBody),
        (status = 401, description = "passkey_invalid, unauthenticated", body = ErrorBody),
        (status = 403, description = "factor_not_accepted", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn passkey_second_finish(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
    ApiJson(req): ApiJson<PasskeyAssertion>,
) -> ApiResult<Response> {
    let token = passkey::second_step_finish(
        &state.auth(),
        &session,
        &req.ceremony,
        &req.credential,
        &client,
    )
    .await?;
    Ok(with_cookie(&state, &token, full(None)))
}

/// Starts adding an authenticator app: a new secret, its `otpauth://` URI and QR code. It
/// counts once confirmed with a first code.
#[utoipa::path(post, path = "/api/me/totp", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 200, body = TotpEnrolment),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required: a full session is needed", body = ErrorBody),
        (status = 409, description = "conflict: an authenticator app is already set up; remove it first", body = ErrorBody)))]
pub async fn totp_begin(
    State(state): State<AppState>,
    session: FullSession,
) -> ApiResult<Json<TotpEnrolment>> {
    Ok(Json(totp::begin(&state.auth(), &session).await?))
}

/// Confirms the authenticator app with a first code from it.
#[utoipa::path(post, path = "/api/me/totp/confirm", tag = "factors", security(("session" = ["full"])), request_body = CodeRequest,
    responses(
        (status = 204),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "code_invalid, unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required, factor_not_accepted (nothing pending, or already confirmed)", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out, with Retry-After", body = ErrorBody)))]
pub async fn totp_confirm(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<StatusCode> {
    totp::confirm(&state.auth(), &session, &req.code, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the authenticator app (recent sign-in needed).
#[utoipa::path(delete, path = "/api/me/totp", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 204),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required, reauth_required", body = ErrorBody),
        (status = 404, description = "not_found: no authenticator app", body = ErrorBody)))]
pub async fn totp_remove(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
) -> ApiResult<StatusCode> {
    totp::remove(&state.auth(), &session, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a new set of 10 recovery codes, replacing any earlier set (recent sign-in needed).
#[utoipa::path(post, path = "/api/me/recovery-codes", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required, reauth_required", body = ErrorBody)))]
pub async fn recovery_codes(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
) -> ApiResult<Json<RecoveryCodes>> {
    let codes = recovery::regenerate(&state.auth(), &session, &client).await?;
    Ok(Json(RecoveryCodes { codes }))
}

/// The account's passkeys.
#[utoipa::path(get, path = "/api/me/passkeys", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 200, body = PasskeyList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
pub async fn passkeys(
    State(state): State<AppState>,
    session: FullSession,
) -> ApiResult<Json<PasskeyList>> {
    let passkeys = passkey::list(&state.auth(), session.user_id).await?;
    Ok(Json(PasskeyList { passkeys }))
}

/// Starts adding a passkey.
#[utoipa::path(post, path = "/api/me/passkeys/start", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 200, body = PasskeyCreationOptions),
        (status = 400, description = "passkeys_unavailable, or invalid_request: the account holds the most passkeys allowed (20)", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
pub async fn passkey_add_start(
    State(state): State<AppState>,
    session: FullSession,
) -> ApiResult<Json<PasskeyCreationOptions>> {
    let (ceremony, options) = passkey::register_start(&state.auth(), &session).await?;
    Ok(Json(PasskeyCreationOptions { ceremony, options }))
}

/// Finishes adding a passkey.
#[utoipa::path(post, path = "/api/me/passkeys/finish", tag = "factors", security(("session" = ["full"])), request_body = PasskeyAttestation,
    responses(
        (status = 201, body = PasskeyInfo),
        (status = 400, description = "challenge_invalid, invalid_request (name: 1-64 visible characters), passkeys_unavailable", body = ErrorBody),
        (status = 401, description = "passkey_invalid, unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody),
        (status = 409, description = "conflict: this passkey is already registered", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn passkey_add_finish(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    ApiJson(req): ApiJson<PasskeyAttestation>,
) -> ApiResult<(StatusCode, Json<PasskeyInfo>)> {
    let info = passkey::register_finish(
        &state.auth(),
        &session,
        &req.ceremony,
        &req.name,
        &req.credential,
        &client,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Renames a passkey.
#[utoipa::path(patch, path = "/api/me/passkeys/{id}", tag = "factors", security(("session" = ["full"])), request_body = PasskeyName,
    params(("id" = i64, Path, description = "the passkey's id")),
    responses(
        (status = 204),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn passkey_rename(
    State(state): State<AppState>,
    session: FullSession,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<PasskeyName>,
) -> ApiResult<StatusCode> {
    passkey::rename(&state.auth(), &session, id, &req.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a passkey (recent sign-in needed).
#[utoipa::path(delete, path = "/api/me/passkeys/{id}", tag = "factors", security(("session" = ["full"])),
    params(("id" = i64, Path, description = "the passkey's id")),
    responses(
        (status = 204),
        (status = 400, description = "invalid_request: not a passkey id", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required, reauth_required", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody)))]
pub async fn passkey_remove(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    passkey::remove(&state.auth(), &session, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's sessions (devices signed in), most recently used first.
#[utoipa::path(get, path = "/api/me/sessions", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 200, body = SessionList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    session: FullSession,
) -> ApiResult<Json<SessionList>> {
    let sessions = account::sessions(&state.auth(), &session).await?;
    Ok(Json(SessionList { sessions }))
}

/// Signs one session out; its chat sockets close at once.
#[utoipa::path(delete, path = "/api/me/sessions/{id}", tag = "factors", security(("session" = ["full"])),
    params(("id" = String, Path, description = "the id from GET /api/me/sessions")),
    responses(
        (status = 200, body = EndedSessions),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndedSessions>> {
    let ended = account::end_sessions(&state.auth(), &session, Some(&id), &client).await?;
    Ok(Json(EndedSessions { ended }))
}

/// Signs every other session out; their chat sockets close at once.
#[utoipa::path(post, path = "/api/me/sessions/end-others", tag = "factors", security(("session" = ["full"])),
    responses(
        (status = 200, body = EndedSessions),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
) -> ApiResult<Json<EndedSessions>> {
    let ended = account::end_sessions(&state.auth(), &session, None, &client).await?;
    Ok(Json(EndedSessions { ended }))
}

/// Changes the password (recent sign-in; the current password unless this session began with
/// a recovery code). Other sessions are signed out.
#[utoipa::path(post, path = "/api/me/password", tag = "auth", security(("session" = ["full"])), request_body = PasswordChange,
    responses(
        (status = 204),
        (status = 400, description = "invalid_request, password_too_short, password_too_long, password_too_common", body = ErrorBody),
        (status = 401, description = "invalid_credentials (wrong current password), unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required, reauth_required", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    account::change_password(
        &state.auth(),
        &session,
        req.current_password,
        req.new_password,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the email (recent sign-in and the password). Other sessions are signed out.
#[utoipa::path(put, path = "/api/me/email", tag = "auth", security(("session" = ["full"])), request_body = EmailChange,
    responses(
        (status = 200, body = User),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "invalid_credentials, unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required, reauth_required", body = ErrorBody),
        (status = 409, description = "conflict: another account has this email", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "locked_out, with Retry-After", body = ErrorBody),
        (status = 503, description = "busy", body = ErrorBody)))]
pub async fn change_email(
    State(state): State<AppState>,
    client: Client,
    session: FullSession,
    ApiJson(req): ApiJson<EmailChange>,
) -> ApiResult<Json<User>> {
    let user =
        account::change_email(&state.auth(), &session, req.password, &req.email, &client).await?;
    Ok(Json(user))
}
