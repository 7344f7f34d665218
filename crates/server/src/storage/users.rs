//! Users.

use sqlx::Row;

use super::Db;

/// A stored argon2id PHC string. `Debug` never prints it.
#[derive(Clone)]
pub struct PasswordHashString(pub String);

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString([redacted])")
    }
}

/// A user as the API shows it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub full_name: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// The fields of a new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password_hash: PasswordHashString,
    pub consent_at: i64,
    pub created_at: i64,
}

/// Why an insert failed.
#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn user_from_row(row: &super::DbRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A login (username or email) as it is looked up: trimmed and case-folded.
pub fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

impl Db {
    /// Inserts the user and its zeroed brute-force counters in one transaction.
    pub async fn insert_user(&self, new: &NewUser) -> Result<User, InsertUserError> {
        let mut tx = self.begin_write().await?;
        let user = insert_user_in(&mut tx, new).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The user and its password hash by username (any case) or email.
    pub async fn find_login(
        &self,
        login: &str,
    ) -> Result<Option<(User, PasswordHashString)>, sqlx::Error> {
        let key = login_key(login);
        let row = sqlx::query(
            "SELECT id, username, email, full_name, created_at, password_hash FROM users
             WHERE username_key = $1 OR email = $2",
        )
        .bind(&key)
        .bind(&key)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok((
                user_from_row(&r)?,
                PasswordHashString(r.try_get("password_hash")?),
            ))
        })
        .transpose()
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        sqlx::query("SELECT id, username, email, full_name, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| user_from_row(&r))
            .transpose()
    }

    pub async fn password_hash(&self, id: i64) -> Result<Option<PasswordHashString>, sqlx::Error> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("password_hash").map(PasswordHashString))
            .transpose()
    }

    /// Replaces the stored password hash (a password change, or an imported bcrypt hash upgraded
    /// at sign-in).
    pub async fn set_password_hash(
        &self,
        id: i64,
        hash: &PasswordHashString,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(&hash.0)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes the user; every row that references it goes with it (ON DELETE CASCADE).
    pub async fn delete_user(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every account, oldest first, for operators (`facegate admin users`).
    pub async fn list_users(&self, limit: i64, offset: i64) -> Result<Vec<User>, sqlx::Error> {
        sqlx::query(
            "SELECT id, username, email, full_name, created_at FROM users
             ORDER BY id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    /// Changes the email (already normalised); `Taken` when another account has it.
    pub async fn set_email(&self, id: i64, email: &str) -> Result<(), InsertUserError> {
        // A new address is unverified until its own link is followed.
        sqlx::query("UPDATE users SET email = $1, email_verified_at = NULL WHERE id = $2")
            .bind(email)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    InsertUserError::Taken("email")
                }
                _ => InsertUserError::Db(e),
            })?;
        Ok(())
    }
}

/// The user and its zeroed brute-force counters, inside the caller's transaction (an import
/// adds the template and the audit event to the same one).
pub(crate) async fn insert_user_in(
    tx: &mut sqlx::AnyConnection,
    new: &NewUser,
) -> Result<User, InsertUserError> {
    let taken = sqlx::query(
        // An integer, not a boolean: the two backends type a comparison differently.
        "SELECT CASE WHEN username_key = $1 THEN 1 ELSE 0 END AS by_name \
         FROM users WHERE username_key = $2 OR email = $3",
    )
    .bind(new.username.to_lowercase())
    .bind(new.username.to_lowercase())
    .bind(&new.email)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = taken {
        let by_name = row.try_get::<i64, _>("by_name")? != 0;
        return Err(InsertUserError::Taken(if by_name {
            "username"
        } else {
            "email"
        }));
    }
    let row = sqlx::query(
            "INSERT INTO users (username, username_key, email, full_name, password_hash, consent_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, username, email, full_name, created_at",
        )
        .bind(&new.username)
        .bind(new.username.to_lowercase())
        .bind(&new.email)
        .bind(&new.full_name)
        .bind(&new.password_hash.0)
        .bind(new.consent_at)
        .bind(new.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => InsertUserError::Taken("username or email"),
            _ => InsertUserError::Db(e),
        })?;
    let user = user_from_row(&row)?;
    sqlx::query("INSERT INTO auth_counters (user_id) VALUES ($1)")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    Ok(user)
}
