//! The face step of the login: a one-time challenge, then frames checked against the templates.

use axum::body::Bytes;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::factors::{complete_sign_in, require_second_step};
use super::lockout::FaceGate;
use super::policy::Factor;
use super::session::{AnySession, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::config::LivenessMode;
use crate::error::{ApiError, ApiResult};
use crate::faces::FrameFaces;
use crate::storage::audit::AuditKind;

/// Most frames accepted by one verification.
pub const MAX_FRAMES: usize = 5;

fn nonce_hash(nonce: &str) -> String {
    hex::encode(Sha256::digest(nonce.as_bytes()))
}

/// A fresh one-time nonce bound to the session (any earlier one of the session is dropped).
pub async fn challenge(
    state: &Auth<'_>,
    session: &AnySession,
    client: &Client,
) -> ApiResult<(String, u64)> {
    state
        .limits
        .face
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    match require_second_step(state, session, Factor::Face).await {
        // A disabled face is answered (and audited) by the verification's lockout gate.
        Ok(()) | Err(ApiError::FaceDisabled) => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = hex::encode(bytes);
    let ttl = state.config.sessions.challenge_ttl_secs;
    let expires_at =
        now_ms().saturating_add(i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX));
    state
        .db
        .insert_challenge(
            &nonce_hash(&nonce),
            &session.id_hash,
            session.user_id,
            expires_at,
        )
        .await?;
    Ok((nonce, ttl))
}

/// Checks the frames; on a match replaces the session by a new one at level `full` and returns
/// its token.
pub async fn verify(
    state: &Auth<'_>,
    session: &AnySession,
    challenge: &str,
    frames: Vec<Bytes>,
    client: &Client,
) -> ApiResult<SessionToken> {
    if state.config.face.liveness == LivenessMode::Active {
        return Err(ApiError::LivenessRequired);
    }
    state
        .limits
        .face
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    if frames.is_empty() || frames.len() > MAX_FRAMES {
        return Err(ApiError::Validation(format!(
            "send 1-{MAX_FRAMES} frame images"
        )));
    }
    let now = now_ms();
    if !state
        .db
        .take_challenge(&nonce_hash(challenge), &session.id_hash, now)
        .await?
    {
        return Err(ApiError::ChallengeInvalid);
    }
    let user_id = session.user_id;
    admit_face_attempt(state, user_id, client, now).await?;
    let outcome = match check_frames(state, user_id, frames).await {
        Ok(outcome) => outcome,
        Err(e) => {
            // Not a failed comparison (bad image, no face in view, busy server): give the attempt
            // back.
            // Still an attempt on the account when no single face was seen: its owner sees it
            // in the security events.
            state.metrics.face_verification(e.code());
            let seen = matches!(e, ApiError::NoFace { .. } | ApiError::MultipleFaces { .. });
            let detail = seen.then(|| format!("{e} (not counted)"));
            give_back_face_attempt(state, user_id, client, detail).await?;
            return Err(e);
        }
    };
    tracing::info!(user_id, passed = outcome.passed, frames = outcome.frames,
        frames_passed = outcome.frames_passed, distances = ?outcome.distances, "face verification");
    if !outcome.passed {
        state.metrics.face_verification("mismatch");
        record_face_failure(state, user_id, client, now, None).await?;
        return Err(ApiError::FaceMismatch);
    }
    state
        .db
        .update_counters(user_id, |c| c.face_succeeded())
        .await?;
    state.metrics.face_verification("match");
    let token = complete_sign_in(state, session, Factor::Face, client, now).await?;
    audit(state, Some(user_id), AuditKind::FaceSucceeded, client, None).await?;
    Ok(token)
}

/// Applies the face lockout gate and, when open, counts the attempt as a failure up front (so
/// parallel attempts cannot slip through one gate); refusals are audited.
pub(crate) async fn admit_face_attempt(
    state: &Auth<'_>,
    user_id: i64,
    client: &Client,
    now: i64,
) -> ApiResult<()> {
    let rules = state.config.face_lockout();
    let (_, gate) = state
        .db
        .update_counters(user_id, |c| {
            let gate = c.face_gate(&rules, now);
            if gate == FaceGate::Open {
                c.record_face_attempt(now);
            }
            gate
        })
        .await?;
    match gate {
        FaceGate::Open => Ok(()),
        FaceGate::Wait(wait) => {
            state.metrics.face_verification("locked_out");
            let detail = format!("locked for {} s", wait.as_secs().max(1));
            audit(
                state,
                Some(user_id),
                AuditKind::FaceLockedOut,
                client,
                Some(detail),
            )
            .await?;
            Err(ApiError::LockedOut { retry_after: wait })
        }
        FaceGate::Disabled => {
            state.metrics.face_verification("face_disabled");
            audit(state, Some(user_id), AuditKind::FaceDisabled, client, None).await?;
            Err(ApiError::FaceDisabled)
        }
    }
}

/// Audits a failed check (already counted by [`admit_face_attempt`]) and the lockout or
/// disabling it triggers.
pub(crate) async fn record_face_failure(
    state: &Auth<'_>,
    user_id: i64,
    client: &Client,
    now: i64,
    what: Option<&str>,
) -> ApiResult<()> {
    let counters = state.db.counters(user_id).await?;
    let count = format!("{} consecutive failure(s)", counters.face_consecutive);
    let detail = match what {
        Some(what) => format!("{what}; {count}"),
        None => count,
    };
    audit(
        state,
        Some(user_id),
        AuditKind::FaceFailed,
        client,
        Some(detail),
    )
    .await?;
    match counters.face_gate(&state.config.face_lockout(), now) {
        FaceGate::Open => Ok(()),
        FaceGate::Wait(wait) => {
            let detail = format!("locked for {} s", wait.as_secs().max(1));
            audit(
                state,
                Some(user_id),
                AuditKind::FaceLockedOut,
                client,
                Some(detail),
            )
            .await
        }
        FaceGate::Disabled => {
            let detail = "re-enrol to use the face check again".to_owned();
            audit(
                state,
                Some(user_id),
                AuditKind::FaceDisabled,
                client,
                Some(detail),
            )
            .await
        }
    }
}

/// Undoes the failure [`admit_face_attempt`] counted up front, for an attempt in which nothing
/// was compared; `detail` (when given) is audited as `face_not_seen`.
pub(crate) async fn give_back_face_attempt(
    state: &Auth<'_>,
    user_id: i64,
    client: &Client,
    detail: Option<String>,
) -> ApiResult<()> {
    state
        .db
        .update_counters(user_id, |c| {
            c.face_consecutive = c.face_consecutive.saturating_sub(1)
        })
        .await?;
    if let Some(detail) = detail {
        audit(
            state,
            Some(user_id),
            AuditKind::FaceNotSeen,
            client,
            Some(detail),
        )
        .await?;
    }
    Ok(())
}

/// The account's enrolled templates, decrypted.
pub(crate) async fn enrolled_templates(
    state: &Auth<'_>,
    user_id: i64,
) -> ApiResult<Vec<face::Descriptor>> {
    let sealed = state.db.templates(user_id).await?;
    sealed
        .iter()
        .map(|t| state.cipher.open(user_id, t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.into()))
}

async fn check_frames(
    state: &Auth<'_>,
    user_id: i64,
    frames: Vec<Bytes>,
) -> ApiResult<crate::faces::MatchOutcome> {
    let templates = enrolled_templates(state, user_id).await?;
    let described = state.face.describe_frames(frames.clone()).await?;
    crate::faces::require_a_comparable_frame(&described)?;
    let descriptors: Vec<_> = described.iter().map(FrameFaces::descriptor).collect();
    let outcome = crate::faces::decide(&descriptors, &templates, state.config.face.match_threshold);
    if outcome.passed {
        // The fast detector misses the second face of some pairs (one of them would then pass
        // as "the" face): a match is confirmed only when the thorough detector finds one face
        // in every frame that matched.
        let matched: Vec<Bytes> = frames
            .into_iter()
            .zip(&outcome.distances)
            .filter(|(_, d)| d.is_some_and(|d| d < state.config.face.match_threshold))
            .map(|(f, _)| f)
            .collect();
        if let Some(index) = state
            .face
            .first_with_several_faces(matched, crate::faces::Lane::Pool)
            .await?
        {
            return Err(ApiError::MultipleFaces { index });
        }
    }
    Ok(outcome)
}
