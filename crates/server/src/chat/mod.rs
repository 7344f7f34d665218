//! Chat: channels (direct and group), messages and real-time delivery, for `full` sessions only.
//!
//! - [`domain`]: the rules as plain functions (text length, membership, owner rights, paging).
//! - [`service`]: the use cases; each stores first, then publishes through the hub.
//! - [`attachments`]: files uploaded into a channel and sent with a message; [`media`]: what
//!   the server does to them (images re-encoded without metadata, safe download names).
//! - [`safety`]: blocking people and reporting messages.
//! - [`search`]: full-text search (FTS5) over the messages of the caller's channels.
//! - [`hub`]: in-memory fan-out with a global event sequence, a replay ring and bounded
//!   per-connection queues.
//! - [`events`]: the JSON of the REST views and socket events.
//!
//! The HTTP and WebSocket edge of the chat is in [`crate::api`] (`chat`, `chat_attachments`,
//! `chat_ws`); nothing here knows about HTTP requests or the application state.
//!
//! A non-member gets 404 for anything about a channel, exactly as if it did not exist.
//!
//! ```
//! use server::chat::{ChatHub, Durability, SessionKey};
//!
//! let hub = ChatHub::new();
//! let _socket = hub.register(7, SessionKey::new("hash"), None).connection;
//! let seq = hub.publish_local(&[7], r#"{"type":"ping"}"#, Durability::Durable);
//! assert!(seq > 0);
//! assert_eq!(hub.close_session(&SessionKey::new("hash")), 1);
//! ```

pub mod attachments;
pub mod domain;
pub mod events;
pub mod hub;
pub mod media;
pub mod safety;
pub mod search;
pub mod service;

pub use hub::{ChatHub, CloseReason, Durability, HubConfig, Replay, SessionKey};
