//! The bus restarted under chat load: two nodes on one PostgreSQL schema and on a Redis of this
//! test's own (started from the `redis-server` that tools/test installs, without persistence),
//! which is killed with SIGKILL and started again empty while Alice keeps sending. Messages are
//! stored all along, so every send is acknowledged; each one must reach Bob, whose socket is on
//! the other node: live, or, once the bus is back and his socket is told to reconnect, through
//! the history he fetches then (as the web client does on every reconnect).

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::chat::{alice, bob, direct, hello, send};
use common::{start_cluster_on_bus, Client, WsClient};
use reqwest::StatusCode;

/// Messages sent, one every [`PACE`] (or as soon as the previous one is answered); the bus
/// is down from [`DOWN`] to [`UP`] after the first send, whatever the sends are doing.
const MESSAGES: usize = 120;
const PACE: Duration = Duration::from_millis(25);
const DOWN: Duration = Duration::from_millis(1000);
const UP: Duration = Duration::from_millis(1600);

/// A Redis of this test alone, on a port of its own.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Self { port, child: None };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, empty) and waits until it accepts connections.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "redis-server does not start ({e}): tools/test installs Debian's redis-server"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL redis-server");
            child.wait().expect("reap redis-server");
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Bob's tab: reads `message.new` from `socket`; told to reconnect (1012), reconnects with
/// `?since=`, then fetches the channel's messages after the newest one it has, as the web
/// client does.
async fn tab(
    mut socket: WsClient,
    bob: Client,
    channel: i64,
    seen: Arc<Mutex<BTreeSet<i64>>>,
    reconnects: Arc<AtomicUsize>,
) {
    let mut last_seq = 0;
    loop {
        match socket.next_json().await {
            Ok(event) => {
                last_seq = event["seq"].as_u64().unwrap_or(last_seq);
                if event["type"] == "message.new" {
                    let id = event["message"]["id"].as_i64().expect("id");
                    seen.lock().expect("seen").insert(id);
                }
            }
            Err(e) => {
                let code = socket.closed().await.ok().flatten();
                assert_eq!(code, Some(1012), "the socket ended otherwise: {e:#}");
                socket = bob
                    .ws(&format!("?since={last_seq}"))
                    .await
                    .expect("reconnect");
                let hello = hello(&mut socket).await;
                last_seq = hello["seq"].as_u64().unwrap_or(last_seq);
                let newest = seen.lock().expect("seen").last().copied().unwrap_or(0);
                let (status, page) = bob
                    .get(&format!(
                        "/api/channels/{channel}/messages?after={newest}&limit=100"
                    ))
                    .await
                    .expect("history");
                assert_eq!(status, StatusCode::OK, "{page}");
                for m in page["messages"].as_array().expect("messages") {
                    seen.lock()
                        .expect("seen")
                        .insert(m["id"].as_i64().expect("id"));
                }
                reconnects.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

#[tokio::test]
async fn a_bus_restarted_under_chat_load_loses_no_acknowledged_message() {
    let mut redis = PrivateRedis::start();
    let nodes = start_cluster_on_bus(2, &redis.url(), |_| {}).await;
    let (a, b) = (alice(&nodes[0]).await, bob(&nodes[0]).await);
    let channel = direct(&a, &b).await;
    let bob_on_b = b.client.on(&nodes[1]);
    let mut socket = bob_on_b.ws("").await.expect("bob on B");
    hello(&mut socket).await;
    let seen: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let reconnects = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn(tab(
        socket,
        bob_on_b,
        channel,
        Arc::clone(&seen),
        Arc::clone(&reconnects),
    ));

    let started = Instant::now();
    let outage = std::thread::spawn(move || {
        std::thread::sleep(DOWN);
        redis.kill();
        std::thread::sleep(UP - DOWN);
        redis.restart();
        redis
    });
    let mut acknowledged = Vec::new();
    let mut slowest = Duration::ZERO;
    for i in 0..MESSAGES {
        let sent = Instant::now();
        let (status, message) = send(&a, channel, &format!("message {i}"), None).await;
        assert_eq!(status, StatusCode::CREATED, "send {i}: {message}");
        slowest = slowest.max(sent.elapsed());
        acknowledged.push(message["id"].as_i64().expect("id"));
        tokio::time::sleep_until((started + PACE * (i as u32 + 1)).into()).await;
    }
    let _redis = outage.join().expect("outage thread");
    assert!(
        started.elapsed() > UP,
        "the sends ended before the bus came back: make the load longer"
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let missing = || -> Vec<i64> {
        let seen = seen.lock().expect("seen");
        acknowledged
            .iter()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect()
    };
    while !missing().is_empty() {
        assert!(
            Instant::now() < deadline && !reader.is_finished(),
            "acknowledged but never seen by Bob: {:?}",
            missing()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.abort();
    let told = reconnects.load(Ordering::SeqCst);
    assert!(told >= 1, "Bob's socket was never told to reconnect");
    eprintln!(
        "{} messages acknowledged, all seen by Bob; the slowest send took {slowest:?}; his \
         socket reconnected {told} time(s)",
        acknowledged.len()
    );
}
