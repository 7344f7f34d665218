//! `facegate admin migrate`: copies a SQLite database into PostgreSQL with every id kept, so
//! message cursors, `reply_to` links and the face templates (sealed with their user id) stay
//! valid, then proves the copy: the same row count and the same content checksum per table.
//!
//! The source is read in one transaction, so the copy is the database as of one moment even
//! while a server keeps writing to it. Tables keyed by `id` are written in chunks that commit
//! one by one: an interrupted run, run again, goes on after the highest id copied. The other
//! tables are copied whole in one transaction each. Rows written to the source after a run
//! started are in the next run's snapshot; the final check names any table that differs.

use sha2::{Digest, Sha256};

use crate::storage::copy::{
    count_rows, read_chunk, write_chunk, Columns, TableSpec, Value, TABLES,
};
use crate::storage::{Backend, Db};

/// Rows per chunk; fewer for tables of blobs, which hold up to a few MiB a row.
const CHUNK_ROWS: i64 = 500;
const BLOB_CHUNK_ROWS: i64 = 8;

/// What went wrong; nothing half-copied is left in a table keyed otherwise than by `id`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    #[error("the source must be a SQLite database and the target a PostgreSQL one")]
    WrongEngines,
    #[error(
        "table {0} is not known to the copy (a migration added it): update storage::copy::TABLES"
    )]
    UnknownTable(String),
    #[error(
        "table {table} in the target already holds {target_rows} rows of {source_rows}; \
         it is not a copy of this source: use an empty database"
    )]
    TargetNotEmpty {
        table: &'static str,
        source_rows: i64,
        target_rows: i64,
    },
    #[error(
        "table {table} differs after the copy (source {source_rows} rows, checksum {source_sum}; \
         target {target_rows} rows, checksum {target_sum}): the source changed between runs; \
         stop the server, empty the target database and run again"
    )]
    Mismatch {
        table: &'static str,
        source_rows: i64,
        target_rows: i64,
        source_sum: String,
        target_sum: String,
    },
    #[error("stopped after {0} chunks, as asked")]
    Stopped(usize),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How one table went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: i64,
    /// Rows this run wrote (0 for a table copied by an earlier run).
    pub copied: i64,
    /// Order-independent SHA-256 based checksum of the rows, equal on both sides.
    pub checksum: String,
}

/// Progress of the table being copied.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub table: &'a str,
    pub done: i64,
    pub total: i64,
}

/// Knobs of a run; the default copies everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct MigrateOptions {
    /// Stop (with [`MigrateError::Stopped`]) after this many chunks: how tests interrupt a run.
    pub stop_after_chunks: Option<usize>,
}

/// Copies `source` (SQLite) into `target` (PostgreSQL, migrated, empty or holding an earlier
/// run's partial copy) and checks the result table by table.
pub async fn migrate(
    source: &Db,
    target: &Db,
    options: MigrateOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Vec<TableReport>, MigrateError> {
    if source.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
        return Err(MigrateError::WrongEngines);
    }
    for db in [source, target] {
        if let Some(unknown) =
            (db.table_names().await?.into_iter()).find(|t| !TABLES.iter().any(|s| s.name == t))
        {
            return Err(MigrateError::UnknownTable(unknown));
        }
    }
    // One read transaction: every chunk of every table from the same snapshot.
    let mut snapshot = source.pool().begin().await?;
    let mut chunks = 0usize;
    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let columns = target.postgres_columns(table.name).await?;
        let total = count_rows(&mut snapshot, table).await?;
        let (target_rows, max_id) = target.count_and_max_id(table).await?;
        let limit = if table.name == "chat_attachment_blobs" {
            BLOB_CHUNK_ROWS
        } else {
            CHUNK_ROWS
        };
        let mut written = 0;
        if table.has_id() {
            let mut after = max_id;
            loop {
                let rows = read_chunk(&mut snapshot, table, &columns, after, 0, limit).await?;
                let Some(last) = rows.last() else { break };
                after = id_of(last, &columns);
                let mut tx = target.pool().begin().await?;
                write_chunk(&mut tx, table, &columns, &rows).await?;
                tx.commit().await?;
                written += rows.len() as i64;
                progress(Progress {
                    table: table.name,
                    done: target_rows + written,
                    total,
                });
                chunks += 1;
                if options.stop_after_chunks.is_some_and(|n| chunks >= n) {
                    return Err(MigrateError::Stopped(chunks));
                }
            }
        } else if target_rows == 0 {
            let mut tx = target.pool().begin().await?;
            loop {
                let rows = read_chunk(&mut snapshot, table, &columns, 0, written, limit).await?;
                if rows.is_empty() {
                    break;
                }
                write_chunk(&mut tx, table, &columns, &rows).await?;
                written += rows.len() as i64;
                progress(Progress {
                    table: table.name,
                    done: written,
                    total,
                });
            }
            tx.commit().await?;
        } else if target_rows != total {
            return Err(MigrateError::TargetNotEmpty {
                table: table.name,
                source_rows: total,
                target_rows,
            });
        }
        copied.push(written);
    }
    let mut reports = Vec::with_capacity(TABLES.len());
    for (table, copied) in TABLES.iter().zip(copied) {
        target.advance_identity(table).await?;
        let columns = target.postgres_columns(table.name).await?;
        let (source_rows, source_sum) = checksum(&mut snapshot, table, &columns).await?;
        let mut target_conn = target.pool().acquire().await?;
        let (target_rows, target_sum) = checksum(&mut target_conn, table, &columns).await?;
        if (source_rows, &source_sum) != (target_rows, &target_sum) {
            return Err(MigrateError::Mismatch {
                table: table.name,
                source_rows,
                target_rows,
                source_sum,
                target_sum,
            });
        }
        reports.push(TableReport {
            table: table.name,
            rows: source_rows,
            copied,
            checksum: source_sum,
        });
    }
    snapshot.rollback().await?;
    Ok(reports)
}

fn id_of(row: &[Value], columns: &Columns) -> i64 {
    (columns.iter().zip(row))
        .find_map(|((name, _), v)| match v {
            Value::Integer(Some(id)) if name == "id" => Some(*id),
            _ => None,
        })
        .unwrap_or(i64::MAX)
}

/// Row count and checksum of a table: the wrapping sum of the first 16 bytes of each row's
/// SHA-256, so the order the engines return rows in (their collations differ) does not matter.
async fn checksum(
    conn: &mut sqlx::AnyConnection,
    table: &TableSpec,
    columns: &Columns,
) -> Result<(i64, String), sqlx::Error> {
    let (mut rows, mut sum, mut offset, mut after) = (0i64, 0u128, 0i64, 0i64);
    loop {
        let chunk = read_chunk(conn, table, columns, after, offset, CHUNK_ROWS).await?;
        let Some(last) = chunk.last() else { break };
        if table.has_id() {
            after = id_of(last, columns);
        }
        offset += chunk.len() as i64;
        for row in &chunk {
            sum = sum.wrapping_add(row_digest(row));
            rows += 1;
        }
    }
    Ok((rows, format!("{sum:032x}")))
}

fn row_digest(row: &[Value]) -> u128 {
    let mut hash = Sha256::new();
    for value in row {
        // Tag, then presence, then length-prefixed bytes: no two rows encode alike.
        let (tag, bytes): (u8, Option<Vec<u8>>) = match value {
            Value::Integer(v) => (b'i', v.map(|i| i.to_le_bytes().to_vec())),
            Value::Text(v) => (b't', v.as_ref().map(|s| s.as_bytes().to_vec())),
            Value::Bytes(v) => (b'b', v.clone()),
        };
        hash.update([tag]);
        match bytes {
            None => hash.update([0]),
            Some(b) => {
                hash.update([1]);
                hash.update((b.len() as u64).to_le_bytes());
                hash.update(&b);
            }
        }
    }
    let digest = hash.finalize();
    u128::from_le_bytes(digest[..16].try_into().unwrap_or([0; 16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_digest_tells_null_from_empty_and_types_apart() {
        let digests = [
            row_digest(&[Value::Text(None)]),
            row_digest(&[Value::Text(Some(String::new()))]),
            row_digest(&[Value::Bytes(Some(Vec::new()))]),
            row_digest(&[Value::Integer(Some(0))]),
            row_digest(&[
                Value::Text(Some("ab".into())),
                Value::Text(Some("c".into())),
            ]),
            row_digest(&[
                Value::Text(Some("a".into())),
                Value::Text(Some("bc".into())),
            ]),
        ];
        for (i, a) in digests.iter().enumerate() {
            for b in &digests[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
