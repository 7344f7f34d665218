//! What an operator and an orchestrator see of a running node: `/readyz`, the request metrics
//! middleware and the separate `/metrics` listener. The drain itself is [`crate::shutdown`].
//!
//! Readiness is a list of named checks (`readiness`); today the database, and whether the node
//! is draining. A message bus between nodes adds its own check there, and its lag becomes one
//! more gauge refreshed by `refresh_gauges` before each scrape.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::metrics::{SocketKind, OTHER_ROUTE};

/// How long `/readyz` waits for the database before calling it unreachable.
pub const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Records every request's latency under its route template (`MatchedPath`), never its path.
pub async fn track_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| OTHER_ROUTE.to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .http_request(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

/// `/readyz`, merged into the main router.
pub fn router() -> Router<AppState> {
    Router::new().route("/readyz", get(readyz))
}

/// The router of the `metrics_listen` listener: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    refresh_gauges(&state);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

/// Gauges read at scrape time rather than kept up to date on every change.
fn refresh_gauges(state: &AppState) {
    let (open, idle) = state.db.pool_usage();
    state.metrics.set_db_pool(open, idle);
    state
        .metrics
        .set_sockets(SocketKind::Chat, state.chat.connection_count());
    state.metrics.set_bus_lag(state.chat.take_bus_lag());
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// Each check by name (`database`, `draining`, `bus` with a bus) with `ok` or what went wrong.
    checks: std::collections::BTreeMap<&'static str, &'static str>,
    /// The names of the failed checks; empty when ready.
    failed: Vec<&'static str>,
}

/// Readiness: 200 when this node can serve (the database answers within 2 s and the node is not
/// draining), 503 naming the failed checks otherwise. A load balancer routes by it; `/healthz`
/// says only that the process is up.
#[utoipa::path(get, path = "/readyz", tag = "auth",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness,
        description = "a check failed: `checks` says which and why (`database`, and `bus` when nodes share one: `error` or `timeout`; `draining`: `shutting_down`)")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = readiness(&state).await;
    let status = if readiness.failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}

async fn readiness(state: &AppState) -> Readiness {
    let database = database_check(&state.db).await;
    let draining = if state.shutdown.is_draining() {
        "shutting_down"
    } else {
        "ok"
    };
    let mut checks =
        std::collections::BTreeMap::from([("database", database), ("draining", draining)]);
    if let Some(bus) = state.chat.bus() {
        checks.insert("bus", bus_check(bus).await);
    }
    let failed: Vec<&'static str> = checks
        .iter()
        .filter(|(_, result)| **result != "ok")
        .map(|(name, _)| *name)
        .collect();
    Readiness {
        status: if failed.is_empty() {
            "ready"
        } else {
            "unavailable"
        },
        checks,
        failed,
    }
}

async fn bus_check(bus: &crate::bus::Bus) -> &'static str {
    timed_check("bus", bus.ping()).await
}

async fn database_check(db: &crate::storage::Db) -> &'static str {
    timed_check("database", db.ping()).await
}

/// `ok`, `error` or `timeout` (after [`READY_DB_TIMEOUT`]) for one dependency.
async fn timed_check<T, E: std::fmt::Display>(
    name: &'static str,
    check: impl std::future::Future<Output = Result<T, E>>,
) -> &'static str {
    match tokio::time::timeout(READY_DB_TIMEOUT, check).await {
        Ok(Ok(_)) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(%err, check = name, "readiness: check failed");
            "error"
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness: no answer in time");
            "timeout"
        }
    }
}
