//! The chat REST handlers: parse, call one [`Chat`] use case, answer. All need a `full` session.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::contract::FullSessionEverywhere;
use super::extract::ApiJson;
use crate::app::AppState;
use crate::auth::session::FullSession;
use crate::error::ErrorBody;

use crate::chat::domain::{self, ChannelKind, ChatError};
use crate::chat::events::{ChannelListItem, ChannelView, MessageView, ReactionView};
use crate::chat::search::SearchPage;
use crate::chat::service::{Chat, EarlierVersion, HistoryPage, Placement, ThreadPage, UserPage};

/// The OpenAPI description of the chat routes (merged into `/api/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    paths(search_users, create_channel, list_channels, channel, rename_channel, delete_channel,
        add_member, remove_member, history, send, edit_message, earlier_versions, delete_message, add_reaction,
        remove_reaction, mark_read, thread, mark_thread_read, mute, unmute, search_messages, blocks,
        block, unblock, report),
    modifiers(&FullSessionEverywhere),
    tags((name = "chat", description = "Channels, messages and read positions (full sessions only). \
        Live events: WebSocket GET /api/ws, see crate::api::chat_ws."))
)]
pub(super) struct ChatApiDoc;

/// `GET /api/channels`.
#[derive(Serialize, ToSchema)]
struct ChannelList {
    channels: Vec<ChannelListItem>,
}

/// `PUT` and `DELETE /api/channels/{id}/messages/{mid}/reactions/{emoji}`.
#[derive(Serialize, ToSchema)]
struct Reactions {
    reactions: Vec<ReactionView>,
}

/// `POST /api/channels/{id}/read`.
#[derive(Serialize, ToSchema)]
struct ReadPosition {
    last_read_id: i64,
}

/// The chat's REST routes (the WebSocket route is added by [`super::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(search_users))
        .route("/api/search", get(search_messages))
        .route("/api/channels", get(list_channels).post(create_channel))
        .route(
            "/api/channels/{id}",
            get(channel).patch(rename_channel).delete(delete_channel),
        )
        .route("/api/channels/{id}/members", post(add_member))
        .route("/api/channels/{id}/members/{user}", delete(remove_member))
        .route("/api/channels/{id}/messages", get(history).post(send))
        .route(
            "/api/channels/{id}/messages/{mid}",
            delete(delete_message).patch(edit_message),
        )
        .route(
            "/api/channels/{id}/messages/{mid}/versions",
            get(earlier_versions),
        )
        .route(
            "/api/channels/{id}/messages/{mid}/reactions/{emoji}",
            put(add_reaction).delete(remove_reaction),
        )
        .route("/api/channels/{id}/read", post(mark_read))
        .route("/api/channels/{id}/threads/{root}", get(thread))
        .route(
            "/api/channels/{id}/threads/{root}/read",
            post(mark_thread_read),
        )
        .route("/api/channels/{id}/mute", put(mute).delete(unmute))
        .route("/api/blocks", get(blocks))
        .route("/api/blocks/{user}", put(block).delete(unblock))
        .route("/api/channels/{id}/messages/{mid}/report", post(report))
        // A 4,000-character text is at most ~24 KB of JSON even with every character escaped.
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// Largest chat request body.
const BODY_LIMIT_BYTES: usize = 64 * 1024;

impl IntoResponse for ChatError {
    /// One mapping for every error at the edge: [`ApiError`]'s.
    fn into_response(self) -> Response {
        crate::error::ApiError::from(self).into_response()
    }
}

pub(super) type ChatResult<T> = Result<T, ChatError>;

fn chat(state: &AppState) -> Chat<'_> {
    Chat {
        db: &state.db,
        hub: &state.chat,
    }
}

/// Handlers pass the time into the use cases.
pub(super) use crate::auth::now_ms;

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> ChatResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ChatError::Invalid(format!("Invalid query: {}", e.body_text())))
}

/// Takes one chat write of `user_id` from the per-account limit (shared by the nodes of a bus).
pub(super) async fn admit_write(state: &AppState, user_id: i64) -> ChatResult<()> {
    state
        .limits
        .chat_write
        .take(user_id)
        .await
        .map_err(|retry_after| ChatError::RateLimited { retry_after })
}

/// A malformed id names no channel or message: 404 like any unknown one.
pub(super) fn path<T>(p: Result<Path<T>, PathRejection>) -> ChatResult<T> {
    p.map(|Path(v)| v).map_err(|_| ChatError::ChannelNotFound)
}

#[derive(Debug, Deserialize)]
struct UserQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/users", tag = "chat",
    params(("q" = Option<String>, Query, max_length = 100, description = "Prefix of a username or full name (at most 100 characters)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 50")),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn search_users(
    State(state): State<AppState>,
    session: FullSession,
    q: Result<Query<UserQuery>, QueryRejection>,
) -> ChatResult<Response> {
    let q = query(q)?;
    let page = chat(&state)
        .search_users(session.user_id, &q.q, q.after.as_deref(), q.limit)
        .await?;
    Ok(Json(page).into_response())
}

/// `GET /api/blocks`.
#[derive(Serialize, ToSchema)]
struct BlockList {
    users: Vec<crate::storage::chat::UserSummary>,
}

#[utoipa::path(get, path = "/api/blocks", tag = "chat",
    responses((status = 200, description = "The people I blocked", body = BlockList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
async fn blocks(State(state): State<AppState>, session: FullSession) -> ChatResult<Response> {
    let users = chat(&state).blocked(session.user_id).await?;
    Ok(Json(BlockList { users }).into_response())
}

#[utoipa::path(put, path = "/api/blocks/{user}", tag = "chat", params(("user" = i64, Path)),
    responses((status = 204, description = "Blocked (again: no change). They can no longer message me directly; the page hides their messages"),
        (status = 400, description = "invalid_request: myself", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required or cross_origin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)))]
async fn block(
    State(state): State<AppState>,
    session: FullSession,
    user: Result<Path<i64>, PathRejection>,
) -> ChatResult<StatusCode> {
    let user = path(user).map_err(|_| ChatError::UserNotFound(0))?;
    chat(&state).block(session.user_id, user, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/blocks/{user}", tag = "chat", params(("user" = i64, Path)),
    responses((status = 204, description = "Not blocked (any more)"),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required or cross_origin", body = ErrorBody),
        (status = 404, description = "A malformed id", body = ErrorBody)))]
async fn unblock(
    State(state): State<AppState>,
    session: FullSession,
    user: Result<Path<i64>, PathRejection>,
) -> ChatResult<StatusCode> {
    let user = path(user).map_err(|_| ChatError::UserNotFound(0))?;
    chat(&state).unblock(session.user_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
struct ReportMessage {
    /// Why, for the operators: 1-500 characters, not only spaces.
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    reason: String,
}

/// `POST /api/channels/{id}/messages/{mid}/report`.
#[derive(Serialize, ToSchema)]
struct ReportAnswer {
    reported: bool,
}

#[utoipa::path(post, path = "/api/channels/{id}/messages/{mid}/report", tag = "chat",
    params(("id" = i64, Path), ("mid" = i64, Path)), request_body = ReportMessage,
    responses((status = 201, description = "Reported: the operators see it with `facegate admin reports`", body = ReportAnswer),
        (status = 200, description = "I had reported this message already", body = ReportAnswer),
        (status = 400, description = "invalid_request: no reason, or over 500 characters", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required or cross_origin", body = ErrorBody),
        (status = 404, description = "No such channel, not a member, or no such (or a deleted) message", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    ApiJson(body): ApiJson<ReportMessage>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    let (id, mid) = path(ids)?;
    let done = chat(&state)
        .report(session.user_id, id, mid, &body.reason, now_ms())
        .await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ReportAnswer { reported: true })).into_response())
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/search", tag = "chat",
    params(("q" = String, Query, min_length = 1, max_length = 200, description = "Words to find (at most 200 characters, 16 words); each is matched as a word, the last also as a prefix; no operators"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 50, description = "1-50, default 20")),
    responses((status = 200, description = "Messages of my channels that hold every word, newest first, with a snippet", body = SearchPage),
        (status = 400, description = "invalid_request: no word, too long, or a limit out of range", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "face_required", body = ErrorBody)))]
async fn search_messages(
    State(state): State<AppState>,
    session: FullSession,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> ChatResult<Response> {
    let q = query(q)?;
    let page = chat(&state)
        .search_messages(session.user_id, &q.q, q.limit)
        .await?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
struct CreateChannel {
    kind: ChannelKind,
    /// The other person of a direct channel (exactly one), or the first members of a group
    /// (at most 1,000).
    #[serde(default)]
    #[schema(max_items = 1000)]
    members: Vec<i64>,
    /// A group's name: 1-100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/channels", tag = "chat", request_body = CreateChannel,
    responses((status = 201, description = "Created", body = ChannelView),
        (status = 200, description = "The existing direct channel of the pair", body = ChannelView),
        (status = 400, body = ErrorBody), (status = 404, description = "A member does not exist", body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn create_channel(
    State(state): State<AppState>,
    session: FullSession,
    ApiJson(body): ApiJson<CreateChannel>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    let (view, created) = chat(&state)
        .create_channel(
            session.user_id,
            body.kind,
            &body.members,
            body.name.as_deref(),
            now_ms(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

#[utoipa::path(get, path = "/api/channels", tag = "chat",
    responses((status = 200, description = "`{\"channels\": [...]}`, newest activity first", body = ChannelList)))]
async fn list_channels(
    State(state): State<AppState>,
    session: FullSession,
) -> ChatResult<Response> {
    let channels = chat(&state).list_channels(session.user_id).await?;
    Ok(Json(ChannelList { channels }).into_response())
}

#[utoipa::path(get, path = "/api/channels/{id}", tag = "chat", params(("id" = i64, Path)),
    responses((status = 200, body = ChannelView), (status = 404, description = "No such channel or not a member", body = ErrorBody)))]
async fn channel(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
) -> ChatResult<Response> {
    let view = chat(&state).channel(session.user_id, path(id)?).await?;
    Ok(Json(view).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
struct Rename {
    /// 1-100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
}

#[utoipa::path(patch, path = "/api/channels/{id}", tag = "chat", params(("id" = i64, Path)), request_body = Rename,
    responses((status = 200, body = ChannelView), (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn rename_channel(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    ApiJson(body): ApiJson<Rename>,
) -> ChatResult<Response> {
    let id = path(id)?;
    let view = chat(&state)
        .rename(session.user_id, id, &body.name, now_ms())
        .await?;
    Ok(Json(view).into_response())
}

#[utoipa::path(delete, path = "/api/channels/{id}", tag = "chat", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted (group owner, direct channel) or left (group member)"),
        (status = 404, body = ErrorBody)))]
async fn delete_channel(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
) -> ChatResult<StatusCode> {
    chat(&state)
        .delete_or_leave(session.user_id, path(id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
struct AddMember {
    user_id: i64,
}

#[utoipa::path(post, path = "/api/channels/{id}/members", tag = "chat", params(("id" = i64, Path)), request_body = AddMember,
    responses((status = 200, body = ChannelView), (status = 403, description = "Not the owner", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    ApiJson(body): ApiJson<AddMember>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    let id = path(id)?;
    let view = chat(&state)
        .add_member(session.user_id, id, body.user_id, now_ms())
        .await?;
    Ok(Json(view).into_response())
}

#[utoipa::path(delete, path = "/api/channels/{id}/members/{user}", tag = "chat",
    params(("id" = i64, Path), ("user" = i64, Path)),
    responses((status = 204, description = "Removed (owner) or left (self)"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
) -> ChatResult<StatusCode> {
    let (id, user) = path(ids)?;
    chat(&state)
        .remove_member(session.user_id, id, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/channels/{id}/messages", tag = "chat",
    params(("id" = i64, Path), ("before" = Option<i64>, Query), ("after" = Option<i64>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 50")),
    responses((status = 200, body = HistoryPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> ChatResult<Response> {
    let id = path(id)?;
    let q = query(q)?;
    let page = domain::validate_page(q.before, q.after, q.limit)?;
    let page = chat(&state).history(session.user_id, id, page).await?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
struct SendMessage {
    /// At most 4,000 characters, not only spaces (may be empty with attachments).
    #[schema(max_length = 4000)]
    text: String,
    /// The sender's own id for the message, so that a retry is not stored twice: 1-64 visible
    /// ASCII characters.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    client_id: Option<String>,
    /// The id of an earlier message that this one quotes: of this channel's timeline, or of
    /// the same thread (its first message included).
    reply_to: Option<i64>,
    /// Sends the message as a reply in the thread started by this message of the channel's
    /// timeline (a thread reply stays out of the timeline and its unread count).
    thread_root: Option<i64>,
    /// Ids of files I uploaded into this channel and have not sent yet (at most 10); with
    /// attachments, `text` may be empty.
    #[serde(default)]
    #[schema(max_items = 10)]
    attachments: Vec<i64>,
}

#[utoipa::path(post, path = "/api/channels/{id}/messages", tag = "chat", params(("id" = i64, Path)), request_body = SendMessage,
    responses((status = 201, body = MessageView), (status = 200, description = "A retry: the message stored earlier with this client_id", body = MessageView),
        (status = 400, description = "invalid_request: no text (and no attachment), too long, a bad reply_to or thread_root, or an attachment that is not my unsent upload to this channel", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "client_id already used for another text", body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    ApiJson(body): ApiJson<SendMessage>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    let id = path(id)?;
    let sent = chat(&state)
        .send(
            session.user_id,
            id,
            &body.text,
            body.client_id.as_deref(),
            Placement {
                reply_to: body.reply_to,
                thread_root: body.thread_root,
            },
            &body.attachments,
            now_ms(),
        )
        .await?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sent.message)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
struct EditMessage {
    /// 1-4,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    text: String,
}

#[utoipa::path(patch, path = "/api/channels/{id}/messages/{mid}", tag = "chat",
    params(("id" = i64, Path), ("mid" = i64, Path)), request_body = EditMessage,
    responses((status = 200, body = MessageView), (status = 403, description = "Not the author", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn edit_message(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    ApiJson(body): ApiJson<EditMessage>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    let (id, mid) = path(ids)?;
    let message = chat(&state)
        .edit(session.user_id, id, mid, &body.text, now_ms())
        .await?;
    Ok(Json(message).into_response())
}

/// `GET /api/channels/{id}/messages/{mid}/versions`.
#[derive(Serialize, ToSchema)]
struct EarlierVersions {
    /// Oldest first; at most 20 (older ones are not kept). Empty for a message never edited,
    /// or deleted.
    versions: Vec<EarlierVersion>,
}

/// A message's earlier versions, for the channel's members.
#[utoipa::path(get, path = "/api/channels/{id}/messages/{mid}/versions", tag = "chat",
    params(("id" = i64, Path), ("mid" = i64, Path)),
    responses((status = 200, body = EarlierVersions), (status = 404, description = "No such channel or message, or not a member", body = ErrorBody)))]
async fn earlier_versions(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
) -> ChatResult<Json<EarlierVersions>> {
    let (id, mid) = path(ids)?;
    let versions = chat(&state)
        .earlier_versions(session.user_id, id, mid)
        .await?;
    Ok(Json(EarlierVersions { versions }))
}

#[utoipa::path(delete, path = "/api/channels/{id}/messages/{mid}", tag = "chat",
    params(("id" = i64, Path), ("mid" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_message(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
) -> ChatResult<StatusCode> {
    let (id, mid) = path(ids)?;
    chat(&state)
        .delete_message(session.user_id, id, mid, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/channels/{id}/messages/{mid}/reactions/{emoji}", tag = "chat",
    params(("id" = i64, Path), ("mid" = i64, Path),
        ("emoji" = String, Path, min_length = 1, max_length = 16, description = "One emoji, percent-encoded (at most 16 characters)")),
    responses((status = 200, description = "The message's reactions, mine added (adding twice changes nothing)", body = Reactions),
        (status = 400, description = "Not one emoji, or a 21st different emoji on the message", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn add_reaction(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64, String)>, PathRejection>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    react(&state, &session, ids, true).await
}

#[utoipa::path(delete, path = "/api/channels/{id}/messages/{mid}/reactions/{emoji}", tag = "chat",
    params(("id" = i64, Path), ("mid" = i64, Path), ("emoji" = String, Path, min_length = 1, max_length = 16)),
    responses((status = 200, description = "The message's reactions, mine taken back", body = Reactions),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn remove_reaction(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64, String)>, PathRejection>,
) -> ChatResult<Response> {
    admit_write(&state, session.user_id).await?;
    react(&state, &session, ids, false).await
}

async fn react(
    state: &AppState,
    session: &FullSession,
    ids: Result<Path<(i64, i64, String)>, PathRejection>,
    add: bool,
) -> ChatResult<Response> {
    let (id, mid, emoji) = path(ids)?;
    let reactions = chat(state)
        .react(session.user_id, id, mid, &emoji, add, now_ms())
        .await?;
    Ok(Json(Reactions { reactions }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
struct MarkRead {
    message_id: i64,
}

#[utoipa::path(post, path = "/api/channels/{id}/read", tag = "chat", params(("id" = i64, Path)), request_body = MarkRead,
    responses((status = 200, body = ReadPosition), (status = 404, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
    ApiJson(body): ApiJson<MarkRead>,
) -> ChatResult<Response> {
    let id = path(id)?;
    let position = chat(&state)
        .mark_read(session.user_id, id, body.message_id)
        .await?;
    Ok(Json(ReadPosition {
        last_read_id: position,
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/channels/{id}/threads/{root}", tag = "chat",
    params(("id" = i64, Path), ("root" = i64, Path, description = "The message of the channel's timeline that started the thread"),
        ("before" = Option<i64>, Query), ("after" = Option<i64>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1-100, default 50")),
    responses((status = 200, body = ThreadPage), (status = 400, body = ErrorBody),
        (status = 404, description = "No such channel or message (or the message is itself a thread reply), or not a member", body = ErrorBody)))]
async fn thread(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> ChatResult<Response> {
    let (id, root) = path(ids)?;
    let q = query(q)?;
    let page = domain::validate_page(q.before, q.after, q.limit)?;
    let page = chat(&state).thread(session.user_id, id, root, page).await?;
    Ok(Json(page).into_response())
}

#[utoipa::path(post, path = "/api/channels/{id}/threads/{root}/read", tag = "chat",
    params(("id" = i64, Path), ("root" = i64, Path)), request_body = MarkRead,
    responses((status = 200, description = "My read position in the thread (it never moves back); I follow the thread from now on", body = ReadPosition),
        (status = 400, description = "message_id is not a reply of this thread", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn mark_thread_read(
    State(state): State<AppState>,
    session: FullSession,
    ids: Result<Path<(i64, i64)>, PathRejection>,
    ApiJson(body): ApiJson<MarkRead>,
) -> ChatResult<Response> {
    let (id, root) = path(ids)?;
    let position = chat(&state)
        .mark_thread_read(session.user_id, id, root, body.message_id)
        .await?;
    Ok(Json(ReadPosition {
        last_read_id: position,
    })
    .into_response())
}

#[utoipa::path(put, path = "/api/channels/{id}/mute", tag = "chat", params(("id" = i64, Path)),
    responses((status = 204, description = "Muted for me: no notifications, not in the tab title's count"), (status = 404, body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn mute(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
) -> ChatResult<StatusCode> {
    set_muted(&state, &session, id, true).await
}

#[utoipa::path(delete, path = "/api/channels/{id}/mute", tag = "chat", params(("id" = i64, Path)),
    responses((status = 204, description = "Not muted for me"), (status = 404, body = ErrorBody),
        (status = 429, description = "Too many chat writes from this account: wait Retry-After seconds", body = ErrorBody)))]
async fn unmute(
    State(state): State<AppState>,
    session: FullSession,
    id: Result<Path<i64>, PathRejection>,
) -> ChatResult<StatusCode> {
    set_muted(&state, &session, id, false).await
}

async fn set_muted(
    state: &AppState,
    session: &FullSession,
    id: Result<Path<i64>, PathRejection>,
    muted: bool,
) -> ChatResult<StatusCode> {
    admit_write(state, session.user_id).await?;
    let id = path(id)?;
    chat(state)
        .set_muted(session.user_id, id, muted, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
