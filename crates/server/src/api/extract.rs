//! Request extractors that answer with the API's error shape: JSON (400/413), path
//! parameters (400), multipart uploads with per-image size limits (413), and who is asking
//! (the client's address, the session of the cookie: 401 or 403).

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::auth::session::{AnySession, FullSession};
use crate::auth::Client;
use crate::error::ApiError;

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Client::of_request(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        ))
    }
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        AnySession::of_request(&state.db, &state.config, &parts.headers).await
    }
}

impl FromRequestParts<AppState> for FullSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        AnySession::from_request_parts(parts, state)
            .await?
            .try_into()
    }
}

/// Multipart field names that carry images; every other field is text.
const FILE_FIELDS: [&str; 2] = ["face", "frame"];
/// Longest text field accepted.
const MAX_TEXT_FIELD: usize = 4096;
/// Most image fields read from one request (endpoints check their own, lower, bounds).
const MAX_FILES: usize = 8;

/// `Json<T>` whose rejections are `invalid_request` (400) or `payload_too_large` (413).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(json_error(e)),
        }
    }
}

fn json_error(e: JsonRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::Validation(e.body_text())
    }
}

/// `Path<T>` whose rejection (an id that is not a number) is `invalid_request` (400) in the
/// API's JSON envelope rather than axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::Validation(format!(
                "invalid path: {}",
                e.body_text()
            ))),
        }
    }
}

/// A parsed multipart upload: text fields and image fields (in order).
#[derive(Default)]
pub struct Upload {
    texts: Vec<(String, String)>,
    files: Vec<(String, Bytes)>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Text fields may hold a password: names only.
        let names: Vec<&str> = self.texts.iter().map(|(n, _)| n.as_str()).collect();
        write!(
            f,
            "Upload {{ texts: {names:?}, files: {} }}",
            self.files.len()
        )
    }
}

impl Upload {
    /// The text field `name`, or 400 naming it.
    pub fn text(&self, name: &str) -> Result<String, ApiError> {
        self.optional_text(name)
            .ok_or_else(|| ApiError::Validation(format!("missing field `{name}`")))
    }

    pub fn optional_text(&self, name: &str) -> Option<String> {
        self.texts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every image sent under `name`, in order.
    pub fn files(&mut self, name: &str) -> Vec<Bytes> {
        let (taken, rest) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.files = rest;
        taken.into_iter().map(|(_, b)| b).collect()
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::Validation(format!("malformed multipart body: {}", e.body_text()))
    }
}

impl FromRequest<AppState> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::Validation(e.body_text()))?;
        let image_limit = state.config.limits.image_bytes;
        let mut upload = Upload::default();
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(multipart_error)?;
            if FILE_FIELDS.contains(&name.as_str()) {
                if bytes.len() > image_limit {
                    return Err(ApiError::PayloadTooLarge);
                }
                if upload.files.len() >= MAX_FILES {
                    return Err(ApiError::Validation(format!("at most {MAX_FILES} images")));
                }
                upload.files.push((name, bytes));
            } else {
                if bytes.len() > MAX_TEXT_FIELD {
                    return Err(ApiError::Validation(format!("field `{name}` is too long")));
                }
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::Validation(format!("field `{name}` is not UTF-8")))?;
                upload.texts.push((name, text));
            }
        }
        Ok(upload)
    }
}
