//! The audit trail of auth events, shown to the account owner.

use sqlx::Row;

use super::Db;

/// Kinds of auth events (stored as their snake_case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Registered,
    LoginSucceeded,
    LoginFailed,
    PasswordLockedOut,
    FaceSucceeded,
    FaceFailed,
    /// A face check whose frames held no single face: nothing compared, not counted.
    FaceNotSeen,
    FaceLockedOut,
    FaceDisabled,
    FaceReenrolled,
    Logout,
    /// An operator cleared the lockout counters (`facegate admin unlock`).
    AdminUnlocked,
    /// An operator ended every session (`facegate admin sign-out`).
    AdminSignedOut,
    /// A second step other than the face completed a sign-in (detail: which).
    SecondFactorSucceeded,
    /// A wrong authenticator code, recovery code or passkey (detail: which).
    SecondFactorFailed,
    SecondFactorLockedOut,
    /// A recovery code was used (detail: how many are left).
    RecoveryCodeUsed,
    /// A passkey, an authenticator app or a set of recovery codes was added (detail: which).
    FactorAdded,
    FactorRemoved,
    PasswordChanged,
    EmailChanged,
    /// The owner ended sessions from the settings (detail: how many).
    SessionsEnded,
    /// A password-reset link was emailed.
    PasswordResetRequested,
    /// The account was moved over from another system (`facegate admin import-users`).
    Imported,
    /// The owner downloaded their personal data (`GET /api/me/export`).
    DataExported,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::PasswordLockedOut => "password_locked_out",
            Self::FaceSucceeded => "face_succeeded",
            Self::FaceFailed => "face_failed",
            Self::FaceNotSeen => "face_not_seen",
            Self::FaceLockedOut => "face_locked_out",
            Self::FaceDisabled => "face_disabled",
            Self::FaceReenrolled => "face_reenrolled",
            Self::Logout => "logout",
            Self::AdminUnlocked => "admin_unlocked",
            Self::AdminSignedOut => "admin_signed_out",
            Self::SecondFactorSucceeded => "second_factor_succeeded",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::SecondFactorLockedOut => "second_factor_locked_out",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::SessionsEnded => "sessions_ended",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::Imported => "imported",
            Self::DataExported => "data_exported",
        }
    }
}

/// The address recorded for what an operator did on the server itself (`facegate admin`, imports):
/// the audit trail shows it to the account owner like any other auth event.
pub const OPERATOR_IP: &str = "local admin";

/// One event to record. `user_id` is `None` for a login naming no account.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub user_id: Option<i64>,
    pub kind: AuditKind,
    pub at: i64,
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub detail: Option<String>,
}

/// An event as listed to its owner.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub kind: String,
    /// Unix milliseconds.
    pub at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

impl Db {
    pub async fn record_event(&self, e: &NewAuditEvent<'_>) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO audit_events (user_id, kind, at, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(e.user_id)
            .bind(e.kind.as_str())
            .bind(e.at)
            .bind(e.ip)
            .bind(e.user_agent)
            .bind(&e.detail)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The newest `limit` events of the user, newest first.
    pub async fn events(&self, user_id: i64, limit: i64) -> Result<Vec<AuditEvent>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT kind, at, ip, user_agent, detail FROM audit_events WHERE user_id = $1
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    kind: r.try_get("kind")?,
                    at: r.try_get("at")?,
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
