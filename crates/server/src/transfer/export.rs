//! The personal data export (GDPR Art. 15 and 20): everything the server holds about one
//! account, as JSON, for `GET /api/me/export` and `facegate admin export-user`.
//!
//! Never in it: a face template or descriptor, the password hash, a session id or its hash,
//! the server key, or anything derived from them but counts and dates.

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::password::needs_rehash;
use crate::storage::audit::AuditEvent;
use crate::storage::chat::UserSummary;
use crate::storage::transfer::{
    ChannelMembershipRow, MadeReportRow, ProfileRow, SentMessageRow, SessionRow, UploadRow,
};
use crate::storage::Db;

/// The archive's `format`.
pub const FORMAT: &str = "facegate-personal-export";

/// One account's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalExport {
    /// Always `facegate-personal-export`.
    pub format: &'static str,
    pub format_version: u32,
    /// Unix milliseconds.
    pub exported_at: i64,
    pub profile: ProfileRow,
    pub factors: Factors,
    /// Open sessions (without their ids).
    pub sessions: Vec<SessionRow>,
    /// Channels the account belongs to, with its membership and the members.
    pub channels: Vec<ChannelExport>,
    /// Every message the account sent, oldest first (deleted ones with empty text).
    pub messages: Vec<SentMessageRow>,
    /// Every file the account uploaded, oldest first: names and sizes; the bytes are at
    /// `GET /api/attachments/{id}`.
    pub uploads: Vec<UploadRow>,
    /// The people the account blocked.
    pub blocked: Vec<UserSummary>,
    /// The messages the account reported, as they read then.
    pub reports: Vec<MadeReportRow>,
    /// Every security event of the account, newest first.
    pub security_events: Vec<AuditEvent>,
}

/// The sign-in factors enrolled, as counts and dates.
#[derive(Debug, Serialize, ToSchema)]
pub struct Factors {
    pub password: PasswordFactor,
    pub face: FaceFactor,
    /// Names and dates only: never a credential.
    pub passkeys: Vec<crate::auth::passkey::PasskeyInfo>,
    /// Whether an authenticator app is set up (its secret is never exported).
    pub authenticator_app: bool,
    pub recovery_codes_left: i64,
    /// Failures of authenticator and recovery codes.
    pub code_failures: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordFactor {
    /// `argon2id`, or `bcrypt_imported` until the first sign-in after an import.
    pub scheme: &'static str,
    pub consecutive_failures: u32,
    /// Unix milliseconds.
    pub last_failure_at: Option<i64>,
}

/// In the schema as `FaceExport`: `FaceFactor` is the account's face state in `GET /api/me`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FaceExport)]
pub struct FaceFactor {
    /// How many encrypted face templates are enrolled.
    pub templates: usize,
    /// When each was enrolled (unix milliseconds).
    pub enrolled_at: Vec<i64>,
    pub consecutive_failures: u32,
    pub last_failure_at: Option<i64>,
}

/// A channel and the account's membership of it, with the members.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelExport {
    #[serde(flatten)]
    pub channel: ChannelMembershipRow,
    pub members: Vec<ChannelMember>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelMember {
    pub id: i64,
    pub username: String,
    pub full_name: String,
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("no account with id {0}")]
    NoSuchAccount(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Reads everything about `user_id` (one query per part; no lock is held across them, so a
/// message sent meanwhile may or may not be in).
pub async fn personal_export(
    db: &Db,
    user_id: i64,
    now_ms: i64,
) -> Result<PersonalExport, ExportError> {
    let profile = db
        .export_profile(user_id)
        .await?
        .ok_or(ExportError::NoSuchAccount(user_id))?;
    let counters = db.counters(user_id).await?;
    let imported_hash = db
        .password_hash(user_id)
        .await?
        .is_some_and(|h| needs_rehash(&h));
    let enrolled_at = db.template_dates(user_id).await?;
    let mut members = by_channel(db.export_members(user_id).await?);
    let channels = db
        .export_channels(user_id)
        .await?
        .into_iter()
        .map(|channel| ChannelExport {
            members: members.remove(&channel.id).unwrap_or_default(),
            channel,
        })
        .collect();
    Ok(PersonalExport {
        format: FORMAT,
        format_version: 1,
        exported_at: now_ms,
        profile,
        factors: Factors {
            password: PasswordFactor {
                scheme: if imported_hash {
                    "bcrypt_imported"
                } else {
                    "argon2id"
                },
                consecutive_failures: counters.password.consecutive,
                last_failure_at: counters.password.last_failure_at,
            },
            face: FaceFactor {
                templates: enrolled_at.len(),
                enrolled_at,
                consecutive_failures: counters.face_consecutive,
                last_failure_at: counters.face_last_failure_at,
            },
            passkeys: db
                .passkeys(user_id)
                .await?
                .iter()
                .map(crate::auth::passkey::PasskeyInfo::from)
                .collect(),
            authenticator_app: db.totp(user_id).await?.is_some_and(|t| t.confirmed),
            recovery_codes_left: db.recovery_codes_left(user_id).await?,
            code_failures: counters.second_factor.consecutive,
        },
        sessions: db.export_sessions(user_id).await?,
        channels,
        messages: db.export_messages(user_id).await?,
        uploads: db.export_uploads(user_id).await?,
        blocked: crate::storage::safety::blocked_by(db, user_id).await?,
        reports: db.export_reports(user_id).await?,
        security_events: db.events(user_id, i64::MAX).await?,
    })
}

/// Members grouped by channel.
fn by_channel(
    rows: Vec<crate::storage::transfer::MemberRow>,
) -> std::collections::HashMap<i64, Vec<ChannelMember>> {
    let mut grouped: std::collections::HashMap<i64, Vec<ChannelMember>> = Default::default();
    for m in rows {
        grouped
            .entry(m.channel_id)
            .or_default()
            .push(ChannelMember {
                id: m.user_id,
                username: m.username,
                full_name: m.full_name,
            });
    }
    grouped
}
