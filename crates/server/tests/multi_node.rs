//! Three nodes of one deployment in one process: one PostgreSQL schema, one server key, one
//! Redis bus, each node on its own port. Real services, no mocks: without
//! `FACEGATE_TEST_POSTGRES_URL` and `FACEGATE_TEST_REDIS_URL` these tests fail (tools/test sets
//! both).

mod common;

use std::time::{Duration, Instant};

use common::chat::{alice, bob, carol, direct, hello, send, upload};
use common::{start_cluster, TestServer, Verified};
use reqwest::StatusCode;
use serde_json::json;

/// Three nodes, and Alice and Bob (registered through the first) in a direct channel.
async fn three_nodes_and_a_direct_channel() -> (Vec<TestServer>, Verified, Verified, i64) {
    let nodes = start_cluster(3, |_| {}).await;
    let (a, b) = (alice(&nodes[0]).await, bob(&nodes[0]).await);
    let channel = direct(&a, &b).await;
    (nodes, a, b, channel)
}

#[tokio::test]
async fn a_message_posted_on_one_node_reaches_sockets_on_the_others() {
    let (nodes, a, b, channel) = three_nodes_and_a_direct_channel().await;
    let mut on_b = b.client.on(&nodes[1]).ws("").await.expect("bob on B");
    let mut on_c = b.client.on(&nodes[2]).ws("").await.expect("bob on C");
    hello(&mut on_b).await;
    hello(&mut on_c).await;

    let mut took = Vec::new();
    for i in 0..50 {
        let text = format!("across {i}");
        let sent = Instant::now();
        let (status, _) = send(&a, channel, &text, None).await;
        assert_eq!(status, StatusCode::CREATED);
        for ws in [&mut on_b, &mut on_c] {
            let event = ws
                .next_of("message.new")
                .await
                .expect("message on another node");
            assert_eq!(event["message"]["text"], text.as_str());
        }
        took.push(sent.elapsed());
    }
    took.sort_unstable();
    eprintln!(
        "cross-node: POST on A until delivered on B and C, 50 messages: median {:?}, worst {:?}",
        took[took.len() / 2],
        took[took.len() - 1]
    );
}

#[tokio::test]
async fn messages_sent_through_different_nodes_arrive_in_storage_order_everywhere() {
    let (nodes, a, b, channel) = three_nodes_and_a_direct_channel().await;
    let mut watchers = Vec::new();
    for node in &nodes {
        let mut ws = b.client.on(node).ws("").await.expect("bob socket");
        hello(&mut ws).await;
        watchers.push(ws);
    }
    // Alice sends through all three nodes at once.
    let senders: Vec<_> = (0..3)
        .map(|n| {
            let client = a.client.on(&nodes[n]);
            tokio::spawn(async move {
                for i in 0..10 {
                    let (status, body) = client
                        .post_json(
                            &format!("/api/channels/{channel}/messages"),
                            &json!({"text": format!("node {n} #{i}")}),
                        )
                        .await
                        .expect("send");
                    assert_eq!(status, StatusCode::CREATED, "{body}");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    for ws in &mut watchers {
        let mut ids = Vec::new();
        for _ in 0..30 {
            let event = ws.next_of("message.new").await.expect("message");
            ids.push(event["message"]["id"].as_i64().expect("id"));
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "delivery order differs from storage order");
    }
}

#[tokio::test]
async fn a_logout_on_one_node_closes_the_sessions_socket_on_another_within_a_second() {
    let nodes = start_cluster(3, |_| {}).await;
    let a = alice(&nodes[0]).await;
    let mut on_c = a.client.on(&nodes[2]).ws("").await.expect("alice on C");
    hello(&mut on_c).await;

    let started = Instant::now();
    let (status, _) = a
        .client
        .on(&nodes[1])
        .post_json("/api/logout", &json!({}))
        .await
        .expect("logout on B");
    assert!(status.is_success(), "{status}");
    let code = tokio::time::timeout(Duration::from_secs(1), on_c.closed())
        .await
        .expect("the socket on C was not closed within 1 s")
        .expect("closed");
    assert_eq!(code, Some(4001));
    eprintln!(
        "logout on B closed the socket on C after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_reconnect_to_another_node_with_since_replays_what_was_missed() {
    let (nodes, a, b, channel) = three_nodes_and_a_direct_channel().await;
    let mut on_b = b.client.on(&nodes[1]).ws("").await.expect("bob on B");
    hello(&mut on_b).await;
    send(&a, channel, "seen live", None).await;
    let since = on_b.next_of("message.new").await.expect("live")["seq"]
        .as_u64()
        .expect("seq");
    drop(on_b);

    let missed = ["gone 1", "gone 2", "gone 3"];
    for text in missed {
        send(&a, channel, text, None).await;
    }
    let mut on_c = b
        .client
        .on(&nodes[2])
        .ws(&format!("?since={since}"))
        .await
        .expect("bob reconnects on C");
    assert_eq!(hello(&mut on_c).await["resync"], false);
    let mut last = since;
    for text in missed {
        let event = on_c.next_of("message.new").await.expect("replayed");
        assert_eq!(event["message"]["text"], text);
        let seq = event["seq"].as_u64().expect("seq");
        assert!(seq > last);
        last = seq;
    }
    send(&a, channel, "live again", None).await;
    let live = on_c.next_of("message.new").await.expect("live");
    assert_eq!(live["message"]["text"], "live again");
    assert!(live["seq"].as_u64().expect("seq") > last);

    // A number the bus never handed out asks the client to resync through the history API.
    let mut stale = b.client.on(&nodes[1]).ws("?since=1").await.expect("stale");
    assert_eq!(hello(&mut stale).await["resync"], true);
}

#[tokio::test]
async fn per_ip_limits_hold_for_the_sum_of_the_nodes() {
    let nodes = start_cluster(3, |c| {
        c.rate_limit.login_burst = 6;
        c.rate_limit.login_per_sec = 0.01;
    })
    .await;
    let mut refused = 0;
    for round in 0..3 {
        for node in &nodes {
            let (status, body) = node
                .client()
                .login("nobody", "wrong password")
                .await
                .expect("login");
            match status {
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                StatusCode::UNAUTHORIZED => {}
                other => panic!("round {round}: unexpected {other} {body}"),
            }
        }
    }
    // Nine attempts, six allowed in all: one node's own bucket would have let every one through.
    assert_eq!(refused, 3);
}

#[tokio::test]
async fn an_admin_sign_out_closes_the_accounts_sockets_on_every_node() {
    let nodes = start_cluster(3, |_| {}).await;
    let a = alice(&nodes[0]).await;
    let mut sockets = Vec::new();
    for node in &nodes[1..] {
        let mut ws = a.client.on(node).ws("").await.expect("alice socket");
        hello(&mut ws).await;
        sockets.push(ws);
    }
    // What `facegate admin sign-out` does, from outside the running nodes.
    let db = nodes[0].second_db_handle().await;
    let (user, ended) = server::admin::sign_out(&db, "alice", 0)
        .await
        .expect("sign out");
    assert!(ended >= 1);
    let told = server::admin::close_sockets_everywhere(&nodes[0].config, user.id)
        .await
        .expect("bus");
    assert!(told);
    for ws in &mut sockets {
        let code = tokio::time::timeout(Duration::from_secs(1), ws.closed())
            .await
            .expect("a socket stayed open past 1 s")
            .expect("closed");
        assert_eq!(code, Some(4001));
    }
}

#[tokio::test]
async fn a_user_online_on_one_node_is_online_on_every_node() {
    let nodes = start_cluster(3, |_| {}).await;
    let (a, b) = (alice(&nodes[0]).await, bob(&nodes[0]).await);
    direct(&a, &b).await;
    let mut alice_on_a = a.client.ws("").await.expect("alice on A");
    hello(&mut alice_on_a).await;

    let peer_online_via = |node: usize| {
        let client = a.client.on(&nodes[node]);
        async move {
            let (status, list) = client.get("/api/channels").await.expect("channels");
            assert_eq!(status, StatusCode::OK, "{list}");
            list["channels"][0]["peer"]["online"]
                .as_bool()
                .expect("online")
        }
    };
    assert!(!peer_online_via(2).await);

    let mut bob_on_b = b.client.on(&nodes[1]).ws("").await.expect("bob on B");
    hello(&mut bob_on_b).await;
    let came = alice_on_a.next_of("presence").await.expect("presence");
    assert_eq!(
        (came["user_id"].as_i64(), came["online"].as_bool()),
        (Some(b.id), Some(true))
    );
    assert!(peer_online_via(2).await, "bob's socket on B counts on C");

    drop(bob_on_b);
    let went = alice_on_a.next_of("presence").await.expect("presence");
    assert_eq!(
        (went["user_id"].as_i64(), went["online"].as_bool()),
        (Some(b.id), Some(false))
    );
    assert!(!peer_online_via(2).await);
}

#[tokio::test]
async fn a_node_whose_heartbeat_stopped_keeps_nobody_online() {
    let url = std::env::var(common::REDIS_URL_ENV)
        .unwrap_or_else(|_| panic!("{} is not set (tools/test sets it)", common::REDIS_URL_ENV));
    let prefix = format!("facegate-test-{:016x}", rand::random::<u64>());
    let bus = server::bus::Bus::connect(&url, &prefix).await.expect("bus");
    bus.set_present("crashed", 7, true).await.expect("present");
    assert!(bus.is_present(7).await.expect("read"));

    // The node's last heartbeat, moved to just past the expiry, as if it died then.
    let stale = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - server::bus::PRESENCE_TTL.as_millis() as i64
        - 1000;
    let mut raw = redis::Client::open(url.as_str())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    redis::cmd("ZADD")
        .arg(format!("{prefix}:nodes"))
        .arg(stale)
        .arg("crashed")
        .query_async::<()>(&mut raw)
        .await
        .expect("zadd");
    assert!(!bus.is_present(7).await.expect("read"));
}

#[tokio::test]
async fn five_face_failures_spread_over_the_nodes_lock_the_account() {
    let nodes = start_cluster(3, |_| {}).await;
    alice(&nodes[0]).await;
    let browser = common::Client::new(nodes[0].base());
    let (status, body) = browser
        .login("alice", common::PASSWORD)
        .await
        .expect("login");
    assert_eq!(status, StatusCode::OK, "{body}");
    for i in 0..5 {
        let (status, body) = browser
            .on(&nodes[i % 3])
            .face_check(&["biden_1.jpg"])
            .await
            .expect("face check");
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {i}: {body}");
    }
    // The right face is refused on a node that saw only some of the failures.
    let (status, body) = browser
        .on(&nodes[2])
        .face_check(&["obama_2.jpg"])
        .await
        .expect("face check");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "locked_out");
}

#[tokio::test]
async fn each_node_reports_its_bus_lag_and_a_scrape_starts_it_afresh() {
    let nodes = start_cluster(2, |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await;
    let (a, b) = (alice(&nodes[0]).await, bob(&nodes[0]).await);
    let channel = direct(&a, &b).await;
    let mut on_b = b.client.on(&nodes[1]).ws("").await.expect("bob on B");
    hello(&mut on_b).await;
    let metrics_of_b = nodes[1].metrics_addr.expect("B's metrics listener");
    let lag = |text: &str| common::metric_sample(text, "facegate_bus_lag_seconds");

    let (status, _) = send(&a, channel, "measured", None).await;
    assert_eq!(status, StatusCode::CREATED);
    on_b.next_of("message.new").await.expect("delivered on B");
    let text = common::scrape_metrics(metrics_of_b).await;
    let first = lag(&text).unwrap_or_else(|| panic!("no facegate_bus_lag_seconds in {text}"));
    assert!(
        (0.0..1.0).contains(&first),
        "a delivery within the test's wait cannot lag {first} s"
    );
    // Nothing was delivered since: the next scrape reads 0.
    let text = common::scrape_metrics(metrics_of_b).await;
    assert_eq!(lag(&text), Some(0.0), "{text}");
}

#[tokio::test]
async fn the_chat_write_limit_is_per_account_and_holds_for_the_sum_of_the_nodes() {
    let nodes = start_cluster(2, |c| {
        c.rate_limit.chat_write_burst = 4;
        c.rate_limit.chat_write_per_sec = 0.01;
    })
    .await;
    let (a, b) = (alice(&nodes[0]).await, bob(&nodes[0]).await);
    let channel = direct(&a, &b).await; // one write
    let alice_on = [a.client.clone(), a.client.on(&nodes[1])];
    for i in 0..3 {
        let (status, body) = alice_on[i % 2]
            .post_json(
                &format!("/api/channels/{channel}/messages"),
                &json!({"text": format!("write {i}")}),
            )
            .await
            .expect("send");
        assert_eq!(status, StatusCode::CREATED, "write {i}: {body}");
    }
    // The fifth write of the account, whichever node and whatever kind: refused with a wait.
    let response = alice_on[1]
        .http
        .put(alice_on[1].url(&format!(
            "/api/channels/{channel}/messages/1/reactions/%F0%9F%91%8D"
        )))
        .send()
        .await
        .expect("react");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(wait >= 1, "Retry-After {wait}");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // Bob's account has its own allowance.
    let (status, body) = send(&b, channel, "bob still writes", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_photo_sent_through_one_node_is_served_by_every_node_to_members_only() {
    let (nodes, a, b, channel) = three_nodes_and_a_direct_channel().await;
    let c = carol(&nodes[0]).await;
    let photo = common::photo("obama_1.jpg");
    let (status, file) = upload(&a.client.on(&nodes[1]), channel, "lunch.jpg", photo).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let (status, sent) = a
        .client
        .on(&nodes[1])
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": "", "attachments": [file["id"]]}),
        )
        .await
        .expect("send");
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let url = file["url"].as_str().expect("url");
    let thumb = file["thumb_url"].as_str().expect("thumb url");
    // The bytes live in the shared database: every node serves them, to members only.
    let mut served = Vec::new();
    for node in &nodes {
        for path in [url, thumb] {
            let bob = b.client.on(node);
            let response = bob.http.get(bob.url(path)).send().await.expect("get");
            assert_eq!(response.status(), StatusCode::OK, "{path} on {}", node.base);
            let bytes = response.bytes().await.expect("body").to_vec();
            image::load_from_memory(&bytes).expect("an image");
            served.push(bytes);
        }
        let carol = c.client.on(node);
        let response = carol.http.get(carol.url(url)).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "not a member");
    }
    assert!(
        served.chunks(2).all(|pair| pair == &served[..2]),
        "every node serves the same bytes"
    );
}
