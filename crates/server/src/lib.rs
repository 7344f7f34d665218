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
//! Layout: [`config`] (settings), [`app`] (state, router, start-up), [`api`] (thin HTTP
//! handlers and the OpenAPI document), [`auth`] (the rules: passwords, sessions, lockout, CSRF,
//! face matching), [`storage`] (all SQL), [`crypto`] (template encryption), [`pool`] (bounded
//! blocking work), [`ratelimit`] (per-IP buckets), [`proxy`] (the client address behind a trusted reverse
//! proxy), [`text`] (bidirectional and invisible characters in names and messages),
//! [`transfer`] (import, backup and restore, personal data export), [`metrics`], [`ops`] and
//! [`shutdown`] (Prometheus metrics, readiness, the drain on shutdown). The load benchmark is
//! `examples/load_auth.rs`.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod bus;
pub mod chat;
pub mod config;
pub mod crypto;
pub mod email;
pub mod error;
pub mod liveness;
pub mod metrics;
pub mod ops;
pub mod pool;
pub mod proxy;
pub mod ratelimit;
pub mod shutdown;
pub mod storage;
pub mod text;
pub mod transfer;
pub mod web;

pub use app::{router, run, spawn, AppState};
pub use config::{Config, ConfigOverrides};
