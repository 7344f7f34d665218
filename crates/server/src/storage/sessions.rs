//! Sessions (found by the SHA-256 of their id) and the face challenges bound to them.

use sqlx::Row;

use super::Db;
use sha2::{Digest, Sha256};

/// The authentication level of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Password checked, face pending.
    Password,
    /// Password and face checked.
    Full,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Full => "full",
        }
    }
}

/// SHA-256 of a session id, hex encoded: the only form the server stores.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionHash(String);

impl std::fmt::Debug for SessionHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionHash([redacted])")
    }
}

impl SessionHash {
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// A hash read back from the database.
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An authentication factor a session can prove.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Password,
    Passkey,
    Face,
    /// A code from an authenticator app (TOTP).
    Totp,
    RecoveryCode,
    /// A password-reset link from the account's (verified) email.
    EmailLink,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Passkey => "passkey",
            Self::Face => "face",
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::EmailLink => "email_link",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Password,
            Self::Passkey,
            Self::Face,
            Self::Totp,
            Self::RecoveryCode,
            Self::EmailLink,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: SessionHash,
    pub user_id: i64,
    pub level: Level,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The first step: the password, a passkey or a recovery code.
    pub first_factor: Factor,
    /// The second step, at level full.
    pub second_factor: Option<Factor>,
}

/// A session as listed to its owner (`GET /api/me/sessions`).
#[derive(Debug, Clone)]
pub struct SessionListing {
    pub row: SessionRow,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn factor_column(v: Option<String>) -> Option<Factor> {
    v.as_deref().and_then(Factor::parse)
}

fn session_from_row(r: &super::DbRow) -> Result<SessionRow, sqlx::Error> {
    let level: String = r.try_get("level")?;
    Ok(SessionRow {
        id_hash: SessionHash::from_stored(r.try_get("id_hash")?),
        user_id: r.try_get("user_id")?,
        level: if level == "full" {
            Level::Full
        } else {
            Level::Password
        },
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        first_factor: factor_column(r.try_get("first_factor")?).unwrap_or(Factor::Password),
        second_factor: factor_column(r.try_get("second_factor")?),
    })
}

const SESSION_COLUMNS: &str =
    "id_hash, user_id, level, created_at, last_seen_at, first_factor, second_factor";

/// Where a new session comes from.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a SessionHash,
    pub user_id: i64,
    pub level: Level,
    pub created_at: i64,
    pub now: i64,
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub first_factor: Factor,
    pub second_factor: Option<Factor>,
}

const INSERT_SESSION: &str = "INSERT INTO sessions (id_hash, user_id, level, created_at,
    last_seen_at, ip, user_agent, first_factor, second_factor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

fn bind_new_session<'q>(q: super::AnyQuery<'q>, s: &NewSession<'q>) -> super::AnyQuery<'q> {
    q.bind(s.id_hash.as_str().to_owned())
        .bind(s.user_id)
        .bind(s.level.as_str())
        .bind(s.created_at)
        .bind(s.now)
        .bind(s.ip)
        .bind(s.user_agent)
        .bind(s.first_factor.as_str())
        .bind(s.second_factor.map(Factor::as_str))
}

impl Db {
    pub async fn insert_session(&self, s: &NewSession<'_>) -> Result<(), sqlx::Error> {
        bind_new_session(sqlx::query(INSERT_SESSION), s)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &SessionHash) -> Result<Option<SessionRow>, sqlx::Error> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id_hash = $1");
        let row = sqlx::query(&sql)
            .bind(id_hash.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// The account's sessions, most recently used first.
    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionListing>, sqlx::Error> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, ip, user_agent FROM sessions WHERE user_id = $1
             ORDER BY last_seen_at DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionListing {
                    row: session_from_row(r)?,
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Ends every session of the account but `keep`; returns the ended ones.
    pub async fn delete_other_sessions(
        &self,
        user_id: i64,
        keep: &SessionHash,
    ) -> Result<Vec<SessionHash>, sqlx::Error> {
        let hashes: Vec<String> = sqlx::query_scalar(
            "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2 RETURNING id_hash",
        )
        .bind(user_id)
        .bind(keep.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(hashes.into_iter().map(SessionHash::from_stored).collect())
    }

    pub async fn touch_session(&self, id_hash: &SessionHash, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes one session; `true` when it existed.
    pub async fn delete_session(&self, id_hash: &SessionHash) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces `old` by the new session `new` atomically: the old id stops working at once.
    pub async fn replace_session(
        &self,
        old: &SessionHash,
        new: &NewSession<'_>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(old.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        bind_new_session(sqlx::query(INSERT_SESSION), new)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes sessions idle since before `idle_before` or started before `started_before`,
    /// and expired challenges.
    pub async fn prune_sessions(
        &self,
        now: i64,
        idle_before: i64,
        started_before: i64,
        pw_started_before: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2
                OR (level = 'password' AND created_at < $3)",
        )
        .bind(idle_before)
        .bind(started_before)
        .bind(pw_started_before)
        .execute(self.pool())
        .await?;
        sqlx::query("DELETE FROM face_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM live_enrolments WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Stores a challenge for the session, replacing any earlier one of that session.
    pub async fn insert_challenge(
        &self,
        nonce_hash: &str,
        session: &SessionHash,
        user_id: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM face_challenges WHERE session_hash = $1")
            .bind(session.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO face_challenges (nonce_hash, session_hash, user_id, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(nonce_hash)
            .bind(session.as_str())
            .bind(user_id)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Consumes the challenge: `true` only for the first use, by its own session, before expiry.
    /// A challenge presented by another session is left alone (it stays the owner's).
    pub async fn take_challenge(
        &self,
        nonce_hash: &str,
        session: &SessionHash,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "DELETE FROM face_challenges WHERE nonce_hash = $1 AND session_hash = $2 RETURNING expires_at",
        )
        .bind(nonce_hash)
        .bind(session.as_str())
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(now < r.try_get::<i64, _>("expires_at")?),
            None => Ok(false),
        }
    }
}

impl Db {
    /// Ends every session of the user (signs it out everywhere); returns how many there were.
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
