//! `facegate admin import-users | backup | restore`: the printing around `server::transfer`.
//! Progress goes to stderr, summaries to stdout.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use server::crypto::{SecretKey, TemplateCipher};
use server::storage::Db;
use server::transfer::{backup as backups, import, migrate, mongo};
use server::Config;

/// How often a long import reports how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// The data directory's existing server key; an admin task never makes a new one (a new key
/// would not open the templates already stored).
fn server_key(config: &Config) -> Result<Option<SecretKey>> {
    SecretKey::load_existing(&config.secret_key_path())
}

pub async fn import_users(db: &Db, config: &Config, file: &Path, now_ms: i64) -> Result<()> {
    let key = server_key(config)?.with_context(|| {
        format!(
            "no server key at {}: start `facegate serve` once with this data directory",
            config.secret_key_path().display()
        )
    })?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let records = mongo::parse_export(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("reading {}", file.display()))?;
    eprintln!(
        "importing {} record(s) from {}",
        records.len(),
        file.display()
    );
    let mut last = Instant::now();
    let report = import::import_users(db, &TemplateCipher::new(&key), records, now_ms, |p| {
        if last.elapsed() >= PROGRESS_EVERY {
            eprintln!("  {} of {} records", p.done, p.total);
            last = Instant::now();
        }
    })
    .await?;
    for skipped in &report.skipped {
        outln!("skipped {skipped}");
    }
    for name in &report.already_imported {
        outln!("already imported {name:?}");
    }
    outln!(
        "{} imported, {} already imported, {} skipped",
        report.imported.len(),
        report.already_imported.len(),
        report.skipped.len()
    );
    Ok(())
}

pub async fn backup(db: &Db, config: &Config, file: &Path, now_ms: i64) -> Result<()> {
    anyhow::ensure!(
        config.database_url.is_none(),
        "`admin backup` copies the SQLite database; back a PostgreSQL database up with pg_dump \
         (and keep the server key file apart)"
    );
    eprintln!("taking a snapshot of {}", config.database_path().display());
    let key = server_key(config)?;
    let manifest = backups::backup(db, key.as_ref(), file, now_ms).await?;
    let counts: Vec<String> = manifest
        .counts
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    outln!(
        "wrote {} (schema version {})",
        file.display(),
        manifest.schema_version
    );
    outln!("{}", counts.join(", "));
    if manifest.key.required {
        outln!(
            "it holds encrypted face templates: restoring needs the server key {} (not in the backup; keep it apart)",
            config.secret_key_path().display()
        );
    }
    Ok(())
}

pub fn restore(file: &Path, data_dir: &Path, key: Option<&Path>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let restored = runtime.block_on(backups::restore(file, data_dir, key))?;
    let m = &restored.manifest;
    outln!(
        "restored {} into {} (schema version {}, {} users, {} messages)",
        file.display(),
        data_dir.display(),
        m.schema_version,
        m.counts.get("users").copied().unwrap_or(0),
        m.counts.get("chat_messages").copied().unwrap_or(0)
    );
    if restored.key_checked {
        outln!("the server key opens the backup's face templates");
    }
    Ok(())
}

pub fn migrate(from: &str, to: &str, config: &Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let source_path = from
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let source_path = source_path.split('?').next().unwrap_or(source_path);
        anyhow::ensure!(
            Path::new(source_path).is_file(),
            "no SQLite database at {source_path}"
        );
        let source = Db::connect(from).await?;
        // The URL may hold a password: errors name the target without it.
        let target = Db::connect(to)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the target database: {e}"))?;
        eprintln!(
            "copying {source_path} into PostgreSQL (one snapshot; the server may keep running)"
        );
        let mut last_table = String::new();
        let reports = migrate::migrate(&source, &target, migrate::MigrateOptions::default(), |p| {
            if p.table != last_table || p.done == p.total {
                eprintln!("  {}: {}/{} rows", p.table, p.done, p.total);
                last_table = p.table.to_owned();
            }
        })
        .await?;
        let rows: i64 = reports.iter().map(|r| r.rows).sum();
        let copied: i64 = reports.iter().map(|r| r.copied).sum();
        outln!(
            "copied {copied} rows this run; {} tables, {rows} rows, counts and checksums equal",
            reports.len()
        );
        outln!(
            "start the nodes with this database URL and the key file {} (secret_key_file)",
            config.secret_key_path().display()
        );
        Ok(())
    })
}
