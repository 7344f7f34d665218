//! The node's state: every service wired to its storage, bus and engine. The HTTP edge
//! ([`crate::api`], [`crate::web`], [`crate::ops`]) serves it; [`crate::serve`] starts it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use anyhow::Context;
use face::Engine;

use crate::config::Config;
use crate::crypto::{LoginPseudonyms, SecretKey, TemplateCipher};
use crate::faces::FaceService;
use crate::pool::BlockingPool;
use crate::ratelimit::RateLimits;
use crate::storage::Db;

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
        crate::storage::create_private_dir(&config.data_dir)
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

    /// The handles the auth use cases work with.
    pub fn auth(&self) -> crate::auth::Auth<'_> {
        crate::auth::Auth {
            db: &self.db,
            config: &self.config,
            face: &self.face,
            pool: &self.pool,
            live: &self.live,
            cipher: &self.cipher,
            login_pseudonyms: &self.login_pseudonyms,
            limits: &self.limits,
            webauthn: self.webauthn.as_deref(),
            mailer: self.mailer.as_ref(),
            metrics: &self.metrics,
            chat: &self.chat,
        }
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
    use crate::config::DetectorKind;
    use crate::faces::pipeline;
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
