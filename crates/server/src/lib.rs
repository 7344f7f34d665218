//! facegate's HTTP and WebSocket service: accounts with password + server-side face
//! verification, sessions, brute-force limits, chat and the web UI.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = server::Config::load(&server::ConfigOverrides::default())?;
//! server::run(config).await // prints "facegate listening on http://127.0.0.1:8080"
//! # }
//! ```
//!
//! Layers, from the top; a module uses its own layer and those below it, never one above
//! (`tests/layering.rs` checks the source):
//!
//! - **edge**: [`serve`] (start-up, listeners, drain), [`api`] (HTTP and WebSocket handlers,
//!   extractors, the CSRF guard, the OpenAPI document), [`web`] (the pages), [`ops`]
//!   (`/readyz`, `/metrics`), [`admin`] (operator commands), `bench` (benchmark set-up,
//!   cargo feature `bench`).
//! - **node**: [`app`] ([`AppState`]: the services wired to one database, bus and engine).
//! - **services**: [`auth`] (passwords, sessions, lockout, factors; takes [`auth::Auth`]),
//!   [`chat`] (takes [`chat::service::Chat`]), [`liveness`] (the live check), [`faces`] (the
//!   face engine behind the pool, the match rule), [`email`], [`transfer`] (import, backup,
//!   export), [`ratelimit`] (per-IP buckets, shared over the bus).
//! - **storage and bus**: [`storage`] (all SQL, both engines), [`bus`] (Redis between nodes).
//! - **foundation**: [`config`], [`error`] (the one error model), [`crypto`] (template
//!   encryption), [`metrics`], [`pool`] (bounded blocking work), [`proxy`] (the client address
//!   behind a trusted reverse proxy), [`shutdown`], [`text`] (bidirectional and invisible
//!   characters).
//!
//! The load benchmarks are `examples/load_auth.rs` and `examples/load_chat.rs`.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
#[cfg(feature = "bench")]
pub mod bench;
pub mod bus;
pub mod chat;
pub mod config;
pub mod crypto;
pub mod email;
pub mod error;
pub mod faces;
pub mod liveness;
pub mod metrics;
pub mod ops;
pub mod pool;
pub mod proxy;
pub mod ratelimit;
pub mod serve;
pub mod shutdown;
pub mod storage;
pub mod text;
pub mod transfer;
pub mod web;

pub use app::AppState;
pub use config::{Config, ConfigOverrides};
pub use serve::{router, run, spawn};
