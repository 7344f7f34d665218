//! SQL of message search: the FTS5 index of migration 0008, read with membership in the query
//! itself, so a message of a channel the caller is not in is never even a candidate.

use sqlx::FromRow;

use super::Db;

/// One message that matched, with its author and the FTS5 `snippet()` of its text.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HitRow {
    pub message_id: i64,
    pub channel_id: i64,
    pub author_id: i64,
    pub author_username: String,
    pub author_full_name: String,
    pub created_at: i64,
    /// The text around the match, each matched term between `open` and `close`.
    pub snippet: String,
}

/// The newest `limit` messages of `user_id`'s channels matching the FTS5 expression `query`
/// (built by `crate::chat::search::match_expression`, never raw user input), deleted ones left
/// out, and so are those of people `user_id` blocked. `open`/`close` mark the matched terms in the snippet.
pub async fn messages(
    db: &Db,
    user_id: i64,
    query: &str,
    limit: u32,
    (open, close): (&str, &str),
) -> Result<Vec<HitRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id AS message_id, m.channel_id, m.author_id, u.username AS author_username, \
           u.full_name AS author_full_name, m.created_at, \
           snippet(chat_messages_fts, 0, ?, ?, '…', 16) AS snippet \
         FROM chat_messages_fts \
         JOIN chat_messages m ON m.id = chat_messages_fts.rowid \
         JOIN chat_members cm ON cm.channel_id = m.channel_id AND cm.user_id = ? \
         JOIN users u ON u.id = m.author_id \
         WHERE chat_messages_fts MATCH ? AND m.deleted_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM chat_blocks b \
             WHERE b.blocker_id = cm.user_id AND b.blocked_id = m.author_id) \
         ORDER BY m.id DESC LIMIT ?",
    )
    .bind(open)
    .bind(close)
    .bind(user_id)
    .bind(query)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await
}
