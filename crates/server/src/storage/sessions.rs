//! Sessions (found by the SHA-256 of their id) and the face challenges bound to them.

use sqlx::Row;

use super::Db;
use crate::auth::session::{Level, SessionHash};

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: SessionHash,
    pub user_id: i64,
    pub level: Level,
    pub created_at: i64,
    pub last_seen_at: i64,
}

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
}

impl Db {
    pub async fn insert_session(&self, s: &NewSession<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, level, created_at, last_seen_at, ip, user_agent)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id_hash.as_str())
        .bind(s.user_id)
        .bind(s.level.as_str())
        .bind(s.created_at)
        .bind(s.now)
        .bind(s.ip)
        .bind(s.user_agent)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &SessionHash) -> Result<Option<SessionRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT user_id, level, created_at, last_seen_at FROM sessions WHERE id_hash = ?",
        )
        .bind(id_hash.as_str())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let level: String = r.try_get("level")?;
        Ok(Some(SessionRow {
            id_hash: id_hash.clone(),
            user_id: r.try_get("user_id")?,
            level: if level == "full" {
                Level::Full
            } else {
                Level::Password
            },
            created_at: r.try_get("created_at")?,
            last_seen_at: r.try_get("last_seen_at")?,
        }))
    }

    pub async fn touch_session(&self, id_hash: &SessionHash, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?")
            .bind(now)
            .bind(id_hash.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes one session; `true` when it existed.
    pub async fn delete_session(&self, id_hash: &SessionHash) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
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
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(old.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, level, created_at, last_seen_at, ip, user_agent)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id_hash.as_str())
        .bind(new.user_id)
        .bind(new.level.as_str())
        .bind(new.created_at)
        .bind(new.now)
        .bind(new.ip)
        .bind(new.user_agent)
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
            "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?
                OR (level = 'password' AND created_at < ?)",
        )
        .bind(idle_before)
        .bind(started_before)
        .bind(pw_started_before)
        .execute(self.pool())
        .await?;
        sqlx::query("DELETE FROM face_challenges WHERE expires_at <= ?")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM live_enrolments WHERE expires_at <= ?")
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
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM face_challenges WHERE session_hash = ?")
            .bind(session.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO face_challenges (nonce_hash, session_hash, user_id, expires_at) VALUES (?, ?, ?, ?)")
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
            "DELETE FROM face_challenges WHERE nonce_hash = ? AND session_hash = ? RETURNING expires_at",
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
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
