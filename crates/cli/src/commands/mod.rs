//! One module per top-level subcommand.

pub mod admin;
pub mod face;
pub mod models;
pub mod serve;
pub mod transfer;
