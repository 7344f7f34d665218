//! The SQL of copying a whole database to another engine (`crate::transfer::migrate`): which
//! tables, in which order, each one's columns and types as the target declares them, reading a
//! chunk in key order, writing a chunk, and moving identity sequences past the copied ids.

use sqlx::{AnyConnection, Row};

use super::{Backend, Db};

/// A table to copy: its name and the columns that order its rows (its primary key).
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    pub key: &'static [&'static str],
}

impl TableSpec {
    /// Tables whose key is one integer `id` are copied in chunks that commit one by one, so an
    /// interrupted copy resumes after the highest id copied. The others are small and keyed by
    /// text or pairs: each is copied in one transaction, all or nothing.
    pub fn has_id(&self) -> bool {
        self.key == ["id"]
    }
}

/// Every table of the schema, parents before children so each foreign key finds its row.
/// (`chat_messages.reply_to` points to smaller ids only, which id order copies first.) A test
/// checks this list against the tables the migrations create.
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "users",
        key: &["id"],
    },
    TableSpec {
        name: "face_templates",
        key: &["id"],
    },
    TableSpec {
        name: "sessions",
        key: &["id_hash"],
    },
    TableSpec {
        name: "face_challenges",
        key: &["nonce_hash"],
    },
    TableSpec {
        name: "auth_counters",
        key: &["user_id"],
    },
    TableSpec {
        name: "unknown_login_counters",
        key: &["login_key"],
    },
    TableSpec {
        name: "audit_events",
        key: &["id"],
    },
    TableSpec {
        name: "live_enrolments",
        key: &["token_hash"],
    },
    TableSpec {
        name: "totp_secrets",
        key: &["user_id"],
    },
    TableSpec {
        name: "recovery_codes",
        key: &["id"],
    },
    TableSpec {
        name: "passkeys",
        key: &["id"],
    },
    TableSpec {
        name: "webauthn_ceremonies",
        key: &["id_hash"],
    },
    TableSpec {
        name: "chat_channels",
        key: &["id"],
    },
    TableSpec {
        name: "chat_members",
        key: &["channel_id", "user_id"],
    },
    TableSpec {
        name: "chat_messages",
        key: &["id"],
    },
    TableSpec {
        name: "chat_message_edits",
        key: &["id"],
    },
    TableSpec {
        name: "chat_thread_reads",
        key: &["root_id", "user_id"],
    },
    TableSpec {
        name: "chat_reactions",
        key: &["message_id", "user_id", "emoji"],
    },
    TableSpec {
        name: "chat_attachments",
        key: &["id"],
    },
    TableSpec {
        name: "chat_attachment_blobs",
        key: &["attachment_id", "variant"],
    },
    TableSpec {
        name: "chat_blocks",
        key: &["blocker_id", "blocked_id"],
    },
    TableSpec {
        name: "chat_reports",
        key: &["id"],
    },
    TableSpec {
        name: "email_tokens",
        key: &["token_hash"],
    },
];

/// The types the schema uses; every column is one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Text,
    Bytes,
}

/// One value of a row, `None` for SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Integer(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// A table's columns in declaration order, with their types.
pub type Columns = Vec<(String, ColumnType)>;

impl Db {
    /// The tables of this database (user tables only, no engine or migration bookkeeping).
    pub async fn table_names(&self) -> Result<Vec<String>, sqlx::Error> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' \
                 AND name NOT LIKE 'chat_messages_fts%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 AND table_name NOT LIKE '_sqlx%' ORDER BY table_name"
            }
        };
        sqlx::query_scalar(sql).fetch_all(self.pool()).await
    }

    /// `table`'s columns and their types, as a PostgreSQL target declares them.
    pub async fn postgres_columns(&self, table: &str) -> Result<Columns, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let kind = match r.try_get::<String, _>("type")?.as_str() {
                    "bigint" | "integer" | "smallint" => ColumnType::Integer,
                    "text" => ColumnType::Text,
                    "bytea" => ColumnType::Bytes,
                    other => {
                        return Err(sqlx::Error::Protocol(format!(
                            "column {table}.{name} has type {other}, which a copy does not handle"
                        )))
                    }
                };
                Ok((name, kind))
            })
            .collect()
    }

    /// Rows in `table` and its highest `id` (0 when empty or keyed otherwise).
    pub async fn count_and_max_id(&self, table: &TableSpec) -> Result<(i64, i64), sqlx::Error> {
        // Table names come from TABLES, never from input.
        let max = if table.has_id() {
            "COALESCE(MAX(id), 0)"
        } else {
            "0"
        };
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS n, CAST({max} AS BIGINT) AS max_id FROM {}",
            table.name
        ))
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("n")?, row.try_get("max_id")?))
    }

    /// Moves `table`'s identity sequence past its highest id, so new rows get new ids.
    pub async fn advance_identity(&self, table: &TableSpec) -> Result<(), sqlx::Error> {
        if self.backend() != Backend::Postgres || !table.has_id() {
            return Ok(());
        }
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
               COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
            table.name
        ))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// How many rows `table` holds, read on `conn` (the copy's snapshot).
pub async fn count_rows(conn: &mut AnyConnection, table: &TableSpec) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", table.name))
        .fetch_one(conn)
        .await
}

/// Up to `limit` rows of `table` in key order: with an `id` key those above `after_id`,
/// otherwise those after the first `offset`. Read on `conn`, so that every chunk of one copy
/// comes from the same snapshot (one read transaction).
pub async fn read_chunk(
    conn: &mut AnyConnection,
    table: &TableSpec,
    columns: &Columns,
    after_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<Vec<Value>>, sqlx::Error> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let order = table.key.join(", ");
    let sql = if table.has_id() {
        format!(
            "SELECT {} FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
            names.join(", "),
            table.name
        )
    } else {
        format!(
            "SELECT {} FROM {} ORDER BY {order} LIMIT $2 OFFSET $1",
            names.join(", "),
            table.name
        )
    };
    let start = if table.has_id() { after_id } else { offset };
    let rows = sqlx::query(&sql)
        .bind(start)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            (columns.iter().enumerate())
                .map(|(i, (_, kind))| {
                    Ok(match kind {
                        ColumnType::Integer => Value::Integer(r.try_get(i)?),
                        ColumnType::Text => Value::Text(r.try_get(i)?),
                        ColumnType::Bytes => Value::Bytes(r.try_get(i)?),
                    })
                })
                .collect()
        })
        .collect()
}

/// Inserts `rows` into `table` on `conn` (the caller's transaction).
pub async fn write_chunk(
    conn: &mut AnyConnection,
    table: &TableSpec,
    columns: &Columns,
    rows: &[Vec<Value>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = columns.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let params: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.name,
        names.join(", "),
        tuples.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for value in rows.iter().flatten() {
        query = match value {
            Value::Integer(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::Bytes(v) => query.bind(v.clone()),
        };
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
