//! `facegate admin ...`: operator tasks on the database, with or without the server running.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use server::storage::Db;
use server::{admin, Config, ConfigOverrides};

use super::transfer;

#[derive(Args)]
pub struct AdminArgs {
    /// Configuration file (default: ./facegate.toml when it exists).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory holding the database (default ./data, or as configured).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// The PostgreSQL database of the nodes (also FACEGATE_DATABASE_URL or the config file).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// The server key file the nodes share; required with a database URL.
    #[arg(long, global = true)]
    secret_key_file: Option<PathBuf>,
    /// The nodes' bus (also FACEGATE_BUS_URL): sign-out and deletion then close the account's
    /// open chat sockets on every running node at once.
    #[arg(long, global = true)]
    bus_url: Option<String>,
    #[command(subcommand)]
    task: AdminTask,
}

#[derive(Subcommand)]
enum AdminTask {
    /// List every account.
    Users,
    /// Clear an account's password and face lockouts (re-enables a disabled face factor).
    Unlock { login: String },
    /// End every session of an account.
    SignOut { login: String },
    /// List reported chat messages, newest first, with the reason and the text as reported.
    Reports {
        /// How many to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Delete an account with its face templates, sessions and messages.
    DeleteUser {
        login: String,
        /// Required: deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Import the users of a MongoDB export (mongoexport JSON lines or a JSON array) with
    /// their bcrypt passwords and face descriptors; safe while the server runs; re-runnable.
    ImportUsers { file: PathBuf },
    /// Write a consistent backup of the database (tar.gz with a manifest) while the server
    /// runs. The server key is not in it: keep data/secret.key apart.
    Backup { file: PathBuf },
    /// Restore a backup into an empty data directory, after checking that the server key
    /// opens its face templates.
    Restore {
        file: PathBuf,
        /// The server key the backup was made with (default: secret.key in the data directory).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Copy the SQLite database into PostgreSQL with every id kept, then check row counts and
    /// a checksum per table. Safe while the server runs (it copies one snapshot); run it again
    /// to resume an interrupted copy. The nodes on PostgreSQL need this server's key file.
    Migrate {
        /// The SQLite database (default: the data directory's), as sqlite:PATH or a path.
        #[arg(long)]
        from: Option<String>,
        /// The PostgreSQL database, postgres://user@host/db: empty, or holding an interrupted
        /// copy of the same source.
        #[arg(long)]
        to: String,
    },
    /// Print an account's personal data export (JSON), as GET /api/me/export gives it.
    ExportUser { login: String },
}

pub fn run(args: AdminArgs) -> Result<()> {
    let config = Config::load(&ConfigOverrides {
        config_file: args.config,
        data_dir: args.data_dir,
        database_url: args.database_url,
        secret_key_file: args.secret_key_file,
        bus_url: args.bus_url,
        ..ConfigOverrides::default()
    })?;
    if let AdminTask::Restore { file, key } = &args.task {
        return transfer::restore(file, &config.data_dir, key.as_deref());
    }
    if let AdminTask::Migrate { from, to } = &args.task {
        let from = match from {
            Some(f) if f.starts_with("sqlite:") => f.clone(),
            Some(path) => format!("sqlite://{path}"),
            None => format!("sqlite://{}", config.database_path().display()),
        };
        return transfer::migrate(&from, to, &config);
    }
    let path = config.database_path();
    anyhow::ensure!(
        config.database_url.is_some() || path.is_file(),
        "no database at {}: has `facegate serve` run with this data directory?",
        path.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let db = server::app::open_database(&config).await?;
        run_task(&db, &config, args.task).await
    })
}

/// Tells the running nodes to close the account's chat sockets now.
async fn close_sockets(config: &Config, user_id: i64) -> Result<()> {
    if admin::close_sockets_everywhere(config, user_id).await? {
        outln!("closed the account's open chat sockets on every node");
    } else {
        outln!("no bus configured: running servers close the account's sockets at their next session check");
    }
    Ok(())
}

async fn run_task(db: &Db, config: &Config, task: AdminTask) -> Result<()> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    match task {
        AdminTask::Users => {
            let users = admin::users(db).await?;
            outln!("{:>6}  {:<24} {:<32} full name", "id", "username", "email");
            for u in &users {
                outln!(
                    "{:>6}  {:<24} {:<32} {}",
                    u.id,
                    u.username,
                    u.email,
                    u.full_name
                );
            }
            outln!("{} account(s)", users.len());
        }
        AdminTask::Unlock { login } => {
            let (user, before) = admin::unlock(db, &login, now_ms).await?;
            outln!(
                "unlocked {}: cleared {} consecutive face, {} password and {} code failures",
                user.username,
                before.face_consecutive,
                before.password.consecutive,
                before.second_factor.consecutive
            );
        }
        AdminTask::SignOut { login } => {
            let (user, ended) = admin::sign_out(db, &login, now_ms).await?;
            outln!("ended {ended} session(s) of {}", user.username);
            close_sockets(config, user.id).await?;
        }
        AdminTask::Reports { limit } => {
            let reports = admin::reports(db, limit).await?;
            for r in &reports {
                // Reports quote what people wrote: escaped, so no text can drive the terminal
                // (colours, cursor moves, a fake line of output).
                outln!(
                    "#{} {} by {} on message {} of channel {} by {} (id {})",
                    r.id,
                    admin::utc(r.created_at),
                    r.reporter.escape_debug(),
                    r.message_id,
                    r.channel_id,
                    r.author_name.escape_debug(),
                    r.author_id
                );
                outln!("    reason: {}", r.reason.escape_debug());
                outln!("    text:   {}", r.text.escape_debug());
            }
            outln!("{} report(s)", reports.len());
        }
        AdminTask::DeleteUser { login, yes } => {
            anyhow::ensure!(
                yes,
                "deleting {login:?} cannot be undone: repeat with --yes"
            );
            let user = admin::delete_account(db, &login).await?;
            outln!("deleted {} and all of its data", user.username);
            close_sockets(config, user.id).await?;
        }
        AdminTask::ImportUsers { file } => {
            transfer::import_users(db, config, &file, now_ms).await?
        }
        AdminTask::Backup { file } => transfer::backup(db, config, &file, now_ms).await?,
        AdminTask::ExportUser { login } => {
            let export = admin::export_user(db, &login, now_ms).await?;
            outln!("{}", serde_json::to_string_pretty(&export)?);
        }
        // Handled in `run` before any database is opened (the target must stay empty).
        AdminTask::Restore { .. } => anyhow::bail!("restore does not run on an open database"),
        AdminTask::Migrate { .. } => anyhow::bail!("migrate opens its own two databases"),
    }
    Ok(())
}
