//! The shared application state, the HTTP router, and server start-up.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use face::Engine;
use tokio::task::JoinHandle;

use crate::auth::face::FaceService;
use crate::config::Config;
use crate::crypto::{LoginPseudonyms, SecretKey, TemplateCipher};
use crate::pool::BlockingPool;
use crate::ratelimit::RateLimits;
use crate::storage::Db;

/// How often expired sessions and challenges are swept from the database.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Everything a handler needs. Cheap to clone: every field is a handle (`Arc` or pool).
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub chat: crate::chat::ChatHub,
    /// Face engine behind the bounded pool.
    pub face: FaceService,
    /// The live check's use of the engine (shares `face`'s pool).
    pub live: crate::liveness::LiveService,
    /// The bounded pool for argon2 (shared with `face`).
    pub pool: BlockingPool,
    pub cipher: Arc<TemplateCipher>,
    /// Names logins that match no account in the unknown-login counters.
    pub login_pseudonyms: LoginPseudonyms,
    pub limits: Arc<RateLimits>,
    /// The WebAuthn relying party; `None` when the public URL's host cannot be one (an IP).
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Outgoing email; `None` when `[email]` is not configured.
    pub mailer: Option<crate::email::Mailer>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set when the node starts draining (SIGTERM, Ctrl-C).
    pub shutdown: crate::shutdown::Shutdown,
}

impl AppState {
    /// Opens the data directory (database, key) and loads the face engine from
    /// `config.models_dir`.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let engine = load_engine(&config).await?;
        Self::with_engine(config, engine).await
    }

    /// Like [`AppState::new`] with an engine already loaded (tests and benchmarks share one).
    pub async fn with_engine(config: Config, engine: Arc<Engine>) -> anyhow::Result<Self> {
        create_private_dir(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let db = open_database(&config).await?;
        let key = load_secret_key(&config)?;
        let chat = open_chat_hub(&config).await?;
        tokio::task::spawn_blocking(crate::auth::password::warm_up).await?;
        let pool = BlockingPool::new(config.pool_workers(), config.pool.queue);
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let face = FaceService::new(engine, pool.clone(), &config, metrics.face_timer());
        if !config.face.liveness_script.is_empty() {
            tracing::warn!(
                "face.liveness_script is set: every live check asks the same movements, so a recording can pass; use it for tests only"
            );
        }
        Ok(Self {
            db,
            live: live_service(&face, &config),
            face,
            pool,
            cipher: Arc::new(TemplateCipher::new(&key)),
            login_pseudonyms: LoginPseudonyms::new(&key),
            limits: Arc::new(RateLimits::with_bus(
                &config.rate_limit,
                chat.bus().cloned(),
            )),
            chat,
            webauthn: crate::auth::passkey::relying_party(&config).map(Arc::new),
            mailer: crate::email::Mailer::from_config(&config.email)?,
            metrics,
            shutdown: crate::shutdown::Shutdown::new(),
            config: Arc::new(config),
        })
    }
}

/// The configured database: PostgreSQL when `database_url` is set, else the SQLite file in the
/// data directory. Errors name the place but never the URL (it may hold a password).
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    match &config.database_url {
        Some(url) => Db::connect(url)
            .await
            .context("connecting to the database of database_url"),
        None => Db::open(&config.database_path())
            .await
            .with_context(|| format!("opening database {}", config.database_path().display())),
    }
}

/// The chat hub: in process, or over the bus of `bus_url` shared with the other nodes. Errors
/// never name the URL (it may hold a password).
async fn open_chat_hub(config: &Config) -> anyhow::Result<crate::chat::ChatHub> {
    let Some(url) = &config.bus_url else {
        return Ok(crate::chat::ChatHub::new());
    };
    let bus = crate::bus::Bus::connect(url, &config.bus_prefix)
        .await
        .context("connecting to the bus of bus_url")?;
    crate::chat::ChatHub::with_bus(crate::chat::HubConfig::default(), bus)
        .await
        .context("following the bus of bus_url")
}

/// The server key; created on first start only where [`Config::may_create_secret_key`].
pub fn load_secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    let path = config.secret_key_path();
    if config.may_create_secret_key() {
        return SecretKey::load_or_create(&path);
    }
    SecretKey::load_existing(&path)?.with_context(|| {
        format!(
            "the server key file {} does not exist; create it once (32 random bytes, e.g. \
             `head -c 32 /dev/urandom > {}`) and give every node the same file",
            path.display(),
            path.display()
        )
    })
}

fn live_service(face: &FaceService, config: &Config) -> crate::liveness::LiveService {
    use crate::auth::face::pipeline;
    use crate::config::DetectorKind;
    use face::DetectorOptions;
    crate::liveness::LiveService::new(
        face.clone(),
        DetectorOptions::Tiny {
            input_size: config.face.live_check_detector_input_size,
            score_threshold: config.face.detector_score_threshold,
        },
        pipeline(DetectorKind::Tiny, &config.face).detector,
        pipeline(DetectorKind::Ssd, &config.face).detector,
    )
}

/// Creates `dir` (and parents) readable by its owner only when it does not exist yet; an
/// existing directory keeps the permissions the operator gave it.
pub(crate) fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Loads every network from `config.models_dir` off the async runtime.
pub async fn load_engine(config: &Config) -> anyhow::Result<Arc<Engine>> {
    let dir = config.models_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(|| Engine::load(&dir)))
    })
    .await
    .context("face engine loader")?;
    match loaded {
        Ok(engine) => Ok(Arc::new(engine.with_context(|| {
            format!("loading face models from {}", config.models_dir.display())
        })?)),
        Err(_) => anyhow::bail!("the face engine failed to load (panicked)"),
    }
}

/// The whole HTTP surface: the auth API, chat (`crate::chat`) and the web UI (`crate::web`),
/// behind the CSRF guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::api::router(&state.config))
        .merge(crate::chat::router(&state.config))
        .merge(crate::ops::router())
        .merge(crate::web::router())
        // Every error answer has the JSON envelope, a wrong method included.
        .method_not_allowed_fallback(|| async { crate::error::ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::csrf::guard,
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
