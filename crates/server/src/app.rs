//! The shared application state and the HTTP router.

use std::sync::Arc;

use axum::Router;

use crate::config::Config;
use crate::storage::Db;

/// Everything a handler needs. Cheap to clone: every field is a handle (`Arc` or pool).
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub chat: crate::chat::ChatHub,
}

/// The whole HTTP surface: the auth API, chat (`crate::chat`) and the web UI (`crate::web`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::chat::router())
        .merge(crate::web::router())
        .with_state(state)
}
