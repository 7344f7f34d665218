//! Load benchmark of the auth endpoints (issue 3, "Speed").
//!
//! Starts a local server on 127.0.0.1:0 with a temporary data directory, registers one user per
//! client, then measures with `--clients` concurrent clients (default 8) for `--seconds` each
//! (default 10):
//!
//! 1. raw argon2id (19 MiB, t=2, p=1) hashes/s, as many in flight as the pool has workers,
//!    alternating second by second with
//! 2. `POST /api/login` throughput and p50/p99 latency (argon2-bound), and its ratio to (1),
//!    both by wall clock and per CPU-second of this process (the latter is what other load on a
//!    shared machine does not skew);
//! 3. face verifications (`POST /api/face/challenge` + `POST /api/face/verify` with one 640x480
//!    JPEG frame) throughput and p50/p99 latency of the pair, and verifications per CPU-second.
//!
//! ```text
//! cargo run --release -p facegate-server --example load_auth -- [--clients 8] [--seconds 10]
//!     [--database-url postgres://…]
//! ```
//! With `--database-url` the accounts, sessions, counters and audit rows live in that
//! PostgreSQL database (an empty one) instead of SQLite.
//! The face step is the photo upload, so liveness is off.
//! Photos: `$FACEGATE_FACES` or `../shared/faces`; models: `$FACEGATE_MODELS` or `./models`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use server::app::AppState;
use server::auth::password::{self, Password};
use server::serve;
use server::Config;

const PASSWORD: &str = "benchmark passphrase 2026";

struct Options {
    clients: usize,
    seconds: u64,
    database_url: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        clients: 8,
        seconds: 10,
        database_url: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--clients" => o.clients = value.parse()?,
            "--seconds" => o.seconds = value.parse()?,
            "--database-url" => o.database_url = Some(value),
            other => {
                bail!("unknown option {other}; use --clients N --seconds S [--database-url URL]")
            }
        }
    }
    Ok(o)
}

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn faces_dir() -> PathBuf {
    std::env::var_os("FACEGATE_FACES").map_or_else(|| repo_path("../shared/faces"), PathBuf::from)
}

fn models_dir() -> PathBuf {
    std::env::var_os("FACEGATE_MODELS").map_or_else(|| repo_path("models"), PathBuf::from)
}

/// A 640x480 JPEG (quality 85) of `name` scaled to fit and centred on grey, as a webcam
/// frame of someone sitting in front of it.
fn frame_640x480(name: &str) -> anyhow::Result<Vec<u8>> {
    let img = image::open(faces_dir().join(name))?.to_rgb8();
    let fitted = image::imageops::resize(
        &img,
        img.width() * 480 / img.height().max(1),
        480,
        image::imageops::FilterType::Triangle,
    );
    let mut frame = image::RgbImage::from_pixel(640, 480, image::Rgb([120, 120, 120]));
    let x = (640i64 - i64::from(fitted.width())) / 2;
    image::imageops::overlay(&mut frame, &fitted, x, 0);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&frame)?;
    Ok(out)
}

/// Latency statistics of one phase.
struct Stats {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    /// Adds another slice of the same phase.
    fn absorb(&mut self, other: Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    }

    fn line(&self) -> String {
        format!(
            "{} ok in {:.1} s = {:.1}/s, p50 {:.0} ms, p99 {:.0} ms, errors {}",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.errors
        )
    }
}

/// argon2id hashes/s with `threads` hashes in flight for `seconds`, on tokio's blocking
/// threads as the server's pool runs them (long-lived threads keep their allocator arenas, so
/// the 19 MiB block is not page-faulted in afresh on every hash).
async fn raw_argon2(threads: usize, seconds: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..threads)
        .map(|_| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let password = Password::new(PASSWORD.into());
                    let hashed =
                        tokio::task::spawn_blocking(move || password::hash(&password)).await;
                    n += u64::from(hashed.is_ok());
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// CPU seconds (user + system) used by this process so far; Linux only.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn cpu_delta(start: Option<f64>) -> Option<f64> {
    Some(process_cpu_secs()? - start?).filter(|d| *d > 0.0)
}

/// Runs `clients` loops of `step` for `seconds`; each step returns whether it succeeded.
async fn run_clients<F, Fut>(clients: usize, seconds: u64, step: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let step = Arc::new(step);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let step = Arc::clone(&step);
            tokio::spawn(async move {
                let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if step(i).await {
                        ok += 1;
                        latencies.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (ok, errors, latencies)
            })
        })
        .collect();
    let mut stats = Stats {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for t in tasks {
        if let Ok((ok, errors, latencies)) = t.await {
            stats.ok += ok;
            stats.errors += errors;
            stats.latencies.extend(latencies);
        }
    }
    stats.elapsed = start.elapsed();
    stats
}

async fn login(client: &Client, base: &str, user: usize) -> bool {
    let r = client
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"login": format!("bench{user}"), "password": PASSWORD}))
        .send()
        .await;
    matches!(r, Ok(r) if r.status() == StatusCode::OK)
}

/// Prints the first failure of a run, so a broken setup is not just an error count.
fn report_first_error(text: String) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| eprintln!("first error: {text}"));
}

async fn verify(client: &Client, base: &str, frame: &[u8]) -> bool {
    let r = match client
        .post(format!("{base}/api/face/challenge"))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            report_first_error(format!("challenge: {e}"));
            return false;
        }
    };
    if r.status() != StatusCode::OK {
        report_first_error(r.text().await.unwrap_or_default());
        return false;
    }
    let Ok(body) = r.json::<serde_json::Value>().await else {
        report_first_error("challenge answer is not JSON".into());
        return false;
    };
    let Some(challenge) = body["challenge"].as_str() else {
        return false;
    };
    let form = Form::new()
        .text("challenge", challenge.to_owned())
        .part("frame", Part::bytes(frame.to_vec()).file_name("frame.jpg"));
    match client
        .post(format!("{base}/api/face/verify"))
        .multipart(form)
        .send()
        .await
    {
        Ok(r) if r.status() == StatusCode::OK => true,
        Ok(r) => {
            report_first_error(r.text().await.unwrap_or_default());
            false
        }
        Err(e) => {
            report_first_error(e.to_string());
            false
        }
    }
}

fn bench_config(dir: &tempfile::TempDir, database_url: Option<String>) -> anyhow::Result<Config> {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        data_dir: dir.path().to_path_buf(),
        models_dir: models_dir(),
        ..Config::default()
    };
    c.face.liveness = server::config::LivenessMode::Off;
    if let Some(url) = database_url {
        // A database URL needs the server key from a file (as every node of a deployment).
        let key = dir.path().join("secret.key");
        std::fs::write(&key, rand::random::<[u8; 32]>())?;
        c.database_url = Some(url);
        c.secret_key_file = Some(key);
    }
    // One client address drives all the load: lift the per-IP limits, keep everything else.
    c.rate_limit.login_burst = u32::MAX;
    c.rate_limit.face_burst = u32::MAX;
    c.rate_limit.register_burst = u32::MAX;
    Ok(c)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let dir = tempfile::tempdir()?;
    let backend = if o.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let config = bench_config(&dir, o.database_url.clone())?;
    let workers = config.pool_workers();
    let engine = server::app::load_engine(&config).await?;
    let server = serve::start(AppState::with_engine(config, engine).await?).await?;
    let base = format!("http://{}", server.addr);
    println!("facegate auth benchmark: server {base} on {backend}, {workers} pool workers, {} clients, {} s per phase", o.clients, o.seconds);

    // One account per client, as 8 people logging in at once (the per-account face counter
    // would otherwise see 8 concurrent attempts on one account).
    let enrol = std::fs::read(faces_dir().join("obama_1.jpg")).context("reading obama_1.jpg")?;
    for i in 0..o.clients {
        let form = Form::new()
            .text("username", format!("bench{i}"))
            .text("email", format!("bench{i}@example.org"))
            .text("full_name", "Bench Mark")
            .text("password", PASSWORD)
            .text("consent", "true")
            .part("face", Part::bytes(enrol.clone()).file_name("face.jpg"));
        let r = Client::new()
            .post(format!("{base}/api/register"))
            .multipart(form)
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            bail!("registration failed: {}", r.text().await?);
        }
    }

    let one = raw_argon2(1, 3).await;
    let clients: Arc<Vec<Client>> = Arc::new(
        (0..o.clients)
            .map(|_| Client::builder().cookie_store(true).build())
            .collect::<Result<_, _>>()?,
    );
    // Raw hashing and logins alternate in 1-second slices, so drifting load from other
    // processes on the machine hits both alike.
    let (mut raw_hashes, mut raw_wall, mut raw_cpu, mut login_cpu) = (0.0, 0.0, 0.0, 0.0);
    let mut logins = Stats {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for _ in 0..o.seconds {
        let cpu0 = process_cpu_secs();
        let t = Instant::now();
        let rate = raw_argon2(workers, 1).await;
        raw_wall += t.elapsed().as_secs_f64();
        raw_hashes += rate * t.elapsed().as_secs_f64();
        raw_cpu += cpu_delta(cpu0).unwrap_or(f64::NAN);
        let (c, b) = (Arc::clone(&clients), base.clone());
        let cpu0 = process_cpu_secs();
        let slice = run_clients(o.clients, 1, move |i| {
            let (c, b) = (c[i].clone(), b.clone());
            async move { login(&c, &b, i).await }
        })
        .await;
        login_cpu += cpu_delta(cpu0).unwrap_or(f64::NAN);
        logins.absorb(slice);
    }
    let raw = raw_hashes / raw_wall;
    println!(
        "argon2id raw (19 MiB, t=2, p=1): {one:.1} hashes/s on 1 thread, {raw:.1} hashes/s on {workers} threads"
    );
    println!(
        "logins      : {} = {:.0}% of the raw argon2 rate",
        logins.line(),
        100.0 * logins.rate() / raw
    );
    if raw_cpu.is_finite() && login_cpu.is_finite() {
        // Per CPU-second of this process (server and clients): what other load cannot skew.
        let raw_per_cpu = raw_hashes / raw_cpu;
        let login_per_cpu = logins.ok as f64 / login_cpu;
        println!(
            "per CPU-second: {raw_per_cpu:.1} raw hashes, {login_per_cpu:.1} logins = {:.0}%",
            100.0 * login_per_cpu / raw_per_cpu
        );
    }

    for (i, c) in clients.iter().enumerate() {
        if !login(c, &base, i).await {
            bail!("login before the face phase failed");
        }
    }
    let frame = Arc::new(frame_640x480("obama_2.jpg")?);
    let (c, b, f) = (Arc::clone(&clients), base.clone(), Arc::clone(&frame));
    let cpu0 = process_cpu_secs();
    let verifies = run_clients(o.clients, o.seconds, move |i| {
        let (c, b, f) = (c[i].clone(), b.clone(), Arc::clone(&f));
        async move { verify(&c, &b, &f).await }
    })
    .await;
    println!(
        "face verify : {} (challenge + verify, one 640x480 JPEG of {} KB)",
        verifies.line(),
        frame.len() / 1024
    );
    if let Some(cpu) = cpu_delta(cpu0) {
        let per_cpu = verifies.ok as f64 / cpu;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "per CPU-second: {per_cpu:.1} face verifications (server and clients), i.e. ~{:.0}/s with all {cores} cores to itself",
            per_cpu * cores as f64
        );
    }
    Ok(())
}
