//! Chat load test (a benchmark, not a test): N idle WebSocket connections held against a real
//! server process, and M messages/s sent into group channels of K members each.
//!
//! ```text
//! cargo run --release -p facegate-server --features bench --example load_chat -- \
//!     --connections 10000 --rate 500 --members 10 --seconds 20
//! ```
//!
//! It prints the connections held, the server's resident memory per connection (VmRSS of the
//! server process before and after connecting), deliveries per second and the p50/p99
//! send-to-receive latency (from the start of the sender's POST to the frame at a receiver).
//!
//! `--mix`: every 20 operations are 15 plain messages, 4 reactions (in turn, one added to the
//! channel's newest message and then taken back) and 1 message with a 640×480 JPEG photo
//! (uploaded first: the server decodes it, strips its metadata, re-encodes it and makes a
//! thumbnail). `--rate` then counts operations; latency is still measured on the messages,
//! and the uploads' own times are printed beside them.
//!
//! Several nodes: `--nodes 3 --database-url postgres://... --bus-url redis://...` starts three
//! server processes on one (empty) PostgreSQL database and one Redis; connection `i` goes to
//! node `i % 3` and message `i` is posted to node `i % 3`, so most deliveries cross nodes.
//!
//! BENCH-ONLY PATH: the N users and their `full` sessions are inserted straight into the
//! database by `server::bench` (cargo feature `bench`), skipping registration and the
//! face check, which would take hours for 10,000 users. Everything after that (cookie session
//! validation, Origin check, REST sends, fan-out) is the production code path.
//!
//! The server runs as a child process (this same binary with `--serve`), so its memory is
//! measured alone. The tool raises its own open-file soft limit to the hard limit, and the
//! child inherits it. All traffic stays on 127.0.0.1 and the run stops by itself.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone)]
struct Args {
    connections: usize,
    rate: u64,
    members: usize,
    seconds: u64,
    nodes: usize,
    database_url: Option<String>,
    bus_url: Option<String>,
    mix: bool,
}

/// What one tick of the sending phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Text,
    /// Take back the reaction the last `React` of this channel added, or else add one of
    /// [`REACTIONS`] to the channel's newest message: each one changes the message's list.
    React,
    Photo,
}

const REACTIONS: [&str; 4] = ["👍", "🎉", "👀", "🙏"];

/// A reaction a `React` added and the next one of its channel takes back: message, emoji.
type Reacted = (i64, &'static str);

/// The mix of `--mix` (see the doc comment) for operation `i`, which goes to channel
/// `i % channels`: each channel goes through the 20 kinds in turn, the channels out of step,
/// so that every second of the run has the same mix.
fn op_of(i: u64, channels: u64, mix: bool) -> Op {
    if !mix {
        return Op::Text;
    }
    match (i / channels + i % channels) % 20 {
        0 => Op::Photo,
        1 | 6 | 11 | 16 => Op::React,
        _ => Op::Text,
    }
}

/// A 640×480 JPEG with some texture (a flat image would compress to nothing).
fn test_photo() -> anyhow::Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg)?;
    Ok(out.into_inner())
}

fn parse_args() -> anyhow::Result<(Args, Option<String>)> {
    let mut args = Args {
        connections: 1000,
        rate: 500,
        members: 10,
        seconds: 20,
        nodes: 1,
        database_url: None,
        bus_url: None,
        mix: false,
    };
    let mut serve = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("flag needs a value");
        match flag.as_str() {
            "--connections" => args.connections = value()?.parse()?,
            "--rate" => args.rate = value()?.parse()?,
            "--members" => args.members = value()?.parse()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--nodes" => args.nodes = value()?.parse()?,
            "--database-url" => args.database_url = Some(value()?),
            "--bus-url" => args.bus_url = Some(value()?),
            "--serve" => serve = Some(value()?),
            "--mix" => args.mix = true,
            other => bail!("unknown flag {other} (see the doc comment of load_chat.rs)"),
        }
    }
    if args.members < 2 || args.connections < args.members {
        bail!("need --members >= 2 and --connections >= --members");
    }
    if args.rate == 0 || args.rate > 100_000 {
        bail!("--rate is 1 to 100000 messages/s");
    }
    if args.nodes == 0 || args.nodes > 8 {
        bail!("--nodes is 1 to 8");
    }
    if args.nodes > 1 && (args.database_url.is_none() || args.bus_url.is_none()) {
        bail!("several nodes need --database-url (PostgreSQL) and --bus-url (Redis)");
    }
    if args.seconds > 300 {
        bail!("--seconds is at most 300: the run must stop by itself");
    }
    Ok((args, serve))
}

/// Raises the open-file soft limit to the hard limit; returns the new soft limit.
fn raise_nofile_limit() -> u64 {
    #[repr(C)]
    struct Rlimit {
        cur: u64,
        max: u64,
    }
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
    }
    const RLIMIT_NOFILE: i32 = 7; // Linux
    let mut limit = Rlimit { cur: 0, max: 0 };
    // SAFETY: `limit` is a valid, writable `struct rlimit` (two u64 on 64-bit Linux) that lives
    // across the call; getrlimit only writes into it.
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    let raised = Rlimit {
        cur: limit.max,
        max: limit.max,
    };
    // SAFETY: `raised` is a valid `struct rlimit`; setrlimit only reads it. Raising the soft
    // limit up to the hard limit needs no privilege.
    if unsafe { setrlimit(RLIMIT_NOFILE, &raised) } == 0 {
        raised.cur
    } else {
        limit.cur
    }
}

fn vm_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS")?
        .parse()?;
    Ok(kib)
}

/// One node. The parent passes the shared database, key and bus in these variables.
async fn serve(data_dir: String) -> anyhow::Result<()> {
    let defaults = server::Config::default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let config = server::Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.into(),
        models_dir: std::env::var_os("FACEGATE_MODELS")
            .map_or(defaults.models_dir.clone(), Into::into),
        database_url: var("LOAD_CHAT_DATABASE_URL"),
        secret_key_file: var("LOAD_CHAT_SECRET_KEY_FILE").map(Into::into),
        bus_url: var("LOAD_CHAT_BUS_URL"),
        // Each synthetic sender writes for a whole group, faster than a person may: the
        // benchmark measures delivery, not the per-account write limit.
        rate_limit: server::config::RateLimitConfig {
            chat_write_burst: u32::MAX,
            ..defaults.rate_limit.clone()
        },
        ..defaults
    };
    server::run(config).await
}

/// User + system CPU time of a process, in seconds (clock ticks of 1/100 s on Linux).
fn cpu_secs(pid: &str) -> f64 {
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

struct Stats {
    received: AtomicU64,
    reactions_received: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
    open: AtomicUsize,
    closed_early: AtomicUsize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (args, serve_dir) = parse_args()?;
    if let Some(dir) = serve_dir {
        return serve(dir).await;
    }
    let nofile = raise_nofile_limit();
    println!("load_chat: open-file limit {nofile}");
    println!(
        "load_chat: BENCH-ONLY session path: {} users with `full` sessions are inserted directly \
         into the database (cargo feature `bench`), not through registration + face check",
        args.connections
    );
    let dir = tempfile::tempdir()?;

    // Users, sessions and channels, written before the server starts.
    let setup = Instant::now();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let key_file = dir.path().join("secret.key");
    std::fs::write(&key_file, rand::random::<[u8; 32]>())?;
    let (users, channels) = {
        let db = match &args.database_url {
            Some(url) => server::storage::Db::connect(url).await?,
            None => server::storage::Db::open(&dir.path().join("facegate.db")).await?,
        };
        let users =
            server::bench::users_with_full_sessions(&db, "load", args.connections, now).await?;
        let mut channels = Vec::new();
        for (i, group) in users.chunks_exact(args.members).enumerate() {
            let ids: Vec<i64> = group.iter().map(|u| u.id).collect();
            let id = server::bench::group(&db, &format!("load {i}"), &ids, now).await?;
            channels.push((id, group[0].session_token.clone()));
        }
        (users, channels)
    };
    println!(
        "setup: {} users, {} channels of {} members in {:.1} s",
        users.len(),
        channels.len(),
        args.members,
        setup.elapsed().as_secs_f64()
    );

    // The nodes, as child processes of this same binary.
    let mut children = Vec::new();
    let (mut addrs, mut pids) = (Vec::new(), Vec::new());
    for node in 0..args.nodes {
        // On SQLite the one node serves the file written above; on PostgreSQL each node gets a
        // data directory of its own (nothing in it is shared).
        let node_dir = match args.database_url {
            Some(_) => dir.path().join(format!("node{node}")),
            None => dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(&node_dir)?;
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command
            .args(["--serve", &node_dir.to_string_lossy()])
            .env(
                "LOAD_CHAT_DATABASE_URL",
                args.database_url.as_deref().unwrap_or(""),
            )
            .env("LOAD_CHAT_BUS_URL", args.bus_url.as_deref().unwrap_or(""))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if args.database_url.is_some() {
            command.env("LOAD_CHAT_SECRET_KEY_FILE", &key_file);
        }
        let mut child = command.spawn()?;
        pids.push(child.id().context("server pid")?);
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .context("server did not start within 60 s")??
                .context("server exited")?;
            if let Some(addr) = line.strip_prefix("facegate listening on http://") {
                break addr.to_owned();
            }
        };
        addrs.push(addr);
        children.push(child);
    }
    println!("nodes: {} ({})", args.nodes, addrs.join(", "));
    let result = run(&args, &addrs, &pids, &users, &channels).await;
    for mut child in children {
        child.kill().await.ok();
    }
    result
}

async fn run(
    args: &Args,
    addrs: &[String],
    pids: &[u32],
    users: &[server::bench::BenchUser],
    channels: &[(i64, String)],
) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = || -> anyhow::Result<u64> { pids.iter().map(|&p| vm_rss_kib(p)).sum() };
    let cpu = || -> f64 { pids.iter().map(|p| cpu_secs(&p.to_string())).sum() };
    let rss_before = rss()?;
    let epoch = Instant::now();
    let stats = Arc::new(Stats {
        received: AtomicU64::new(0),
        reactions_received: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::new()),
        open: AtomicUsize::new(0),
        closed_early: AtomicUsize::new(0),
    });

    // Connect everyone, a bounded number of handshakes at a time.
    let connect_start = Instant::now();
    let handshakes = Arc::new(Semaphore::new(256));
    let mut connecting = Vec::with_capacity(users.len());
    for (i, user) in users.iter().enumerate() {
        let permit = Arc::clone(&handshakes).acquire_owned().await?;
        let addr = &addrs[i % addrs.len()];
        let url = format!("ws://{addr}/api/ws");
        let cookie = format!("facegate_session={}", user.session_token);
        let origin = format!("http://{addr}");
        let stats = Arc::clone(&stats);
        connecting.push(tokio::spawn(async move {
            let connected = connect(&url, &cookie, &origin).await;
            drop(permit);
            match connected {
                Ok(ws) => {
                    stats.open.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(receive(ws, stats, epoch));
                    Ok(())
                }
                Err(err) => Err(err),
            }
        }));
    }
    let mut failures = 0;
    for task in connecting {
        if !matches!(task.await, Ok(Ok(()))) {
            failures += 1;
        }
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    // Let presence fan-out and allocator settle before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss()?;
    let held = stats.open.load(Ordering::Relaxed);
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 / held.max(1) as f64;
    println!(
        "connections: {held} held ({failures} failed) in {connect_secs:.1} s; server VmRSS \
         {rss_before} KiB -> {rss_after} KiB = {per_conn:.1} KiB per connection"
    );

    // Sending phase.
    stats.received.store(0, Ordering::Relaxed);
    if let Ok(mut l) = stats.latencies_us.lock() {
        l.clear();
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let in_flight = Arc::new(Semaphore::new(128));
    let total = args.rate * args.seconds;
    let send_errors = Arc::new(AtomicU64::new(0));
    let photo = Arc::new(test_photo()?);
    // Each channel's newest message, the one reactions go to (0 until one is stored).
    let newest: Arc<Vec<std::sync::atomic::AtomicI64>> = Arc::new(
        (0..channels.len())
            .map(|_| std::sync::atomic::AtomicI64::new(0))
            .collect(),
    );
    let counts = Arc::new(OpCounts::default());
    // Per channel, the reaction (message, emoji) its last `React` added and has not taken back.
    let reacted: Arc<Vec<Mutex<Option<Reacted>>>> =
        Arc::new((0..channels.len()).map(|_| Mutex::new(None)).collect());
    let upload_us = Arc::new(Mutex::new(Vec::<u32>::new()));
    let send_start = Instant::now();
    let (server_cpu0, client_cpu0) = (cpu(), cpu_secs("self"));
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..total {
        ticker.tick().await;
        let slot = (i as usize) % channels.len();
        let (channel, token) = &channels[slot];
        let channel = *channel;
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let base = format!("http://{}", addrs[(i as usize) % addrs.len()]);
        let cookie = format!("facegate_session={token}");
        let http = http.clone();
        let errors = Arc::clone(&send_errors);
        let (newest, counts, photo, upload_us, reacted) = (
            Arc::clone(&newest),
            Arc::clone(&counts),
            Arc::clone(&photo),
            Arc::clone(&upload_us),
            Arc::clone(&reacted),
        );
        let op = op_of(i, channels.len() as u64, args.mix);
        tokio::spawn(async move {
            let target = newest[slot].load(Ordering::Relaxed);
            let ok = match op {
                Op::React if target > 0 => {
                    counts.reactions.fetch_add(1, Ordering::Relaxed);
                    let taken_back = reacted[slot].lock().ok().and_then(|mut r| r.take());
                    let (message, emoji, add) = match taken_back {
                        Some((message, emoji)) => (message, emoji, false),
                        None => {
                            let emoji = REACTIONS[(i % 4) as usize];
                            if let Ok(mut r) = reacted[slot].lock() {
                                *r = Some((target, emoji));
                            }
                            (target, emoji, true)
                        }
                    };
                    let url = format!(
                        "{base}/api/channels/{channel}/messages/{message}/reactions/{}",
                        utf8_percent(emoji)
                    );
                    let request = if add { http.put(url) } else { http.delete(url) };
                    request
                        .header("cookie", &cookie)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
                Op::Photo => {
                    counts.photos.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    let form = reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(photo.as_ref().clone())
                            .file_name("photo.jpg"),
                    );
                    let uploaded: Option<serde_json::Value> = async {
                        let r = http
                            .post(format!("{base}/api/channels/{channel}/attachments"))
                            .header("cookie", &cookie)
                            .multipart(form)
                            .send()
                            .await
                            .ok()?;
                        r.status().is_success().then_some(())?;
                        r.json().await.ok()
                    }
                    .await;
                    if let Ok(mut l) = upload_us.lock() {
                        l.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    match uploaded.and_then(|v| v["id"].as_i64()) {
                        Some(file) => {
                            send_text(
                                &http,
                                &base,
                                channel,
                                &cookie,
                                i,
                                &[file],
                                epoch,
                                &newest[slot],
                            )
                            .await
                        }
                        None => false,
                    }
                }
                // A reaction before the channel has a message: a message instead.
                Op::Text | Op::React => {
                    counts.texts.fetch_add(1, Ordering::Relaxed);
                    send_text(&http, &base, channel, &cookie, i, &[], epoch, &newest[slot]).await
                }
            };
            if !ok {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    let _ = in_flight.acquire_many(128).await?;
    let send_secs = send_start.elapsed().as_secs_f64();
    let server_cpu = (cpu() - server_cpu0) / send_secs * 100.0;
    let client_cpu = (cpu_secs("self") - client_cpu0) / send_secs * 100.0;
    // Stragglers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = stats.received.load(Ordering::Relaxed);
    let messages = counts.texts.load(Ordering::Relaxed) + counts.photos.load(Ordering::Relaxed);
    let expected = messages * args.members as u64;
    let mut latencies = stats
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let idx = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[idx.min(latencies.len() - 1)]) / 1000.0
    };
    let rss_end = rss()?;
    println!(
        "sending: {total} operations at {} op/s target into {}-member channels over {send_secs:.1} s \
         ({} send errors)",
        args.rate,
        args.members,
        send_errors.load(Ordering::Relaxed)
    );
    println!(
        "deliveries: {received} of {expected} expected = {:.0} deliveries/s; latency p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
        received as f64 / send_secs,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    if args.mix {
        let mut uploads = upload_us.lock().map(|l| l.clone()).unwrap_or_default();
        uploads.sort_unstable();
        let at = |p: f64| {
            uploads
                .get(((uploads.len().max(1) - 1) as f64 * p).round() as usize)
                .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
        };
        println!(
            "mix: {} text messages, {} photo messages, {} reactions; reaction events delivered \
             {}; photo upload p50 {:.1} ms, p99 {:.1} ms",
            counts.texts.load(Ordering::Relaxed),
            counts.photos.load(Ordering::Relaxed),
            counts.reactions.load(Ordering::Relaxed),
            stats.reactions_received.load(Ordering::Relaxed),
            at(0.5),
            at(0.99)
        );
    }
    println!(
        "cpu while sending: server {server_cpu:.0}% of one core, load tool {client_cpu:.0}% \
         (2 cores in all)"
    );
    println!(
        "connections still open: {} (closed early: {}); server VmRSS at end {rss_end} KiB",
        stats.open.load(Ordering::Relaxed),
        stats.closed_early.load(Ordering::Relaxed)
    );
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, cookie: &str, origin: &str) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(cookie)?);
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin)?);
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    Ok(ws)
}

async fn receive(mut ws: Ws, stats: Arc<Stats>, epoch: Instant) {
    while let Some(frame) = ws.next().await {
        let Ok(Message::Text(text)) = frame else {
            if matches!(frame, Ok(Message::Close(_)) | Err(_)) {
                break;
            }
            continue;
        };
        let text = text.as_str();
        if text.contains("\"reaction.updated\"") {
            stats.reactions_received.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !text.contains("\"message.new\"") {
            continue;
        }
        // The text is "t=<micros since epoch at send>".
        let Some(sent) = text
            .split("\"text\":\"t=")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|n| n.parse::<u128>().ok())
        else {
            continue;
        };
        let latency = epoch.elapsed().as_micros().saturating_sub(sent);
        stats.received.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = stats.latencies_us.lock() {
            l.push(u32::try_from(latency).unwrap_or(u32::MAX));
        }
    }
    stats.open.fetch_sub(1, Ordering::Relaxed);
    stats.closed_early.fetch_add(1, Ordering::Relaxed);
}

/// How many operations of each kind the sending phase made.
#[derive(Default)]
struct OpCounts {
    texts: AtomicU64,
    photos: AtomicU64,
    reactions: AtomicU64,
}

/// An emoji as a URL path segment.
fn utf8_percent(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Sends a message whose text is its send time ("t=<micros since epoch>"), with `files`, and
/// records its id as the channel's newest. True when the server stored it.
#[allow(clippy::too_many_arguments)]
async fn send_text(
    http: &reqwest::Client,
    base: &str,
    channel: i64,
    cookie: &str,
    i: u64,
    files: &[i64],
    epoch: Instant,
    newest: &std::sync::atomic::AtomicI64,
) -> bool {
    let sent_at = epoch.elapsed().as_micros();
    let body = serde_json::json!({
        "text": format!("t={sent_at}"), "client_id": format!("m{i}"), "attachments": files,
    });
    let Ok(response) = http
        .post(format!("{base}/api/channels/{channel}/messages"))
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
    else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    if let Ok(stored) = response.json::<serde_json::Value>().await {
        if let Some(id) = stored["id"].as_i64() {
            newest.fetch_max(id, Ordering::Relaxed);
        }
    }
    true
}
