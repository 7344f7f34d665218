//! Two real `facegate serve` processes of one deployment (one PostgreSQL schema, one Redis
//! bus, one server key) under steady chat load, and one of them killed with SIGKILL: the
//! sockets it held reconnect to the other node and catch up, and every message whose send was
//! acknowledged (201, or 200 for a retry) reaches the recipient. Real services, no mocks:
//! without `FACEGATE_TEST_POSTGRES_URL` and `FACEGATE_TEST_REDIS_URL` this test fails.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use common::{require_fixtures, Client, WsClient, PASSWORD};

/// Messages sent in all, one every [`PACE`], alternating between the nodes; the first node is
/// killed after [`KILL_AFTER`] of them.
const MESSAGES: usize = 150;
const KILL_AFTER: usize = 60;
const PACE: Duration = Duration::from_millis(20);

/// One node: `facegate serve` on a free port of the shared deployment; its log goes to
/// `log` (read when the test fails).
fn serve(data_dir: &Path, config: &Path, database_url: &str, bus_url: &str, log: &Path) -> Node {
    let key = config.with_file_name("secret.key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--models")
        .arg(common::models_dir())
        .arg("--secret-key-file")
        .arg(&key)
        .arg("--bus-url")
        .arg(bus_url)
        .env("FACEGATE_DATABASE_URL", database_url)
        // Photo uploads instead of the live check, so the test can sign in.
        .env("FACEGATE_FACE_LIVENESS", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start facegate serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first)
        .expect("listening line");
    let base = first
        .trim()
        .strip_prefix("facegate listening on ")
        .unwrap_or_else(|| {
            panic!(
                "unexpected first line {first:?}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_owned();
    Node { child, base }
}

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same browser (cookies) talking to `base`.
fn through(client: &Client, base: &str) -> Client {
    Client {
        base: base.to_owned(),
        ..client.clone()
    }
}

async fn signed_in(base: &str, username: &str, enrol: &str, verify: &str) -> (Client, i64) {
    let client = Client::new(base.to_owned());
    let (status, user) = client
        .register(username, PASSWORD, &[enrol])
        .await
        .expect("register");
    assert_eq!(status.as_u16(), 201, "{user}");
    client.login(username, PASSWORD).await.expect("login");
    let (status, body) = client.face_check(&[verify]).await.expect("face check");
    assert_eq!(status.as_u16(), 200, "{body}");
    (client, user["id"].as_i64().expect("id"))
}

/// What a recipient's sockets saw: message id → how many `message.new` events named it.
type Seen = Arc<Mutex<BTreeMap<i64, usize>>>;

/// Reads `message.new` events from `socket`; when the socket breaks (its node died), connects
/// to `fallback` with `?since=` the last sequence number seen, as the web client does, and goes
/// on there. Returns how many times it reconnected.
async fn receive(
    mut socket: WsClient,
    client: Client,
    fallback: Option<String>,
    seen: Seen,
) -> usize {
    let mut last_seq: Option<u64> = None;
    let mut reconnects = 0;
    loop {
        match socket.next_json().await {
            Ok(event) => {
                if let Some(seq) = event["seq"].as_u64() {
                    last_seq = Some(seq);
                }
                if event["type"] == "message.new" {
                    let id = event["message"]["id"].as_i64().expect("message id");
                    *seen.lock().expect("seen").entry(id).or_default() += 1;
                }
            }
            Err(e) if reconnects == 0 && fallback.is_some() => {
                eprintln!("socket broke ({e:#}); reconnecting to the other node");
                let since = last_seq.expect("a sequence number before the crash");
                socket = through(&client, fallback.as_deref().unwrap_or_default())
                    .ws(&format!("?since={since}"))
                    .await
                    .expect("reconnect to the surviving node");
                let hello = socket.next_json().await.expect("hello");
                assert_eq!(hello["type"], "hello", "{hello}");
                assert_eq!(
                    hello["resync"], false,
                    "the catch-up needs no resync: {hello}"
                );
                reconnects += 1;
            }
            // The surviving node's sockets end when the test is over.
            Err(_) => return reconnects,
        }
    }
}

#[tokio::test]
async fn a_node_killed_under_chat_load_loses_no_acknowledged_message() {
    require_fixtures();
    let database_url = common::new_postgres_schema(&common::postgres_service_url()).await;
    let bus_url = std::env::var(common::REDIS_URL_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{} is not set (tools/test sets it)", common::REDIS_URL_ENV));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("facegate.toml");
    // Its own key prefix on the shared Redis, so other runs' events never mix in.
    let prefix = format!("facegate-crash-{:016x}", rand::random::<u64>());
    // Alice sends faster than a person would: the per-account chat limit must not refuse her.
    std::fs::write(
        &config,
        format!("bus_prefix = \"{prefix}\"\n[rate_limit]\nchat_write_burst = 100000\n"),
    )
    .expect("config");
    std::fs::write(dir.path().join("secret.key"), rand::random::<[u8; 32]>()).expect("key");
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let (a_log, b_log) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut a = serve(&a_dir, &config, &database_url, &bus_url, &a_log);
    let b = serve(&b_dir, &config, &database_url, &bus_url, &b_log);
    let logs = || {
        format!(
            "node A:\n{}\nnode B:\n{}",
            std::fs::read_to_string(&a_log).unwrap_or_default(),
            std::fs::read_to_string(&b_log).unwrap_or_default()
        )
    };

    let (alice, _) = signed_in(&a.base, "alice", "obama_1.jpg", "obama_2.jpg").await;
    let (bob, bob_id) = signed_in(&a.base, "bob", "biden_1.jpg", "biden_2.jpg").await;
    let (status, channel) = alice
        .post_json(
            "/api/channels",
            &json!({"kind": "direct", "members": [bob_id]}),
        )
        .await
        .expect("direct channel");
    assert!(status.is_success(), "{status} {channel}");
    let channel = channel["id"].as_i64().expect("channel id");

    // Bob has a tab on each node; the one on A must fail over to B and catch up.
    let (seen_via_a, seen_on_b): (Seen, Seen) = Default::default();
    let mut sockets = Vec::new();
    let tabs = [
        (&a.base, Some(b.base.clone()), &seen_via_a),
        (&b.base, None, &seen_on_b),
    ];
    for (base, fallback, seen) in tabs {
        let mut socket = through(&bob, base).ws("").await.expect("bob's socket");
        assert_eq!(socket.next_json().await.expect("hello")["type"], "hello");
        sockets.push(tokio::spawn(receive(
            socket,
            bob.clone(),
            fallback,
            Arc::clone(seen),
        )));
    }

    // Alice sends at a steady pace through both nodes. A send that gets no answer is retried
    // with the same client_id through the other node, as a client behind a load balancer does.
    // The kill comes from another thread at a random point of a send through A (before it is
    // stored, between storing and publishing, or while it is answered), so that runs cover
    // every one of them.
    let started = Instant::now();
    let pid = a.child.id().to_string();
    let offset = Duration::from_micros(rand::random::<u64>() % 8_000);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(PACE * KILL_AFTER as u32 + offset);
        let status = Command::new("kill").args(["-KILL", &pid]).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "kill -KILL node A failed"
        );
    });
    let (mut acknowledged, mut retried) = (Vec::new(), 0);
    for i in 0..MESSAGES {
        let body = json!({"text": format!("message {i}"), "client_id": format!("m-{i}")});
        let path = format!("/api/channels/{channel}/messages");
        let first = if i % 2 == 0 { &a.base } else { &b.base };
        let mut answer = through(&alice, first).post_json(&path, &body).await;
        if answer.is_err() {
            retried += 1;
            answer = through(&alice, &b.base).post_json(&path, &body).await;
        }
        let (status, message) = answer.unwrap_or_else(|e| panic!("send {i}: {e:#}\n{}", logs()));
        assert!(
            status.as_u16() == 201 || status.as_u16() == 200,
            "send {i}: {status} {message}\n{}",
            logs()
        );
        acknowledged.push(message["id"].as_i64().expect("message id"));
        tokio::time::sleep_until((started + PACE * (i as u32 + 1)).into()).await;
    }
    killer.join().expect("killer thread");
    let a_status = a.child.try_wait().expect("wait for node A");
    assert!(a_status.is_some(), "node A still runs");

    // Every acknowledged message reaches both of Bob's tabs (a retry may announce one twice).
    let deadline = Instant::now() + Duration::from_secs(20);
    let missing = |seen: &Seen| -> Vec<i64> {
        let seen = seen.lock().expect("seen");
        acknowledged
            .iter()
            .copied()
            .filter(|id| !seen.contains_key(id))
            .collect()
    };
    while !(missing(&seen_via_a).is_empty() && missing(&seen_on_b).is_empty()) {
        assert!(
            Instant::now() < deadline,
            "acknowledged but never delivered: {:?} to the tab that was on A, {:?} to the tab \
             on B\n{}",
            missing(&seen_via_a),
            missing(&seen_on_b),
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(b);
    let reconnects: Vec<usize> = futures_util::future::join_all(sockets)
        .await
        .into_iter()
        .map(|r| r.expect("receiver"))
        .collect();
    assert_eq!(
        reconnects,
        [1, 0],
        "the tab on A reconnects once, to B; the tab on B never"
    );
    let twice = seen_on_b
        .lock()
        .expect("seen")
        .values()
        .filter(|n| **n > 1)
        .count();
    eprintln!(
        "killed {offset:?} into send {KILL_AFTER}; {} messages acknowledged, all delivered to \
         both tabs; {retried} sends retried through B, {twice} messages announced twice",
        acknowledged.len()
    );
    assert_eq!(acknowledged.len(), MESSAGES);
}
