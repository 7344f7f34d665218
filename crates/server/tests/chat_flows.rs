//! Chat end to end: the real server on 127.0.0.1:0, users verified with real photos, REST over
//! HTTP and live events over real WebSocket clients.

mod common;

use std::collections::HashSet;

use common::chat::{alice, bob, carol, direct, hello, send};
use common::{password_only_user, TestServer, WsClient};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_verified_users_exchange_messages_live_and_in_order() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let mut wa = a.client.ws("").await.expect("alice socket");
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wa).await;
    hello(&mut wb).await;

    let (status, created) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "direct", "members": [b.id]}),
        )
        .await
        .expect("create");
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let channel = created["id"].as_i64().expect("id");
    // One direct channel per pair, whoever asks.
    let (status, again) = b
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "direct", "members": [a.id]}),
        )
        .await
        .expect("get");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], channel);

    let texts = ["one", "two", "three", "four", "five"];
    let mut ids = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let author = if i % 2 == 0 { &a } else { &b };
        let (status, message) = send(author, channel, text, None).await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        ids.push(message["id"].as_i64().expect("message id"));
    }
    for ws in [&mut wa, &mut wb] {
        let mut last_seq = 0;
        for (i, text) in texts.iter().enumerate() {
            let event = ws.next_of("message.new").await.expect("live message");
            assert_eq!(event["channel_id"], channel);
            assert_eq!(event["message"]["text"], *text);
            assert_eq!(event["message"]["id"], ids[i]);
            let seq = event["seq"].as_u64().expect("seq");
            assert!(seq > last_seq, "seq must increase");
            last_seq = seq;
        }
    }
    let (_, list) = b.client.get("/api/channels").await.expect("list");
    let entry = &list["channels"][0];
    assert_eq!(entry["id"], channel);
    assert_eq!(entry["last_message"]["text"], "five");
    assert_eq!(entry["peer"]["username"], "alice");
    assert_eq!(
        entry["unread"], 3,
        "three messages by alice are unread for bob"
    );
}

#[tokio::test]
async fn a_third_user_cannot_read_write_or_even_see_the_channel() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let channel = direct(&a, &b).await;
    let (_, first) = send(&a, channel, "private", None).await;
    let mid = first["id"].as_i64().expect("id");
    let mut wc = c.client.ws("").await.expect("carol socket");
    hello(&mut wc).await;

    let p = format!("/api/channels/{channel}");
    let attempts = [
        c.client.get(&p).await,
        c.client.get(&format!("{p}/messages")).await,
        c.client
            .post_json(&format!("{p}/messages"), &json!({"text": "hi"}))
            .await,
        c.client
            .patch_json(&format!("{p}/messages/{mid}"), &json!({"text": "x"}))
            .await,
        c.client.delete(&format!("{p}/messages/{mid}")).await,
        c.client
            .post_json(&format!("{p}/read"), &json!({"message_id": mid}))
            .await,
        c.client
            .post_json(&format!("{p}/members"), &json!({"user_id": c.id}))
            .await,
        c.client.patch_json(&p, &json!({"name": "mine"})).await,
        c.client.delete(&p).await,
    ];
    for (i, attempt) in attempts.into_iter().enumerate() {
        let (status, body) = attempt.expect("request");
        assert_eq!(status, StatusCode::NOT_FOUND, "attempt {i}: {body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    // The same answer as for a channel that does not exist at all.
    let (status, _) = c.client.get("/api/channels/999999").await.expect("request");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = c.client.get("/api/channels").await.expect("list");
    assert_eq!(list["channels"].as_array().map(Vec::len), Some(0));

    // Live: alice writes again, then carol posts to her own group. Carol's next message event
    // must be her own: nothing of the private channel reached her socket.
    send(&a, channel, "still private", None).await;
    let (_, group) = c
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "solo", "members": []}),
        )
        .await
        .expect("group");
    let group_id = group["id"].as_i64().expect("id");
    send(&c, group_id, "mine", None).await;
    let event = wc.next_of("message.new").await.expect("own message");
    assert_eq!(event["channel_id"], group_id);
    assert_eq!(event["message"]["text"], "mine");
    // Nor is the untouched history changed.
    let (_, history) = a
        .client
        .get(&format!("{p}/messages"))
        .await
        .expect("history");
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn history_pagination_returns_every_message_exactly_once() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut sent = Vec::new();
    for i in 0..23 {
        let (status, m) = send(&a, channel, &format!("m{i}"), None).await;
        assert_eq!(status, StatusCode::CREATED);
        sent.push(m["id"].as_i64().expect("id"));
    }
    // Backwards from the newest, 7 at a time.
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let query = match before {
            Some(id) => format!("?limit=7&before={id}"),
            None => "?limit=7".to_owned(),
        };
        let (status, page) = b
            .client
            .get(&format!("/api/channels/{channel}/messages{query}"))
            .await
            .expect("page");
        assert_eq!(status, StatusCode::OK, "{page}");
        let ids: Vec<i64> = page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["id"].as_i64().expect("id"))
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ascending within a page"
        );
        assert!(ids.len() <= 7);
        seen.splice(0..0, ids.iter().copied());
        before = ids.first().copied();
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(seen, sent, "every message once, in order");
    // Forwards from the start, 10 at a time.
    let mut forward = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) = b
            .client
            .get(&format!(
                "/api/channels/{channel}/messages?limit=10&after={after}"
            ))
            .await
            .expect("page");
        let ids: Vec<i64> = page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["id"].as_i64().expect("id"))
            .collect();
        forward.extend(&ids);
        after = *ids.last().unwrap_or(&after);
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(forward, sent);
    let unique: HashSet<i64> = forward.iter().copied().collect();
    assert_eq!(unique.len(), sent.len());
    let (status, body) = b
        .client
        .get(&format!("/api/channels/{channel}/messages?limit=101"))
        .await
        .expect("request");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_retried_send_with_the_same_client_id_stores_one_message() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;
    let (s1, m1) = send(&a, channel, "only once", Some("c-42")).await;
    let (s2, m2) = send(&a, channel, "only once", Some("c-42")).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(s2, StatusCode::OK, "a retry is not a new message");
    assert_eq!(m1["id"], m2["id"]);
    // Reusing the key for different text is a client bug, reported as such.
    let (s3, m3) = send(&a, channel, "something else", Some("c-42")).await;
    assert_eq!(s3, StatusCode::CONFLICT, "{m3}");
    send(&a, channel, "marker", Some("c-43")).await;
    let (_, history) = b
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["only once", "marker"]);
    // Live: the message, then the same message (same id) again for the retry, since the node
    // that stored the first attempt may have died before telling anyone; then the marker.
    let first = wb.next_of("message.new").await.expect("event");
    assert_eq!(first["message"]["text"], "only once");
    let again = wb
        .next_of("message.new")
        .await
        .expect("event for the retry");
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    assert_eq!(
        wb.next_of("message.new").await.expect("event")["message"]["text"],
        "marker"
    );
}

#[tokio::test]
async fn typing_and_read_events_reach_the_other_member() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut wa = a.client.ws("").await.expect("alice socket");
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wa).await;
    hello(&mut wb).await;
    wa.send_json(&json!({"type": "typing", "channel_id": channel, "on": true}))
        .await
        .expect("typing");
    let typing = wb.next_of("typing").await.expect("typing event");
    assert_eq!(typing["user_id"], a.id);
    assert_eq!(typing["channel_id"], channel);
    assert_eq!(typing["on"], true);

    let (_, m) = send(&a, channel, "read me", None).await;
    let mid = m["id"].as_i64().expect("id");
    let (status, body) = b
        .client
        .post_json(
            &format!("/api/channels/{channel}/read"),
            &json!({"message_id": mid}),
        )
        .await
        .expect("read");
    assert_eq!(status, StatusCode::OK, "{body}");
    let read = wa.next_of("read").await.expect("read event");
    assert_eq!(read["user_id"], b.id);
    assert_eq!(read["channel_id"], channel);
    assert_eq!(read["message_id"], mid);
    let (_, list) = b.client.get("/api/channels").await.expect("list");
    assert_eq!(list["channels"][0]["unread"], 0);

    // Typing into a channel one is not in is refused on the socket, which stays open.
    wa.send_json(&json!({"type": "typing", "channel_id": 999999, "on": true}))
        .await
        .expect("typing");
    assert_eq!(
        wa.next_of("error").await.expect("error")["code"],
        "not_found"
    );
    wa.send_json(&json!({"type": "ping"})).await.expect("ping");
    assert_eq!(wa.next_of("pong").await.expect("pong")["type"], "pong");
}

fn handshake_status(
    result: Result<WsClient, tokio_tungstenite::tungstenite::Error>,
) -> Option<u16> {
    match result {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Some(response.status().as_u16())
        }
        Err(other) => panic!("unexpected handshake error {other}"),
    }
}

#[tokio::test]
async fn a_socket_of_a_password_only_session_is_refused() {
    let server = TestServer::start().await.expect("server");
    let pending = password_only_user(&server, "dave", "obama_1.jpg")
        .await
        .expect("password-level user");
    let origin = server.base();
    assert_eq!(
        handshake_status(pending.ws_with("", Some(&origin)).await),
        Some(403)
    );
    let (status, body) = pending.get("/api/channels").await.expect("request");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "face_required");
    let anonymous = server.client();
    assert_eq!(
        handshake_status(anonymous.ws_with("", Some(&origin)).await),
        Some(401)
    );
}

#[tokio::test]
async fn a_cross_origin_socket_is_refused() {
    let server = TestServer::start().await.expect("server");
    let a = alice(&server).await;
    let evil = a.client.ws_with("", Some("http://evil.example")).await;
    assert_eq!(handshake_status(evil), Some(403));
    assert_eq!(
        handshake_status(a.client.ws_with("", None).await),
        Some(403)
    );
    // The same session from its own origin is fine.
    let mut ok = a.client.ws("").await.expect("own origin");
    hello(&mut ok).await;
}

#[tokio::test]
async fn a_client_reconnecting_with_since_gets_what_it_missed() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;
    send(&a, channel, "seen live", None).await;
    let seen = wb.next_of("message.new").await.expect("live");
    let since = seen["seq"].as_u64().expect("seq");
    drop(wb);

    let missed = ["gone 1", "gone 2", "gone 3"];
    for text in missed {
        send(&a, channel, text, None).await;
    }
    let mut again = b
        .client
        .ws(&format!("?since={since}"))
        .await
        .expect("reconnect");
    let hello = hello(&mut again).await;
    assert_eq!(hello["resync"], false);
    let mut last = since;
    for text in missed {
        let event = again.next_of("message.new").await.expect("replayed");
        assert_eq!(event["message"]["text"], text);
        let seq = event["seq"].as_u64().expect("seq");
        assert!(seq > last);
        last = seq;
    }
    // Live delivery continues right after the replay.
    send(&a, channel, "live again", None).await;
    assert_eq!(
        again.next_of("message.new").await.expect("live")["message"]["text"],
        "live again"
    );

    // A `since` the server cannot vouch for asks the client to resync through the history API.
    let mut stale = b.client.ws("?since=1").await.expect("stale reconnect");
    assert_eq!(hello_of(&mut stale).await["resync"], true);
}

async fn hello_of(ws: &mut WsClient) -> Value {
    hello(ws).await
}

#[tokio::test]
async fn a_restart_loses_no_acknowledged_message() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (status, m) = send(&a, channel, &format!("durable {i}"), Some(&format!("d{i}"))).await;
        assert_eq!(status, StatusCode::CREATED);
        acknowledged.push(m["id"].as_i64().expect("id"));
    }
    let server = server.restart().await.expect("restart");
    // Sessions live in the database too; point the old clients at the new port.
    let b_client = common::Client {
        base: server.base(),
        ..b.client.clone()
    };
    let (status, page) = b_client
        .get(&format!("/api/channels/{channel}/messages?limit=100"))
        .await
        .expect("history");
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, acknowledged);
}

#[tokio::test]
async fn logging_out_closes_that_sessions_sockets() {
    let server = TestServer::start().await.expect("server");
    let a = alice(&server).await;
    let mut ws = a.client.ws("").await.expect("socket");
    hello(&mut ws).await;
    let (status, _) = a
        .client
        .post_json("/api/logout", &json!({}))
        .await
        .expect("logout");
    assert!(status.is_success(), "{status}");
    assert_eq!(ws.closed().await.expect("closed"), Some(4001));
}

#[tokio::test]
async fn text_is_stored_and_delivered_exactly_as_sent_up_to_4000_characters() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let tricky = "  <img src=x onerror=alert(1)> & \"quotes\" \u{1F600}\n\ttrailing  ";
    let (status, m) = send(&a, channel, tricky, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(m["text"], tricky);
    let (_, page) = b
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    assert_eq!(page["messages"][0]["text"], tricky);
    let (status, _) = send(&a, channel, &"é".repeat(4000), None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = send(&a, channel, &"é".repeat(4001), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
    // A body over the chat routes' 64 KB limit is 413 with the usual envelope.
    let (status, body) = send(&a, channel, &"x".repeat(70 * 1024), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn group_owner_manages_members_and_members_hear_of_it() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let (status, group) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "team", "members": [b.id]}),
        )
        .await
        .expect("create group");
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_i64().expect("id");
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;

    let (status, _) = b
        .client
        .patch_json(&format!("/api/channels/{id}"), &json!({"name": "bob's"}))
        .await
        .expect("rename");
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner renames");
    let (status, _) = a
        .client
        .patch_json(&format!("/api/channels/{id}"), &json!({"name": "team 2"}))
        .await
        .expect("rename");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        wb.next_of("channel.updated").await.expect("event")["channel"]["name"],
        "team 2"
    );

    let (status, _) = b
        .client
        .post_json(
            &format!("/api/channels/{id}/members"),
            &json!({"user_id": c.id}),
        )
        .await
        .expect("add");
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner adds");
    let (status, _) = a
        .client
        .post_json(
            &format!("/api/channels/{id}/members"),
            &json!({"user_id": c.id}),
        )
        .await
        .expect("add");
    assert_eq!(status, StatusCode::OK);
    let added = wb.next_of("member.added").await.expect("event");
    assert_eq!(added["user"]["id"], c.id);
    let (status, _) = c
        .client
        .get(&format!("/api/channels/{id}"))
        .await
        .expect("get");
    assert_eq!(status, StatusCode::OK, "a new member sees the group");

    let (status, _) = a
        .client
        .delete(&format!("/api/channels/{id}/members/{}", c.id))
        .await
        .expect("remove");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        wb.next_of("member.removed").await.expect("event")["user_id"],
        c.id
    );
    let (status, _) = c
        .client
        .get(&format!("/api/channels/{id}"))
        .await
        .expect("get");
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a removed member no longer sees it"
    );

    // Bob leaves; the owner deletes.
    let (status, _) = b
        .client
        .delete(&format!("/api/channels/{id}"))
        .await
        .expect("leave");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = a
        .client
        .get(&format!("/api/channels/{id}"))
        .await
        .expect("get");
    assert_eq!(status, StatusCode::OK, "leaving does not delete the group");
    let (status, _) = a
        .client
        .delete(&format!("/api/channels/{id}"))
        .await
        .expect("delete");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = a
        .client
        .get(&format!("/api/channels/{id}"))
        .await
        .expect("get");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn authors_edit_and_delete_their_own_messages_only() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;
    let (_, m) = send(&a, channel, "tpyo", None).await;
    let mid = m["id"].as_i64().expect("id");
    let path = format!("/api/channels/{channel}/messages/{mid}");
    let (status, _) = b
        .client
        .patch_json(&path, &json!({"text": "hijack"}))
        .await
        .expect("edit");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, edited) = a
        .client
        .patch_json(&path, &json!({"text": "typo"}))
        .await
        .expect("edit");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["text"], "typo");
    assert!(edited["edited_at"].is_i64());
    wb.next_of("message.new").await.expect("new");
    assert_eq!(
        wb.next_of("message.updated").await.expect("updated")["message"]["text"],
        "typo"
    );
    let (status, _) = b.client.delete(&path).await.expect("delete");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.client.delete(&path).await.expect("delete");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        wb.next_of("message.deleted").await.expect("deleted")["message_id"],
        mid
    );
    let (_, page) = b
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    assert_eq!(page["messages"][0]["deleted"], true);
    assert_eq!(page["messages"][0]["text"], "");
}

#[tokio::test]
async fn socket_limits_close_oversized_frames_and_floods() {
    let server = TestServer::start().await.expect("server");
    let a = alice(&server).await;
    let mut big = a.client.ws("").await.expect("socket");
    hello(&mut big).await;
    big.send_raw(Message::Text("x".repeat(70 * 1024).into()))
        .await
        .expect("send big");
    // The server drops the connection (protocol error) rather than reading 70 KB.
    assert!(big.closed().await.is_ok());

    let mut flood = a.client.ws("").await.expect("socket");
    hello(&mut flood).await;
    for _ in 0..150 {
        if flood.send_json(&json!({"type": "ping"})).await.is_err() {
            break;
        }
    }
    let mut pongs = 0;
    let code = loop {
        match flood.next_json().await {
            Ok(v) if v["type"] == "pong" => pongs += 1,
            Ok(_) => {}
            Err(_) => break flood.closed().await.ok().flatten(),
        }
    };
    assert!(
        pongs <= 100,
        "at most 100 frames a minute are served, got {pongs}"
    );
    assert_eq!(code, Some(4003), "closed as rate limited");
}

#[tokio::test]
async fn user_search_finds_people_by_username_or_full_name_prefix() {
    let server = TestServer::start().await.expect("server");
    let (a, _b, _c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let (status, page) = a.client.get("/api/users?q=BO").await.expect("search");
    assert_eq!(status, StatusCode::OK, "{page}");
    let names: Vec<&str> = page["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["bob"]);
    let (_, page) = a
        .client
        .get("/api/users?q=carol%20t")
        .await
        .expect("search");
    assert_eq!(page["users"][0]["username"], "carol");
    assert!(
        page["users"][0].get("email").is_none(),
        "no emails to other users"
    );
    let (_, page) = a.client.get("/api/users?q=%25").await.expect("search");
    assert_eq!(
        page["users"].as_array().map(Vec::len),
        Some(0),
        "% is literal"
    );
    let (_, page) = a.client.get("/api/users?limit=1").await.expect("search");
    assert_eq!(page["users"].as_array().map(Vec::len), Some(1));
    let next = page["next"].as_str().expect("next cursor").to_owned();
    let (_, page2) = a
        .client
        .get(&format!("/api/users?limit=1&after={next}"))
        .await
        .expect("search");
    assert_ne!(page2["users"][0]["id"], page["users"][0]["id"]);
}

#[tokio::test]
async fn openapi_describes_every_chat_route() {
    let server = TestServer::start().await.expect("server");
    let (status, doc) = server
        .client()
        .get("/api/openapi.json")
        .await
        .expect("openapi");
    assert_eq!(status, StatusCode::OK);
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/users", "get"),
        ("/api/channels", "get"),
        ("/api/channels", "post"),
        ("/api/channels/{id}", "get"),
        ("/api/channels/{id}", "patch"),
        ("/api/channels/{id}", "delete"),
        ("/api/channels/{id}/members", "post"),
        ("/api/channels/{id}/members/{user}", "delete"),
        ("/api/channels/{id}/messages", "get"),
        ("/api/channels/{id}/messages", "post"),
        ("/api/channels/{id}/messages/{mid}", "patch"),
        ("/api/channels/{id}/messages/{mid}", "delete"),
        ("/api/channels/{id}/read", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    // The auth routes are still there after the merge.
    assert!(paths["/api/login"]["post"].is_object());
}

#[tokio::test]
async fn concurrent_sends_arrive_in_storage_order_and_are_stored_before_delivery() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut wa = a.client.ws("").await.expect("alice socket");
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wa).await;
    hello(&mut wb).await;
    let sends = (0..40).map(|i| {
        let author = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { send(&author, channel, &format!("c{i}"), Some(&format!("k{i}"))).await }
    });
    let results = futures_util::future::join_all(sends).await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED));
    for ws in [&mut wa, &mut wb] {
        let mut last_id = 0;
        for _ in 0..40 {
            let event = ws.next_of("message.new").await.expect("event");
            let id = event["message"]["id"].as_i64().expect("id");
            assert!(id > last_id, "delivery order equals storage (id) order");
            last_id = id;
            // Whatever a socket has been told about is already in the history.
            let (_, page) = b
                .client
                .get(&format!(
                    "/api/channels/{channel}/messages?after={}&limit=1",
                    id - 1
                ))
                .await
                .expect("history");
            assert_eq!(page["messages"][0]["id"], id);
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_not_buffered_for() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    // Bob opens a socket and never reads from it.
    let _stalled = b.client.ws_small_window().await.expect("socket");
    let mut waited = 0;
    while !server.state.chat.is_online(b.id) && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert!(server.state.chat.is_online(b.id), "bob's socket registered");
    let text = "x".repeat(4000);
    let mut sent = 0;
    // Far more than the per-socket queue (256 events) plus what the kernel buffers hold.
    while server.state.chat.is_online(b.id) && sent < 2000 {
        let (status, _) = send(&a, channel, &text, None).await;
        assert_eq!(status, StatusCode::CREATED, "the sender is never held up");
        sent += 1;
    }
    assert!(
        !server.state.chat.is_online(b.id),
        "the stalled socket was dropped after {sent} messages"
    );
    assert!(sent > 256, "not before its queue was full ({sent})");
    // Bob catches up through the history API.
    let (_, page) = b
        .client
        .get(&format!("/api/channels/{channel}/messages?limit=1"))
        .await
        .expect("history");
    assert_eq!(page["messages"][0]["text"], text);
}

#[tokio::test]
async fn channel_list_puts_the_newest_activity_first() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let with_bob = direct(&a, &b).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let with_carol = direct(&a, &c).await;
    let order = |list: &Value| -> Vec<i64> {
        list["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|ch| ch["id"].as_i64().expect("id"))
            .collect()
    };
    let (_, list) = a.client.get("/api/channels").await.expect("list");
    assert_eq!(order(&list), [with_carol, with_bob], "newest channel first");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    send(&b, with_bob, "bump", None).await;
    let (_, list) = a.client.get("/api/channels").await.expect("list");
    assert_eq!(
        order(&list),
        [with_bob, with_carol],
        "a new message moves it up"
    );
}

#[tokio::test]
async fn deleting_an_account_leaves_no_chat_row_of_it_closes_its_sockets_and_tells_the_others() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let dm = direct(&a, &b).await;
    let (_, group) = b
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "bobs", "members": [a.id]}),
        )
        .await
        .expect("group");
    let group = group["id"].as_i64().expect("id");
    let (_, mine) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "alices", "members": [b.id]}),
        )
        .await
        .expect("group");
    let mine = mine["id"].as_i64().expect("id");
    for channel in [dm, group, mine] {
        send(&a, channel, "from alice", None).await;
        send(&b, channel, "from bob", None).await;
    }
    let mut ws = a.client.ws("").await.expect("socket");
    hello(&mut ws).await;
    let mut bobs_ws = b.client.ws("").await.expect("socket");
    hello(&mut bobs_ws).await;

    let response = a
        .client
        .http
        .delete(a.client.url("/api/me"))
        .json(&json!({"password": "correct horse battery staple"}))
        .send()
        .await
        .expect("delete account");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(ws.closed().await.expect("closed"), Some(4001));
    // Bob's open chat hears what went: the direct channel and alice's group are deleted, alice
    // left his group.
    let mut heard = HashSet::new();
    while heard.len() < 3 {
        let ev = bobs_ws.next_json().await.expect("event");
        match ev["type"].as_str() {
            Some("channel.deleted") => heard.insert(("deleted", ev["channel_id"].as_i64())),
            Some("member.removed") => {
                assert_eq!(ev["user_id"].as_i64(), Some(a.id));
                heard.insert(("removed", ev["channel_id"].as_i64()))
            }
            _ => continue,
        };
    }
    assert_eq!(
        heard,
        HashSet::from([
            ("deleted", Some(dm)),
            ("deleted", Some(mine)),
            ("removed", Some(group)),
        ])
    );

    let pool = server.state.db.pool();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(a.id)
            .fetch_one(pool)
            .await
            .expect("count")
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM chat_messages WHERE author_id = $1").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM chat_members WHERE user_id = $1").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM chat_channels WHERE owner_id = $1 OR direct_lo = $1 OR direct_hi = $1")
            .await,
        0
    );
    // Bob keeps his own group with his own messages; the direct channel and alice's group are gone.
    let (status, page) = b
        .client
        .get(&format!("/api/channels/{group}/messages"))
        .await
        .expect("history");
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["from bob"]);
    for gone in [dm, mine] {
        let (status, _) = b
            .client
            .get(&format!("/api/channels/{gone}"))
            .await
            .expect("get");
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
