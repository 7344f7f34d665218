//! The `facegate` binary: a thin front over the `face` and `server` crates.

/// `println!` that returns an error instead of panicking when stdout is closed early
/// (`facegate admin users | head`); `main` treats that as a normal end.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

mod commands;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::config::LogFormat;

#[derive(Parser)]
#[command(
    name = "facegate",
    version,
    about = "Self-hosted chat with password + face login"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(commands::serve::ServeArgs),
    /// Face tools: detect, describe, compare.
    #[command(subcommand)]
    Face(commands::face::FaceCommand),
    /// Operator tasks: list accounts, unlock, sign out, delete; import users, backup, restore,
    /// export a user's data.
    Admin(commands::admin::AdminArgs),
    /// The face-api.js model files.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download the models (npm package @vladmandic/face-api@1.7.15) and verify their SHA-256
    /// sums; does nothing when they are already present and intact.
    Fetch {
        #[arg(long, env = face::models::DIR_ENV, default_value = face::models::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` starts logging once its configuration, which names the log format, is loaded.
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(LogFormat::Text);
    }
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Admin(args) => commands::admin::run(args),
        Command::Face(command) => commands::face::run(command),
        Command::Models(ModelsCommand::Fetch { dir }) => commands::models::fetch(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole cause chain on one line, for a person; no backtrace even when
            // RUST_BACKTRACE is set, which is for panics.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so that stdout stays machine-readable (JSON output, the listening line).
/// `RUST_LOG` filters them (default `info`).
pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // One JSON object per line, fields at the top level, for log collectors.
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
