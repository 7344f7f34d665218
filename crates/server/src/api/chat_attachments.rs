//! The attachment HTTP edge: upload into a channel (multipart), fetch a file or a thumbnail.
//! All need a `full` session.
//!
//! Every file answer carries `X-Content-Type-Options: nosniff`, a sandboxing
//! Content-Security-Policy and a content type the server chose: an image it re-encoded
//! (`image/jpeg`, `image/png`, shown inline) or `application/octet-stream` with
//! `Content-Disposition: attachment` (always downloaded, never rendered).

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use super::contract::FullSessionEverywhere;
use crate::app::AppState;
use crate::auth::session::FullSession;
use crate::config::Config;
use crate::error::ErrorBody;

use super::chat::{admit_write, now_ms, path, query, ChatResult};
use crate::chat::attachments::{AttachmentLimits, AttachmentView, Attachments, Fetched, Variant};
use crate::chat::domain::ChatError;
use crate::chat::media;

/// The OpenAPI description of the attachment routes (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    paths(upload, fetch, thumbnail),
    modifiers(&FullSessionEverywhere),
    components(schemas(UploadForm, FileBytes))
)]
pub(super) struct AttachmentApiDoc;

/// Room for the multipart framing around the file.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The attachment routes, their upload body limited to `limits.attachment_bytes`.
pub fn routes(config: &Config) -> Router<AppState> {
    let upload_limit = config.limits.attachment_bytes + MULTIPART_OVERHEAD;
    Router::new()
        .route(
            "/api/channels/{id}/attachments",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/attachments/{id}", get(fetch))
        .route("/api/attachments/{id}/thumb", get(thumbnail))
}

fn attachments(state: &AppState) -> Attachments<'_> {
    Attachments {
        db: &state.db,
        pool: &state.pool,
        pixels: state.face.pixel_budget(),
        limits: AttachmentLimits::from(&state.config.limits),
    }
}

/// Multipart form of `POST /api/channels/{id}/attachments` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// One file; its name comes from the part's `filename`. JPEG, PNG and WebP images are
    /// re-encoded (metadata dropped); anything else is stored as sent.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The bytes of a file (documentation only).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct FileBytes(Vec<u8>);

#[utoipa::path(post, path = "/api/channels/{id}/attachments", tag = "chat", params(("id" = i64, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "Stored; name it in `attachments` of the next send (unsent uploads are deleted after a day)", body = AttachmentView),
        (status = 400, description = "invalid_request: not multipart, no `file` field, an empty file; image_invalid: a JPEG, PNG or WebP that cannot be decoded", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required or cross_origin", body = ErrorBody),
        (status = 404, description = "No such channel or not a member", body = ErrorBody),
        (status = 413, description = "payload_too_large: over `limits.attachment_bytes` (10 MB) or an image over `limits.attachment_pixels`; attachment_quota_exceeded: my files would pass `limits.attachment_quota_bytes` (200 MB)", body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody),
        (status = 503, description = "busy: the image pool is full (Retry-After)", body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    form: Result<Multipart, MultipartRejection>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    let id = path(id)?;
    let mut form = form.map_err(|e| {
        ChatError::Invalid(format!(
            "Send the file as multipart/form-data: {}",
            e.body_text()
        ))
    })?;
    let limit = state.config.limits.attachment_bytes;
    let (name, bytes) = read_file(&mut form, limit).await?;
    let view = attachments(&state)
        .upload(session.user_id, id, &name, bytes, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The `file` field's name and bytes, refused as soon as it passes `limit` bytes.
async fn read_file(form: &mut Multipart, limit: usize) -> ChatResult<(String, Vec<u8>)> {
    let too_large = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ChatError::FileTooLarge { limit }
        } else {
            ChatError::Invalid(format!("Malformed multipart body: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(too_large)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(too_large)? {
            if bytes.len() + chunk.len() > limit {
                return Err(ChatError::FileTooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
    Err(ChatError::Invalid("The form has no `file` field.".into()))
}

#[derive(Debug, Deserialize)]
struct FetchQuery {
    /// Any value: save the file instead of showing it (images).
    download: Option<String>,
}

#[utoipa::path(get, path = "/api/attachments/{id}", tag = "chat",
    params(("id" = i64, Path), ("download" = Option<String>, Query, description = "Present: `Content-Disposition: attachment` for an image too")),
    responses((status = 200, description = "The file: a re-encoded `image/jpeg` or `image/png` (inline), or `application/octet-stream` with `Content-Disposition: attachment`",
            content((FileBytes = "application/octet-stream"), (FileBytes = "image/jpeg"), (FileBytes = "image/png"))),
        (status = 400, description = "invalid_request: a malformed query", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody),
        (status = 404, description = "No such attachment, not a member of its channel, or not sent yet and not mine", body = ErrorBody)))]
async fn fetch(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    q: Result<Query<FetchQuery>, QueryRejection>,
) -> ChatResult<Response> {
    let id = path(id).map_err(|_| ChatError::AttachmentNotFound)?;
    let q = query(q)?;
    let got = attachments(&state)
        .fetch(session.user_id, id, Variant::Main)
        .await?;
    Ok(file_response(got, q.download.is_some()))
}

#[utoipa::path(get, path = "/api/attachments/{id}/thumb", tag = "chat", params(("id" = i64, Path)),
    responses((status = 200, description = "An image's thumbnail (at most 320 px a side), `image/jpeg` or `image/png`",
            content((FileBytes = "image/jpeg"), (FileBytes = "image/png"))),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody),
        (status = 404, description = "As for the file, and for a file that is not an image", body = ErrorBody)))]
async fn thumbnail(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
) -> ChatResult<Response> {
    let id = path(id).map_err(|_| ChatError::AttachmentNotFound)?;
    let got = attachments(&state)
        .fetch(session.user_id, id, Variant::Thumb)
        .await?;
    Ok(file_response(got, false))
}

/// The bytes with headers that keep a browser from doing anything but show a re-encoded image
/// or save a file.
fn file_response(got: Fetched, download: bool) -> Response {
    let image = got.row.kind == "image";
    // The stored type is the server's own choice already; a file is octet-stream regardless.
    let content_type = if image {
        got.row.content_type.as_str()
    } else {
        "application/octet-stream"
    };
    let disposition = media::content_disposition(image && !download, &got.row.name);
    let mut response = got.bytes.into_response();
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(h, header::CONTENT_TYPE, content_type);
    set(h, header::CONTENT_DISPOSITION, &disposition);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Opened on its own (a new tab), nothing in it may run or load anything.
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    set(h, header::CACHE_CONTROL, "private, max-age=3600");
    set(
        h,
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    response
}
