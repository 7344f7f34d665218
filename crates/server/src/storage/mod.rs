//! All SQL of the server, one module per aggregate. Everything else talks to [`Db`].
//!
//! Two engines behind one pool type (sqlx's `Any`): SQLite, the zero-configuration default, and
//! PostgreSQL for several nodes sharing one database. No engine-specific type leaves this module.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Executor};

/// The SQLite migrations (the default, embedded database), in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// The same schema for PostgreSQL: one file per SQLite migration, same version numbers, so a
/// version means the same tables on both and `SQLite -> PostgreSQL` copies can check it.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A row from either backend: the storage modules read columns by name, as `i64`, `String`,
/// `Vec<u8>` and their `Option`s, the types both backends share.
pub type DbRow = AnyRow;
/// A query being built, for helpers that bind a varying number of values.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments<'q>>;

/// Which database engine holds the data. SQL is written once for both (numbered `$n`
/// parameters, `RETURNING`, `ON CONFLICT`, times as unix milliseconds); the few places that
/// differ (full-text search, online backup, write-lock transactions) ask this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle: cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// A database URL that names neither engine.
#[derive(Debug, thiserror::Error)]
#[error("unsupported database URL (expected postgres://... or sqlite://...)")]
pub struct UnsupportedUrl;

impl Db {
    /// Opens (creating if needed) a SQLite file in WAL mode with foreign keys on, and applies
    /// every pending migration.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connects to `postgres://...` (or `sqlite://...`) and applies every pending migration of
    /// that engine.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend =
            backend_of(url).ok_or_else(|| sqlx::Error::Configuration(UnsupportedUrl.into()))?;
        let options = AnyConnectOptions::from_str(url)?;
        // One connection first: its error says why (refused, wrong password, no such
        // database) at once, where the pool would only report a timeout after 30 s.
        sqlx::AnyConnection::connect_with(&options)
            .await?
            .close()
            .await?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time anyway; readers share the WAL.
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per connection; foreign keys and a 5 s busy timeout are sqlx's defaults.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => MIGRATOR.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&pool).await?,
        }
        Ok(Self { pool, backend })
    }

    /// The underlying pool, for the storage modules.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Connections open in the pool (idle and in use), and how many of them are idle.
    pub fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that writes. On SQLite it takes the write lock at `BEGIN IMMEDIATE`, where
    /// a busy writer is waited for (busy timeout): a deferred transaction that first reads, or
    /// meets the lock of another connection's transaction still being rolled back, fails at
    /// once with `database is locked` instead. PostgreSQL locks rows as it goes.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The migrations of this database's engine.
    pub fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }
}

/// The engine a database URL names.
pub fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else {
        None
    }
}

pub mod attachments;
pub mod audit;
pub mod chat;
pub mod copy;
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

/// Creates `dir` (and parents) readable by its owner only when it does not exist yet; an
/// existing directory keeps the permissions the operator gave it.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
