//! Authentication: password policy and hashing, sessions, brute-force rules, CSRF, face
//! verification, and the account flows that combine them.

pub mod account;
pub mod csrf;
pub mod factors;
pub mod live;
pub mod lockout;
pub mod mail;
pub mod passkey;
pub mod password;
pub mod policy;
pub mod recovery;
pub mod session;
pub mod totp;
pub mod verify;

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use webauthn_rs::Webauthn;

use crate::chat::ChatHub;
use crate::config::Config;
use crate::crypto::{LoginPseudonyms, TemplateCipher};
use crate::email::Mailer;
use crate::error::ApiResult;
use crate::faces::FaceService;
use crate::liveness::LiveService;
use crate::metrics::Metrics;
use crate::pool::BlockingPool;
use crate::proxy::Cidr;
use crate::ratelimit::RateLimits;
use crate::storage::audit::{AuditKind, NewAuditEvent};
use crate::storage::Db;

/// What the auth use cases work with, borrowed for one request from the node's state. The use
/// cases get these handles and nothing else: they cannot reach the HTTP edge above them.
#[derive(Clone, Copy)]
pub struct Auth<'a> {
    pub db: &'a Db,
    pub config: &'a Config,
    pub face: &'a FaceService,
    /// The bounded pool for argon2 (shared with `face`).
    pub pool: &'a BlockingPool,
    pub live: &'a LiveService,
    pub cipher: &'a TemplateCipher,
    pub login_pseudonyms: &'a LoginPseudonyms,
    pub limits: &'a RateLimits,
    /// `None` when the public URL's host cannot be a WebAuthn relying party (an IP address).
    pub webauthn: Option<&'a Webauthn>,
    /// `None` when `[email]` is not configured.
    pub mailer: Option<&'a Mailer>,
    pub metrics: &'a Metrics,
    /// Closes the chat sockets of ended sessions, and removes a deleted account's channels.
    pub chat: &'a ChatHub,
}

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Longest user agent stored in the audit trail.
const MAX_USER_AGENT: usize = 256;

/// Who is asking: peer address and user agent, for rate limits and the audit trail.
///
/// The address is the TCP peer, or, when that peer is one of `trusted_proxies`, the client the
/// proxy names in `X-Forwarded-For` (see [`crate::proxy::client_ip`]). The header is never
/// believed from anyone else: it is trivially forged.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Client {
    pub fn ip_string(&self) -> String {
        self.ip.to_string()
    }
}

impl Client {
    /// The client of a request from TCP peer `peer` with `headers`.
    pub fn of_request(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[Cidr]) -> Self {
        let ip = crate::proxy::client_ip(peer, headers, trusted_proxies);
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(MAX_USER_AGENT).collect());
        Self { ip, user_agent }
    }
}

/// The lockout metric's `kind` of an audited event, for the events that are lockouts.
fn lockout_kind(kind: AuditKind) -> Option<&'static str> {
    match kind {
        AuditKind::PasswordLockedOut => Some("password"),
        AuditKind::FaceLockedOut => Some("face"),
        AuditKind::FaceDisabled => Some("face_disabled"),
        AuditKind::SecondFactorLockedOut => Some("second_factor"),
        _ => None,
    }
}

/// Writes one audit event, and logs it: the log shows every auth decision (details are
/// fixed texts and counts, never a secret). Lockouts are counted in the metrics here, the one
/// place every kind of lockout passes.
pub async fn audit(
    state: &Auth<'_>,
    user_id: Option<i64>,
    kind: AuditKind,
    client: &Client,
    detail: Option<String>,
) -> ApiResult<()> {
    let ip = client.ip_string();
    tracing::info!(user_id, kind = kind.as_str(), %ip, detail = detail.as_deref(), "auth event");
    if let Some(lockout) = lockout_kind(kind) {
        state.metrics.lockout(lockout);
    }
    state
        .db
        .record_event(&NewAuditEvent {
            user_id,
            kind,
            at: now_ms(),
            ip: &ip,
            user_agent: client.user_agent.as_deref(),
            detail: detail.clone(),
        })
        .await?;
    if let Some(user_id) = user_id {
        mail::notify(state, user_id, kind, detail.as_deref(), client, None).await?;
    }
    Ok(())
}
