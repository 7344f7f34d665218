//! The cross-site request forgery guard on every request: the middleware form of
//! [`crate::auth::csrf::allowed`], which holds the rule.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::csrf::allowed;
use crate::error::ApiError;

/// Refuses a cross-site state-changing request with 403 `cross_origin`.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if allowed(request.method(), request.headers(), &state.config) {
        next.run(request).await
    } else {
        ApiError::CrossOrigin.into_response()
    }
}
