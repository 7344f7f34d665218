//! `GET /api/me/export`: the signed-in account's personal data as a JSON file.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::auth::session::FullSession;
use crate::auth::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::storage::audit::AuditKind;
use crate::transfer::export::{personal_export, ExportError, PersonalExport};

/// Everything the server holds about the account (profile, channels, sent messages, sessions,
/// security events, factors as counts and dates; never a template, hash or session id), as an
/// attachment. A full session is enough (no recent sign-in); limited per account.
#[utoipa::path(get, path = "/api/me/export", tag = "auth", security(("session" = ["full"])),
    responses(
        (status = 200, body = PersonalExport, headers(("content-disposition" = String))),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody),
        (status = 429, description = "rate_limited, with Retry-After", body = ErrorBody)))]
pub async fn export_me(
    State(state): State<AppState>,
    session: FullSession,
    client: Client,
) -> ApiResult<Response> {
    state
        .limits
        .export
        .take(session.user_id)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    let export = personal_export(&state.db, session.user_id, now_ms())
        .await
        .map_err(|e| match e {
            ExportError::NoSuchAccount(_) => ApiError::Unauthenticated,
            ExportError::Db(e) => e.into(),
        })?;
    // Recorded like a sign-in: a stolen session downloading the account shows in the trail.
    audit(
        &state.auth(),
        Some(session.user_id),
        AuditKind::DataExported,
        &client,
        None,
    )
    .await?;
    let disposition = format!(
        "attachment; filename=\"facegate-export-{}.json\"",
        file_name_part(&export.profile.username)
    );
    Ok((
        [
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(export),
    )
        .into_response())
}

/// The username limited to the characters registration allows, so the header stays one token.
fn file_name_part(username: &str) -> String {
    username
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect()
}
