//! Data in and out (issue 11): importing accounts from the tutorial stack's MongoDB export,
//! backups and restores of the data directory, and the personal data export.
//!
//! Each runs against the database while the server runs, where that is safe: an import writes
//! one account per transaction (SQLite in WAL mode lets the server go on), a backup reads a
//! `VACUUM INTO` snapshot; a restore refuses any data directory that is not empty.
//!
//! ```no_run
//! # async fn demo(db: &server::storage::Db, cipher: &server::crypto::TemplateCipher) -> anyhow::Result<()> {
//! use server::transfer::{import, mongo};
//! let records = mongo::parse_export(&std::fs::read_to_string("users.json")?).map_err(anyhow::Error::msg)?;
//! let report = import::import_users(db, cipher, records, 0, |_| {}).await?;
//! println!("{} imported, {} skipped", report.imported.len(), report.skipped.len());
//! # Ok(()) }
//! ```

pub mod backup;
pub mod export;
pub mod import;
pub mod migrate;
pub mod mongo;
