//! The one error model. The services fail with [`ApiError`]; the chat use cases with
//! [`ChatError`], which `ApiError` carries whole, its cause included. At the HTTP edge every
//! failure becomes `{"error": {"code": "...", "message": "..."}}` with a stable
//! machine-readable code, and its status is decided here.

use std::fmt;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a chat request can fail with. Each maps to one stable API error code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatError {
    /// The channel does not exist or the caller is not a member (deliberately the same answer).
    ChannelNotFound,
    /// The message does not exist in that channel.
    MessageNotFound,
    /// The attachment does not exist or the caller may not see it (deliberately the same).
    AttachmentNotFound,
    /// A user named in the request does not exist.
    UserNotFound(i64),
    /// Input is malformed; the text says which field and why.
    Invalid(String),
    /// The caller is a member but only the owner (or the author) may do this.
    Forbidden(&'static str),
    /// A retried send reused a `client_id` with a different text.
    ClientIdConflict,
    /// One uploaded file is over the per-file limit (bytes).
    FileTooLarge { limit: usize },
    /// An image declares more pixels than the server decodes.
    ImageTooLarge { pixels: u64, limit: u64 },
    /// The uploader's attachments would take more than their quota.
    QuotaExceeded { quota: i64, used: i64 },
    /// A file that says it is a JPEG, PNG or WebP image cannot be decoded as one.
    ImageInvalid(String),
    /// The image pool or its pixel budget is full: retry shortly.
    Busy,
    /// The account wrote faster than `chat_write_burst` / `chat_write_per_sec` allow.
    RateLimited { retry_after: Duration },
    /// Storage (or another dependency) failed; the cause is logged at the edge, never sent.
    Internal(InternalCause),
}

/// The cause of an internal error, kept whole (source chain included) for the log. Shared, so
/// that [`ChatError`] stays `Clone`; two causes are equal only when they are the same one.
#[derive(Debug, Clone)]
pub struct InternalCause(std::sync::Arc<anyhow::Error>);

impl InternalCause {
    pub fn error(&self) -> &anyhow::Error {
        &self.0
    }
}

impl PartialEq for InternalCause {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for InternalCause {}

impl From<&str> for InternalCause {
    fn from(what: &str) -> Self {
        Self(std::sync::Arc::new(anyhow::anyhow!(what.to_owned())))
    }
}

impl From<String> for InternalCause {
    fn from(what: String) -> Self {
        Self(std::sync::Arc::new(anyhow::anyhow!(what)))
    }
}

impl ChatError {
    /// Every code [`ChatError::code`] returns (part of the error schema's enum in
    /// `/api/openapi.json`).
    pub const CODES: &'static [&'static str] = &[
        "not_found",
        "invalid_request",
        "payload_too_large",
        "forbidden",
        "client_id_conflict",
        "attachment_quota_exceeded",
        "image_invalid",
        "busy",
        "rate_limited",
        "internal",
    ];

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            // One code for every "no such thing": a non-member must not tell a missing channel
            // from one they may not see.
            ChatError::ChannelNotFound
            | ChatError::MessageNotFound
            | ChatError::AttachmentNotFound
            | ChatError::UserNotFound(_) => "not_found",
            ChatError::Invalid(_) => "invalid_request",
            ChatError::Forbidden(_) => "forbidden",
            ChatError::ClientIdConflict => "client_id_conflict",
            ChatError::FileTooLarge { .. } | ChatError::ImageTooLarge { .. } => "payload_too_large",
            ChatError::QuotaExceeded { .. } => "attachment_quota_exceeded",
            ChatError::ImageInvalid(_) => "image_invalid",
            ChatError::Busy => "busy",
            ChatError::RateLimited { .. } => "rate_limited",
            ChatError::Internal(_) => "internal",
        }
    }

    /// A message a person can act on (never internal details).
    pub fn message(&self) -> String {
        match self {
            ChatError::ChannelNotFound => "No such channel.".into(),
            ChatError::MessageNotFound => "No such message in this channel.".into(),
            ChatError::AttachmentNotFound => "No such attachment.".into(),
            ChatError::UserNotFound(id) => format!("No user with id {id}."),
            ChatError::Invalid(why) => why.clone(),
            ChatError::Forbidden(why) => (*why).into(),
            ChatError::ClientIdConflict => {
                "This client_id was already used for a different message.".into()
            }
            ChatError::FileTooLarge { limit } => {
                format!("A file is at most {}.", megabytes(*limit as u64))
            }
            ChatError::ImageTooLarge { pixels, limit } => format!(
                "This image has {:.1} megapixels; images are at most {:.1} megapixels.",
                *pixels as f64 / 1e6,
                *limit as f64 / 1e6
            ),
            ChatError::QuotaExceeded { quota, used } => format!(
                "Your files take {} of your {}: delete some messages with files, or send a smaller one.",
                megabytes(u64::try_from(*used).unwrap_or(0)),
                megabytes(u64::try_from(*quota).unwrap_or(0))
            ),
            ChatError::ImageInvalid(why) => format!("This image cannot be read: {why}"),
            ChatError::Busy => "The server is busy; retry shortly.".into(),
            ChatError::RateLimited { retry_after } => format!(
                "You are writing faster than this server allows; wait {} s.",
                retry_after_secs(*retry_after).max(1)
            ),
            ChatError::Internal(_) => "Internal error.".into(),
        }
    }
}

/// Bytes as people read them: "10 MB" (mebibytes, as the configuration counts them).
fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 10.0 || mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::Internal(cause) => write!(f, "internal: {:#}", cause.error()),
            other => write!(f, "{}: {}", other.code(), other.message()),
        }
    }
}

impl std::error::Error for ChatError {}

impl From<sqlx::Error> for ChatError {
    fn from(err: sqlx::Error) -> Self {
        ChatError::Internal(InternalCause(std::sync::Arc::new(
            anyhow::Error::new(err).context("database"),
        )))
    }
}

/// Every error the API can answer. The code strings are part of the API contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("the password is too short: at least {min} characters")]
    PasswordTooShort { min: usize },
    #[error("the password is too long: at most {max} characters")]
    PasswordTooLong { max: usize },
    #[error("the password is one of the most common passwords; choose another")]
    PasswordTooCommon,
    #[error("consent to face enrolment is required")]
    ConsentRequired,
    #[error("no face found in image {index}")]
    NoFace { index: usize },
    #[error("more than one face in image {index}")]
    MultipleFaces { index: usize },
    #[error("images {first} and {second} show different people; enrol photos of one person only")]
    FacesDiffer { first: usize, second: usize },
    #[error("the face in image {index} is too small: move closer (at least {min_px} px)")]
    FaceTooSmall { index: usize, min_px: u32 },
    #[error("image {index} cannot be used: {reason}")]
    ImageInvalid { index: usize, reason: String },
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("not signed in, or the session expired")]
    Unauthenticated,
    #[error("this needs a face check first")]
    FaceRequired,
    #[error("this change needs a recent sign-in: log out, then log in again with your password and face")]
    ReauthRequired,
    #[error("the face did not match")]
    FaceMismatch,
    #[error("the face check is disabled after too many failures; sign in elsewhere and re-enrol")]
    FaceDisabled,
    #[error("the challenge is unknown, used or expired; ask for a new one")]
    ChallengeInvalid,
    #[error("this server checks faces live: use the live check (GET /api/face/live)")]
    LivenessRequired,
    #[error("open this address as a WebSocket to start the live check")]
    UpgradeRequired,
    #[error("the face enrolment is unknown, used or expired; capture your face again")]
    EnrolmentInvalid,
    #[error("this sign-in cannot be completed with {factor}: {reason}")]
    FactorNotAccepted {
        factor: &'static str,
        reason: &'static str,
    },
    #[error("the code is wrong, expired or already used")]
    CodeInvalid,
    #[error("the passkey was not accepted")]
    PasskeyInvalid,
    #[error("passkeys need a host name: open this site at its public URL (--public-url) or at http://localhost")]
    PasskeysUnavailable,
    #[error("too many attempts; retry in {} s", retry_after_secs(*.retry_after))]
    LockedOut { retry_after: Duration },
    #[error("too many requests from this address; retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited { retry_after: Duration },
    #[error("cross-origin request refused")]
    CrossOrigin,
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// One uploaded image over the byte or pixel limit: same code as any oversized body, with a
    /// message that says which image and which limit.
    #[error("image {index} is too large: {reason}")]
    ImageTooLarge { index: usize, reason: String },
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("the server is busy; retry shortly")]
    Busy,
    #[error("not found")]
    NotFound,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// A chat use case's error, answered with its own code and message.
    #[error("{}", .0.message())]
    Chat(ChatError),
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        Self::Chat(e)
    }
}

/// The HTTP status of each chat error: decided here, at the edge, like every other answer's.
fn chat_status(e: &ChatError) -> StatusCode {
    match e {
        ChatError::ChannelNotFound
        | ChatError::MessageNotFound
        | ChatError::AttachmentNotFound
        | ChatError::UserNotFound(_) => StatusCode::NOT_FOUND,
        ChatError::Invalid(_) | ChatError::ImageInvalid(_) => StatusCode::BAD_REQUEST,
        ChatError::FileTooLarge { .. }
        | ChatError::ImageTooLarge { .. }
        | ChatError::QuotaExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ChatError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ChatError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ChatError::Forbidden(_) => StatusCode::FORBIDDEN,
        ChatError::ClientIdConflict => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable `code` for programs and a `message` for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

fn retry_after_secs(d: Duration) -> u64 {
    // Round up so a client that waits exactly this long is not refused again.
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl ApiError {
    /// Every code [`ApiError::code`] returns (the enum of the error schema in
    /// `/api/openapi.json`).
    pub const CODES: &'static [&'static str] = &[
        "invalid_request",
        "conflict",
        "password_too_short",
        "password_too_long",
        "password_too_common",
        "consent_required",
        "no_face",
        "multiple_faces",
        "faces_differ",
        "face_too_small",
        "image_invalid",
        "invalid_credentials",
        "unauthenticated",
        "face_required",
        "reauth_required",
        "face_mismatch",
        "face_disabled",
        "challenge_invalid",
        "liveness_required",
        "upgrade_required",
        "enrolment_invalid",
        "factor_not_accepted",
        "code_invalid",
        "passkey_invalid",
        "passkeys_unavailable",
        "locked_out",
        "rate_limited",
        "cross_origin",
        "payload_too_large",
        "busy",
        "not_found",
        "method_not_allowed",
        "internal",
    ];

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "invalid_request",
            Self::Conflict { .. } => "conflict",
            Self::PasswordTooShort { .. } => "password_too_short",
            Self::PasswordTooLong { .. } => "password_too_long",
            Self::PasswordTooCommon => "password_too_common",
            Self::ConsentRequired => "consent_required",
            Self::NoFace { .. } => "no_face",
            Self::MultipleFaces { .. } => "multiple_faces",
            Self::FacesDiffer { .. } => "faces_differ",
            Self::FaceTooSmall { .. } => "face_too_small",
            Self::ImageInvalid { .. } => "image_invalid",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::FaceRequired => "face_required",
            Self::ReauthRequired => "reauth_required",
            Self::FaceMismatch => "face_mismatch",
            Self::FaceDisabled => "face_disabled",
            Self::ChallengeInvalid => "challenge_invalid",
            Self::LivenessRequired => "liveness_required",
            Self::UpgradeRequired => "upgrade_required",
            Self::EnrolmentInvalid => "enrolment_invalid",
            Self::FactorNotAccepted { .. } => "factor_not_accepted",
            Self::CodeInvalid => "code_invalid",
            Self::PasskeyInvalid => "passkey_invalid",
            Self::PasskeysUnavailable => "passkeys_unavailable",
            Self::LockedOut { .. } => "locked_out",
            Self::RateLimited { .. } => "rate_limited",
            Self::CrossOrigin => "cross_origin",
            Self::PayloadTooLarge | Self::ImageTooLarge { .. } => "payload_too_large",
            Self::Busy => "busy",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal(_) => "internal",
            Self::Chat(e) => e.code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::PasswordTooShort { .. }
            | Self::PasswordTooLong { .. }
            | Self::PasswordTooCommon
            | Self::ConsentRequired
            | Self::NoFace { .. }
            | Self::MultipleFaces { .. }
            | Self::FacesDiffer { .. }
            | Self::FaceTooSmall { .. }
            | Self::ImageInvalid { .. }
            | Self::EnrolmentInvalid
            | Self::PasskeysUnavailable
            | Self::ChallengeInvalid => StatusCode::BAD_REQUEST,
            Self::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::InvalidCredentials
            | Self::Unauthenticated
            | Self::FaceMismatch
            | Self::CodeInvalid
            | Self::PasskeyInvalid => StatusCode::UNAUTHORIZED,
            Self::FaceRequired
            | Self::ReauthRequired
            | Self::FaceDisabled
            | Self::CrossOrigin
            | Self::FactorNotAccepted { .. }
            | Self::LivenessRequired => StatusCode::FORBIDDEN,
            Self::LockedOut { .. } | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge | Self::ImageTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Chat(e) => chat_status(e),
        }
    }

    /// Seconds the client should wait before retrying, for the answers that have one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::LockedOut { retry_after } | Self::RateLimited { retry_after } => {
                Some(retry_after_secs(*retry_after).max(1))
            }
            Self::Chat(ChatError::RateLimited { retry_after }) => {
                Some(retry_after_secs(*retry_after).max(1))
            }
            Self::Busy | Self::Chat(ChatError::Busy) => Some(1),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            Self::Chat(ChatError::Internal(cause)) => {
                tracing::error!(
                    error = format!("{:#}", cause.error()),
                    "chat internal error"
                );
            }
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// Result of a handler or domain function.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_errors_get_their_status_here() {
        let cases = [
            (ChatError::ChannelNotFound, 404),
            (ChatError::MessageNotFound, 404),
            (ChatError::FileTooLarge { limit: 1 }, 413),
            (ChatError::QuotaExceeded { quota: 1, used: 1 }, 413),
            (ChatError::Forbidden("owner only"), 403),
            (ChatError::ClientIdConflict, 409),
            (ChatError::Busy, 503),
            (
                ChatError::RateLimited {
                    retry_after: Duration::from_millis(2500),
                },
                429,
            ),
            (ChatError::Internal("x".into()), 500),
        ];
        for (chat, status) in cases {
            let api = ApiError::from(chat.clone());
            assert_eq!(api.status().as_u16(), status, "{chat:?}");
            assert_eq!(api.code(), chat.code());
        }
        assert_eq!(ApiError::from(ChatError::Busy).retry_after_secs(), Some(1));
        let limited = ChatError::RateLimited {
            retry_after: Duration::from_millis(2500),
        };
        assert_eq!(ApiError::from(limited).retry_after_secs(), Some(3));
        assert_eq!(
            ApiError::from(ChatError::Internal("x".into())).to_string(),
            "Internal error."
        );
    }

    #[test]
    fn every_code_is_in_the_published_list() {
        let wait = Duration::from_secs(1);
        let every = [
            ApiError::Validation(String::new()),
            ApiError::Conflict { field: "username" },
            ApiError::PasswordTooShort { min: 8 },
            ApiError::PasswordTooLong { max: 256 },
            ApiError::PasswordTooCommon,
            ApiError::ConsentRequired,
            ApiError::NoFace { index: 0 },
            ApiError::MultipleFaces { index: 0 },
            ApiError::FacesDiffer {
                first: 0,
                second: 1,
            },
            ApiError::FaceTooSmall {
                index: 0,
                min_px: 1,
            },
            ApiError::ImageInvalid {
                index: 0,
                reason: String::new(),
            },
            ApiError::InvalidCredentials,
            ApiError::Unauthenticated,
            ApiError::FaceRequired,
            ApiError::ReauthRequired,
            ApiError::FaceMismatch,
            ApiError::FaceDisabled,
            ApiError::ChallengeInvalid,
            ApiError::LivenessRequired,
            ApiError::UpgradeRequired,
            ApiError::EnrolmentInvalid,
            ApiError::FactorNotAccepted {
                factor: "face",
                reason: "",
            },
            ApiError::CodeInvalid,
            ApiError::PasskeyInvalid,
            ApiError::PasskeysUnavailable,
            ApiError::LockedOut { retry_after: wait },
            ApiError::RateLimited { retry_after: wait },
            ApiError::CrossOrigin,
            ApiError::PayloadTooLarge,
            ApiError::ImageTooLarge {
                index: 0,
                reason: String::new(),
            },
            ApiError::MethodNotAllowed,
            ApiError::Busy,
            ApiError::NotFound,
            ApiError::Internal(anyhow::anyhow!("x")),
        ];
        let mut codes: Vec<&str> = every.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut listed = ApiError::CODES.to_vec();
        listed.sort_unstable();
        assert_eq!(codes, listed);
    }
}
