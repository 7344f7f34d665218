//! Server configuration: defaults < `facegate.toml` < `FACEGATE_*` environment < CLI flags.
//!
//! Every setting has a default, so an empty file (or none) gives a working local server on
//! `127.0.0.1:8080` with its data in `./data`. Environment variables name a setting by its
//! section and key in upper case: `FACEGATE_LISTEN`, `FACEGATE_PUBLIC_URL`,
//! `FACEGATE_FACE_MATCH_THRESHOLD`, `FACEGATE_SESSIONS_IDLE_TIMEOUT_SECS`... The models directory
//! also honours the face crate's `FACEGATE_MODELS`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::proxy::Cidr;

/// Name of the configuration file looked up in the working directory when none is given.
pub const DEFAULT_CONFIG_FILE: &str = "facegate.toml";
/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "FACEGATE_";

/// Everything the server can be told. See the module docs for the precedence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Socket address to bind; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Holds `facegate.db` (SQLite, WAL) and `secret.key` (template encryption key, mode 0600).
    pub data_dir: PathBuf,
    /// `postgres://user@host/db` to keep the data in PostgreSQL, shared by every node behind a
    /// load balancer; unset (the default), SQLite in `data_dir`. Environment:
    /// `FACEGATE_DATABASE_URL`.
    pub database_url: Option<String>,
    /// The server key (32 bytes) in a file of the operator's choosing, e.g. a secret mounted on
    /// every node. Unset: `data_dir/secret.key`, created on first start, which only a single
    /// node may do; with `database_url` set it is required. Environment:
    /// `FACEGATE_SECRET_KEY_FILE`.
    pub secret_key_file: Option<PathBuf>,
    /// `redis://host:6379` to join the other nodes on one bus (chat events, session revocation,
    /// presence, shared per-IP limits); unset (the default), this process is the only node.
    /// Environment: `FACEGATE_BUS_URL`.
    pub bus_url: Option<String>,
    /// Prefix of every key this node uses on the bus; nodes of one deployment share it, so two
    /// deployments (or test runs) can share one Redis.
    pub bus_prefix: String,
    /// The face-api.js model files.
    pub models_dir: PathBuf,
    /// The public origin (`https://chat.example.org`). Sets the origin accepted by the CSRF
    /// check; with `https` the session cookie becomes `Secure` and `__Host-` prefixed.
    pub public_url: Option<String>,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client for
    /// rate limits and the audit trail. Empty (the default): the TCP peer is the client and the
    /// header is ignored. Environment: comma-separated, `FACEGATE_TRUSTED_PROXIES=10.0.0.0/8`.
    pub trusted_proxies: Vec<Cidr>,
    /// Address of a second listener that serves only the Prometheus `/metrics`. Unset (the
    /// default): no metrics are served. Keep it on loopback or a private network: the main
    /// listener never serves them, so a public address cannot leak them by accident.
    pub metrics_listen: Option<SocketAddr>,
    /// `text` (default, for people) or `json` (one object per line, for log collectors).
    pub log_format: LogFormat,
    /// On SIGTERM or Ctrl-C, how long requests in flight and WebSocket goodbyes may take before
    /// the process exits anyway.
    pub shutdown_grace_secs: u64,
    pub face: FaceConfig,
    pub auth: AuthConfig,
    pub email: EmailConfig,
    pub sessions: SessionConfig,
    pub lockout: LockoutConfig,
    pub rate_limit: RateLimitConfig,
    pub limits: LimitsConfig,
    pub pool: PoolConfig,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Face enrolment and verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceConfig {
    /// A frame matches when its distance to the enrolled templates is strictly below this.
    pub match_threshold: f64,
    /// Shorter side, in pixels, of the smallest face box accepted at enrolment.
    pub min_face_px: u32,
    /// Detector for enrolment images: `ssd` (SSD MobileNetV1, slower, finds every face of a
    /// group photo, so "exactly one face" is reliable) or `tiny`.
    pub enrol_detector: DetectorKind,
    /// Detector for verification frames: `tiny` (TinyFaceDetector, fast) or `ssd`.
    pub verify_detector: DetectorKind,
    /// TinyFaceDetector input size (multiple of 32) for verification (and enrolment with `tiny`).
    pub detector_input_size: u32,
    /// Score threshold of either detector.
    pub detector_score_threshold: f64,
    /// Input size for the cheaper live `/api/face/detect` feedback.
    pub live_detector_input_size: u32,
    /// TinyFaceDetector input size on every frame of the live check (small frames where the
    /// face fills much of the picture); `detector_input_size` looks again when it finds
    /// nothing.
    pub live_check_detector_input_size: u32,
    /// `/api/face/detect` hints `move_closer` when the face box's shorter side is below this
    /// fraction of the frame's shorter side (frames are downscaled by the UI, so a ratio).
    pub live_min_face_ratio: f64,
    /// `active` (default): the face step is the live check (`GET /api/face/live`, server-driven
    /// prompts, presentation-attack detection) and `POST /api/face/verify` is refused. `off`:
    /// uploaded frames are enough, as for API clients without a camera stream.
    pub liveness: LivenessMode,
    /// Prompts of a live check (at least 2).
    pub liveness_steps: usize,
    /// Movements the prompts are drawn from: `turn_left`, `turn_right`, `look_up`, `look_down`,
    /// `smile`.
    pub liveness_actions: Vec<Action>,
    /// A fixed prompt sequence instead of a random one. For tests only: a known sequence lets a
    /// recording pass, so the server warns at start-up when this is set.
    pub liveness_script: Vec<Action>,
}

/// Which factors may complete a sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `default`: the face completes a sign-in started with the password or a passkey, and a
    /// passkey, an authenticator code or a recovery code completes one started with the
    /// password. `passkey_with_face`: the face counts only after a passkey (NIST SP 800-63B-4:
    /// a biometric only with a physical authenticator); the non-face paths stay.
    pub policy: SignInPolicy,
}

/// Outgoing email: address verification, password-reset links and security notices. Off while
/// `smtp_url` is empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port` (plain, for a relay on the same machine), `smtp://host:port?tls=required`
    /// (STARTTLS) or `smtps://user:password@host` (TLS); empty: no email is sent.
    pub smtp_url: String,
    /// The sender address (`facegate <noreply@chat.example.org>`).
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: String::new(),
            from: "facegate <noreply@localhost>".into(),
        }
    }
}

/// See [`AuthConfig::policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInPolicy {
    Default,
    PasskeyWithFace,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            policy: SignInPolicy::Default,
        }
    }
}

/// Whether the face step needs the live check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LivenessMode {
    Active,
    Off,
}

/// Which face detector a step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    Tiny,
    Ssd,
}

/// Session lifetimes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Lifetime of a password-only (face pending) session.
    pub password_level_ttl_secs: u64,
    /// A full session expires after this long without a request.
    pub idle_timeout_secs: u64,
    /// A full session expires this long after the login, whatever its activity.
    pub absolute_timeout_secs: u64,
    /// Lifetime of a face challenge nonce.
    pub challenge_ttl_secs: u64,
    /// Re-enrolling the face and deleting the account need a session whose sign-in (password
    /// and face) is younger than this; older sessions must sign in again (ASVS 7.5.1).
    pub reauth_window_secs: u64,
}

/// Per-account brute-force rules (counters live in the database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutConfig {
    /// Consecutive face failures allowed before delays start, without liveness
    /// (`face.liveness = "off"`).
    pub face_free_failures: u32,
    /// Delay after the first failure past the free ones; doubles with each further failure.
    pub face_base_delay_secs: u64,
    /// Consecutive face failures after which the face factor is disabled until re-enrolment,
    /// without liveness.
    pub face_disable_after: u32,
    /// The same two with the live check on: NIST SP 800-63B-4 allows 10 and 100 when the
    /// biometric has presentation-attack detection.
    pub face_free_failures_with_liveness: u32,
    pub face_disable_after_with_liveness: u32,
    /// Consecutive password failures allowed before exponential delays start.
    pub password_free_failures: u32,
    /// First password delay; doubles with each further consecutive failure.
    pub password_base_delay_secs: u64,
    /// Cap of the password delay.
    pub password_max_delay_secs: u64,
    /// Hard cap of failed passwords per account in any one-hour window.
    pub password_max_failures_per_hour: u32,
}

/// Token buckets per client IP (per account for `export`): `burst` requests at once, refilled
/// at `per_sec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub login_burst: u32,
    pub login_per_sec: f64,
    pub register_burst: u32,
    pub register_per_sec: f64,
    /// Shared by `/api/face/challenge`, `/api/face/verify` and `PUT /api/me/face`.
    pub face_burst: u32,
    pub face_per_sec: f64,
    /// `/api/face/detect`: the camera UI sends 4-5 frames a second.
    pub detect_burst: u32,
    pub detect_per_sec: f64,
    /// `GET /api/me/export`, per account (an export reads every row of the account).
    pub export_burst: u32,
    pub export_per_sec: f64,
    /// Chat writes, per account: messages, edits, reactions, uploads, new conversations,
    /// members added and reports. A burst for pasting or catching up, then a human pace.
    pub chat_write_burst: u32,
    pub chat_write_per_sec: f64,
}

/// Request and image size limits (413 beyond them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Whole body of a JSON request.
    pub json_body_bytes: usize,
    /// Whole body of a multipart request with images.
    pub upload_body_bytes: usize,
    /// One enrolment or verification image.
    pub image_bytes: usize,
    /// Decoded pixels of one enrolment or verification image.
    pub image_pixels: u64,
    /// One `/api/face/detect` frame.
    pub detect_image_bytes: usize,
    /// Decoded pixels of one `/api/face/detect` frame.
    pub detect_image_pixels: u64,
    /// One chat attachment (413 `payload_too_large` beyond it).
    pub attachment_bytes: usize,
    /// Decoded pixels of one image attachment, checked from its header before decoding.
    pub attachment_pixels: u64,
    /// Bytes of attachments one person may have stored at once (413
    /// `attachment_quota_exceeded` beyond it); deleting a message frees its files.
    pub attachment_quota_bytes: u64,
}

/// The bounded pool that runs argon2 and inference off the async runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Jobs running at once; 0 means one per CPU.
    pub workers: usize,
    /// Jobs allowed to wait for a worker; beyond that the server answers 503 + Retry-After.
    pub queue: usize,
    /// Decoded image pixels held in memory at once by all jobs together (a 25 MP image takes
    /// about 175 MB while decoded); a job that cannot get its pixels within 5 s answers 503.
    pub pixel_budget: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            models_dir: face::models::default_dir(),
            public_url: None,
            database_url: None,
            secret_key_file: None,
            bus_url: None,
            bus_prefix: "facegate".into(),
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            log_format: LogFormat::Text,
            shutdown_grace_secs: 10,
            face: FaceConfig::default(),
            sessions: SessionConfig::default(),
            auth: AuthConfig::default(),
            email: EmailConfig::default(),
            lockout: LockoutConfig::default(),
            rate_limit: RateLimitConfig::default(),
            limits: LimitsConfig::default(),
            pool: PoolConfig::default(),
        }
    }
}

impl Default for FaceConfig {
    fn default() -> Self {
        Self {
            match_threshold: face::DEFAULT_MATCH_THRESHOLD,
            min_face_px: 80,
            enrol_detector: DetectorKind::Ssd,
            verify_detector: DetectorKind::Tiny,
            detector_input_size: 416,
            detector_score_threshold: 0.5,
            live_detector_input_size: 320,
            live_check_detector_input_size: 224,
            live_min_face_ratio: 0.2,
            liveness: LivenessMode::Active,
            liveness_steps: 4,
            liveness_actions: vec![
                Action::TurnLeft,
                Action::TurnRight,
                Action::LookUp,
                Action::LookDown,
            ],
            liveness_script: Vec::new(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            password_level_ttl_secs: 5 * 60,
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 12 * 3600,
            challenge_ttl_secs: 120,
            reauth_window_secs: 600,
        }
    }
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            face_free_failures: 5,
            face_base_delay_secs: 30,
            face_disable_after: 50,
            face_free_failures_with_liveness: 10,
            face_disable_after_with_liveness: 100,
            password_free_failures: 10,
            password_base_delay_secs: 1,
            password_max_delay_secs: 3600,
            password_max_failures_per_hour: 100,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            login_burst: 20,
            login_per_sec: 0.5,
            register_burst: 5,
            register_per_sec: 0.05,
            face_burst: 20,
            face_per_sec: 0.5,
            detect_burst: 10,
            detect_per_sec: 6.0,
            // 3 at once, then one every 500 s.
            export_burst: 3,
            export_per_sec: 0.002,
            // 30 at once, then one a second.
            chat_write_burst: 30,
            chat_write_per_sec: 1.0,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            json_body_bytes: 16 * 1024,
            upload_body_bytes: 16 * 1024 * 1024,
            image_bytes: 5 * 1024 * 1024,
            image_pixels: 25_000_000,
            detect_image_bytes: 512 * 1024,
            detect_image_pixels: 1280 * 960,
            attachment_bytes: 10 * 1024 * 1024,
            attachment_pixels: 40_000_000,
            attachment_quota_bytes: 200 * 1024 * 1024,
        }
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            queue: 64,
            pixel_budget: 25_000_000,
        }
    }
}

/// Values given on the command line; `None` leaves the file/environment value in place.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// Configuration file; when `None`, `./facegate.toml` is read if it exists.
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub models_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    pub bus_url: Option<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub log_format: Option<LogFormat>,
}

/// Why the configuration could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("environment variable {name}={value:?} is not a valid value for that setting")]
    Env { name: String, value: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Config {
    /// Assembles the configuration from the file, the process environment and `overrides`.
    pub fn load(overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(overrides, &env)
    }

    /// [`Config::load`] with an explicit environment, for tests.
    pub fn load_from(
        overrides: &ConfigOverrides,
        env: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let file_text = match &overrides.config_file {
            Some(path) => Some((path.clone(), read_file(path)?)),
            None => {
                let path = PathBuf::from(DEFAULT_CONFIG_FILE);
                path.exists()
                    .then(|| read_file(&path).map(|t| (path.clone(), t)))
                    .transpose()?
            }
        };
        let mut config = match file_text {
            Some((path, text)) => {
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source })?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.apply_overrides(overrides);
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        // The face crate's variable names the models dir for every tool; ours wins if both set.
        if let Some(dir) = lookup(face::models::DIR_ENV) {
            self.models_dir = PathBuf::from(dir);
        }
        // `public_url` and `metrics_listen` are absent from the table when unset, so they are
        // read directly.
        let public_url = match lookup("FACEGATE_PUBLIC_URL") {
            Some(v) => (!v.is_empty()).then_some(v),
            None => self.public_url.clone(),
        };
        let metrics_listen = match lookup("FACEGATE_METRICS_LISTEN") {
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.trim().parse().map_err(|_| ConfigError::Env {
                name: "FACEGATE_METRICS_LISTEN".into(),
                value: v.clone(),
            })?),
            None => self.metrics_listen,
        };
        let mut table = toml::Table::try_from(&*self)
            .map_err(|e| ConfigError::Invalid(format!("cannot serialise config: {e}")))?;
        let mut changed = false;
        for (key, value) in table.iter_mut() {
            if let toml::Value::Table(section) = value {
                for (inner, value) in section.iter_mut() {
                    let name = env_name(&format!("{key}_{inner}"));
                    changed |= set_from_env(value, &name, lookup(&name))?;
                }
            } else {
                let name = env_name(key);
                changed |= set_from_env(value, &name, lookup(&name))?;
            }
        }
        if changed {
            *self = table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid(format!("environment: {e}")))?;
        }
        self.public_url = public_url;
        self.metrics_listen = metrics_listen;
        // Options absent from the table when unset, like `public_url`.
        if let Some(v) = lookup("FACEGATE_DATABASE_URL") {
            self.database_url = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = lookup("FACEGATE_BUS_URL") {
            self.bus_url = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = lookup("FACEGATE_SECRET_KEY_FILE") {
            self.secret_key_file = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        Ok(())
    }

    fn apply_overrides(&mut self, o: &ConfigOverrides) {
        if let Some(v) = o.listen {
            self.listen = v;
        }
        if let Some(v) = &o.data_dir {
            self.data_dir = v.clone();
        }
        if let Some(v) = &o.models_dir {
            self.models_dir = v.clone();
        }
        if let Some(v) = &o.database_url {
            self.database_url = Some(v.clone());
        }
        if let Some(v) = &o.secret_key_file {
            self.secret_key_file = Some(v.clone());
        }
        if let Some(v) = &o.bus_url {
            self.bus_url = Some(v.clone());
        }
        if let Some(v) = &o.public_url {
            self.public_url = Some(v.clone());
        }
        if let Some(v) = o.metrics_listen {
            self.metrics_listen = Some(v);
        }
        if let Some(v) = o.log_format {
            self.log_format = v;
        }
    }

    /// Checks the values that would otherwise fail late or silently.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url {
            let known = ["postgres://", "postgresql://", "sqlite:"];
            if !known.iter().any(|p| url.starts_with(p)) {
                // The URL may hold a password: never echo it.
                return Err(ConfigError::Invalid(
                    "database_url must start with postgres:// (or sqlite:)".into(),
                ));
            }
            if self.secret_key_file.is_none() {
                return Err(ConfigError::Invalid(
                    "with database_url set, every node must use the same server key: set \
                     secret_key_file (FACEGATE_SECRET_KEY_FILE, --secret-key-file) to a file \
                     of 32 random bytes, e.g. `head -c 32 /dev/urandom > facegate.key`"
                        .into(),
                ));
            }
        }
        if let Some(url) = &self.public_url {
            let origin = normalise_origin(url).ok_or_else(|| {
                ConfigError::Invalid(format!("public_url {url:?} is not an http(s) origin"))
            })?;
            self.public_url = Some(origin);
        }
        if !(self.face.match_threshold > 0.0 && self.face.match_threshold < 2.0) {
            return Err(ConfigError::Invalid(
                "face.match_threshold must be in (0, 2)".into(),
            ));
        }
        if [
            self.face.detector_input_size,
            self.face.live_detector_input_size,
            self.face.live_check_detector_input_size,
        ]
        .iter()
        .any(|&size| size == 0 || size % 32 != 0)
        {
            return Err(ConfigError::Invalid(
                "detector input sizes must be positive multiples of 32".into(),
            ));
        }
        if self.lockout.face_disable_after <= self.lockout.face_free_failures
            || self.lockout.face_disable_after_with_liveness
                <= self.lockout.face_free_failures_with_liveness
        {
            return Err(ConfigError::Invalid(
                "lockout.face_disable_after must exceed lockout.face_free_failures (also the _with_liveness pair)".into(),
            ));
        }
        let steps = self
            .face
            .liveness_script
            .len()
            .max(self.face.liveness_steps);
        if !(2..=6).contains(&steps) {
            return Err(ConfigError::Invalid(
                "face.liveness_steps (or the script's length) must be 2-6".into(),
            ));
        }
        if self.face.liveness_script.is_empty() && self.face.liveness_actions.len() < 2 {
            return Err(ConfigError::Invalid(
                "face.liveness_actions must name at least 2 movements".into(),
            ));
        }
        Ok(())
    }

    /// The face lockout rules in force: with the live check on, the `_with_liveness` limits.
    pub fn face_lockout(&self) -> LockoutConfig {
        let mut rules = self.lockout.clone();
        if self.face.liveness == LivenessMode::Active {
            rules.face_free_failures = rules.face_free_failures_with_liveness;
            rules.face_disable_after = rules.face_disable_after_with_liveness;
        }
        rules
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("facegate.db")
    }

    /// The template encryption key file.
    pub fn secret_key_path(&self) -> PathBuf {
        (self.secret_key_file.clone()).unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    /// Whether the server may create its key on first start: only a single node keeping its
    /// own key in its data directory. A key file the operator names is theirs to make, so a
    /// typo never starts a node with a key that opens no template.
    pub fn may_create_secret_key(&self) -> bool {
        self.secret_key_file.is_none()
    }

    /// Whether the server is reached over https (cookies become `Secure` + `__Host-`).
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// Number of blocking-pool workers after resolving 0 to the CPU count.
    pub fn pool_workers(&self) -> usize {
        match self.pool.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Replaces `slot` by the environment value parsed to the slot's own type.
fn set_from_env(
    slot: &mut toml::Value,
    name: &str,
    raw: Option<String>,
) -> Result<bool, ConfigError> {
    let Some(raw) = raw else { return Ok(false) };
    let bad = || ConfigError::Env {
        name: name.to_owned(),
        value: raw.clone(),
    };
    *slot = match slot {
        toml::Value::String(_) => toml::Value::String(raw.clone()),
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().map_err(|_| bad())?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse().map_err(|_| bad())?),
        toml::Value::Boolean(_) => toml::Value::Boolean(raw.trim().parse().map_err(|_| bad())?),
        // Lists of strings (`trusted_proxies`): comma-separated; items are checked on parsing.
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_owned()))
                .collect(),
        ),
        _ => return Err(bad()),
    };
    Ok(true)
}

/// `scheme://host[:port]` in lower case without a trailing slash or path, or `None` when `url`
/// is not an http(s) origin.
pub fn normalise_origin(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !(scheme == "http" || scheme == "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@'])
    {
        return None;
    }
    Some(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

// The movements are a liveness concept; they are defined here, below the check, because the
// configuration names them (`face.liveness_actions`) and configuration imports nothing above it.
/// A movement the server can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    TurnLeft,
    TurnRight,
    LookUp,
    LookDown,
    Smile,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::TurnLeft,
        Action::TurnRight,
        Action::LookUp,
        Action::LookDown,
        Action::Smile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TurnLeft => "turn_left",
            Self::TurnRight => "turn_right",
            Self::LookUp => "look_up",
            Self::LookDown => "look_down",
            Self::Smile => "smile",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_listen_on_localhost_8080() {
        let c = Config::load_from(&ConfigOverrides::default(), &[]).expect("config");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_path(), PathBuf::from("data/facegate.db"));
        assert_eq!(c.sessions.password_level_ttl_secs, 300);
        assert!(!c.is_https());
    }

    #[test]
    fn file_then_env_then_flags_take_precedence() {
        let dir = std::env::temp_dir().join(format!("facegate-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("facegate.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\n[face]\nmatch_threshold = 0.5\nmin_face_px = 90\n",
        )
        .expect("write");
        let mut o = ConfigOverrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let e = env(&[
            ("FACEGATE_FACE_MATCH_THRESHOLD", "0.45"),
            ("FACEGATE_LISTEN", "127.0.0.1:9001"),
        ]);
        let c = Config::load_from(&o, &e).expect("config");
        assert_eq!(c.face.match_threshold, 0.45);
        assert_eq!(c.face.min_face_px, 90);
        assert_eq!(c.listen.port(), 9001);
        o.listen = Some("127.0.0.1:9002".parse().expect("addr"));
        let c = Config::load_from(&o, &e).expect("config");
        assert_eq!(c.listen.port(), 9002);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let e = env(&[("FACEGATE_SESSIONS_IDLE_TIMEOUT_SECS", "soon")]);
        let err = Config::load_from(&ConfigOverrides::default(), &e).expect_err("must fail");
        assert!(
            err.to_string()
                .contains("FACEGATE_SESSIONS_IDLE_TIMEOUT_SECS"),
            "{err}"
        );
    }

    #[test]
    fn https_public_url_is_normalised_and_enables_secure_cookies() {
        let e = env(&[("FACEGATE_PUBLIC_URL", "HTTPS://Chat.Example.org/")]);
        let c = Config::load_from(&ConfigOverrides::default(), &e).expect("config");
        assert_eq!(c.public_url.as_deref(), Some("https://chat.example.org"));
        assert!(c.is_https());
    }

    #[test]
    fn example_file_lists_every_default() {
        let text = include_str!("../facegate.example.toml");
        let parsed: Config = toml::from_str(text).expect("example parses");
        let defaults = Config {
            models_dir: PathBuf::from(face::models::DEFAULT_DIR),
            ..Config::default()
        };
        assert_eq!(parsed, defaults);
        let keys = toml::Table::try_from(&defaults).expect("table");
        for (key, value) in &keys {
            let names: Vec<String> = match value {
                toml::Value::Table(t) => t.keys().cloned().collect(),
                _ => vec![key.clone()],
            };
            for name in names {
                assert!(
                    text.contains(&format!("{name} = ")),
                    "{name} missing from the example"
                );
            }
        }
    }

    #[test]
    fn trusted_proxies_default_to_none_and_come_from_file_or_environment() {
        let c = Config::load_from(&ConfigOverrides::default(), &[]).expect("config");
        assert!(c.trusted_proxies.is_empty());
        let e = env(&[("FACEGATE_TRUSTED_PROXIES", " 10.0.0.0/8, 127.0.0.1 ,")]);
        let c = Config::load_from(&ConfigOverrides::default(), &e).expect("config");
        let listed: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(listed, ["10.0.0.0/8", "127.0.0.1/32"]);
        let parsed: Config =
            toml::from_str("trusted_proxies = [\"fd00::/8\"]").expect("file value");
        assert_eq!(parsed.trusted_proxies[0].to_string(), "fd00::/8");
        let e = env(&[("FACEGATE_TRUSTED_PROXIES", "10.0.0.0/40")]);
        assert!(Config::load_from(&ConfigOverrides::default(), &e).is_err());
        assert!(toml::from_str::<Config>("trusted_proxies = [\"proxy.local\"]").is_err());
    }

    #[test]
    fn operations_settings_default_off_and_come_from_environment_and_flags() {
        let c = Config::load_from(&ConfigOverrides::default(), &[]).expect("config");
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.shutdown_grace_secs, 10);
        let e = env(&[
            ("FACEGATE_METRICS_LISTEN", "127.0.0.1:9464"),
            ("FACEGATE_LOG_FORMAT", "json"),
            ("FACEGATE_SHUTDOWN_GRACE_SECS", "3"),
        ]);
        let c = Config::load_from(&ConfigOverrides::default(), &e).expect("config");
        assert_eq!(
            c.metrics_listen,
            Some("127.0.0.1:9464".parse().expect("addr"))
        );
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.shutdown_grace_secs, 3);
        let o = ConfigOverrides {
            log_format: Some(LogFormat::Text),
            ..Default::default()
        };
        assert_eq!(
            Config::load_from(&o, &e).expect("config").log_format,
            LogFormat::Text
        );
        let bad = env(&[("FACEGATE_METRICS_LISTEN", "everywhere")]);
        assert!(Config::load_from(&ConfigOverrides::default(), &bad).is_err());
    }

    #[test]
    fn public_url_with_a_path_is_refused() {
        let o = ConfigOverrides {
            public_url: Some("https://example.org/chat".into()),
            ..Default::default()
        };
        assert!(Config::load_from(&o, &[]).is_err());
    }
}
