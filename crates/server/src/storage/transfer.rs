//! The SQL of data in and out (`crate::transfer`): importing accounts, consistent snapshots for
//! backups, and everything a personal data export reads.

use sqlx::Row;

use super::users::{insert_user_in, InsertUserError, NewUser, User};
use super::{Backend, Db};
use crate::crypto::SealedTemplate;
use crate::storage::audit::AuditKind;

/// What importing one account did.
#[derive(Debug)]
pub enum ImportOutcome {
    Imported(User),
    /// An account with this username and email was imported by an earlier run.
    AlreadyImported,
    /// The username or email belongs to an account that was not imported.
    Taken(&'static str),
}

/// An account's row as the personal export shows it (no hash).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProfileRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub created_at: i64,
    /// When consent to the face template was given (for imported accounts: the import).
    pub consent_at: i64,
}

/// A session without its id (nor the id's hash).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionRow {
    pub level: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A channel the user belongs to, with the membership.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ChannelMembershipRow {
    pub id: i64,
    /// `direct` or `group`.
    pub kind: String,
    /// Groups only.
    pub name: Option<String>,
    /// Groups only.
    pub owner_id: Option<i64>,
    pub created_at: i64,
    pub joined_at: i64,
    /// Id of the last message the account has read there.
    pub last_read_id: i64,
}

/// Another member of a channel, as the user sees them in the app.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MemberRow {
    pub channel_id: i64,
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
}

/// A message the user sent (a deleted one keeps its id with the text emptied).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SentMessageRow {
    pub id: i64,
    pub channel_id: i64,
    pub text: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The message it quotes.
    pub reply_to: Option<i64>,
    /// For a reply in a thread, the thread's first message.
    pub thread_root: Option<i64>,
}

/// A file the user uploaded (its bytes are fetched with `GET /api/attachments/{id}`).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UploadRow {
    pub id: i64,
    pub channel_id: i64,
    /// `None` while the upload was never sent.
    pub message_id: Option<i64>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
}

/// A message the user reported, as it read when reported.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MadeReportRow {
    pub channel_id: i64,
    pub message_id: i64,
    pub author_name: String,
    pub text: String,
    pub reason: String,
    pub created_at: i64,
}

/// The `imported` audit event of an imported account: who imported it, and from what.
#[derive(Debug, Clone, Copy)]
pub struct ImportEvent<'a> {
    pub ip: &'a str,
    pub detail: &'a str,
}

/// One sealed template with the user it is bound to.
pub struct StoredTemplate {
    pub user_id: i64,
    pub sealed: SealedTemplate,
}

impl Db {
    /// Opens an existing database file as it is: no migrations, one connection. For a backup's
    /// snapshot, which must be read, never changed.
    pub async fn open_snapshot(path: &std::path::Path) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("sqlite://{}?mode=rw", path.display()))
            .await?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
        })
    }

    /// Inserts an imported account, its sealed face template (made by `seal` once the user id
    /// is known: the id is the template's associated data) and its `imported` audit event in
    /// one transaction ([`Db::begin_write`]), or nothing.
    pub async fn insert_imported_user(
        &self,
        new: &NewUser,
        event: &ImportEvent<'_>,
        seal: impl FnOnce(i64) -> SealedTemplate,
    ) -> Result<ImportOutcome, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        if imported_before(&mut tx, new).await? {
            return Ok(ImportOutcome::AlreadyImported);
        }
        let user = match insert_user_in(&mut tx, new).await {
            Ok(user) => user,
            Err(InsertUserError::Taken(field)) => return Ok(ImportOutcome::Taken(field)),
            Err(InsertUserError::Db(e)) => return Err(e),
        };
        let template = seal(user.id);
        sqlx::query(
            "INSERT INTO face_templates (user_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user.id)
        .bind(&template.nonce)
        .bind(&template.ciphertext)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_events (user_id, kind, at, ip, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id)
        .bind(AuditKind::Imported.as_str())
        .bind(new.created_at)
        .bind(event.ip)
        .bind(event.detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ImportOutcome::Imported(user))
    }

    /// Writes a consistent copy of the whole database to `target` (a new file) while the server
    /// keeps reading and writing: `VACUUM INTO` reads inside one transaction, so the copy is
    /// the database as of one moment, compacted. SQLite only: a PostgreSQL database is backed
    /// up with its own tools (`pg_dump`), which the caller says.
    pub async fn snapshot_into(&self, target: &std::path::Path) -> Result<(), sqlx::Error> {
        if self.backend() != Backend::Sqlite {
            return Err(sqlx::Error::Configuration(
                "an online snapshot is for SQLite; back PostgreSQL up with pg_dump".into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(target.to_string_lossy().into_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The version of the newest migration applied (0 for none).
    pub async fn schema_version(&self) -> Result<i64, sqlx::Error> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.pool())
                .await?;
        Ok(v.unwrap_or(0))
    }

    /// Row counts of the tables a backup summary shows.
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
        let mut counts = Vec::new();
        for table in [
            "users",
            "face_templates",
            "chat_channels",
            "chat_messages",
            "audit_events",
        ] {
            // The names are the constants above, never input.
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(self.pool())
                .await?;
            counts.push((table, n));
        }
        Ok(counts)
    }

    /// The oldest sealed template, if any: a key check opens it.
    pub async fn first_template(&self) -> Result<Option<StoredTemplate>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT user_id, nonce, ciphertext FROM face_templates ORDER BY id LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(StoredTemplate {
                user_id: r.try_get("user_id")?,
                sealed: SealedTemplate {
                    nonce: r.try_get("nonce")?,
                    ciphertext: r.try_get("ciphertext")?,
                },
            })
        })
        .transpose()
    }

    pub async fn export_profile(&self, user_id: i64) -> Result<Option<ProfileRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, username, email, full_name, created_at, consent_at FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(ProfileRow {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                email: r.try_get("email")?,
                full_name: r.try_get("full_name")?,
                created_at: r.try_get("created_at")?,
                consent_at: r.try_get("consent_at")?,
            })
        })
        .transpose()
    }

    /// When each face template of the user was enrolled, oldest first (never the template).
    pub async fn template_dates(&self, user_id: i64) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT created_at FROM face_templates WHERE user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(self.pool())
            .await
    }

    pub async fn export_sessions(&self, user_id: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT level, created_at, last_seen_at, ip, user_agent FROM sessions
             WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn export_channels(
        &self,
        user_id: i64,
    ) -> Result<Vec<ChannelMembershipRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT c.id, c.kind, c.name, c.owner_id, c.created_at, m.joined_at, m.last_read_id
             FROM chat_members m JOIN chat_channels c ON c.id = m.channel_id
             WHERE m.user_id = $1 ORDER BY c.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Every member of every channel the user belongs to (the user included).
    pub async fn export_members(&self, user_id: i64) -> Result<Vec<MemberRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT other.channel_id, u.id AS user_id, u.username, u.full_name
             FROM chat_members mine
             JOIN chat_members other ON other.channel_id = mine.channel_id
             JOIN users u ON u.id = other.user_id
             WHERE mine.user_id = $1 ORDER BY other.channel_id, u.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    pub async fn export_messages(&self, user_id: i64) -> Result<Vec<SentMessageRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, channel_id, text, created_at, edited_at, deleted_at, reply_to, thread_root
             FROM chat_messages WHERE author_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Every file the user uploaded, oldest first.
    pub async fn export_uploads(&self, user_id: i64) -> Result<Vec<UploadRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, channel_id, message_id, name, content_type, size, created_at
             FROM chat_attachments WHERE uploader_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Every report the user made, oldest first.
    pub async fn export_reports(&self, user_id: i64) -> Result<Vec<MadeReportRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT channel_id, message_id, author_name, text, reason, created_at
             FROM chat_reports WHERE reporter_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }
}

/// Whether this username and email already name one account that an import created.
async fn imported_before(tx: &mut sqlx::AnyConnection, new: &NewUser) -> Result<bool, sqlx::Error> {
    let hit: Option<i64> = sqlx::query_scalar(
        "SELECT u.id FROM users u WHERE u.username_key = $1 AND u.email = $2
           AND EXISTS (SELECT 1 FROM audit_events e WHERE e.user_id = u.id AND e.kind = $3)",
    )
    .bind(new.username.to_lowercase())
    .bind(&new.email)
    .bind(AuditKind::Imported.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(hit.is_some())
}
