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
        tokio::task::spawn_blocking(crate::auth::password::warm_up).await?;
        let pool = BlockingPool::new(config.pool_workers(), config.pool.queue);
        let face = FaceService::new(engine, pool.clone(), &config);
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
            limits: Arc::new(RateLimits::new(&config.rate_limit)),
            chat: crate::chat::ChatHub::new(),
            webauthn: crate::auth::passkey::relying_party(&config).map(Arc::new),
            mailer: crate::email::Mailer::from_config(&config.email)?,
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
    crate::liveness::LiveService::new(
        face.clone(),
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
        .merge(crate::web::router())
        // Every error answer has the JSON envelope, a wrong method included.
        .method_not_allowed_fallback(|| async { crate::error::ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::csrf::guard,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A started server.
pub struct Server {
    /// The bound address (the real port when started on port 0).
    pub addr: SocketAddr,
    pub state: AppState,
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Binds `config.listen` and serves `state` in a background task.
pub async fn start(state: AppState) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("binding {}", state.config.listen))?;
    let addr = listener.local_addr()?;
    tokio::spawn(prune_loop(state.clone()));
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Server { addr, state, task })
}

/// Loads everything, binds, prints `facegate listening on http://ADDR` and serves until the
/// server fails.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let server = start(AppState::new(config).await?).await?;
    println!("facegate listening on http://{}", server.addr);
    tracing::info!(addr = %server.addr, "listening");
    server
        .task
        .await
        .context("server task")?
        .context("serving")?;
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
