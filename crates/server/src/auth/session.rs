//! Session ids, cookies, timeouts and the extractors that guard the endpoints.
//!
//! A session id is 256 bits from the OS CSPRNG, sent to the browser in an `HttpOnly`,
//! `SameSite=Lax` cookie (`Secure` and `__Host-` prefixed under https) and stored server-side
//! only as its SHA-256. Each level change issues a new id (login creates one at level
//! `password`, the face check replaces it by one at level `full`, logout destroys it).

use axum::http::{header, HeaderMap, HeaderValue};
use rand::RngCore;

use crate::config::{Config, SessionConfig};
use crate::error::ApiError;
use crate::storage::sessions::{Factor, SessionRow};
use crate::storage::Db;

/// Cookie name over plain http.
pub const COOKIE_NAME: &str = "facegate_session";
/// Cookie name when the public URL is https (the prefix makes browsers demand Secure, Path=/
/// and no Domain).
pub const SECURE_COOKIE_NAME: &str = "__Host-facegate_session";
/// `last_seen_at` is written at most this often per session, to spare the database.
const TOUCH_EVERY_MS: i64 = 10_000;

// What the sessions table stores is storage's type; issuing and checking sessions is here.
pub use crate::storage::sessions::{Level, SessionHash};

/// A session id as handed to the client. `Debug` never prints it.
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

impl SessionToken {
    /// 256 random bits, hex encoded.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    pub fn hash(&self) -> SessionHash {
        SessionHash::of(&self.0)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The session cookie's name under this configuration.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

fn cookie_attributes(config: &Config) -> &'static str {
    if config.is_https() {
        "Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "Path=/; HttpOnly; SameSite=Lax"
    }
}

/// `Set-Cookie` value that installs `token`.
pub fn set_cookie(config: &Config, token: &SessionToken) -> HeaderValue {
    let value = format!(
        "{}={}; {}",
        cookie_name(config),
        token.0,
        cookie_attributes(config)
    );
    HeaderValue::from_str(&value).expect("hex token and fixed attributes are valid header text")
}

/// `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(config: &Config) -> HeaderValue {
    let value = format!(
        "{}=; Max-Age=0; {}",
        cookie_name(config),
        cookie_attributes(config)
    );
    HeaderValue::from_str(&value).expect("fixed cookie text is a valid header")
}

/// The session cookie's value, if the request carries one.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether a session has timed out at `now`: a password-level session `password_level_ttl`
/// after the login; a full one after `idle_timeout` without requests or `absolute_timeout`
/// after the login.
pub fn is_expired(row: &SessionRow, rules: &SessionConfig, now: i64) -> bool {
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let age = now - row.created_at;
    match row.level {
        Level::Password => age >= secs(rules.password_level_ttl_secs),
        Level::Full => {
            age >= secs(rules.absolute_timeout_secs)
                || now - row.last_seen_at >= secs(rules.idle_timeout_secs)
        }
    }
}

/// Whether a session whose sign-in started at `created_at` may still make sensitive changes at
/// `now` (re-enrol the face, delete the account).
///
/// `created_at` is the password step; the face check that raised the session to `full` came
/// after it (within the password-level lifetime), so both factors are at most this old.
pub fn sign_in_is_recent(created_at: i64, rules: &SessionConfig, now: i64) -> bool {
    let window = i64::try_from(rules.reauth_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    now - created_at < window
}

/// A live session at any level. Rejects with 401 `unauthenticated`.
#[derive(Debug, Clone)]
pub struct AnySession {
    pub user_id: i64,
    pub level: Level,
    /// When the login (password step) happened, unix ms.
    pub created_at: i64,
    /// The stored hash of the session id; never serialised.
    pub id_hash: SessionHash,
    pub first_factor: Factor,
    pub second_factor: Option<Factor>,
}

/// A session at level `full` (two factors). Rejects with 401 `unauthenticated` or 403
/// `face_required`.
#[derive(Debug, Clone)]
pub struct FullSession {
    pub user_id: i64,
    pub created_at: i64,
    pub id_hash: SessionHash,
    pub first_factor: Factor,
}

impl AnySession {
    /// The live session whose id the request's cookie carries; an expired one is deleted. A
    /// session in use is marked seen at most every [`TOUCH_EVERY_MS`].
    pub async fn of_request(
        db: &Db,
        config: &Config,
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        let token = read_cookie(headers, cookie_name(config)).ok_or(ApiError::Unauthenticated)?;
        let hash = SessionHash::of(&token);
        let row = db.session(&hash).await?.ok_or(ApiError::Unauthenticated)?;
        let now = super::now_ms();
        if is_expired(&row, &config.sessions, now) {
            db.delete_session(&hash).await?;
            return Err(ApiError::Unauthenticated);
        }
        if now - row.last_seen_at >= TOUCH_EVERY_MS {
            db.touch_session(&hash, now).await?;
        }
        Ok(Self {
            user_id: row.user_id,
            level: row.level,
            created_at: row.created_at,
            id_hash: hash,
            first_factor: row.first_factor,
            second_factor: row.second_factor,
        })
    }
}

impl FullSession {
    /// Refuses with 403 `reauth_required` unless the sign-in is within `reauth_window_secs`.
    pub fn require_recent_sign_in(&self, rules: &SessionConfig, now: i64) -> Result<(), ApiError> {
        if sign_in_is_recent(self.created_at, rules, now) {
            Ok(())
        } else {
            Err(ApiError::ReauthRequired)
        }
    }
}

impl TryFrom<AnySession> for FullSession {
    type Error = ApiError;

    /// 403 `face_required` unless the session has both factors.
    fn try_from(any: AnySession) -> Result<Self, ApiError> {
        if any.level != Level::Full {
            return Err(ApiError::FaceRequired);
        }
        Ok(Self {
            user_id: any.user_id,
            created_at: any.created_at,
            id_hash: any.id_hash,
            first_factor: any.first_factor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn row(level: Level, created_at: i64, last_seen_at: i64) -> SessionRow {
        SessionRow {
            id_hash: SessionHash::of("x"),
            user_id: 1,
            level,
            created_at,
            last_seen_at,
            first_factor: Factor::Password,
            second_factor: None,
        }
    }

    #[test]
    fn password_level_session_expires_after_five_minutes() {
        let rules = SessionConfig::default();
        let r = row(Level::Password, T0, T0 + 299_000);
        assert!(!is_expired(&r, &rules, T0 + 299_999));
        assert!(is_expired(&r, &rules, T0 + 300_000));
    }

    #[test]
    fn full_session_expires_after_thirty_idle_minutes_or_twelve_hours() {
        let rules = SessionConfig::default();
        let r = row(Level::Full, T0, T0);
        assert!(!is_expired(&r, &rules, T0 + 29 * 60_000));
        assert!(is_expired(&r, &rules, T0 + 30 * 60_000));
        let busy = row(Level::Full, T0, T0 + 12 * 3_600_000 - 1000);
        assert!(is_expired(&busy, &rules, T0 + 12 * 3_600_000));
    }

    #[test]
    fn sensitive_changes_need_a_sign_in_younger_than_ten_minutes() {
        let rules = SessionConfig::default();
        assert!(sign_in_is_recent(T0, &rules, T0));
        assert!(sign_in_is_recent(T0, &rules, T0 + 599_999));
        assert!(!sign_in_is_recent(T0, &rules, T0 + 600_000));
        assert!(!sign_in_is_recent(T0, &rules, T0 + 12 * 3_600_000));
        let strict = SessionConfig {
            reauth_window_secs: 0,
            ..rules.clone()
        };
        assert!(!sign_in_is_recent(T0, &strict, T0));
        let huge = SessionConfig {
            reauth_window_secs: u64::MAX,
            ..rules
        };
        assert!(sign_in_is_recent(T0, &huge, i64::MAX));
    }

    #[test]
    fn an_old_full_session_is_refused_with_reauth_required() {
        let rules = SessionConfig::default();
        let session = FullSession {
            user_id: 1,
            created_at: T0,
            id_hash: SessionHash::of("x"),
            first_factor: Factor::Password,
        };
        assert!(session.require_recent_sign_in(&rules, T0 + 60_000).is_ok());
        let err = session
            .require_recent_sign_in(&rules, T0 + 601_000)
            .expect_err("stale");
        assert_eq!(err.code(), "reauth_required");
        assert_eq!(err.status(), axum::http::StatusCode::FORBIDDEN);
    }

    #[test]
    fn tokens_are_256_bit_and_stored_only_as_their_hash() {
        let t = SessionToken::generate();
        assert_eq!(t.expose().len(), 64);
        assert_ne!(t.hash().as_str(), t.expose());
        assert_ne!(SessionToken::generate().expose(), t.expose());
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn cookie_is_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; facegate_session=abc; b=2"),
        );
        assert_eq!(read_cookie(&h, COOKIE_NAME).as_deref(), Some("abc"));
        assert_eq!(read_cookie(&h, SECURE_COOKIE_NAME), None);
    }

    #[test]
    fn https_cookie_is_secure_and_host_prefixed() {
        let config = Config {
            public_url: Some("https://chat.example.org".into()),
            ..Config::default()
        };
        let v = set_cookie(&config, &SessionToken::generate());
        let v = v.to_str().expect("ascii");
        assert!(v.starts_with("__Host-facegate_session="));
        assert!(
            v.contains("Secure")
                && v.contains("HttpOnly")
                && v.contains("SameSite=Lax")
                && v.contains("Path=/")
        );
    }
}
