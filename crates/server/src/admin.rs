//! Operator tasks run from the command line (`facegate admin ...`) against the database
//! directly; they work whether or not the server is running (SQLite in WAL mode allows both).

use crate::auth::lockout::Counters;
use crate::bus::{Bus, BusError, EntryKind};
use crate::config::Config;
use crate::storage::audit::{AuditKind, NewAuditEvent, OPERATOR_IP};
use crate::storage::users::User;
use crate::storage::Db;

/// Why an admin task failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("no account with username or email {0:?}")]
    NoSuchAccount(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

async fn account(db: &Db, login: &str) -> Result<User, AdminError> {
    db.find_login(login)
        .await?
        .map(|(user, _)| user)
        .ok_or_else(|| AdminError::NoSuchAccount(login.to_string()))
}

async fn record(db: &Db, user_id: i64, kind: AuditKind, now_ms: i64) -> Result<(), AdminError> {
    db.record_event(&NewAuditEvent {
        user_id: Some(user_id),
        kind,
        at: now_ms,
        ip: OPERATOR_IP,
        user_agent: None,
        detail: None,
    })
    .await?;
    Ok(())
}

/// The newest `limit` reported messages, newest first (`facegate admin reports`).
pub async fn reports(
    db: &Db,
    limit: u32,
) -> Result<Vec<crate::storage::safety::ReportRow>, AdminError> {
    Ok(crate::storage::safety::reports(db, limit).await?)
}

/// A unix-millisecond time as RFC 3339 in UTC (`2026-12-04T18:09:42Z`), for the admin listings.
pub fn utc(ms: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Every account, oldest first.
pub async fn users(db: &Db) -> Result<Vec<User>, AdminError> {
    let mut all = Vec::new();
    loop {
        let page = db.list_users(500, all.len() as i64).await?;
        let done = page.len() < 500;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Clears the password and face lockout counters, which also re-enables a face factor that was
/// disabled after too many failures. Returns the account and the counters it had.
pub async fn unlock(db: &Db, login: &str, now_ms: i64) -> Result<(User, Counters), AdminError> {
    let user = account(db, login).await?;
    let (before, ()) = db
        .update_counters(user.id, |c| *c = Counters::default())
        .await?;
    record(db, user.id, AuditKind::AdminUnlocked, now_ms).await?;
    Ok((user, before))
}

/// Ends every session of the account (a running server's open sockets close at their next
/// session check). Returns the account and how many sessions ended.
/// Closes the account's open chat sockets on every running node at once, when the nodes share a
/// bus (`bus_url`); returns false without one (then a running server closes them at its next
/// periodic session check).
pub async fn close_sockets_everywhere(config: &Config, user_id: i64) -> Result<bool, BusError> {
    let Some(url) = &config.bus_url else {
        return Ok(false);
    };
    let bus = Bus::connect(url, &config.bus_prefix).await?;
    let keep = crate::chat::HubConfig::default().ring_capacity;
    bus.append(EntryKind::EndUser, &[], &user_id.to_string(), keep)
        .await?;
    Ok(true)
}

pub async fn sign_out(db: &Db, login: &str, now_ms: i64) -> Result<(User, u64), AdminError> {
    let user = account(db, login).await?;
    let ended = db.delete_user_sessions(user.id).await?;
    record(db, user.id, AuditKind::AdminSignedOut, now_ms).await?;
    Ok((user, ended))
}

/// Deletes the account with its face templates, sessions, messages and every other row of it.
pub async fn delete_account(db: &Db, login: &str) -> Result<User, AdminError> {
    let user = account(db, login).await?;
    db.delete_user(user.id).await?;
    Ok(user)
}

/// The personal data export of an account (`facegate admin export-user`), the same document
/// as `GET /api/me/export`.
pub async fn export_user(
    db: &Db,
    login: &str,
    now_ms: i64,
) -> Result<crate::transfer::export::PersonalExport, AdminError> {
    use crate::transfer::export::{personal_export, ExportError};
    let user = account(db, login).await?;
    personal_export(db, user.id, now_ms)
        .await
        .map_err(|e| match e {
            ExportError::NoSuchAccount(_) => AdminError::NoSuchAccount(login.to_string()),
            ExportError::Db(e) => AdminError::Db(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::PasswordHashString;
    use crate::storage::users::NewUser;

    async fn db_with_user() -> (tempfile::TempDir, Db, User) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(&dir.path().join("t.db")).await.expect("open");
        let user = db
            .insert_user(&NewUser {
                username: "Ada".into(),
                email: "ada@example.org".into(),
                full_name: "Ada L".into(),
                password_hash: PasswordHashString("$argon2id$placeholder".into()),
                consent_at: 1,
                created_at: 1,
            })
            .await
            .expect("insert");
        (dir, db, user)
    }

    #[tokio::test]
    async fn unlock_clears_face_and_password_counters_and_is_audited() {
        let (_dir, db, user) = db_with_user().await;
        db.update_counters(user.id, |c| {
            c.face_consecutive = 50;
            c.face_last_failure_at = Some(10);
            c.password.consecutive = 12;
        })
        .await
        .expect("lock");
        let (found, before) = unlock(&db, "ADA@example.org", 99).await.expect("unlock");
        assert_eq!(found.id, user.id);
        assert_eq!(before.face_consecutive, 50);
        assert_eq!(
            db.counters(user.id).await.expect("counters"),
            Counters::default()
        );
        let events = db.events(user.id, 10).await.expect("events");
        assert!(
            events
                .iter()
                .any(|e| e.kind == "admin_unlocked" && e.at == 99),
            "{events:?}"
        );
    }

    #[tokio::test]
    async fn unknown_account_is_an_error_naming_it() {
        let (_dir, db, _) = db_with_user().await;
        let err = unlock(&db, "nobody", 1).await.expect_err("must fail");
        assert!(err.to_string().contains("\"nobody\""), "{err}");
    }

    #[tokio::test]
    async fn delete_account_leaves_no_user_and_list_shows_the_rest() {
        let (_dir, db, user) = db_with_user().await;
        assert_eq!(users(&db).await.expect("list").len(), 1);
        delete_account(&db, "ada").await.expect("delete");
        assert!(db.user(user.id).await.expect("query").is_none());
        assert!(users(&db).await.expect("list").is_empty());
    }
}
