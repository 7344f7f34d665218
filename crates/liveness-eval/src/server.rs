//! The server under evaluation, as a child process: the release `facegate` binary on
//! `127.0.0.1:0` with a temporary data directory and the limits that would otherwise throttle an
//! evaluation (lockouts, per-IP rate limits) raised through `FACEGATE_*` variables.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Environment overrides that keep one client on 127.0.0.1 from being throttled or locked out
/// while it makes hundreds of attempts, attacks included.
/// (Each `disable_after` must exceed its `free_failures`, or the server refuses the settings.)
pub const EVAL_ENV: [(&str, &str); 14] = [
    ("FACEGATE_LOCKOUT_FACE_FREE_FAILURES", "1000000"),
    ("FACEGATE_LOCKOUT_FACE_DISABLE_AFTER", "2000000"),
    (
        "FACEGATE_LOCKOUT_FACE_FREE_FAILURES_WITH_LIVENESS",
        "1000000",
    ),
    (
        "FACEGATE_LOCKOUT_FACE_DISABLE_AFTER_WITH_LIVENESS",
        "2000000",
    ),
    ("FACEGATE_LOCKOUT_PASSWORD_FREE_FAILURES", "1000000"),
    ("FACEGATE_LOCKOUT_PASSWORD_MAX_FAILURES_PER_HOUR", "1000000"),
    ("FACEGATE_RATE_LIMIT_FACE_BURST", "100000"),
    ("FACEGATE_RATE_LIMIT_FACE_PER_SEC", "10000"),
    ("FACEGATE_RATE_LIMIT_LOGIN_BURST", "100000"),
    ("FACEGATE_RATE_LIMIT_LOGIN_PER_SEC", "10000"),
    ("FACEGATE_RATE_LIMIT_REGISTER_BURST", "100000"),
    ("FACEGATE_RATE_LIMIT_REGISTER_PER_SEC", "10000"),
    ("FACEGATE_RATE_LIMIT_DETECT_BURST", "100000"),
    ("FACEGATE_RATE_LIMIT_DETECT_PER_SEC", "10000"),
];

/// A running server; killed when dropped.
pub struct ChildServer {
    pub base: String,
    pub pid: u32,
    child: tokio::process::Child,
    _data: tempfile::TempDir,
}

/// The `facegate` binary the evaluation runs: `$FACEGATE_BIN`, else `<repo>/target/release/facegate`.
pub fn default_binary() -> PathBuf {
    std::env::var_os("FACEGATE_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/facegate"),
        PathBuf::from,
    )
}

impl ChildServer {
    /// Starts `binary serve` with `models` and the extra environment `env` (after [`EVAL_ENV`]).
    pub async fn start(
        binary: &Path,
        models: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        if !binary.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p facegate`",
                binary.display()
            );
        }
        let data = tempfile::tempdir()?;
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data.path())
            .arg("--models")
            .arg(models)
            .envs(EVAL_ENV)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("server pid")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let base = read_listening_line(stdout).await?;
        Ok(Self {
            base,
            pid,
            child,
            _data: data,
        })
    }

    /// User + system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    pub async fn stop(mut self) {
        self.child.kill().await.ok();
    }
}

async fn read_listening_line(stdout: tokio::process::ChildStdout) -> anyhow::Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("the server did not start within 120 s")??
            .context("the server exited before listening")?;
        if let Some(addr) = line.strip_prefix("facegate listening on ") {
            break addr.trim().to_owned();
        }
    };
    // Keep draining stdout so that the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(base)
}

/// User + system CPU seconds of process `pid` (clock ticks of 1/100 s on Linux).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}
