//! The attachment use cases: upload a file into a channel, fetch it back, and the views that
//! messages carry.
//!
//! A file is uploaded first (`POST /api/channels/{id}/attachments`), then named by the message
//! that sends it (`attachments` of `POST /api/channels/{id}/messages`). Until then only its
//! uploader can fetch it; after that every member of the channel can, and nobody else (404, as
//! for one that does not exist). Images are re-encoded off the async runtime, on the server's
//! bounded pool, under its pixel budget ([`super::media`]).

use serde::Serialize;
use utoipa::ToSchema;

use crate::config::LimitsConfig;
use crate::pool::{BlockingPool, PixelBudget};
use crate::storage::attachments::{self as store, AttachmentRow, Inserted, NewAttachment};
use crate::storage::chat as chat_store;
use crate::storage::Db;

use super::domain::ChatError;
use super::media;

/// How long an uploaded file waits for the message that sends it before it is deleted.
pub const UNSENT_TTL_MS: i64 = 24 * 3600 * 1000;

/// A stored file as messages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    /// `image` (re-encoded by the server, shown inline, has a thumbnail) or `file` (download only).
    pub kind: String,
    /// The sanitised file name.
    pub name: String,
    /// What the server serves: `image/jpeg`, `image/png` or `application/octet-stream`.
    pub content_type: String,
    /// Bytes of the file as served.
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// `GET` this for the file (add `?download=1` to save an image instead of showing it).
    pub url: String,
    /// An image's thumbnail (at most 320 px a side); absent for other files.
    pub thumb_url: Option<String>,
}

impl From<AttachmentRow> for AttachmentView {
    fn from(row: AttachmentRow) -> Self {
        let is_image = row.kind == "image";
        Self {
            url: format!("/api/attachments/{}", row.id),
            thumb_url: is_image.then(|| format!("/api/attachments/{}/thumb", row.id)),
            id: row.id,
            kind: row.kind,
            name: row.name,
            content_type: row.content_type,
            size: row.size,
            width: row.width,
            height: row.height,
        }
    }
}

/// Which bytes of an attachment to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Main,
    Thumb,
}

/// A fetched attachment: what it is and its bytes.
pub struct Fetched {
    pub row: AttachmentRow,
    pub bytes: Vec<u8>,
}

/// The limits that apply to attachments, from `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    pub file_bytes: usize,
    pub image_pixels: u64,
    pub quota_bytes: i64,
}

impl From<&LimitsConfig> for AttachmentLimits {
    fn from(limits: &LimitsConfig) -> Self {
        Self {
            file_bytes: limits.attachment_bytes,
            image_pixels: limits.attachment_pixels,
            quota_bytes: i64::try_from(limits.attachment_quota_bytes).unwrap_or(i64::MAX),
        }
    }
}

/// What attachments need: storage, the blocking pool with its pixel budget, and the limits.
#[derive(Clone, Copy)]
pub struct Attachments<'a> {
    pub db: &'a Db,
    pub pool: &'a BlockingPool,
    pub pixels: &'a PixelBudget,
    pub limits: AttachmentLimits,
}

impl Attachments<'_> {
    /// Stores `bytes` sent by `me` as `name` into a channel `me` belongs to (404 otherwise).
    /// Images are re-encoded first; a file over the size limit, an image over the pixel limit or
    /// an upload past `me`'s quota is refused with 413.
    pub async fn upload(
        &self,
        me: i64,
        channel_id: i64,
        name: &str,
        bytes: Vec<u8>,
        now: i64,
    ) -> Result<AttachmentView, ChatError> {
        chat_store::membership(self.db, channel_id, me)
            .await?
            .ok_or(ChatError::ChannelNotFound)?;
        if bytes.is_empty() {
            return Err(ChatError::Invalid("The file is empty.".into()));
        }
        if bytes.len() > self.limits.file_bytes {
            return Err(ChatError::FileTooLarge {
                limit: self.limits.file_bytes,
            });
        }
        // Cheap early answer; the insert checks again inside its write.
        let used = store::used_bytes(self.db, me).await?;
        let upload = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        if used.saturating_add(upload) > self.limits.quota_bytes {
            return Err(self.over_quota(used));
        }
        let mut new = self.prepare(bytes).await?;
        new.channel_id = channel_id;
        new.uploader_id = me;
        new.name = media::sanitise_name(name);
        match store::insert(self.db, &new, self.limits.quota_bytes, now).await? {
            Inserted::Stored(id) => store::visible(self.db, id, me)
                .await?
                .map(AttachmentView::from)
                .ok_or_else(|| ChatError::Internal("attachment vanished".into())),
            Inserted::OverQuota { used } => Err(self.over_quota(used)),
        }
    }

    fn over_quota(&self, used: i64) -> ChatError {
        ChatError::QuotaExceeded {
            quota: self.limits.quota_bytes,
            used,
        }
    }

    /// The bytes to store: a re-encoded image with its thumbnail, or the file as sent.
    async fn prepare(&self, bytes: Vec<u8>) -> Result<NewAttachment, ChatError> {
        let mut new = NewAttachment {
            channel_id: 0,
            uploader_id: 0,
            kind: "file",
            name: String::new(),
            content_type: "application/octet-stream",
            width: None,
            height: None,
            main: Vec::new(),
            thumb: None,
        };
        let Some(format) = media::image_format(&bytes) else {
            new.main = bytes;
            return Ok(new);
        };
        let (max_pixels, budget) = (self.limits.image_pixels, self.pixels.clone());
        let job = move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                media::reencode(&bytes, format, max_pixels, &budget)
            }))
        };
        let image = self
            .pool
            .run(job)
            .await
            .map_err(|_| ChatError::Busy)?
            .unwrap_or_else(|_| Err(ChatError::Internal("image decoder panicked".into())))?;
        new.kind = "image";
        new.content_type = image.content_type;
        new.width = Some(image.width);
        new.height = Some(image.height);
        new.main = image.main;
        new.thumb = Some(image.thumb);
        Ok(new)
    }

    /// An attachment's bytes for `me`, or 404 when it does not exist, `me` may not see it, or
    /// (for [`Variant::Thumb`]) it is not an image.
    pub async fn fetch(
        &self,
        me: i64,
        attachment_id: i64,
        variant: Variant,
    ) -> Result<Fetched, ChatError> {
        let row = store::visible(self.db, attachment_id, me)
            .await?
            .ok_or(ChatError::AttachmentNotFound)?;
        let name = match variant {
            Variant::Main => "main",
            Variant::Thumb => "thumb",
        };
        let bytes = store::blob(self.db, attachment_id, name)
            .await?
            .ok_or(ChatError::AttachmentNotFound)?;
        Ok(Fetched { row, bytes })
    }
}

/// The attachments of the messages of a channel with ids in `first..=last`, by message id.
pub async fn views_in_range(
    db: &Db,
    channel_id: i64,
    first: i64,
    last: i64,
) -> Result<std::collections::HashMap<i64, Vec<AttachmentView>>, ChatError> {
    let mut out: std::collections::HashMap<i64, Vec<AttachmentView>> = Default::default();
    for row in store::in_range(db, channel_id, first, last).await? {
        if let Some(message_id) = row.message_id {
            out.entry(message_id).or_default().push(row.into());
        }
    }
    Ok(out)
}
