//! SQL of chat attachments: their metadata and their bytes (both in the database, so that any
//! node serves any attachment).
//!
//! The rules (sizes, the quota, who may fetch what) live in `crate::chat::attachments`; these
//! functions assume the caller checked them, except the quota, which is checked here inside the
//! write so that two uploads at once cannot both pass it.

use sqlx::FromRow;

use super::chat::WRITE_LOCK;
use super::Db;

/// An attachment as stored, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AttachmentRow {
    pub id: i64,
    pub channel_id: i64,
    pub uploader_id: i64,
    pub message_id: Option<i64>,
    pub kind: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// A new attachment, its bytes ready to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub channel_id: i64,
    pub uploader_id: i64,
    pub kind: &'static str,
    pub name: String,
    pub content_type: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub main: Vec<u8>,
    pub thumb: Option<Vec<u8>>,
}

impl std::fmt::Debug for NewAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes are someone's file: sizes only.
        f.debug_struct("NewAttachment")
            .field("channel_id", &self.channel_id)
            .field("kind", &self.kind)
            .field("main", &self.main.len())
            .field("thumb", &self.thumb.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl NewAttachment {
    /// Bytes it takes from the uploader's quota: every blob stored for it.
    pub fn stored_bytes(&self) -> i64 {
        let total = self.main.len() + self.thumb.as_ref().map_or(0, Vec::len);
        i64::try_from(total).unwrap_or(i64::MAX)
    }
}

/// The outcome of [`insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Stored(i64),
    /// The uploader's attachments already take `used` bytes: this one would pass `quota`.
    OverQuota {
        used: i64,
    },
}

const COLUMNS: &str = "a.id, a.channel_id, a.uploader_id, a.message_id, a.kind, a.name, \
     a.content_type, a.size, a.width, a.height";

/// Stores an attachment and its blobs unless the uploader's stored bytes would pass `quota`.
pub async fn insert(
    db: &Db,
    new: &NewAttachment,
    quota: i64,
    now: i64,
) -> Result<Inserted, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let mut tx = db.begin_write().await?;
    let used: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) FROM chat_attachments WHERE uploader_id = $1",
    )
    .bind(new.uploader_id)
    .fetch_one(&mut *tx)
    .await?;
    if used.saturating_add(new.stored_bytes()) > quota {
        tx.rollback().await?;
        return Ok(Inserted::OverQuota { used });
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO chat_attachments (channel_id, uploader_id, kind, name, content_type, size, \
           stored_bytes, width, height, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(new.channel_id)
    .bind(new.uploader_id)
    .bind(new.kind)
    .bind(&new.name)
    .bind(new.content_type)
    .bind(i64::try_from(new.main.len()).unwrap_or(i64::MAX))
    .bind(new.stored_bytes())
    .bind(new.width.map(i64::from))
    .bind(new.height.map(i64::from))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let blobs = [("main", Some(&new.main)), ("thumb", new.thumb.as_ref())];
    for (variant, data) in blobs {
        let Some(data) = data else { continue };
        sqlx::query(
            "INSERT INTO chat_attachment_blobs (attachment_id, variant, data) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(variant)
        .bind(data.as_slice())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Inserted::Stored(id))
}

/// An attachment that `user_id` may see: they are a member of its channel, and it was sent in a
/// message (or they uploaded it and have not sent it yet). `None` otherwise, exactly as for an
/// attachment that does not exist.
pub async fn visible(
    db: &Db,
    attachment_id: i64,
    user_id: i64,
) -> Result<Option<AttachmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM chat_attachments a \
         JOIN chat_members cm ON cm.channel_id = a.channel_id AND cm.user_id = $1 \
         WHERE a.id = $2 AND (a.message_id IS NOT NULL OR a.uploader_id = $3)"
    ))
    .bind(user_id)
    .bind(attachment_id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await
}

/// One blob (`main` or `thumb`) of an attachment.
pub async fn blob(
    db: &Db,
    attachment_id: i64,
    variant: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT data FROM chat_attachment_blobs WHERE attachment_id = $1 AND variant = $2",
    )
    .bind(attachment_id)
    .bind(variant)
    .fetch_optional(db.pool())
    .await
}

/// The attachments of the messages of `channel_id` with ids in `first..=last`, in upload order.
pub async fn in_range(
    db: &Db,
    channel_id: i64,
    first: i64,
    last: i64,
) -> Result<Vec<AttachmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM chat_attachments a \
         WHERE a.channel_id = $1 AND a.message_id BETWEEN $2 AND $3 ORDER BY a.id"
    ))
    .bind(channel_id)
    .bind(first)
    .bind(last)
    .fetch_all(db.pool())
    .await
}

/// Bytes of every attachment `user_id` uploaded (what the quota counts).
pub async fn used_bytes(db: &Db, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) FROM chat_attachments WHERE uploader_id = $1",
    )
    .bind(user_id)
    .fetch_one(db.pool())
    .await
}

/// Deletes attachments uploaded before `before` that no message names (abandoned drafts), so
/// they stop counting toward their uploader's quota.
pub async fn prune_unsent(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    let _write = WRITE_LOCK.lock().await;
    let done =
        sqlx::query("DELETE FROM chat_attachments WHERE message_id IS NULL AND created_at < $1")
            .bind(before)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected())
}
