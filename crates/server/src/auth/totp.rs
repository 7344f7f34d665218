//! Authenticator-app codes (TOTP, RFC 6238: HMAC-SHA1, 6 digits, 30-second steps).
//!
//! The secret (160 random bits) is sealed at rest like a face template. A code is accepted for
//! the current step or one step either side (clock drift), and only once: the database keeps
//! the last accepted step and refuses that step and every earlier one.

use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use super::factors::{
    admit_second_factor_attempt, complete_sign_in, second_factor_failed, second_factor_succeeded,
};
use super::policy::Factor;
use super::session::{AnySession, FullSession, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult};
use crate::storage::audit::AuditKind;

const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
const SECRET_BYTES: usize = 20;

/// What the user needs to add the account to an authenticator app. Shown once, at enrolment.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The QR code of `uri`, as an SVG document made by the server.
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

fn issuer(state: &Auth<'_>) -> String {
    state
        .config
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .map_or_else(
            || "facegate".to_owned(),
            |host| format!("facegate ({host})"),
        )
}

fn totp(secret: Vec<u8>, issuer: String, account: String) -> ApiResult<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret,
        Some(issuer),
        account,
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("TOTP parameters: {e:?}")))
}

/// The 30-second step of a unix time in seconds.
fn step_of(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The step whose code `code` is, among the current one and one either side; `None` when it
/// is none of them. Compared without early exit, so timing tells nothing about the digits.
pub fn matching_step(totp: &TOTP, code: &str, now_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(now_secs);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&step| constant_time_eq(totp.generate(step * STEP_SECS).as_bytes(), code.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unix_secs(now_ms: i64) -> u64 {
    u64::try_from(now_ms / 1000).unwrap_or(0)
}

/// Starts (or restarts) the enrolment of an authenticator app: a fresh secret, pending until
/// [`confirm`] sees a first code from it. 409 `conflict` when one is already confirmed.
pub async fn begin(state: &Auth<'_>, session: &FullSession) -> ApiResult<TotpEnrolment> {
    let user = state
        .db
        .user(session.user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let sealed = state.cipher.seal_totp_secret(session.user_id, &secret);
    if !state
        .db
        .begin_totp(session.user_id, &sealed, now_ms())
        .await?
    {
        return Err(ApiError::Conflict {
            field: "authenticator app (remove the current one first)",
        });
    }
    let totp = totp(secret, issuer(state), user.username)?;
    let uri = totp.get_url();
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(TotpEnrolment {
        secret: totp.get_secret_base32(),
        uri,
        qr_svg,
    })
}

/// The account's TOTP (confirmed or pending) and whether it is confirmed.
async fn load(state: &Auth<'_>, user_id: i64) -> ApiResult<Option<(TOTP, bool)>> {
    let Some(row) = state.db.totp(user_id).await? else {
        return Ok(None);
    };
    let secret = state
        .cipher
        .open_totp_secret(user_id, &row.sealed)
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "TOTP secret of user {user_id} does not open under the server key"
            ))
        })?;
    Ok(Some((
        totp(secret, issuer(state), String::new())?,
        row.confirmed,
    )))
}

/// Checks `code` against the account's secret and records its step (no replay). Counted and
/// throttled like a password.
async fn check_code(
    state: &Auth<'_>,
    user_id: i64,
    code: &str,
    want_confirmed: bool,
    client: &Client,
) -> ApiResult<()> {
    let Some((totp, confirmed)) = load(state, user_id).await? else {
        return Err(ApiError::FactorNotAccepted {
            factor: "totp",
            reason: "the account has not set up that factor",
        });
    };
    if confirmed != want_confirmed {
        return Err(ApiError::FactorNotAccepted {
            factor: "totp",
            reason: if confirmed {
                "the authenticator app is already confirmed"
            } else {
                "the authenticator app is not confirmed yet"
            },
        });
    }
    admit_second_factor_attempt(state, user_id, client).await?;
    let now = now_ms();
    let step = matching_step(&totp, code, unix_secs(now));
    let used = match step {
        Some(step) => {
            state
                .db
                .use_totp_step(user_id, i64::try_from(step).unwrap_or(i64::MAX), now)
                .await?
        }
        None => false,
    };
    if !used {
        return Err(second_factor_failed(state, user_id, "authenticator code", client).await);
    }
    second_factor_succeeded(state, user_id).await
}

/// Confirms a pending enrolment with a first code from the app.
pub async fn confirm(
    state: &Auth<'_>,
    session: &FullSession,
    code: &str,
    client: &Client,
) -> ApiResult<()> {
    check_code(state, session.user_id, code, false, client).await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::FactorAdded,
        client,
        Some("authenticator app".into()),
    )
    .await
}

/// Removes the authenticator app (a recent sign-in is needed, as for every factor removal).
pub async fn remove(state: &Auth<'_>, session: &FullSession, client: &Client) -> ApiResult<()> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    if !state.db.delete_totp(session.user_id).await? {
        return Err(ApiError::NotFound);
    }
    audit(
        state,
        Some(session.user_id),
        AuditKind::FactorRemoved,
        client,
        Some("authenticator app".into()),
    )
    .await
}

/// Completes a sign-in with a code from the app.
pub async fn sign_in(
    state: &Auth<'_>,
    session: &AnySession,
    code: &str,
    client: &Client,
) -> ApiResult<SessionToken> {
    super::factors::require_second_step(state, session, Factor::Totp).await?;
    check_code(state, session.user_id, code, true, client).await?;
    let token = complete_sign_in(state, session, Factor::Totp, client, now_ms()).await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::SecondFactorSucceeded,
        client,
        Some("authenticator code".into()),
    )
    .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_totp() -> TOTP {
        // RFC 6238 appendix B's SHA-1 key, with 6 digits.
        totp(b"12345678901234567890".to_vec(), "t".into(), "a".into()).expect("valid")
    }

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // RFC 6238 appendix B (8 digits) ends with these 6 digits at T = 59 s and 1111111109 s.
        let t = rfc_totp();
        assert_eq!(t.generate(59), "287082");
        assert_eq!(t.generate(1_111_111_109), "081804");
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let t = rfc_totp();
        let at = 1_111_111_109;
        let code = t.generate(at);
        let step = step_of(at);
        assert_eq!(matching_step(&t, &code, at), Some(step));
        assert_eq!(matching_step(&t, &code, at + 30), Some(step));
        assert_eq!(matching_step(&t, &code, at - 30), Some(step));
        assert_eq!(matching_step(&t, &code, at + 60), None);
        assert_eq!(matching_step(&t, &code, at - 60), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        let t = rfc_totp();
        for bad in ["", "12345", "1234567", "abcdef", "08180x", " 0818 04"] {
            assert_eq!(matching_step(&t, bad, 1_111_111_109), None, "{bad:?}");
        }
        assert!(matching_step(&t, " 081804 ", 1_111_111_109).is_some());
    }
}
