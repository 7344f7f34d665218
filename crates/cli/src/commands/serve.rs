//! `facegate serve`: the HTTP/WebSocket server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use server::config::LogFormat;
use server::{Config, ConfigOverrides};

/// Flags override `FACEGATE_*` environment variables, which override `facegate.toml`.
#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (default: ./facegate.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the SQLite database and the secret key (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep the data in PostgreSQL (postgres://user@host/db), shared by several nodes, instead
    /// of SQLite in the data directory. Also FACEGATE_DATABASE_URL, which keeps a password out
    /// of the process list.
    #[arg(long)]
    database_url: Option<String>,
    /// The server key file (32 bytes), the same on every node; required with --database-url.
    #[arg(long)]
    secret_key_file: Option<PathBuf>,
    /// Join the other nodes on a Redis bus (redis://host:6379): chat events, session revocation,
    /// presence and per-IP limits reach every node. Also FACEGATE_BUS_URL.
    #[arg(long)]
    bus_url: Option<String>,
    /// Directory holding the face-api.js models (default ./models).
    #[arg(long)]
    models: Option<PathBuf>,
    /// The origin people reach the server at, e.g. https://chat.example.org: used for Origin/CSRF
    /// checks, and https turns on Secure, `__Host-` cookies.
    #[arg(long)]
    public_url: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics, on this separate listener only (default:
    /// none). Keep it private: loopback, or a network only the monitoring reaches.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// `text` (default) or `json`: one JSON object per log line on stderr.
    #[arg(long, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected `text` or `json`".into()),
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    let overrides = ConfigOverrides {
        config_file: args.config,
        listen: args.listen,
        data_dir: args.data_dir,
        models_dir: args.models,
        public_url: args.public_url,
        database_url: args.database_url,
        secret_key_file: args.secret_key_file,
        bus_url: args.bus_url,
        metrics_listen: args.metrics_listen,
        log_format: args.log_format,
    };
    let config = Config::load(&overrides)?;
    crate::init_logging(config.log_format);
    // The face pool already runs as many images at once as there are cores; splitting each one
    // over the cores as well only adds hand-offs between threads. Measured with 20 live checks
    // at once on 2 cores: 128 frames/s answered at p50 81 ms with one thread per image, against
    // 110 frames/s at p50 146 ms with two.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::run(config))
}
