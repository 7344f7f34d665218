//! SQL of blocks (who blocked whom) and message reports (for the operators).
//!
//! The rules (who may block or report what) live in `crate::chat::safety`; these functions
//! assume the caller checked them.

use sqlx::FromRow;

use super::chat::{UserSummary, WRITE_LOCK};
use super::Db;

/// Blocks `blocked` for `blocker`; false when it already was.
pub async fn block(db: &Db, blocker: i64, blocked: i64, now: i64) -> Result<bool, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let done = sqlx::query(
        "INSERT INTO chat_blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
    )
    .bind(blocker)
    .bind(blocked)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Lifts a block; false when there was none.
pub async fn unblock(db: &Db, blocker: i64, blocked: i64) -> Result<bool, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let done = sqlx::query("DELETE FROM chat_blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The people `blocker` blocked, by username.
pub async fn blocked_by(db: &Db, blocker: i64) -> Result<Vec<UserSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.full_name FROM chat_blocks b JOIN users u ON u.id = b.blocked_id \
         WHERE b.blocker_id = $1 ORDER BY u.username_key",
    )
    .bind(blocker)
    .fetch_all(db.pool())
    .await
}

/// Whether `blocker` blocked `blocked`.
pub async fn is_blocked(db: &Db, blocker: i64, blocked: i64) -> Result<bool, sqlx::Error> {
    let hit: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM chat_blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker)
            .bind(blocked)
            .fetch_optional(db.pool())
            .await?;
    Ok(hit.is_some())
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport<'a> {
    pub reporter_id: i64,
    pub message_id: i64,
    pub channel_id: i64,
    pub author_id: i64,
    pub author_name: &'a str,
    pub text: &'a str,
    pub reason: &'a str,
}

/// Stores a report; `None` when this person already reported this message.
pub async fn report(db: &Db, new: &NewReport<'_>, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    sqlx::query_scalar(
        "INSERT INTO chat_reports (reporter_id, message_id, channel_id, author_id, author_name, \
           text, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (reporter_id, message_id) DO NOTHING RETURNING id",
    )
    .bind(new.reporter_id)
    .bind(new.message_id)
    .bind(new.channel_id)
    .bind(new.author_id)
    .bind(new.author_name)
    .bind(new.text)
    .bind(new.reason)
    .bind(now)
    .fetch_optional(db.pool())
    .await
}

/// One report as operators read it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReportRow {
    pub id: i64,
    pub created_at: i64,
    /// The reporter's username (deleting an account deletes its reports).
    pub reporter: String,
    pub channel_id: i64,
    pub message_id: i64,
    pub author_id: i64,
    pub author_name: String,
    pub text: String,
    pub reason: String,
}

/// The newest `limit` reports.
pub async fn reports(db: &Db, limit: u32) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.created_at, u.username AS reporter, r.channel_id, r.message_id, \
           r.author_id, r.author_name, r.text, r.reason \
         FROM chat_reports r JOIN users u ON u.id = r.reporter_id ORDER BY r.id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await
}
