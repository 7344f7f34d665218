//! One module per top-level subcommand.

pub mod face;
pub mod models;
pub mod serve;
