//! Start-up and shutdown of a node: the router over the whole HTTP surface, the listeners, the
//! periodic sweep of expired rows, and the drain on SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::config::Config;

/// How often expired sessions and challenges are swept from the database.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The whole HTTP surface: the API and chat ([`crate::api`]), readiness ([`crate::ops`]) and the
/// web UI ([`crate::web`]), behind the CSRF guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::api::router(&state.config))
        .merge(crate::ops::router())
        .merge(crate::web::router())
        // Every error answer has the JSON envelope, a wrong method included.
        .method_not_allowed_fallback(|| async { crate::error::ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::api::csrf::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ops::track_requests,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A started server.
pub struct Server {
    /// The bound address (the real port when started on port 0).
    pub addr: SocketAddr,
    /// The bound address of the `/metrics` listener, when `metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Binds `config.listen` (and `config.metrics_listen`) and serves `state` in background tasks
/// until [`AppState::shutdown`] begins.
pub async fn start(state: AppState) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("binding {}", state.config.listen))?;
    let addr = listener.local_addr()?;
    let metrics_addr = match state.config.metrics_listen {
        Some(at) => Some(serve_metrics(&state, at).await?),
        None => None,
    };
    tokio::spawn(prune_loop(state.clone()));
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut draining = state.shutdown.watch();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { draining.started().await })
            .await
    });
    Ok(Server {
        addr,
        metrics_addr,
        state,
        task,
    })
}

async fn serve_metrics(state: &AppState, at: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .with_context(|| format!("binding the metrics listener {at}"))?;
    let bound = listener.local_addr()?;
    let app = crate::ops::metrics_router(state.clone());
    let mut draining = state.shutdown.watch();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { draining.started().await })
            .await;
        if let Err(err) = served {
            tracing::error!(%err, "metrics listener failed");
        }
    });
    Ok(bound)
}

impl Server {
    /// Drains: readiness fails, the listeners stop accepting, WebSocket clients are told to
    /// reconnect elsewhere (1012), and requests in flight may finish, all within
    /// `shutdown_grace_secs`; what is still running then is dropped.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let Server { state, task, .. } = self;
        let grace = Duration::from_secs(state.config.shutdown_grace_secs);
        let started = tokio::time::Instant::now();
        state.shutdown.begin();
        let drained = tokio::time::timeout(grace, async {
            let served = task.await;
            state.shutdown.sockets_closed().await;
            served
        })
        .await;
        match drained {
            Ok(served) => served.context("server task")?.context("serving")?,
            Err(_) => tracing::warn!(
                grace_secs = grace.as_secs(),
                "shutdown grace period over: dropping what is still running"
            ),
        }
        let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(took_ms, "drained");
        Ok(())
    }
}

/// Loads everything, binds, prints `facegate listening on http://ADDR` and serves until SIGTERM
/// or Ctrl-C, then drains (see [`Server::shutdown`]).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut server = start(AppState::new(config).await?).await?;
    println!("facegate listening on http://{}", server.addr);
    tracing::info!(addr = %server.addr, "listening");
    if let Some(metrics) = server.metrics_addr {
        tracing::info!(addr = %metrics, "metrics listening");
    }
    tokio::select! {
        signal = termination_signal() => signal?,
        served = &mut server.task => {
            served.context("server task")?.context("serving")?;
            return Ok(());
        }
    }
    tracing::info!("shutdown requested: draining");
    server.shutdown().await
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `docker stop` and systemd send).
async fn termination_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.context("listening for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}

/// Starts a server from `config` (tests): returns its address and task once bound.
pub async fn spawn(
    config: Config,
) -> anyhow::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let server = start(AppState::new(config).await?).await?;
    Ok((server.addr, server.task))
}

async fn prune_loop(state: AppState) {
    let s = &state.config.sessions;
    let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(PRUNE_EVERY).await;
        let now = crate::auth::now_ms();
        let result = state
            .db
            .prune_sessions(
                now,
                now - ms(s.idle_timeout_secs),
                now - ms(s.absolute_timeout_secs),
                now - ms(s.password_level_ttl_secs),
            )
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "pruning expired sessions failed");
        }
        // An unknown login's counters matter while its hourly window or its longest delay runs.
        let lockout = &state.config.lockout;
        let horizon = ms(lockout.password_max_delay_secs.max(3600));
        if let Err(e) = state.db.prune_unknown_login_counters(now - horizon).await {
            tracing::warn!(error = %e, "pruning unknown-login counters failed");
        }
        // A file uploaded but never sent counts toward its uploader's quota until it goes.
        let unsent = now - crate::chat::attachments::UNSENT_TTL_MS;
        if let Err(e) = crate::storage::attachments::prune_unsent(&state.db, unsent).await {
            tracing::warn!(error = %e, "pruning unsent attachments failed");
        }
    }
}
