//! The factors beyond the password and the face: authenticator-app secrets (sealed), recovery
//! codes (hashed), passkeys, and the WebAuthn ceremonies between their start and finish.

use sqlx::Row;

use super::Db;

/// An account's authenticator-app enrolment.
pub struct TotpRow {
    /// `nonce || ciphertext` of the secret (see `crypto::TemplateCipher::seal_totp_secret`).
    pub sealed: Vec<u8>,
    pub confirmed: bool,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("sealed", &"[redacted]")
            .field("confirmed", &self.confirmed)
            .finish()
    }
}

/// A passkey as listed to its owner, with the relying party's record of it.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// webauthn-rs's `Passkey`, as JSON (public key and signature counter: nothing secret).
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a WebAuthn ceremony is for; stored with its state so one cannot finish as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey to a signed-in account.
    Register,
    /// A passkey as the first step, in place of the password.
    SignIn,
    /// A passkey as the second step after the password.
    SecondFactor,
}

impl CeremonyPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
        }
    }
}

fn passkey_from_row(r: &super::DbRow) -> Result<PasskeyRow, sqlx::Error> {
    Ok(PasskeyRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        credential: r.try_get("credential")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

impl Db {
    /// Starts (or restarts) an authenticator-app enrolment. `false`, and nothing written, when
    /// the account already has a confirmed one: it must be removed first, so a stolen session
    /// cannot silently swap the user's authenticator.
    pub async fn begin_totp(
        &self,
        user_id: i64,
        sealed: &[u8],
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO totp_secrets (user_id, sealed, confirmed_at, last_step, created_at)
             VALUES ($1, $2, NULL, NULL, $3)
             ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed,
                 created_at = excluded.created_at, last_step = NULL
             WHERE totp_secrets.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn totp(&self, user_id: i64) -> Result<Option<TotpRow>, sqlx::Error> {
        let row = sqlx::query("SELECT sealed, confirmed_at FROM totp_secrets WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(TotpRow {
                sealed: r.try_get("sealed")?,
                confirmed: r.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
            })
        })
        .transpose()
    }

    /// Records that the code of `step` was used, confirming the enrolment if it was pending.
    /// `false` when a code of this step or a later one was already accepted (a replay) or the
    /// enrolment is gone; atomic, so two requests with one code cannot both pass.
    pub async fn use_totp_step(
        &self,
        user_id: i64,
        step: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE totp_secrets SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2)
             WHERE user_id = $3 AND (last_step IS NULL OR last_step < $4)",
        )
        .bind(step)
        .bind(now)
        .bind(user_id)
        .bind(step)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the authenticator app; `true` when there was one.
    pub async fn delete_totp(&self, user_id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the whole set of recovery codes (hashes) of the account, atomically.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        hashes: &[String],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Uses one recovery code: `Some(codes left)` when it was the account's and unused.
    pub async fn use_recovery_code(
        &self,
        user_id: i64,
        hash: &str,
        now: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(self.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        Ok(Some(self.recovery_codes_left(user_id).await?))
    }

    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await
    }

    /// The account's WebAuthn user handle, created on first use. Random, so the handle an
    /// authenticator stores tells nothing about the account.
    pub async fn webauthn_handle(&self, user_id: i64, fresh: &str) -> Result<String, sqlx::Error> {
        sqlx::query(
            "UPDATE users SET webauthn_handle = $1 WHERE id = $2 AND webauthn_handle IS NULL",
        )
        .bind(fresh)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        sqlx::query_scalar("SELECT webauthn_handle FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await
    }

    /// The account whose WebAuthn user handle this is.
    pub async fn user_by_webauthn_handle(&self, handle: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT id FROM users WHERE webauthn_handle = $1")
            .bind(handle)
            .fetch_optional(self.pool())
            .await
    }

    pub async fn passkeys(&self, user_id: i64) -> Result<Vec<PasskeyRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, credential, created_at, last_used_at FROM passkeys
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(passkey_from_row).collect()
    }

    pub async fn passkey_count(&self, user_id: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await
    }

    /// Stores a new passkey; `None` when its credential id is already registered (to anyone).
    pub async fn insert_passkey(
        &self,
        user_id: i64,
        credential_id: &str,
        name: &str,
        credential: &str,
        now: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let id = sqlx::query_scalar(
            "INSERT INTO passkeys (user_id, credential_id, name, credential, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING RETURNING id",
        )
        .bind(user_id)
        .bind(credential_id)
        .bind(name)
        .bind(credential)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(id)
    }

    /// Saves the updated record (signature counter) after a sign-in with the passkey.
    pub async fn passkey_used(
        &self,
        id: i64,
        credential: Option<&str>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE passkeys SET last_used_at = $1, credential = COALESCE($2, credential) WHERE id = $3",
        )
        .bind(now)
        .bind(credential)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Renames one of the account's passkeys; `false` when it has no such passkey.
    pub async fn rename_passkey(
        &self,
        user_id: i64,
        id: i64,
        name: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes one of the account's passkeys; `false` when it has no such passkey.
    pub async fn delete_passkey(&self, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the state of a WebAuthn ceremony until its finish.
    pub async fn insert_ceremony(
        &self,
        id_hash: &str,
        purpose: CeremonyPurpose,
        user_id: Option<i64>,
        state: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id_hash, purpose, user_id, state, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(purpose.as_str())
        .bind(user_id)
        .bind(state)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Consumes a ceremony: its account and state, once, before expiry, for that purpose.
    pub async fn take_ceremony(
        &self,
        id_hash: &str,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> Result<Option<(Option<i64>, String)>, sqlx::Error> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 AND purpose = $2
             RETURNING user_id, state, expires_at",
        )
        .bind(id_hash)
        .bind(purpose.as_str())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        if r.try_get::<i64, _>("expires_at")? <= now {
            return Ok(None);
        }
        Ok(Some((r.try_get("user_id")?, r.try_get("state")?)))
    }
}
