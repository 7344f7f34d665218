//! Embedded web UI (owned by the web helper). Stub until that module lands.

use axum::Router;

use crate::app::AppState;

/// Routes serving the web assets, merged by [`crate::app::router`].
pub fn router() -> Router<AppState> {
    Router::new()
}
