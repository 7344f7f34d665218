//! One node cut off from the bus while the others still reach it: node A talks to the shared
//! Redis through a TCP proxy of this test, node B directly. While the proxy is cut, Alice's
//! message sent on A is stored and acknowledged, but the bus never carries it, so Bob's socket
//! on B misses it. Once A reaches the bus again it asks every node to make the sockets of that
//! message's recipients reconnect: Bob's socket on B is closed with 1012 and the history he then
//! fetches holds the message; Carol, who was not a recipient, keeps her socket.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::chat::{alice, bob, carol, direct, hello, send};
use common::{redis_url, start_nodes_reaching_the_bus_at};
use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to one address that can be cut (every connection dropped, new ones refused)
/// and restored.
struct CuttableProxy {
    port: u16,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl CuttableProxy {
    async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = tokio::spawn({
            let (open, links) = (Arc::clone(&open), Arc::clone(&links));
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue; // dropped at once: the node sees the connection fail
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().expect("links").push(link);
                }
            }
        });
        Self {
            port,
            open,
            links,
            acceptor,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}

#[tokio::test]
async fn a_message_the_bus_refused_makes_its_recipients_sockets_on_other_nodes_reconnect() {
    let redis = redis_url();
    let address = redis
        .strip_prefix("redis://")
        .expect("a redis:// URL")
        .trim_end_matches('/')
        .to_owned();
    let proxy = CuttableProxy::to(address).await;
    let through_proxy = format!("redis://127.0.0.1:{}", proxy.port);
    let nodes = start_nodes_reaching_the_bus_at(&[through_proxy, redis], |_| {}).await;
    let (a, b, c) = (
        alice(&nodes[0]).await,
        bob(&nodes[0]).await,
        carol(&nodes[0]).await,
    );
    let channel = direct(&a, &b).await;
    let bob_on_b = b.client.on(&nodes[1]);
    let mut bob_socket = bob_on_b.ws("").await.expect("bob on B");
    hello(&mut bob_socket).await;
    let mut carol_socket = c.client.on(&nodes[1]).ws("").await.expect("carol on B");
    hello(&mut carol_socket).await;

    // Through the bus while it is reachable: Bob gets it live on B.
    let (status, before) = send(&a, channel, "before the cut", None).await;
    assert_eq!(status, StatusCode::CREATED, "{before}");
    let live = bob_socket
        .next_of("message.new")
        .await
        .expect("live before");
    assert_eq!(live["message"]["id"], before["id"]);

    proxy.cut();
    let sent = Instant::now();
    let (status, unpublished) = send(&a, channel, "while A cannot reach the bus", None).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "stored all the same: {unpublished}"
    );
    let took = sent.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the send waited {took:?} for the bus"
    );
    let id = unpublished["id"].as_i64().expect("id");
    proxy.restore();

    // Bob's socket on B is told to reconnect; nothing before that carries the message.
    let restored = Instant::now();
    loop {
        match bob_socket.next_json().await {
            Ok(event) => assert!(
                !(event["type"] == "message.new" && event["message"]["id"] == id),
                "the bus carried a message it was never given: {event}"
            ),
            Err(e) => {
                let code = bob_socket.closed().await.ok().flatten();
                assert_eq!(code, Some(1012), "Bob's socket ended otherwise: {e:#}");
                break;
            }
        }
    }
    eprintln!(
        "Bob's socket on B was told to reconnect {:?} after A reached the bus again",
        restored.elapsed()
    );
    let newest = before["id"].as_i64().expect("id");
    let (status, page) = bob_on_b
        .get(&format!(
            "/api/channels/{channel}/messages?after={newest}&limit=100"
        ))
        .await
        .expect("history");
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .collect();
    assert!(
        ids.contains(&id),
        "the history after the cut lacks it: {ids:?}"
    );

    // Carol was not a recipient: her socket on B stays open and still gets events.
    let with_carol = direct(&a, &c).await;
    let (status, to_carol) = send(&a, with_carol, "still there?", None).await;
    assert_eq!(status, StatusCode::CREATED, "{to_carol}");
    let event = carol_socket
        .next_of("message.new")
        .await
        .expect("Carol's socket stayed open");
    assert_eq!(event["message"]["id"], to_carol["id"]);
}
