//! The two steps of a sign-in, whatever the factors: opening a session at level `password`
//! after the first step, and raising it to `full` after a second step that
//! [`super::policy`] accepts. Also the lockout of the non-face second factors.

use super::lockout::{Counters, FaceGate};
use super::policy::{self, AccountFactors, FaceFactor, Factor};
use super::session::{AnySession, Level, SessionHash, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult};
use crate::storage::audit::AuditKind;
use crate::storage::sessions::NewSession;

/// What the account has enrolled, for the policy and for `GET /api/me`.
pub async fn account_factors(state: &Auth<'_>, user_id: i64) -> ApiResult<AccountFactors> {
    let face = if state.db.templates(user_id).await?.is_empty() {
        FaceFactor::None
    } else {
        let counters = state.db.counters(user_id).await?;
        match counters.face_gate(&state.config.face_lockout(), now_ms()) {
            FaceGate::Disabled => FaceFactor::Disabled,
            FaceGate::Open | FaceGate::Wait(_) => FaceFactor::Enrolled,
        }
    };
    Ok(AccountFactors {
        face,
        passkeys: state.db.passkey_count(user_id).await?,
        totp: state.db.totp(user_id).await?.is_some_and(|t| t.confirmed),
        recovery_codes_left: state.db.recovery_codes_left(user_id).await?,
    })
}

/// The second steps that can complete this session's sign-in (empty once it is `full`).
pub async fn next_steps(state: &Auth<'_>, session: &AnySession) -> ApiResult<Vec<Factor>> {
    if session.level == Level::Full {
        return Ok(Vec::new());
    }
    let account = account_factors(state, session.user_id).await?;
    Ok(policy::second_steps(
        state.config.auth.policy,
        session.first_factor,
        &account,
    ))
}

/// Refuses with 403 `factor_not_accepted` unless `second` may complete this sign-in.
pub async fn require_second_step(
    state: &Auth<'_>,
    session: &AnySession,
    second: Factor,
) -> ApiResult<()> {
    let account = account_factors(state, session.user_id).await?;
    // A disabled face keeps its own error (and audit) from the face lockout gate.
    if second == Factor::Face && account.face == FaceFactor::Disabled {
        return Err(ApiError::FaceDisabled);
    }
    match policy::refusal(
        state.config.auth.policy,
        session.first_factor,
        second,
        &account,
    ) {
        None => Ok(()),
        Some(reason) => Err(ApiError::FactorNotAccepted {
            factor: second.as_str(),
            reason,
        }),
    }
}

/// Opens a session at level `password` after the first step (`first`), destroying the session
/// the request came with (`previous`), if any.
pub async fn open_first_step(
    state: &Auth<'_>,
    user_id: i64,
    first: Factor,
    previous: Option<SessionHash>,
    client: &Client,
) -> ApiResult<SessionToken> {
    if let Some(previous) = previous {
        state.db.delete_session(&previous).await?;
        // A re-login from a browser that still had a session ends that session's sockets too.
        state
            .chat
            .end_session(&crate::chat::SessionKey::new(previous.as_str()))
            .await;
    }
    let token = SessionToken::generate();
    let now = now_ms();
    let ip = client.ip_string();
    state
        .db
        .insert_session(&NewSession {
            id_hash: &token.hash(),
            user_id,
            level: Level::Password,
            created_at: now,
            now,
            ip: &ip,
            user_agent: client.user_agent.as_deref(),
            first_factor: first,
            second_factor: None,
        })
        .await?;
    Ok(token)
}

/// Replaces the session by a new one at level `full` after the second step `second`, if the
/// policy accepts it; the old id stops working at once.
pub async fn complete_sign_in(
    state: &Auth<'_>,
    session: &AnySession,
    second: Factor,
    client: &Client,
    now: i64,
) -> ApiResult<SessionToken> {
    require_second_step(state, session, second).await?;
    super::mail::notify_new_device(state, session.user_id, client).await?;
    let token = SessionToken::generate();
    let ip = client.ip_string();
    let replaced = state
        .db
        .replace_session(
            &session.id_hash,
            &NewSession {
                id_hash: &token.hash(),
                user_id: session.user_id,
                level: Level::Full,
                created_at: session.created_at,
                now,
                ip: &ip,
                user_agent: client.user_agent.as_deref(),
                first_factor: session.first_factor,
                second_factor: Some(second),
            },
        )
        .await?;
    if !replaced {
        return Err(ApiError::Unauthenticated);
    }
    Ok(token)
}

/// The lockout gate of the non-face second factors (the password's rules on their own
/// counter): when open, the attempt is counted as a failure up front, so parallel guesses
/// cannot slip through one gate; [`second_factor_succeeded`] undoes it.
pub async fn admit_second_factor_attempt(
    state: &Auth<'_>,
    user_id: i64,
    client: &Client,
) -> ApiResult<()> {
    let rules = state.config.lockout.clone();
    let now = now_ms();
    let (_, gate) = state
        .db
        .update_counters(user_id, |c: &mut Counters| {
            let gate = c.second_factor.gate(&rules, now);
            if gate.is_ok() {
                c.second_factor.record_attempt(now);
            }
            gate
        })
        .await?;
    if let Err(wait) = gate {
        let detail = format!("locked for {} s", wait.as_secs().max(1));
        audit(
            state,
            Some(user_id),
            AuditKind::SecondFactorLockedOut,
            client,
            Some(detail),
        )
        .await?;
        return Err(ApiError::LockedOut { retry_after: wait });
    }
    Ok(())
}

/// A correct code: the failure counted up front is undone.
pub async fn second_factor_succeeded(state: &Auth<'_>, user_id: i64) -> ApiResult<()> {
    state
        .db
        .update_counters(user_id, |c| c.second_factor.succeeded())
        .await?;
    Ok(())
}

/// Audits a wrong code (already counted) and returns the error to answer.
pub async fn second_factor_failed(
    state: &Auth<'_>,
    user_id: i64,
    what: &str,
    client: &Client,
) -> ApiError {
    match audit(
        state,
        Some(user_id),
        AuditKind::SecondFactorFailed,
        client,
        Some(what.to_owned()),
    )
    .await
    {
        Ok(()) => ApiError::CodeInvalid,
        Err(e) => e,
    }
}

/// The second steps that can complete the sign-in of a session just opened (by its token).
pub async fn second_steps_of(state: &Auth<'_>, token: &SessionToken) -> ApiResult<Vec<Factor>> {
    let row = state
        .db
        .session(&token.hash())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let account = account_factors(state, row.user_id).await?;
    Ok(policy::second_steps(
        state.config.auth.policy,
        row.first_factor,
        &account,
    ))
}
