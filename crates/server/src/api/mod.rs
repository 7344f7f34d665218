//! The HTTP and WebSocket edge under `/api` and its OpenAPI description. Handlers are thin: they
//! parse, call one use case of [`crate::auth`] or [`crate::chat`], and shape the response.
//! Nothing below this layer knows about requests, extractors or [`AppState`].

pub mod account;
pub mod chat;
pub mod chat_attachments;
pub mod chat_ws;
pub mod contract;
pub mod csrf;
pub mod export;
pub mod extract;
pub mod face;
pub mod face_live;
pub mod factors;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::app::AppState;
use crate::config::Config;

/// Room for multipart framing and text fields around the images.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "facegate", description = "Self-hosted chat with password + server-side face MFA"),
    paths(account::register, account::login, account::me, account::logout, account::security_events,
        account::delete_me, export::export_me, face::challenge, face::verify_face, face_live::open, face_live::finish, face::detect, face::reenrol,
        factors::sign_in_password_second, factors::sign_in_totp, factors::sign_in_recovery_code, factors::begin_recovery,
        factors::passkey_sign_in_start, factors::passkey_sign_in_finish,
        factors::passkey_second_start, factors::passkey_second_finish,
        factors::totp_begin, factors::totp_confirm, factors::totp_remove, factors::recovery_codes,
        factors::passkeys, factors::passkey_add_start, factors::passkey_add_finish,
        factors::passkey_rename, factors::passkey_remove,
        factors::sessions, factors::end_session, factors::end_other_sessions,
        factors::change_password, factors::change_email,
        factors::verify_email, factors::request_password_reset, factors::follow_reset_link,
        healthz, crate::ops::readyz, openapi_json),
    tags((name = "auth", description = "Accounts, passwords and sessions"),
        (name = "face", description = "Face enrolment and verification"),
        (name = "factors", description = "Passkeys, authenticator codes, recovery codes and sessions"))
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document of the API, with the answers every endpoint shares
/// ([`contract::complete`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi()
        .merge_from(chat::ChatApiDoc::openapi())
        .merge_from(chat_attachments::AttachmentApiDoc::openapi());
    contract::complete(&mut doc);
    doc
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

/// Liveness: 200 while the process answers, whatever its dependencies do (a database outage
/// must not get healthy processes restarted); readiness is `/readyz`.
#[utoipa::path(get, path = "/healthz", tag = "auth", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "auth", responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

/// The auth routes, each with its body limit.
pub fn router(config: &Config) -> Router<AppState> {
    let json = Router::new()
        .route("/api/login", post(account::login))
        .route("/api/me", get(account::me).delete(account::delete_me))
        .route("/api/logout", post(account::logout))
        .route("/api/me/security-events", get(account::security_events))
        .route("/api/me/export", get(export::export_me))
        .route("/api/face/challenge", post(face::challenge))
        .route("/api/face/live", get(face_live::open))
        .route("/api/face/live/finish", post(face_live::finish))
        .route(
            "/api/login/password",
            post(factors::sign_in_password_second),
        )
        .route("/api/login/totp", post(factors::sign_in_totp))
        .route(
            "/api/login/recovery-code",
            post(factors::sign_in_recovery_code),
        )
        .route("/api/login/recovery", post(factors::begin_recovery))
        .route(
            "/api/login/passkey/start",
            post(factors::passkey_sign_in_start),
        )
        .route(
            "/api/login/passkey/finish",
            post(factors::passkey_sign_in_finish),
        )
        .route(
            "/api/login/passkey/second/start",
            post(factors::passkey_second_start),
        )
        .route(
            "/api/login/passkey/second/finish",
            post(factors::passkey_second_finish),
        )
        .route(
            "/api/me/totp",
            post(factors::totp_begin).delete(factors::totp_remove),
        )
        .route("/api/me/totp/confirm", post(factors::totp_confirm))
        .route("/api/me/recovery-codes", post(factors::recovery_codes))
        .route("/api/me/passkeys", get(factors::passkeys))
        .route("/api/me/passkeys/start", post(factors::passkey_add_start))
        .route("/api/me/passkeys/finish", post(factors::passkey_add_finish))
        .route(
            "/api/me/passkeys/{id}",
            patch(factors::passkey_rename).delete(factors::passkey_remove),
        )
        .route("/api/me/sessions", get(factors::sessions))
        .route(
            "/api/me/sessions/end-others",
            post(factors::end_other_sessions),
        )
        .route("/api/me/sessions/{id}", delete(factors::end_session))
        .route("/api/me/password", post(factors::change_password))
        .route("/api/me/email", put(factors::change_email))
        .route("/api/email/verify", post(factors::verify_email))
        .route("/api/password-reset", post(factors::request_password_reset))
        .route(
            "/api/password-reset/finish",
            post(factors::follow_reset_link),
        )
        .route("/api/openapi.json", get(openapi_json))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(config.limits.json_body_bytes));
    let uploads = Router::new()
        .route("/api/register", post(account::register))
        .route("/api/face/verify", post(face::verify_face))
        .route("/api/me/face", put(face::reenrol))
        .layer(DefaultBodyLimit::max(config.limits.upload_body_bytes));
    let detect = Router::new()
        .route("/api/face/detect", post(face::detect))
        .layer(DefaultBodyLimit::max(
            config.limits.detect_image_bytes + MULTIPART_OVERHEAD,
        ));
    json.merge(uploads).merge(detect).merge(chat_router(config))
}

/// Chat routes; uploads get the body limit of `limits.attachment_bytes`.
fn chat_router(config: &Config) -> Router<AppState> {
    chat::routes()
        .merge(chat_attachments::routes(config))
        .route("/api/ws", get(chat_ws::upgrade))
}
