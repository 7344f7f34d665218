//! `GET /api/face/live`: the live face check over a WebSocket (docs/live-check.md), and
//! `POST /api/face/live/finish`, which turns a passed check's ticket into a `full` session.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::app::AppState;
use crate::auth::live::{self, Ending, LiveResult};
use crate::auth::session::{set_cookie, AnySession, Level};
use crate::auth::{now_ms, Client};
use crate::config::{Config, LivenessMode};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::faces::FaceBox;
use crate::liveness::check::{CheckRules, Event, Failure, LiveCheck, Purpose, Verdict};
use crate::liveness::quality::Guidance;
use crate::metrics::SocketKind;
use crate::shutdown::Draining;

/// Largest frame or message a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Frames allowed within any one second; more closes the socket (4003).
const MAX_FRAMES_PER_SECOND: usize = 15;
/// A write that does not complete in this time means the client stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server waits for the client's side of the closing handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

const CLOSE_DONE: u16 = 1000;
/// The node is draining: start the check again (a load balancer sends it to another node).
const CLOSE_SERVICE_RESTART: u16 = 1012;
const CLOSE_TOO_FAST: u16 = 4003;
const CLOSE_BAD_FRAME: u16 = 4004;
const CLOSE_TIME_LIMIT: u16 = 4008;

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// `verify` (the face step of a sign-in) or `enrol`.
    purpose: Purpose,
}

/// Who runs the check: a signed-in account's face step, or an enrolment (for a registration, or
/// for the re-enrolment of the account with a `full` session).
#[derive(Clone)]
enum Subject {
    Verify { session: AnySession },
    Enrol { user_id: Option<i64> },
}

#[derive(Serialize)]
struct Ready {
    #[serde(rename = "type")]
    kind: &'static str,
    purpose: &'static str,
    steps: usize,
    time_limit_ms: i64,
}

#[derive(Serialize)]
struct FrameAnswer {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    face: Option<FaceBox>,
    guidance: Guidance,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientText {
    Cancel,
}

/// Opens a live check (WebSocket upgrade). Messages: docs/live-check.md.
#[utoipa::path(get, path = "/api/face/live", tag = "face", security((), ("session" = [])),
    params(("purpose" = String, Query, pattern = "^(verify|enrol)$", description = "`verify` (needs a password-level session) or `enrol`")),
    responses(
        (status = 101, description = "switching to the live check's WebSocket protocol"),
        (status = 400, description = "invalid_request (purpose missing or unknown)", body = ErrorBody),
        (status = 401, description = "unauthenticated (purpose=verify without a session)", body = ErrorBody),
        (status = 403, description = "cross_origin, face_disabled, or factor_not_accepted (auth.policy)", body = ErrorBody),
        (status = 404, description = "not_found: a plain GET when `face.liveness` is `off`", body = ErrorBody),
        (status = 426, description = "upgrade_required: a plain GET (no WebSocket upgrade) when a check could start now; nothing is counted", body = ErrorBody),
        (status = 429, description = "locked_out or rate_limited, with Retry-After", body = ErrorBody)))]
pub async fn open(
    State(state): State<AppState>,
    client: Client,
    session: Result<AnySession, ApiError>,
    headers: HeaderMap,
    query: Result<Query<LiveQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let Query(query) =
        query.map_err(|e| ApiError::Validation(format!("invalid query: {}", e.body_text())))?;
    let Ok(ws) = ws else {
        return Err(probe(&state, session, query.purpose).await);
    };
    if !crate::auth::csrf::websocket_origin_allowed(&headers, &state.config) {
        return Err(ApiError::CrossOrigin);
    }
    let subject = match query.purpose {
        Purpose::Verify => {
            let session = session?;
            live::open_verify(&state.auth(), &session, &client).await?;
            Subject::Verify { session }
        }
        Purpose::Enrol => {
            live::open_enrol(&state.auth(), &client).await?;
            let user_id = session
                .ok()
                .filter(|s| s.level == Level::Full)
                .map(|s| s.user_id);
            Subject::Enrol { user_id }
        }
    };
    Ok(ws
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, state, client, subject))
        .into_response())
}

/// A plain `GET` (no upgrade): the refusal the upgrade would get now, or 426
/// `upgrade_required` when a check may start; 404 when the server does not check faces live.
/// Nothing is counted, so the page can ask before it opens the camera.
async fn probe(
    state: &AppState,
    session: Result<AnySession, ApiError>,
    purpose: Purpose,
) -> ApiError {
    if state.config.face.liveness == LivenessMode::Off {
        return ApiError::NotFound;
    }
    if purpose == Purpose::Verify {
        let checked = match session {
            Ok(session) => live::probe_verify(&state.auth(), &session).await,
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            return e;
        }
    }
    ApiError::UpgradeRequired
}

/// The rules of a check under `config`.
pub fn check_rules(config: &Config) -> CheckRules {
    let f = &config.face;
    let defaults = CheckRules::default();
    CheckRules {
        steps: f.liveness_steps,
        actions: f.liveness_actions.clone(),
        script: f.liveness_script.clone(),
        continuity_distance: f.match_threshold,
        // A fixed script is played by recorded clips (browser tests) whose movements start
        // about 1.5 s after the prompt, give or take a second: only the window applies.
        start_ms: if f.liveness_script.is_empty() {
            defaults.start_ms
        } else {
            defaults.step_window_ms
        },
        ..defaults
    }
}

/// What the socket loop ended with.
struct Run {
    verdict: Option<Verdict>,
    ending: Ending,
    prompted: bool,
    /// The first and the latest frame used for identity, for the multiple-face check.
    kept: Vec<Bytes>,
    /// An error that ended the check early (bad frame, busy server), with its close code.
    error: Option<(ApiError, u16)>,
    /// The node started draining during the check.
    restarting: bool,
}

async fn run(mut socket: WebSocket, state: AppState, client: Client, subject: Subject) {
    let purpose = match subject {
        Subject::Verify { .. } => Purpose::Verify,
        Subject::Enrol { .. } => Purpose::Enrol,
    };
    // Both held for the socket's life: the connection gauge, and the drain's count of sockets.
    let _counted = state.metrics.socket_opened(SocketKind::LiveCheck);
    let mut draining = state.shutdown.watch();
    let outcome = drive(&mut socket, &state, purpose, &mut draining).await;
    let restarting = outcome.restarting;
    let timed_out = matches!(
        outcome.verdict,
        Some(Verdict::Failed {
            failure: Failure::Timeout,
            ..
        })
    );
    let close_code = match &outcome.error {
        Some((_, code)) => *code,
        None if timed_out => CLOSE_TIME_LIMIT,
        None => CLOSE_DONE,
    };
    let mut result = match conclude(&state, &client, &subject, outcome).await {
        Ok(result) => result,
        Err(e) => {
            if let ApiError::Internal(inner) = &e {
                tracing::error!(error = format!("{inner:#}"), "live check");
            }
            LiveResult::from_error(&e)
        }
    };
    if restarting {
        result.reason = Some("server_restarting");
        result.message = Some("the server is restarting; start the check again".into());
    }
    if send(&mut socket, &result).await {
        let frame = CloseFrame {
            code: close_code,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
        // Complete the closing handshake: frames the client sent meanwhile are read and dropped,
        // so the connection is not reset with the result still unread on the client's side.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn conclude(
    state: &AppState,
    client: &Client,
    subject: &Subject,
    run: Run,
) -> ApiResult<LiveResult> {
    match subject {
        Subject::Verify { session } => match run.error {
            Some((e, _)) => {
                live::end_failed(
                    &state.auth(),
                    session.user_id,
                    client,
                    run.prompted,
                    LiveResult::from_error(&e),
                )
                .await
            }
            None => {
                live::conclude_verify(
                    &state.auth(),
                    session,
                    client,
                    run.verdict,
                    run.ending,
                    run.kept,
                )
                .await
            }
        },
        Subject::Enrol { user_id } => match run.error {
            Some((e, _)) => Ok(LiveResult::from_error(&e)),
            None => live::conclude_enrol(&state.auth(), *user_id, run.verdict, run.kept).await,
        },
    }
}

/// Streams frames through a [`LiveCheck`] until it reaches a verdict, the client cancels or
/// leaves, or a frame cannot be used.
async fn drive(
    socket: &mut WebSocket,
    state: &AppState,
    purpose: Purpose,
    draining: &mut Draining,
) -> Run {
    let mut rng = rand::rngs::OsRng;
    let mut check = LiveCheck::new(purpose, check_rules(&state.config), &mut rng, now_ms());
    let mut run = Run {
        verdict: None,
        ending: Ending::Gone,
        prompted: false,
        kept: Vec::new(),
        error: None,
        restarting: false,
    };
    let ready = Ready {
        kind: "ready",
        purpose: purpose.as_str(),
        steps: check.steps(),
        time_limit_ms: check_rules(&state.config).total_ms,
    };
    if !send(socket, &ready).await {
        return run;
    }
    let mut seq = 0u64;
    let mut rate = FrameRate::default();
    // Messages the client sent while the previous frame was analysed, already counted.
    let mut waiting: VecDeque<Option<Result<Message, axum::Error>>> = VecDeque::new();
    loop {
        let wait =
            Duration::from_millis(u64::try_from(check.next_deadline() - now_ms()).unwrap_or(0));
        let message = if let Some(m) = waiting.pop_front() {
            m
        } else {
            tokio::select! {
                m = socket.recv() => {
                    if rate.too_fast(&m) {
                        run.error = Some((too_fast(), CLOSE_TOO_FAST));
                        return run;
                    }
                    m
                }
                () = draining.started() => {
                    // Not the person's failure: the attempt is given back (not `prompted`).
                    run.prompted = false;
                    run.restarting = true;
                    run.error = Some((ApiError::Busy, CLOSE_SERVICE_RESTART));
                    return run;
                }
                () = tokio::time::sleep(wait) => {
                    let reply = check.on_clock(now_ms());
                    run.prompted = check.prompted();
                    if !send_events(socket, &reply.events).await {
                        return run;
                    }
                    if let Some(verdict) = reply.verdict {
                        run.verdict = Some(verdict);
                        run.ending = Ending::Verdict;
                        return run;
                    }
                    continue;
                }
            }
        };
        let frame = match message {
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Text(text))) => {
                if serde_json::from_str::<ClientText>(&text).is_ok() {
                    run.ending = Ending::Cancelled;
                } else {
                    run.error = Some((
                        ApiError::Validation("unknown message".into()),
                        CLOSE_BAD_FRAME,
                    ));
                }
                return run;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_)) | Err(_)) | None => return run,
        };
        seq += 1;
        let analysed = match state.live.analyse(frame.clone(), check.needs()).await {
            Ok(a) => a,
            Err(e) => {
                let code = if matches!(e, ApiError::Busy) {
                    CLOSE_DONE
                } else {
                    CLOSE_BAD_FRAME
                };
                run.prompted = check.prompted();
                run.error = Some((e, code));
                return run;
            }
        };
        let face = analysed.face_box();
        let reply = check.on_frame(analysed.seen, now_ms());
        run.prompted = check.prompted();
        if reply.identity_frame {
            if run.kept.len() >= 2 {
                run.kept.pop();
            }
            run.kept.push(frame);
        }
        let answer = FrameAnswer {
            kind: "frame",
            seq,
            face,
            guidance: reply.guidance.unwrap_or(Guidance::Ok),
        };
        if !send(socket, &answer).await || !send_events(socket, &reply.events).await {
            return run;
        }
        if let Some(verdict) = reply.verdict {
            run.verdict = Some(verdict);
            run.ending = Ending::Verdict;
            return run;
        }
        // A client that follows the protocol sends nothing while its frame is analysed; read
        // what came meanwhile now, so frames are counted when they arrived and not when the
        // server got round to them (a slow server must not hide a flood).
        while waiting.len() <= MAX_FRAMES_PER_SECOND {
            let Some(m) = socket.recv().now_or_never() else {
                break;
            };
            if rate.too_fast(&m) {
                run.error = Some((too_fast(), CLOSE_TOO_FAST));
                return run;
            }
            let more = matches!(m, Some(Ok(Message::Binary(_))));
            waiting.push_back(m);
            if !more {
                break;
            }
        }
    }
}

/// The frames of the last second, to close a socket that sends more than
/// [`MAX_FRAMES_PER_SECOND`].
#[derive(Default)]
struct FrameRate {
    arrivals: VecDeque<tokio::time::Instant>,
}

impl FrameRate {
    /// Counts `message` if it is a frame; true when that makes too many in one second.
    fn too_fast(&mut self, message: &Option<Result<Message, axum::Error>>) -> bool {
        if !matches!(message, Some(Ok(Message::Binary(_)))) {
            return false;
        }
        let now = tokio::time::Instant::now();
        self.arrivals.push_back(now);
        while self
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.arrivals.pop_front();
        }
        self.arrivals.len() > MAX_FRAMES_PER_SECOND
    }
}

fn too_fast() -> ApiError {
    ApiError::Validation(format!("more than {MAX_FRAMES_PER_SECOND} frames a second"))
}

async fn send_events(socket: &mut WebSocket, events: &[Event]) -> bool {
    for e in events {
        if !send(socket, e).await {
            return false;
        }
    }
    true
}

/// Sends one JSON message; false when the client is gone or stopped reading.
async fn send(socket: &mut WebSocket, message: &impl Serialize) -> bool {
    let Ok(text) = serde_json::to_string(message) else {
        return false;
    };
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

#[derive(Deserialize, ToSchema)]
pub struct FinishRequest {
    /// The `ticket` of the check's passed `result`.
    ticket: String,
}

#[derive(Serialize, ToSchema)]
pub struct FinishResponse {
    level: Level,
}

/// Turns a passed live check into a session at level `full` (once, within 60 s, for the session
/// that ran the check).
#[utoipa::path(post, path = "/api/face/live/finish", tag = "face", security(("session" = [])),
    request_body = FinishRequest,
    responses(
        (status = 200, body = FinishResponse, headers(("set-cookie" = String))),
        (status = 400, description = "challenge_invalid (unknown, used or expired ticket), invalid_request", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub async fn finish(
    State(state): State<AppState>,
    client: Client,
    session: AnySession,
    ApiJson(request): ApiJson<FinishRequest>,
) -> ApiResult<Response> {
    let token = live::finish(&state.auth(), &session, &request.ticket, &client).await?;
    Ok((
        [(header::SET_COOKIE, set_cookie(&state.config, &token))],
        Json(FinishResponse { level: Level::Full }),
    )
        .into_response())
}
