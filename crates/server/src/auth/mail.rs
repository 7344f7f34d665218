//! What the server sends by email, when `[email]` is configured: a link to verify the address
//! (at registration and after a change), a password-reset link (to a verified address only;
//! single use, 15 minutes, stored hashed) and security notices. A reset link only begins a
//! sign-in: the face or a passkey must follow, as after a recovery code.

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::factors::open_first_step;
use super::policy::Factor;
use super::session::{SessionHash, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult};
use crate::storage::audit::AuditKind;
use crate::storage::email::LinkPurpose;

const RESET_TTL_MS: i64 = 15 * 60 * 1000;
const VERIFY_TTL_MS: i64 = 24 * 3600 * 1000;

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(format!("email-link:{token}").as_bytes()))
}

/// The server's own address for links: the public URL, else the listen address.
fn base_url(state: &Auth<'_>) -> String {
    state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.listen))
}

/// Sends `body` to the account's address in the background: the request does not wait for
/// the SMTP server, and a failure is logged.
fn send_later(state: &Auth<'_>, user_id: i64, to: String, subject: &'static str, body: String) {
    let Some(mailer) = state.mailer.cloned() else {
        return;
    };
    tokio::spawn(async move {
        if let Err(e) = mailer.send(&to, subject, body).await {
            tracing::warn!(user_id, error = format!("{e:#}"), subject, "email not sent");
        }
    });
}

async fn new_link(
    state: &Auth<'_>,
    user_id: i64,
    email: &str,
    purpose: LinkPurpose,
    ttl_ms: i64,
) -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    state
        .db
        .insert_email_link(
            &token_hash(&token),
            user_id,
            purpose,
            email,
            now_ms() + ttl_ms,
        )
        .await?;
    Ok(token)
}

/// Sends the link that verifies the account's current address (nothing when email is off).
pub async fn send_verification(state: &Auth<'_>, user_id: i64) -> ApiResult<()> {
    if state.mailer.is_none() {
        return Ok(());
    }
    let Some((email, _)) = state.db.email_of(user_id).await? else {
        return Ok(());
    };
    let token = new_link(state, user_id, &email, LinkPurpose::Verify, VERIFY_TTL_MS).await?;
    let link = format!("{}/verify-email#{token}", base_url(state));
    let body = format!(
        "Please confirm that this is your address for facegate by opening this link \
         (valid for 24 hours):\n\n{link}\n\nIf you did not create an account, ignore this email."
    );
    send_later(state, user_id, email, "Confirm your email address", body);
    Ok(())
}

/// Follows a verification link.
pub async fn verify_address(state: &Auth<'_>, token: &str) -> ApiResult<()> {
    let user_id = state
        .db
        .take_email_link(&token_hash(token), LinkPurpose::Verify, now_ms())
        .await?
        .ok_or(ApiError::ChallengeInvalid)?;
    state.db.mark_email_verified(user_id, now_ms()).await?;
    Ok(())
}

/// Sends a reset link when `login` names an account with a verified address. Answers the same
/// whatever happens, so it tells nobody which logins or addresses exist.
pub async fn request_reset(state: &Auth<'_>, login: &str, client: &Client) -> ApiResult<()> {
    state
        .limits
        .login
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    if state.mailer.is_none() || login.len() > 254 {
        return Ok(());
    }
    let Some((user, _)) = state.db.find_login(login).await? else {
        return Ok(());
    };
    let Some((email, true)) = state.db.email_of(user.id).await? else {
        return Ok(());
    };
    let token = new_link(state, user.id, &email, LinkPurpose::Reset, RESET_TTL_MS).await?;
    let link = format!("{}/reset-password#{token}", base_url(state));
    let body = format!(
        "Someone (hopefully you) asked to reset the password of your facegate account \
         \"{}\". Open this link within 15 minutes; you will be asked for your face or a \
         passkey, then for a new password:\n\n{link}\n\nIf it was not you, ignore this email: \
         the link does nothing by itself.",
        user.username
    );
    send_later(state, user.id, email, "Reset your facegate password", body);
    audit(
        state,
        Some(user.id),
        AuditKind::PasswordResetRequested,
        client,
        None,
    )
    .await
}

/// Follows a reset link: a session at level `password` whose first factor is the link.
pub async fn begin_reset(
    state: &Auth<'_>,
    token: &str,
    previous: Option<SessionHash>,
    client: &Client,
) -> ApiResult<SessionToken> {
    let user_id = state
        .db
        .take_email_link(&token_hash(token), LinkPurpose::Reset, now_ms())
        .await?
        .ok_or(ApiError::ChallengeInvalid)?;
    let session = open_first_step(state, user_id, Factor::EmailLink, previous, client).await?;
    audit(
        state,
        Some(user_id),
        AuditKind::LoginSucceeded,
        client,
        Some("password-reset link followed, second step pending".into()),
    )
    .await?;
    Ok(session)
}

/// The security notice an audit event sends the account's owner, if any.
fn notice(kind: AuditKind) -> Option<&'static str> {
    match kind {
        AuditKind::FactorAdded => Some("A sign-in method was added to your facegate account"),
        AuditKind::FactorRemoved => Some("A sign-in method was removed from your facegate account"),
        AuditKind::FaceDisabled => Some("The face check of your facegate account is disabled"),
        AuditKind::PasswordChanged => Some("Your facegate password was changed"),
        AuditKind::EmailChanged => Some("The email of your facegate account was changed"),
        _ => None,
    }
}

/// Emails the owner about a security-relevant event (see [`notice`]); `to` overrides the
/// address (an email change notifies the old one).
pub async fn notify(
    state: &Auth<'_>,
    user_id: i64,
    kind: AuditKind,
    detail: Option<&str>,
    client: &Client,
    to: Option<String>,
) -> ApiResult<()> {
    let Some(subject) = notice(kind) else {
        return Ok(());
    };
    // A face_disabled event without a detail is a refused attempt on a face already disabled
    // (verify::admit_face_attempt); the owner was told when it became disabled, and mailing on
    // every refusal would let anyone with the password flood the inbox.
    if kind == AuditKind::FaceDisabled && detail.is_none() {
        return Ok(());
    }
    send_notice(state, user_id, subject, detail, client, to).await
}

/// Emails the owner that a sign-in completed from a browser never seen on the account before.
pub async fn notify_new_device(state: &Auth<'_>, user_id: i64, client: &Client) -> ApiResult<()> {
    if state.mailer.is_none()
        || state
            .db
            .signed_in_before_with(user_id, client.user_agent.as_deref())
            .await?
    {
        return Ok(());
    }
    send_notice(
        state,
        user_id,
        "New sign-in to your facegate account",
        Some("a browser this account had not signed in from before"),
        client,
        None,
    )
    .await
}

async fn send_notice(
    state: &Auth<'_>,
    user_id: i64,
    subject: &'static str,
    detail: Option<&str>,
    client: &Client,
    to: Option<String>,
) -> ApiResult<()> {
    if state.mailer.is_none() {
        return Ok(());
    }
    let to = match to {
        Some(to) => to,
        None => match state.db.email_of(user_id).await? {
            Some((email, _)) => email,
            None => return Ok(()),
        },
    };
    let body = format!(
        "{subject}{}.\n\nFrom: {} ({})\n\nIf this was you, there is nothing to do. If not, sign \
         in, change your password and check \"Where you are signed in\" and the security events \
         in the settings.",
        detail.map(|d| format!(": {d}")).unwrap_or_default(),
        client.ip,
        client.user_agent.as_deref().unwrap_or("unknown browser"),
    );
    send_later(state, user_id, to, subject, body);
    Ok(())
}
