//! `GET /api/ws`: the real-time event socket.
//!
//! Opening it needs a `full` session cookie and an `Origin` equal to the server's own origin
//! (browsers always send one on a WebSocket handshake; refusing a missing one also refuses
//! cross-site pages in old browsers). `?since=<seq>` replays missed events.
//!
//! The first frame is `hello` (see [`crate::chat::events::hello_frame`]); then come replayed and live
//! events in `seq` order. Limits: frames and messages up to [`MAX_FRAME_BYTES`]; clients may send
//! [`CLIENT_FRAMES_PER_MINUTE`] frames per minute (a burst of as many, refilled evenly);
//! every [`CHECK_INTERVAL`] the socket pings and re-checks its session, and it closes as soon as
//! the session ends (logout calls [`crate::chat::ChatHub::close_session`] for an immediate close).
//!
//! Close codes: 4001 session ended, 4002 too slow (queue full), 4003 rate limited, 4004 bad
//! frame, 1012 service restart (the node is draining: reconnect, to another node if need be).

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::time::{Instant, MissedTickBehavior};

use crate::app::AppState;
use crate::auth::csrf;
use crate::auth::session::{is_expired, FullSession, Level, SessionHash};
use crate::error::ApiError;
use crate::ratelimit::TokenBucket;
use crate::shutdown::Draining;

use super::chat::now_ms;
use crate::chat::events::{self, ClientFrame};
use crate::chat::hub::{CloseReason, Connection, Replay, SessionKey};
use crate::chat::service::Chat;

/// Largest frame or message a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Client frames allowed per minute on one socket (OWASP's starting point).
pub const CLIENT_FRAMES_PER_MINUTE: u32 = 100;
/// How often the socket pings the client and re-validates its session.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// A write that does not complete in this time means the client stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Kernel-side buffering is enough; tungstenite's own buffers stay small so that ten thousand
/// idle sockets cost little memory.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, Deserialize)]
pub(super) struct WsQuery {
    since: Option<u64>,
}

/// The upgrade handler.
pub(super) async fn upgrade(
    State(state): State<AppState>,
    session: FullSession,
    headers: HeaderMap,
    query: Result<Query<WsQuery>, QueryRejection>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if !csrf::websocket_origin_allowed(&headers, &state.config) {
        return Err(ApiError::CrossOrigin);
    }
    let Query(query) =
        query.map_err(|e| ApiError::Validation(format!("invalid query: {}", e.body_text())))?;
    let user_id = session.user_id;
    let hash = session.id_hash;
    Ok(ws
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_FRAME_BYTES * 4)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, state, user_id, hash, query.since))
        .into_response())
}

/// Why the socket loop stopped.
enum End {
    Client,
    Hub(CloseReason),
    SessionEnded,
    RateLimited,
    BadFrame,
    WriteFailed,
}

async fn run(
    mut socket: WebSocket,
    state: AppState,
    user_id: i64,
    hash: SessionHash,
    since: Option<u64>,
) {
    // Held for the socket's life: the drain waits for it to say goodbye.
    let mut draining = state.shutdown.watch();
    let registration = state
        .chat
        .connect(user_id, SessionKey::new(hash.as_str()), since)
        .await;
    let mut conn = registration.connection;
    let chat = Chat {
        db: &state.db,
        hub: &state.chat,
    };
    if registration.first_for_user {
        if let Err(err) = chat.announce_presence(user_id).await {
            tracing::warn!(%err, "presence announcement failed");
        }
    }
    let resync = matches!(registration.replay, Some(Replay::Unavailable));
    let mut end = None;
    let hello = events::hello_frame(user_id, registration.seq, resync);
    if send_text(&mut socket, hello).await.is_err() {
        end = Some(End::WriteFailed);
    }
    if let Some(Replay::Events(replayed)) = registration.replay {
        for event in replayed {
            if end.is_some() {
                break;
            }
            if send_text(&mut socket, event.to_string()).await.is_err() {
                end = Some(End::WriteFailed);
            }
        }
    }
    let end = match end {
        Some(end) => end,
        None => serve(&mut socket, &state, &chat, &mut conn, &hash, &mut draining).await,
    };
    close(&mut socket, &end).await;
    if state.chat.disconnect(&conn).await {
        if let Err(err) = chat.announce_presence(user_id).await {
            tracing::warn!(%err, "presence announcement failed");
        }
    }
}

async fn serve(
    socket: &mut WebSocket,
    state: &AppState,
    chat: &Chat<'_>,
    conn: &mut Connection,
    hash: &SessionHash,
    draining: &mut Draining,
) -> End {
    let mut limiter = TokenBucket::per_minute(CLIENT_FRAMES_PER_MINUTE, Instant::now().into_std());
    // A random phase spreads the checks of sockets opened together (a reconnect storm, a load
    // test) evenly over the interval instead of hitting the database all at once.
    let phase = CHECK_INTERVAL.mul_f64(0.5 + rand::random::<f64>());
    let mut ticker = tokio::time::interval_at(Instant::now() + phase, CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = conn.next_event() => {
                let Some(event) = event else {
                    return End::Hub(conn.close_reason().unwrap_or(CloseReason::Shutdown));
                };
                if send_text(socket, event.to_string()).await.is_err() {
                    return End::WriteFailed;
                }
            }
            incoming = socket.recv() => {
                let message = match incoming {
                    None | Some(Err(_)) => return End::Client,
                    Some(Ok(message)) => message,
                };
                if let Message::Close(_) = message {
                    return End::Client;
                }
                // Control frames are answered by the protocol layer; they still count.
                if limiter.take(Instant::now().into_std()).is_err() {
                    return End::RateLimited;
                }
                if let Err(end) = handle_client(socket, chat, conn.user_id(), message).await {
                    return end;
                }
            }
            () = draining.started() => return End::Hub(CloseReason::Shutdown),
            _ = ticker.tick() => {
                if !session_still_full(state, hash).await {
                    return End::SessionEnded;
                }
                if send(socket, Message::Ping(Default::default())).await.is_err() {
                    return End::WriteFailed;
                }
            }
        }
    }
}

async fn handle_client(
    socket: &mut WebSocket,
    chat: &Chat<'_>,
    user_id: i64,
    message: Message,
) -> Result<(), End> {
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(_) => return Err(End::BadFrame),
        _ => return Ok(()),
    };
    let frame = match serde_json::from_str::<ClientFrame>(text.as_str()) {
        Ok(frame) => frame,
        Err(_) => {
            let reply = events::error_frame("invalid_frame", "Unknown or malformed frame.");
            return send_text(socket, reply).await.map_err(|_| End::WriteFailed);
        }
    };
    match frame {
        ClientFrame::Ping => send_text(socket, events::PONG_FRAME.to_owned())
            .await
            .map_err(|_| End::WriteFailed),
        ClientFrame::Typing { channel_id, on } => {
            match chat.typing(user_id, channel_id, on).await {
                Ok(()) => Ok(()),
                Err(err) => {
                    let reply = events::error_frame(err.code(), &err.message());
                    send_text(socket, reply).await.map_err(|_| End::WriteFailed)
                }
            }
        }
    }
}

/// The session still exists at level `full` and has not timed out. A database error keeps the
/// socket open: the next check (or a logout's `close_session`) decides.
async fn session_still_full(state: &AppState, hash: &SessionHash) -> bool {
    match state.db.session(hash).await {
        Ok(Some(row)) => {
            row.level == Level::Full && !is_expired(&row, &state.config.sessions, now_ms())
        }
        Ok(None) => false,
        Err(err) => {
            tracing::warn!(%err, "session re-check failed");
            true
        }
    }
}

async fn send_text(socket: &mut WebSocket, text: String) -> Result<(), ()> {
    send(socket, Message::Text(Utf8Bytes::from(text))).await
}

async fn send(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn close(socket: &mut WebSocket, end: &End) {
    let (code, reason) = match end {
        End::WriteFailed => return,
        End::Client => {
            // Completes the closing handshake the client started (or ends a vanished one).
            let _ = send(socket, Message::Close(None)).await;
            return;
        }
        End::Hub(CloseReason::TooSlow) => (4002, "too slow"),
        End::Hub(CloseReason::SessionEnded) | End::SessionEnded => (4001, "session ended"),
        End::Hub(_) => (1012, "service restart"),
        End::RateLimited => (4003, "rate limited"),
        End::BadFrame => (4004, "text frames only"),
    };
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    // Best effort: a client that stopped reading gets dropped after the timeout anyway.
    let _ = send(socket, Message::Close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_allows_a_minute_of_frames_then_refills_evenly() {
        let start = std::time::Instant::now();
        let mut limiter = TokenBucket::per_minute(100, start);
        let mut allow = |at: std::time::Instant| limiter.take(at).is_ok();
        assert!((0..100).all(|_| allow(start)));
        assert!(!allow(start));
        // 0.6 s refills one token at 100/min.
        assert!(allow(start + Duration::from_millis(600)));
        assert!(!allow(start + Duration::from_millis(600)));
        assert!((0..100).all(|_| allow(start + Duration::from_secs(600))));
        assert!(!allow(start + Duration::from_secs(600)));
    }
}
