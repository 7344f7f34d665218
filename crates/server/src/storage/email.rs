//! Email links (address verification, password reset), found by the SHA-256 of their token.

use sqlx::Row;

use super::Db;

/// What an email link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    Verify,
    Reset,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
        }
    }
}

impl Db {
    /// Stores a link for `email`, replacing the account's earlier links of the same purpose (only
    /// the newest one works).
    pub async fn insert_email_link(
        &self,
        token_hash: &str,
        user_id: i64,
        purpose: LinkPurpose,
        email: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
            .bind(user_id)
            .bind(purpose.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(email)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Consumes a link: its account, once, before expiry, and only while the account's email is
    /// still the address the link was sent to.
    pub async fn take_email_link(
        &self,
        token_hash: &str,
        purpose: LinkPurpose,
        now: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2
             RETURNING user_id, email, expires_at",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        if r.try_get::<i64, _>("expires_at")? <= now {
            return Ok(None);
        }
        let user_id: i64 = r.try_get("user_id")?;
        let sent_to: String = r.try_get("email")?;
        let current: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok((current.as_deref() == Some(sent_to.as_str())).then_some(user_id))
    }

    pub async fn mark_email_verified(&self, user_id: i64, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The account's email and whether it is verified.
    pub async fn email_of(&self, user_id: i64) -> Result<Option<(String, bool)>, sqlx::Error> {
        let row = sqlx::query("SELECT email, email_verified_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok((
                r.try_get("email")?,
                r.try_get::<Option<i64>, _>("email_verified_at")?.is_some(),
            ))
        })
        .transpose()
    }

    /// Whether the account has completed a sign-in before from this browser (user agent).
    pub async fn signed_in_before_with(
        &self,
        user_id: i64,
        user_agent: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let seen: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM audit_events WHERE user_id = $1 AND user_agent IS NOT DISTINCT FROM $2
               AND kind IN ('face_succeeded', 'second_factor_succeeded') LIMIT 1",
        )
        .bind(user_id)
        .bind(user_agent)
        .fetch_optional(self.pool())
        .await?;
        Ok(seen.is_some())
    }
}
