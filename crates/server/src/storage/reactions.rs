//! SQL of message reactions: who reacted to which message with which emoji.
//!
//! The rules (which emoji, how many per message, members only) live in `crate::chat::domain`;
//! these functions assume the caller checked them.

use super::chat::WRITE_LOCK;
use super::Db;

/// One reaction: a message, a person and an emoji, in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReactionRow {
    pub message_id: i64,
    pub user_id: i64,
    pub emoji: String,
}

/// Adds `user_id`'s `emoji` to a message; false when it was already there.
pub async fn add(
    db: &Db,
    message_id: i64,
    user_id: i64,
    emoji: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    // Portable "insert unless present": the primary key makes a second insert a no-op.
    let done = sqlx::query(
        "INSERT INTO chat_reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (message_id, user_id, emoji) DO NOTHING",
    )
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes `user_id`'s `emoji` from a message; false when it was not there.
pub async fn remove(
    db: &Db,
    message_id: i64,
    user_id: i64,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let done = sqlx::query(
        "DELETE FROM chat_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
    )
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The distinct emoji on a message.
pub async fn distinct_emoji(db: &Db, message_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT emoji FROM chat_reactions WHERE message_id = $1")
        .bind(message_id)
        .fetch_all(db.pool())
        .await
}

/// Every reaction to the messages of `channel_id` with ids in `first..=last`, oldest first.
pub async fn in_range(
    db: &Db,
    channel_id: i64,
    first: i64,
    last: i64,
) -> Result<Vec<ReactionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.message_id, r.user_id, r.emoji FROM chat_reactions r \
         JOIN chat_messages m ON m.id = r.message_id \
         WHERE m.channel_id = $1 AND m.id BETWEEN $2 AND $3 ORDER BY r.created_at, r.user_id",
    )
    .bind(channel_id)
    .bind(first)
    .bind(last)
    .fetch_all(db.pool())
    .await
}
