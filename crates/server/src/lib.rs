//! facegate's HTTP and WebSocket service.

pub mod app;
pub mod chat;
pub mod config;
pub mod storage;
pub mod web;

pub use app::{router, AppState};
pub use config::{Config, ConfigOverrides};
