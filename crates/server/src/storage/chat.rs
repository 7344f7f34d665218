//! SQL of the chat aggregate: channels, members (with read positions) and messages.
//!
//! Portable SQL only: no scalar `MAX(a, b)`, new ids through `INSERT ... RETURNING id` (SQLite
//! 3.35+ and PostgreSQL), prefix search through `LIKE ... ESCAPE`. Rules (who may do what) live in `crate::chat::domain`;
//! these functions assume the caller already checked them.

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};

use super::Db;

/// A user as shown to other chat users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub full_name: String,
}

/// One stored message with its author.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub channel_id: i64,
    pub author_id: i64,
    pub author_username: String,
    pub author_full_name: String,
    pub client_id: Option<String>,
    pub text: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The message this one answers, with what a quote of it shows (all `None` for no reply).
    pub reply_to: Option<i64>,
    pub reply_author_id: Option<i64>,
    pub reply_author_username: Option<String>,
    pub reply_author_full_name: Option<String>,
    pub reply_text: Option<String>,
    pub reply_deleted_at: Option<i64>,
    /// The root of the thread this message is a reply in (`None` in the channel's timeline).
    pub thread_root: Option<i64>,
}

/// One channel as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub kind: String,
    pub name: Option<String>,
    pub owner_id: Option<i64>,
    pub created_at: i64,
    /// Creation or last rename (messages do not touch the channel row).
    pub last_activity_at: Option<i64>,
    /// Time of the newest message, if any.
    pub last_message_at: Option<i64>,
}

/// A channel in the caller's list, with what the list shows about it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ChannelListRow {
    #[sqlx(flatten)]
    pub channel: ChannelRow,
    pub last_read_id: i64,
    pub unread: i64,
    pub last_message_id: Option<i64>,
    pub member_count: i64,
    /// Threads I follow with replies by others after my read position in them.
    pub unread_threads: i64,
    /// When I muted the channel; `None` when it is not muted.
    pub muted_at: Option<i64>,
}

/// The caller's membership of a channel: kind and owner, enough for every rule.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MembershipRow {
    pub kind: String,
    pub owner_id: Option<i64>,
}

/// SQLite has one writer at a time, and a writer that finds the lock taken sleeps in the busy
/// handler (1 ms, 2 ms, 5 ms... up to 100 ms). Queueing chat writes in-process instead keeps
/// contended sends at the cost of the writes ahead of them, not of those sleeps.
pub(super) static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MESSAGE_COLUMNS: &str = "m.id, m.channel_id, m.author_id, u.username AS author_username, \
     u.full_name AS author_full_name, m.client_id, m.text, m.created_at, m.edited_at, m.deleted_at, \
     m.reply_to, r.author_id AS reply_author_id, ru.username AS reply_author_username, \
     ru.full_name AS reply_author_full_name, r.text AS reply_text, r.deleted_at AS reply_deleted_at, \
     m.thread_root";

/// Messages with their author and, for a reply, the message it answers and that one's author.
const MESSAGE_FROM: &str = "chat_messages m JOIN users u ON u.id = m.author_id \
     LEFT JOIN chat_messages r ON r.id = m.reply_to LEFT JOIN users ru ON ru.id = r.author_id";

/// The caller's membership of `channel_id`, or `None` if there is no such channel or the user is
/// not a member (the two cases are indistinguishable on purpose).
pub async fn membership(
    db: &Db,
    channel_id: i64,
    user_id: i64,
) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.kind, c.owner_id FROM chat_channels c \
         JOIN chat_members cm ON cm.channel_id = c.id \
         WHERE c.id = $1 AND cm.user_id = $2",
    )
    .bind(channel_id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await
}

/// Every channel `user_id` belongs to, with its membership (kind and owner).
pub async fn memberships_of(
    db: &Db,
    user_id: i64,
) -> Result<Vec<(i64, MembershipRow)>, sqlx::Error> {
    let rows: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT c.id, c.kind, c.owner_id FROM chat_channels c \
         JOIN chat_members cm ON cm.channel_id = c.id WHERE cm.user_id = $1 ORDER BY c.id",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, owner_id)| (id, MembershipRow { kind, owner_id }))
        .collect())
}

/// The user ids of every member of a channel.
pub async fn member_ids(db: &Db, channel_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM chat_members WHERE channel_id = $1 ORDER BY user_id")
        .bind(channel_id)
        .fetch_all(db.pool())
        .await
}

/// Every member of a channel with their names and read positions.
pub async fn members(db: &Db, channel_id: i64) -> Result<Vec<(UserSummary, i64)>, sqlx::Error> {
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, u.full_name, cm.last_read_id FROM chat_members cm \
         JOIN users u ON u.id = cm.user_id WHERE cm.channel_id = $1 ORDER BY u.username_key",
    )
    .bind(channel_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, full_name, read)| {
            (
                UserSummary {
                    id,
                    username,
                    full_name,
                },
                read,
            )
        })
        .collect())
}

/// Every user who shares at least one channel with `user_id` (not the user itself).
pub async fn peers(db: &Db, user_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT other.user_id FROM chat_members mine \
         JOIN chat_members other ON other.channel_id = mine.channel_id \
         WHERE mine.user_id = $1 AND other.user_id <> $2",
    )
    .bind(user_id)
    .bind(user_id)
    .fetch_all(db.pool())
    .await
}

/// Which of `ids` are existing users.
pub async fn existing_users(db: &Db, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    let mut found = Vec::with_capacity(ids.len());
    // One indexed lookup each: member lists are small and bounded by MAX_GROUP_MEMBERS.
    for &id in ids {
        let hit: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
        found.extend(hit);
    }
    Ok(found)
}

/// A user's public summary.
pub async fn user_summary(db: &Db, user_id: i64) -> Result<Option<UserSummary>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, full_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.pool())
        .await
}

/// Users whose username or full name starts with `pattern` (a `LIKE` prefix pattern made by
/// `domain::like_prefix`), ordered by username, after the `after` username key, not `me`.
pub async fn search_users(
    db: &Db,
    me: i64,
    pattern: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<UserSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, username, full_name FROM users \
         WHERE id <> $1 AND (username_key LIKE $2 ESCAPE '\\' OR LOWER(full_name) LIKE $3 ESCAPE '\\') \
         AND username_key > $4 ORDER BY username_key LIMIT $5",
    )
    .bind(me)
    .bind(pattern)
    .bind(pattern)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await
}

/// The direct channel of the pair, if it exists.
pub async fn find_direct(db: &Db, a: i64, b: i64) -> Result<Option<i64>, sqlx::Error> {
    let (lo, hi) = (a.min(b), a.max(b));
    sqlx::query_scalar("SELECT id FROM chat_channels WHERE direct_lo = $1 AND direct_hi = $2")
        .bind(lo)
        .bind(hi)
        .fetch_optional(db.pool())
        .await
}

/// Creates the direct channel of the pair; `Ok(None)` if it already exists (a concurrent
/// create won), in which case the caller looks it up.
pub async fn create_direct(db: &Db, a: i64, b: i64, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let (lo, hi) = (a.min(b), a.max(b));
    let mut tx = db.begin_write().await?;
    let inserted: Result<i64, _> = sqlx::query_scalar(
        "INSERT INTO chat_channels (kind, direct_lo, direct_hi, created_at, last_activity_at) \
         VALUES ('direct', $1, $2, $3, $4) RETURNING id",
    )
    .bind(lo)
    .bind(hi)
    .bind(now)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let id: i64 = match inserted {
        Ok(id) => id,
        Err(err) if is_unique_violation(&err) => {
            tx.rollback().await?;
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    insert_members(&mut tx, id, &[lo, hi], now).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Creates a group owned by `owner` with `owner` and `members` as members.
pub async fn create_group(
    db: &Db,
    owner: i64,
    name: &str,
    members: &[i64],
    now: i64,
) -> Result<i64, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO chat_channels (kind, name, owner_id, created_at, last_activity_at) \
         VALUES ('group', $1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(owner)
    .bind(now)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    insert_members(&mut tx, id, &[owner], now).await?;
    insert_members(&mut tx, id, members, now).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_members(
    tx: &mut Transaction<'_, Any>,
    channel_id: i64,
    users: &[i64],
    now: i64,
) -> Result<(), sqlx::Error> {
    for &user in users {
        sqlx::query(
            "INSERT INTO chat_members (channel_id, user_id, joined_at) VALUES ($1, $2, $3)",
        )
        .bind(channel_id)
        .bind(user)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// One channel by id (membership not checked).
pub async fn channel(db: &Db, channel_id: i64) -> Result<Option<ChannelRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.kind, c.name, c.owner_id, c.created_at, c.last_activity_at, \
           (SELECT m.created_at FROM chat_messages m WHERE m.channel_id = c.id \
              ORDER BY m.id DESC LIMIT 1) AS last_message_at \
         FROM chat_channels c WHERE c.id = $1",
    )
    .bind(channel_id)
    .fetch_optional(db.pool())
    .await
}

/// The caller's channels (unordered: the caller sorts by activity), with unread counts (timeline
/// messages by others, not deleted, not by someone the caller blocked, after the read position),
/// the followed threads with unread replies, and the id of the last timeline message.
pub async fn list_channels(db: &Db, user_id: i64) -> Result<Vec<ChannelListRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.kind, c.name, c.owner_id, c.created_at, c.last_activity_at, \
           (SELECT m.created_at FROM chat_messages m WHERE m.channel_id = c.id \
              ORDER BY m.id DESC LIMIT 1) AS last_message_at, \
           cm.last_read_id, cm.muted_at, \
           (SELECT COUNT(*) FROM chat_messages m WHERE m.channel_id = c.id \
              AND m.id > cm.last_read_id AND m.author_id <> cm.user_id AND m.thread_root IS NULL \
              AND m.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM chat_blocks b \
                WHERE b.blocker_id = cm.user_id AND b.blocked_id = m.author_id)) AS unread, \
           (SELECT COUNT(*) FROM chat_thread_reads tr \
              JOIN chat_messages root ON root.id = tr.root_id \
              WHERE tr.user_id = cm.user_id AND root.channel_id = c.id \
              AND EXISTS (SELECT 1 FROM chat_messages r WHERE r.thread_root = tr.root_id \
                AND r.id > tr.last_read_id AND r.author_id <> tr.user_id AND r.deleted_at IS NULL \
                AND NOT EXISTS (SELECT 1 FROM chat_blocks b \
                  WHERE b.blocker_id = tr.user_id AND b.blocked_id = r.author_id))) AS unread_threads, \
           (SELECT MAX(m.id) FROM chat_messages m WHERE m.channel_id = c.id \
              AND m.deleted_at IS NULL AND m.thread_root IS NULL) AS last_message_id, \
           (SELECT COUNT(*) FROM chat_members all_m WHERE all_m.channel_id = c.id) AS member_count \
         FROM chat_members cm JOIN chat_channels c ON c.id = cm.channel_id \
         WHERE cm.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await
}

/// Mutes (`Some(time)`) or unmutes (`None`) a channel for one member.
pub async fn set_muted(
    db: &Db,
    channel_id: i64,
    user_id: i64,
    muted_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    sqlx::query("UPDATE chat_members SET muted_at = $1 WHERE channel_id = $2 AND user_id = $3")
        .bind(muted_at)
        .bind(channel_id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Renames a group.
pub async fn rename(db: &Db, channel_id: i64, name: &str, now: i64) -> Result<(), sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    sqlx::query("UPDATE chat_channels SET name = $1, last_activity_at = $2 WHERE id = $3")
        .bind(name)
        .bind(now)
        .bind(channel_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes a channel with its members and messages.
pub async fn delete_channel(db: &Db, channel_id: i64) -> Result<(), sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    sqlx::query("DELETE FROM chat_channels WHERE id = $1")
        .bind(channel_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Adds a member; false if they already were one.
pub async fn add_member(
    db: &Db,
    channel_id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let result = sqlx::query(
        "INSERT INTO chat_members (channel_id, user_id, joined_at) VALUES ($1, $2, $3)",
    )
    .bind(channel_id)
    .bind(user_id)
    .bind(now)
    .execute(db.pool())
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Number of members of a channel.
pub async fn member_count(db: &Db, channel_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM chat_members WHERE channel_id = $1")
        .bind(channel_id)
        .fetch_one(db.pool())
        .await
}

/// Removes a member; false if they were not one.
pub async fn remove_member(db: &Db, channel_id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let done = sqlx::query("DELETE FROM chat_members WHERE channel_id = $1 AND user_id = $2")
        .bind(channel_id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The message the author already sent with this `client_id` in this channel, if any.
pub async fn message_by_client_id(
    db: &Db,
    channel_id: i64,
    author_id: i64,
    client_id: &str,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
         WHERE m.channel_id = $1 AND m.author_id = $2 AND m.client_id = $3"
    ))
    .bind(channel_id)
    .bind(author_id)
    .bind(client_id)
    .fetch_optional(db.pool())
    .await
}

/// What [`insert_message`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageInsert {
    Stored(i64),
    /// The `(channel, author, client_id)` triple exists: a retry of an earlier send.
    Duplicate,
    /// One of the attachments is not the author's unsent upload into this channel.
    AttachmentUnavailable,
}

/// A message about to be stored.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub channel_id: i64,
    pub author_id: i64,
    pub client_id: Option<&'a str>,
    pub text: &'a str,
    pub reply_to: Option<i64>,
    /// The thread it is a reply in.
    pub thread: Option<ThreadRoot>,
    pub now: i64,
}

/// A thread's first message: its id and its author (who follows the thread from its first reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadRoot {
    pub id: i64,
    pub author_id: i64,
}

/// Stores a message and gives it `attachments` (uploads of the author into this channel that
/// no message names yet). A thread reply moves its author's read position in the thread to it
/// and makes the root's author follow the thread. A plain message without attachments is one
/// autocommit statement: the channel row is not touched, activity comes from the newest message.
pub async fn insert_message(
    db: &Db,
    message: &NewMessage<'_>,
    attachments: &[i64],
) -> Result<MessageInsert, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    if attachments.is_empty() && message.thread.is_none() {
        return Ok(match insert_row(message, db.pool()).await? {
            Some(id) => MessageInsert::Stored(id),
            None => MessageInsert::Duplicate,
        });
    }
    let mut tx = db.begin_write().await?;
    let Some(id) = insert_row(message, &mut *tx).await? else {
        tx.rollback().await?;
        return Ok(MessageInsert::Duplicate);
    };
    for &attachment in attachments {
        let done = sqlx::query(
            "UPDATE chat_attachments SET message_id = $1 \
             WHERE id = $2 AND channel_id = $3 AND uploader_id = $4 AND message_id IS NULL",
        )
        .bind(id)
        .bind(attachment)
        .bind(message.channel_id)
        .bind(message.author_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            // Takes the message back too, before the write lock is let go.
            tx.rollback().await?;
            return Ok(MessageInsert::AttachmentUnavailable);
        }
    }
    if let Some(root) = message.thread {
        sqlx::query(
            "INSERT INTO chat_thread_reads (root_id, user_id, last_read_id) VALUES ($1, $2, 0) \
             ON CONFLICT (root_id, user_id) DO NOTHING",
        )
        .bind(root.id)
        .bind(root.author_id)
        .execute(&mut *tx)
        .await?;
        advance_thread_read(&mut tx, root.id, message.author_id, id).await?;
    }
    tx.commit().await?;
    Ok(MessageInsert::Stored(id))
}

/// The new id, or `None` when the `(channel, author, client_id)` triple exists.
async fn insert_row<'e, E>(m: &NewMessage<'_>, exec: E) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let inserted: Result<i64, _> = sqlx::query_scalar(
        "INSERT INTO chat_messages \
           (channel_id, author_id, client_id, text, reply_to, thread_root, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(m.channel_id)
    .bind(m.author_id)
    .bind(m.client_id)
    .bind(m.text)
    .bind(m.reply_to)
    .bind(m.thread.map(|root| root.id))
    .bind(m.now)
    .fetch_one(exec)
    .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(err) if is_unique_violation(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Moves `user_id`'s read position in a thread forwards to `message_id` (creating it: the
/// user now follows the thread).
async fn advance_thread_read(
    tx: &mut Transaction<'_, Any>,
    root_id: i64,
    user_id: i64,
    message_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chat_thread_reads (root_id, user_id, last_read_id) VALUES ($1, $2, $3) \
         ON CONFLICT (root_id, user_id) DO UPDATE SET last_read_id = excluded.last_read_id \
         WHERE chat_thread_reads.last_read_id < excluded.last_read_id",
    )
    .bind(root_id)
    .bind(user_id)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves my read position in a thread forwards (never backwards) and returns the result.
pub async fn mark_thread_read(
    db: &Db,
    root_id: i64,
    user_id: i64,
    message_id: i64,
) -> Result<i64, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let mut tx = db.begin_write().await?;
    advance_thread_read(&mut tx, root_id, user_id, message_id).await?;
    let position = sqlx::query_scalar(
        "SELECT last_read_id FROM chat_thread_reads WHERE root_id = $1 AND user_id = $2",
    )
    .bind(root_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(position)
}

/// A thread's size as its root shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct ThreadSummaryRow {
    pub root_id: i64,
    pub replies: i64,
    pub last_reply_id: i64,
    pub last_reply_at: i64,
}

/// The threads whose roots have ids in `first..=last` in a channel (deleted replies count: they
/// keep their place in the thread).
pub async fn thread_summaries(
    db: &Db,
    channel_id: i64,
    first: i64,
    last: i64,
) -> Result<Vec<ThreadSummaryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT thread_root AS root_id, COUNT(*) AS replies, MAX(id) AS last_reply_id, \
           MAX(created_at) AS last_reply_at FROM chat_messages \
         WHERE thread_root >= $1 AND thread_root <= $2 AND channel_id = $3 GROUP BY thread_root",
    )
    .bind(first)
    .bind(last)
    .bind(channel_id)
    .fetch_all(db.pool())
    .await
}

/// My read positions in the threads whose roots have ids in `first..=last` (the threads I follow).
pub async fn thread_reads(
    db: &Db,
    user_id: i64,
    first: i64,
    last: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT root_id, last_read_id FROM chat_thread_reads \
         WHERE root_id >= $1 AND root_id <= $2 AND user_id = $3 ORDER BY root_id",
    )
    .bind(first)
    .bind(last)
    .bind(user_id)
    .fetch_all(db.pool())
    .await
}

/// One message of a channel.
pub async fn message(
    db: &Db,
    channel_id: i64,
    message_id: i64,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
         WHERE m.channel_id = $1 AND m.id = $2"
    ))
    .bind(channel_id)
    .bind(message_id)
    .fetch_optional(db.pool())
    .await
}

/// Which messages a history page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeline {
    /// The channel's own: every message that is not a thread reply.
    Channel,
    /// The replies in the thread with this root.
    Thread(i64),
}

/// A page of history in ascending id order, and whether more lies beyond it in the paging
/// direction. Forwards: the first `limit` ids above `after`. Backwards: the last `limit` ids
/// below `before` (and above `after` when both are given).
pub async fn page(
    db: &Db,
    channel_id: i64,
    timeline: Timeline,
    before: Option<i64>,
    after: Option<i64>,
    limit: u32,
    forwards: bool,
) -> Result<(Vec<MessageRow>, bool), sqlx::Error> {
    let order = if forwards { "ASC" } else { "DESC" };
    // A thread's replies come from the thread index; the timeline from the channel's.
    let (which, root) = match timeline {
        Timeline::Channel => ("m.thread_root IS NULL AND $5 = 0", 0),
        Timeline::Thread(root) => ("m.thread_root = $5", root),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
         WHERE m.channel_id = $1 AND m.id < $2 AND m.id > $3 AND {which} \
         ORDER BY m.id {order} LIMIT $4"
    );
    let mut rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(channel_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .bind(root)
        .fetch_all(db.pool())
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    if !forwards {
        rows.reverse();
    }
    Ok((rows, has_more))
}

/// Replaces a message's text and marks it edited, keeping the text it replaced as an earlier
/// version (the latest `keep` of them).
pub async fn edit_message(
    db: &Db,
    message_id: i64,
    text: &str,
    now: i64,
    keep: i64,
) -> Result<(), sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO chat_message_edits (message_id, text, replaced_at) \
         SELECT id, text, $1 FROM chat_messages WHERE id = $2",
    )
    .bind(now)
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM chat_message_edits WHERE message_id = $1 AND id NOT IN \
         (SELECT id FROM chat_message_edits WHERE message_id = $1 ORDER BY id DESC LIMIT $2)",
    )
    .bind(message_id)
    .bind(keep)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE chat_messages SET text = $1, edited_at = $2 WHERE id = $3")
        .bind(text)
        .bind(now)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// One earlier version of a message: its text, and when an edit replaced it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EditRow {
    pub text: String,
    pub replaced_at: i64,
}

/// A message's earlier versions, oldest first.
pub async fn message_edits(db: &Db, message_id: i64) -> Result<Vec<EditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT text, replaced_at FROM chat_message_edits WHERE message_id = $1 ORDER BY id",
    )
    .bind(message_id)
    .fetch_all(db.pool())
    .await
}

/// Marks a message deleted and drops its text, reactions and attachments (the row stays so ids remain valid
/// cursors).
pub async fn delete_message(db: &Db, message_id: i64, now: i64) -> Result<(), sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE chat_messages SET text = '', deleted_at = $1 WHERE id = $2")
        .bind(now)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM chat_reactions WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM chat_message_edits WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    // A deleted message's files go with its text (their blobs cascade).
    sqlx::query("DELETE FROM chat_attachments WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Largest message id in a channel (0 when empty).
pub async fn last_message_id(db: &Db, channel_id: i64) -> Result<i64, sqlx::Error> {
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(id) FROM chat_messages WHERE channel_id = $1")
            .bind(channel_id)
            .fetch_one(db.pool())
            .await?;
    Ok(max.unwrap_or(0))
}

/// Moves a member's read position forwards to `message_id` (never backwards) and returns the
/// resulting position.
pub async fn mark_read(
    db: &Db,
    channel_id: i64,
    user_id: i64,
    message_id: i64,
) -> Result<i64, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    sqlx::query(
        "UPDATE chat_members SET last_read_id = $1 \
         WHERE channel_id = $2 AND user_id = $3 AND last_read_id < $4",
    )
    .bind(message_id)
    .bind(channel_id)
    .bind(user_id)
    .bind(message_id)
    .execute(db.pool())
    .await?;
    sqlx::query_scalar(
        "SELECT last_read_id FROM chat_members WHERE channel_id = $1 AND user_id = $2",
    )
    .bind(channel_id)
    .bind(user_id)
    .fetch_one(db.pool())
    .await
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
