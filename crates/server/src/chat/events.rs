//! The JSON the chat speaks: REST views and WebSocket events.
//!
//! Server events are objects with a `type` and, once published by the hub, a `seq`:
//! `message.new`, `message.updated`, `message.deleted`, `reaction.updated`, `typing`, `read`, `presence`,
//! `channel.updated`, `channel.deleted`, `member.added`, `member.removed`, and to one person's own
//! sockets only `thread.read` and `channel.muted`. Control frames that
//! are not events carry no `seq`: `hello` (first frame of every socket), `pong`, `error`.
//! Client frames: `{"type":"typing","channel_id":N,"on":true}` and `{"type":"ping"}`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::storage::chat::{MessageRow, ThreadSummaryRow, UserSummary};
use crate::storage::reactions::ReactionRow;

use super::attachments::AttachmentView;
use super::domain;

/// A message as clients see it. Times are unix milliseconds. A deleted message keeps its id
/// and author, with empty text and `deleted: true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub channel_id: i64,
    pub author: UserSummary,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// The message this one answers, quoted.
    pub reply_to: Option<ReplyView>,
    /// Reactions, each emoji once with who added it, in the order they were first added.
    /// Empty in the `last_message` of the channel list, which is a preview only.
    pub reactions: Vec<ReactionView>,
    /// Files sent with the message, in the order they were uploaded (none once it is deleted).
    pub attachments: Vec<AttachmentView>,
    /// For a reply in a thread, the thread's first message; `None` in the channel's timeline.
    pub thread_root: Option<i64>,
    /// For a message that started a thread, the thread's size (in history and in the events
    /// that change the message; absent from `message.new` and the channel list's preview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadView>,
}

/// How many replies a thread has and when the last came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ThreadView {
    pub replies: i64,
    pub last_reply_id: i64,
    pub last_reply_at: i64,
}

impl From<ThreadSummaryRow> for ThreadView {
    fn from(row: ThreadSummaryRow) -> Self {
        Self {
            replies: row.replies,
            last_reply_id: row.last_reply_id,
            last_reply_at: row.last_reply_at,
        }
    }
}

/// My read position in a thread I follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ThreadReadView {
    pub root_id: i64,
    pub last_read_id: i64,
}

/// The answered message as a reply quotes it: its author and the start of its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReplyView {
    pub id: i64,
    pub author: UserSummary,
    /// At most 200 characters of its text (empty once it is deleted).
    pub text: String,
    pub deleted: bool,
}

/// One emoji on a message and the people who reacted with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReactionView {
    pub emoji: String,
    pub count: usize,
    pub user_ids: Vec<i64>,
}

/// Groups reaction rows (oldest first) into each message's list of [`ReactionView`]s.
pub fn reaction_views(rows: Vec<ReactionRow>) -> HashMap<i64, Vec<ReactionView>> {
    let mut out: HashMap<i64, Vec<ReactionView>> = HashMap::new();
    for row in rows {
        let views = out.entry(row.message_id).or_default();
        match views.iter_mut().find(|v| v.emoji == row.emoji) {
            Some(view) => {
                view.count += 1;
                view.user_ids.push(row.user_id);
            }
            None => views.push(ReactionView {
                emoji: row.emoji,
                count: 1,
                user_ids: vec![row.user_id],
            }),
        }
    }
    out
}

impl From<MessageRow> for MessageView {
    fn from(row: MessageRow) -> Self {
        let reply_to = match (row.reply_to, row.reply_author_id) {
            (Some(id), Some(author_id)) => Some(ReplyView {
                id,
                author: UserSummary {
                    id: author_id,
                    username: row.reply_author_username.unwrap_or_default(),
                    full_name: row.reply_author_full_name.unwrap_or_default(),
                },
                text: domain::quote_of(&row.reply_text.unwrap_or_default()),
                deleted: row.reply_deleted_at.is_some(),
            }),
            _ => None,
        };
        Self {
            reply_to,
            reactions: Vec::new(),
            attachments: Vec::new(),
            thread_root: row.thread_root,
            thread: None,
            id: row.id,
            channel_id: row.channel_id,
            author: UserSummary {
                id: row.author_id,
                username: row.author_username,
                full_name: row.author_full_name,
            },
            text: row.text,
            client_id: row.client_id,
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted: row.deleted_at.is_some(),
        }
    }
}

/// A channel member in a channel's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MemberView {
    #[serde(flatten)]
    pub user: UserSummary,
    /// Id of the last message this member has read.
    pub last_read_id: i64,
    /// Whether the member has an open socket right now.
    pub online: bool,
}

/// A channel's details (`GET /api/channels/{id}`, `channel.updated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: i64,
    pub kind: &'static str,
    pub name: Option<String>,
    pub owner_id: Option<i64>,
    pub created_at: i64,
    pub last_activity_at: Option<i64>,
    pub members: Vec<MemberView>,
}

/// The other member of a direct channel in the channel list, with their presence, so the list
/// shows who is online from the first paint (before any `presence` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PeerView {
    #[serde(flatten)]
    pub user: UserSummary,
    pub online: bool,
}

/// One entry of `GET /api/channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChannelListItem {
    pub id: i64,
    pub kind: &'static str,
    pub name: Option<String>,
    pub owner_id: Option<i64>,
    pub created_at: i64,
    pub last_activity_at: Option<i64>,
    /// For a direct channel, the other member and whether they are online now.
    pub peer: Option<PeerView>,
    /// How many members the channel has (the list names only a direct channel's peer).
    pub member_count: i64,
    pub last_message: Option<MessageView>,
    pub last_read_id: i64,
    /// Messages by others after my read position (thread replies count in their thread).
    pub unread: i64,
    /// Threads I follow (I started, opened or replied in them) with replies by others that I
    /// have not read.
    pub unread_threads: i64,
    /// I muted the channel: it sends me no notification and its unread count is not in the tab title.
    pub muted: bool,
}

/// Server-to-client events (before the hub adds `seq`).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum Event<'a> {
    #[serde(rename = "message.new")]
    MessageNew {
        channel_id: i64,
        message: &'a MessageView,
    },
    #[serde(rename = "message.updated")]
    MessageUpdated {
        channel_id: i64,
        message: &'a MessageView,
    },
    /// Carries the deleted message too (empty text, `deleted: true`), so clients can treat it
    /// like an update.
    #[serde(rename = "message.deleted")]
    MessageDeleted {
        channel_id: i64,
        message_id: i64,
        message: &'a MessageView,
    },
    /// The whole list of a message's reactions after one was added or removed.
    #[serde(rename = "reaction.updated")]
    ReactionUpdated {
        channel_id: i64,
        message_id: i64,
        reactions: &'a [ReactionView],
    },
    #[serde(rename = "typing")]
    Typing {
        channel_id: i64,
        user_id: i64,
        on: bool,
    },
    #[serde(rename = "read")]
    Read {
        channel_id: i64,
        user_id: i64,
        message_id: i64,
    },
    #[serde(rename = "channel.updated")]
    ChannelUpdated { channel: &'a ChannelView },
    #[serde(rename = "channel.deleted")]
    ChannelDeleted { channel_id: i64 },
    #[serde(rename = "member.added")]
    MemberAdded {
        channel_id: i64,
        user: &'a UserSummary,
    },
    #[serde(rename = "member.removed")]
    MemberRemoved { channel_id: i64, user_id: i64 },
    /// My read position in a thread moved (to my own sockets: my other tabs follow).
    #[serde(rename = "thread.read")]
    ThreadRead {
        channel_id: i64,
        root_id: i64,
        message_id: i64,
    },
    /// I muted or unmuted a channel (to my own sockets).
    #[serde(rename = "channel.muted")]
    ChannelMuted { channel_id: i64, muted: bool },
}

impl Event<'_> {
    /// The JSON object the hub publishes. Serialising these plain structs cannot fail; the
    /// fallback only keeps a bug from panicking the server.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            tracing::error!(%err, "serialising a chat event failed");
            String::from(r#"{"type":"error"}"#)
        })
    }
}

/// Frames a client may send over the socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type")]
pub enum ClientFrame {
    #[serde(rename = "typing")]
    Typing { channel_id: i64, on: bool },
    #[serde(rename = "ping")]
    Ping,
}

/// First frame on every socket: who you are, the current sequence number, and whether the
/// requested `since` could be replayed (`resync: true` means: reload through the REST API).
pub fn hello_frame(user_id: i64, seq: u64, resync: bool) -> String {
    format!(r#"{{"type":"hello","user_id":{user_id},"seq":{seq},"resync":{resync}}}"#)
}

/// Answer to a client `ping`.
pub const PONG_FRAME: &str = r#"{"type":"pong"}"#;

/// An error about one client frame (the socket stays open).
pub fn error_frame(code: &str, message: &str) -> String {
    serde_json::json!({"type": "error", "code": code, "message": message}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_dotted_type() {
        let json = Event::MemberRemoved {
            channel_id: 3,
            user_id: 9,
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"member.removed","channel_id":3,"user_id":9}"#
        );
    }

    #[test]
    fn client_frames_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"typing","channel_id":4,"on":true}"#)
                .ok(),
            Some(ClientFrame::Typing {
                channel_id: 4,
                on: true
            })
        );
        assert_eq!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"ping"}"#).ok(),
            Some(ClientFrame::Ping)
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"send","text":"x"}"#).is_err());
    }

    #[test]
    fn message_text_is_carried_verbatim() {
        let view = MessageView {
            id: 1,
            channel_id: 2,
            author: UserSummary {
                id: 3,
                username: "a".into(),
                full_name: "A".into(),
            },
            text: "<b>hi</b> & \"you\"".into(),
            client_id: None,
            created_at: 0,
            edited_at: None,
            deleted: false,
            reply_to: None,
            reactions: Vec::new(),
            attachments: Vec::new(),
            thread_root: None,
            thread: None,
        };
        let json = Event::MessageNew {
            channel_id: 2,
            message: &view,
        }
        .to_json();
        let back: serde_json::Value = serde_json::from_str(&json).expect("valid json");
        assert_eq!(back["message"]["text"], "<b>hi</b> & \"you\"");
    }
}
