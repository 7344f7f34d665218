//! All SQL of the server, one module per aggregate. Everything else talks to [`Db`].
//!
//! The SQL is portable (no SQLite-only functions, times as unix milliseconds) so a PostgreSQL
//! backend needs a second pool type here, not a redesign of the callers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The migrations of every module (accounts, chat...), embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database handle: cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) the SQLite file in WAL mode with foreign keys on, and applies
    /// every pending migration.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The underlying pool, for the storage modules (and the chat helper's storage/chat.rs).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

pub mod attachments;
pub mod audit;
pub mod chat;
pub mod counters;
pub mod email;
pub mod enrolments;
pub mod factors;
pub mod reactions;
pub mod safety;
pub mod search;
pub mod sessions;
pub mod templates;
pub mod transfer;
pub mod users;
