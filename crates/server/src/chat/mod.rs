//! Chat (owned by the chat helper). Stub until that module lands.

use axum::Router;

use crate::app::AppState;

/// Shared chat state held in [`AppState::chat`]. Stub: the chat helper replaces it.
#[derive(Clone, Default)]
pub struct ChatHub {}

impl ChatHub {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Chat routes under `/api`, merged by [`crate::app::router`].
pub fn router() -> Router<AppState> {
    Router::new()
}
