//! The real `facegate serve` under SIGTERM: a request in flight completes, an open chat
//! WebSocket is told to reconnect (1012), and the process exits 0 within its grace period.
//! Its logs, asked for as JSON, are one JSON object per line.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{require_fixtures, Client, PASSWORD};

const GRACE_SECS: u64 = 5;

/// `facegate serve` on a free port with JSON logs and `grace_secs` to drain; returns the child
/// and its base URL.
fn serve(data_dir: &std::path::Path, grace_secs: u64) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--models")
        .arg(common::models_dir())
        // Frame uploads instead of the live check, so the test can sign in with photos.
        .env("FACEGATE_FACE_LIVENESS", "off")
        .env("FACEGATE_SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start facegate serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("listening line");
    let base = first
        .trim()
        .strip_prefix("facegate listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    (child, base)
}

/// Sends the headers and half the body of a login, so the request is in flight.
async fn start_slow_login(base: &str) -> (tokio::net::TcpStream, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let body = br#"{"login":"nobody","password":"not the password"}"#.to_vec();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("headers");
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await.expect("half a body");
    (stream, rest.to_vec())
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -TERM failed");
}

/// Waits for the child to exit, at most `bound`.
fn exit_within(child: &mut Child, bound: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            panic!("facegate still running {bound:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_tells_sockets_to_reconnect_and_exits_0() {
    require_fixtures();
    let data = tempfile::tempdir().expect("tempdir");
    let (mut child, base) = serve(data.path(), GRACE_SECS);
    // Read all along, so that a full pipe never blocks the server's logging.
    let stderr = child.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text).map(|_| text)
    });
    let alice = Client::new(base.clone());
    let (status, body) = alice
        .register("alice", PASSWORD, &["obama_1.jpg"])
        .await
        .expect("register");
    assert_eq!(status.as_u16(), 201, "{body}");
    alice.login("alice", PASSWORD).await.expect("login");
    let (status, body) = alice
        .face_check(&["obama_2.jpg"])
        .await
        .expect("face check");
    assert_eq!(status.as_u16(), 200, "{body}");
    let mut socket = alice.ws("").await.expect("chat socket");
    assert_eq!(socket.next_json().await.expect("hello")["type"], "hello");
    let (mut in_flight, rest_of_body) = start_slow_login(&base).await;
    // Lets the server read the headers and start the handler, which now waits for the body.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    terminate(&child);
    assert_eq!(socket.closed().await.expect("close frame"), Some(1012));
    in_flight
        .write_all(&rest_of_body)
        .await
        .expect("rest of the body");
    let mut answer = String::new();
    tokio::time::timeout(
        Duration::from_secs(GRACE_SECS),
        in_flight.read_to_string(&mut answer),
    )
    .await
    .expect("answer within the grace period")
    .expect("read answer");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("invalid_credentials"), "{answer}");
    let status = exit_within(&mut child, Duration::from_secs(GRACE_SECS + 2));
    assert!(status.success(), "exit status {status}");
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());

    let logs = logs.join().expect("log reader").expect("logs");
    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.len() >= 3, "too few log lines: {logs}");
    for line in &lines {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(
            parsed["level"].is_string() && parsed["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("\"drained\"")),
        "no drain line: {logs}"
    );
}

#[tokio::test]
async fn sigterm_exits_0_once_the_grace_period_is_over_even_if_a_request_never_finishes() {
    require_fixtures();
    let data = tempfile::tempdir().expect("tempdir");
    let grace = Duration::from_secs(1);
    let (mut child, base) = serve(data.path(), grace.as_secs());
    // Its body never comes: only the grace period ends this request.
    let (_stuck, _) = start_slow_login(&base).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    terminate(&child);
    let status = exit_within(&mut child, grace + Duration::from_secs(2));
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        took >= grace,
        "exited after {took:?}, before the grace period was over"
    );
    eprintln!("exited {took:?} after SIGTERM with a request stuck");
}
