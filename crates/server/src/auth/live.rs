//! What a live face check means for the account: the face lockout around it, the identity
//! decision, the one-time ticket that turns a passed check into a `full` session, and the
//! enrolment token of a live enrolment. The check itself is [`crate::liveness`].

use axum::body::Bytes;
use face::Descriptor;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::factors::{complete_sign_in, require_second_step};
use super::policy::Factor;
use super::session::{AnySession, SessionToken};
use super::verify::{
    admit_face_attempt, enrolled_templates, give_back_face_attempt, record_face_failure,
};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult};
use crate::liveness::check::{Failure, Verdict};
use crate::storage::audit::AuditKind;

/// How long a passed check's ticket may wait for `POST /api/face/live/finish`.
const TICKET_TTL_MS: i64 = 60_000;
/// How long a live enrolment waits for its registration or re-enrolment.
const ENROLMENT_TTL_MS: i64 = 10 * 60_000;

/// The final message of a live check (`"type": "result"`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveResult {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrolment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub retry_after: Option<u64>,
}

impl LiveResult {
    fn passed(ticket: Option<String>, enrolment: Option<String>) -> Self {
        Self {
            kind: "result",
            outcome: "passed",
            ticket,
            enrolment,
            code: None,
            reason: None,
            message: None,
            retry_after: None,
        }
    }

    pub fn failed(code: &'static str, reason: Option<&'static str>, message: &str) -> Self {
        Self {
            kind: "result",
            outcome: "failed",
            ticket: None,
            enrolment: None,
            code: Some(code),
            reason,
            message: Some(message.to_owned()),
            retry_after: None,
        }
    }

    /// The failed result of an API error (lockout, busy, a bad frame...).
    pub fn from_error(e: &ApiError) -> Self {
        let mut r = Self::failed(e.code(), None, &e.to_string());
        r.retry_after = e.retry_after_secs();
        r
    }
}

/// How a check ended besides its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Verdict,
    /// The client sent `cancel`.
    Cancelled,
    /// The socket closed before a verdict.
    Gone,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Tickets live in the face challenges table under a hash of their own domain, so a ticket can
/// never serve as a challenge of `POST /api/face/verify`, nor the other way round.
fn ticket_hash(ticket: &str) -> String {
    hex::encode(Sha256::digest(format!("live-ticket:{ticket}").as_bytes()))
}

fn enrolment_hash(token: &str) -> String {
    hex::encode(Sha256::digest(format!("live-enrolment:{token}").as_bytes()))
}

/// Before the socket opens for a sign-in: the per-IP face limit, an enrolled face, and the face
/// lockout gate, which counts the attempt up front (given back when nothing was compared).
pub async fn open_verify(state: &Auth<'_>, session: &AnySession, client: &Client) -> ApiResult<()> {
    rate_limit(state, client).await?;
    require_second_step(state, session, Factor::Face).await?;
    if state.db.templates(session.user_id).await?.is_empty() {
        return Err(ApiError::FaceDisabled);
    }
    admit_face_attempt(state, session.user_id, client, now_ms()).await
}

/// What opening the socket for a sign-in would answer now, without counting an attempt or
/// spending the rate limit (a plain `GET`, which browsers can read, unlike a refused handshake).
pub async fn probe_verify(state: &Auth<'_>, session: &AnySession) -> ApiResult<()> {
    require_second_step(state, session, Factor::Face).await?;
    if state.db.templates(session.user_id).await?.is_empty() {
        return Err(ApiError::FaceDisabled);
    }
    let counters = state.db.counters(session.user_id).await?;
    match counters.face_gate(&state.config.face_lockout(), now_ms()) {
        super::lockout::FaceGate::Open => Ok(()),
        super::lockout::FaceGate::Wait(wait) => Err(ApiError::LockedOut { retry_after: wait }),
        super::lockout::FaceGate::Disabled => Err(ApiError::FaceDisabled),
    }
}

/// Before the socket opens for an enrolment: the per-IP face limit.
pub async fn open_enrol(state: &Auth<'_>, client: &Client) -> ApiResult<()> {
    rate_limit(state, client).await
}

async fn rate_limit(state: &Auth<'_>, client: &Client) -> ApiResult<()> {
    state
        .limits
        .face
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })
}

/// The sign-in's consequences of a finished check: the identity decision and the multiple-face
/// check for a passed one, the lockout counters and the audit trail for every outcome.
pub async fn conclude_verify(
    state: &Auth<'_>,
    session: &AnySession,
    client: &Client,
    verdict: Option<Verdict>,
    ending: Ending,
    kept: Vec<Bytes>,
) -> ApiResult<LiveResult> {
    let user_id = session.user_id;
    let now = now_ms();
    let (identity, failure, prompted) = match verdict {
        Some(Verdict::Passed { identity, .. }) => (identity, None, true),
        Some(Verdict::Failed { failure, prompted }) => (Vec::new(), Some(failure), prompted),
        None => (Vec::new(), None, false),
    };
    if let Some(failure) = failure {
        let counted = prompted || !matches!(failure, Failure::NoFace | Failure::Timeout);
        return end_failed(state, user_id, client, counted, failure_result(failure)).await;
    }
    if ending != Ending::Verdict {
        let result = match ending {
            Ending::Cancelled => LiveResult::failed("cancelled", None, "the check was cancelled"),
            _ => LiveResult::failed("cancelled", None, "the connection closed"),
        };
        return end_failed(state, user_id, client, prompted, result).await;
    }
    if state.live.shows_several_faces(kept).await? {
        let result = failure_result(Failure::MultipleFaces);
        return end_failed(state, user_id, client, true, result).await;
    }
    let templates = enrolled_templates(state, user_id).await?;
    let passed =
        crate::liveness::identity_matches(&identity, &templates, state.config.face.match_threshold);
    tracing::info!(user_id, passed, frames = identity.len(), "live face check");
    if !passed {
        let result = LiveResult::failed(
            "face_mismatch",
            None,
            "the face did not match the enrolled face",
        );
        return end_failed(state, user_id, client, true, result).await;
    }
    state
        .db
        .update_counters(user_id, |c| c.face_succeeded())
        .await?;
    state.metrics.face_verification("match");
    let ticket = random_token();
    state
        .db
        .insert_challenge(
            &ticket_hash(&ticket),
            &session.id_hash,
            user_id,
            now + TICKET_TTL_MS,
        )
        .await?;
    audit(
        state,
        Some(user_id),
        AuditKind::FaceSucceeded,
        client,
        Some("live check".into()),
    )
    .await?;
    Ok(LiveResult::passed(Some(ticket), None))
}

/// A failed sign-in check: counted (audited, may lock) or given back (`counted` false: nothing
/// was compared).
pub async fn end_failed(
    state: &Auth<'_>,
    user_id: i64,
    client: &Client,
    counted: bool,
    result: LiveResult,
) -> ApiResult<LiveResult> {
    state.metrics.face_verification(match result.code {
        Some("face_mismatch") => "mismatch",
        Some(code) => code,
        None => "failed",
    });
    let detail = format!(
        "live check: {}{}",
        result.reason.or(result.code).unwrap_or("failed"),
        if counted { "" } else { " (not counted)" }
    );
    if counted {
        record_face_failure(state, user_id, client, now_ms(), Some(&detail)).await?;
    } else {
        give_back_face_attempt(state, user_id, client, Some(detail)).await?;
    }
    Ok(result)
}

/// The protocol's failed result for a failed check.
pub fn failure_result(failure: Failure) -> LiveResult {
    let (code, message) = match failure {
        Failure::StepMissed => ("liveness_failed", "a movement was not seen in time"),
        Failure::MovedEarly => (
            "liveness_failed",
            "the movement started before it was asked for",
        ),
        Failure::WrongMovement => ("liveness_failed", "the movement was not the one asked for"),
        Failure::FaceLost => ("liveness_failed", "the face left the camera's view"),
        Failure::FaceChanged => (
            "liveness_failed",
            "the face in view changed during the check",
        ),
        Failure::MultipleFaces => ("multiple_faces", "more than one face was in view"),
        Failure::NoFace => ("no_face", "no face was seen clearly enough"),
        Failure::Timeout => ("timeout", "the check took too long"),
    };
    let reason = (code == "liveness_failed").then(|| failure.reason());
    LiveResult::failed(code, reason, message)
}

/// An enrolment's end: the captured frames must show one person and no second face; then they
/// wait, sealed, under a one-time token for `user_id`'s re-enrolment or (None) a registration.
pub async fn conclude_enrol(
    state: &Auth<'_>,
    user_id: Option<i64>,
    verdict: Option<Verdict>,
    kept: Vec<Bytes>,
) -> ApiResult<LiveResult> {
    let captured = match verdict {
        Some(Verdict::Passed { captured, .. }) => captured,
        Some(Verdict::Failed { failure, .. }) => return Ok(failure_result(failure)),
        None => {
            return Ok(LiveResult::failed(
                "cancelled",
                None,
                "the check was cancelled",
            ))
        }
    };
    if state.live.shows_several_faces(kept).await? {
        return Ok(failure_result(Failure::MultipleFaces));
    }
    if let Err(e) = crate::faces::check_one_person(&captured, state.config.face.match_threshold) {
        return Ok(LiveResult::failed(
            "faces_differ",
            None,
            &format!("{e}; capture again"),
        ));
    }
    let token = random_token();
    let hash = enrolment_hash(&token);
    let sealed: Vec<_> = captured
        .iter()
        .map(|d| state.cipher.seal_pending(&hash, d))
        .collect();
    state
        .db
        .insert_live_enrolment(&hash, user_id, &sealed, now_ms() + ENROLMENT_TTL_MS)
        .await?;
    Ok(LiveResult::passed(None, Some(token)))
}

/// The descriptors of a live enrolment made for `user_id` (None: a registration); 400
/// `invalid_request` when the token is unknown, used, expired or made for another account.
pub async fn peek_enrolment(
    state: &Auth<'_>,
    token: &str,
    user_id: Option<i64>,
) -> ApiResult<Vec<Descriptor>> {
    let hash = enrolment_hash(token.trim());
    let invalid = || ApiError::EnrolmentInvalid;
    let sealed = state
        .db
        .live_enrolment(&hash, user_id, now_ms())
        .await?
        .ok_or_else(invalid)?;
    sealed
        .iter()
        .map(|t| state.cipher.open_pending(&hash, t))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid)
}

/// Deletes a live enrolment once an account holds its templates (single use).
pub async fn forget_enrolment(
    state: &Auth<'_>,
    token: &str,
    user_id: Option<i64>,
) -> ApiResult<()> {
    state
        .db
        .delete_live_enrolment(&enrolment_hash(token.trim()), user_id)
        .await?;
    Ok(())
}

/// Turns a passed check's ticket into a new session at level `full`.
pub async fn finish(
    state: &Auth<'_>,
    session: &AnySession,
    ticket: &str,
    client: &Client,
) -> ApiResult<SessionToken> {
    let now = now_ms();
    if !state
        .db
        .take_challenge(&ticket_hash(ticket.trim()), &session.id_hash, now)
        .await?
    {
        return Err(ApiError::ChallengeInvalid);
    }
    complete_sign_in(state, session, Factor::Face, client, now).await
}
