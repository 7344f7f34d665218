//! Threads and server-side mute, end to end over HTTP and WebSocket: a thread's replies stay
//! out of the channel's timeline and unread count, the root shows the thread's size, a thread
//! has its own read position per person, and mute follows a person to every socket.

mod common;

use common::chat::{alice, bob, carol, direct, hello, openapi, put, send, statuses};
use common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn reply_in_thread(
    user: &common::Verified,
    channel: i64,
    root: i64,
    text: &str,
) -> (StatusCode, Value) {
    user.client
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": text, "thread_root": root}),
        )
        .await
        .expect("thread reply")
}

async fn open_thread(user: &common::Verified, channel: i64, root: i64) -> (StatusCode, Value) {
    user.client
        .get(&format!("/api/channels/{channel}/threads/{root}"))
        .await
        .expect("thread")
}

async fn read_thread(
    user: &common::Verified,
    channel: i64,
    root: i64,
    message_id: i64,
) -> (StatusCode, Value) {
    user.client
        .post_json(
            &format!("/api/channels/{channel}/threads/{root}/read"),
            &json!({"message_id": message_id}),
        )
        .await
        .expect("thread read")
}

fn listed(list: &Value, channel: i64) -> Value {
    list["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["id"] == channel)
        .cloned()
        .expect("channel listed")
}

#[tokio::test]
async fn thread_replies_live_beside_the_timeline_with_their_own_unread_state() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let (_, root) = send(&a, channel, "lunch plans?", None).await;
    let root_id = root["id"].as_i64().expect("id");
    let (_, after) = send(&a, channel, "also: the deploy", None).await;
    let after_id = after["id"].as_i64().expect("id");
    // Bob has read the timeline; Alice's socket listens.
    b.client
        .post_json(
            &format!("/api/channels/{channel}/read"),
            &json!({"message_id": after_id}),
        )
        .await
        .expect("read");
    let mut wa = a.client.ws("").await.expect("alice socket");
    hello(&mut wa).await;

    let (status, reply) = reply_in_thread(&b, channel, root_id, "noodles at 12").await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["thread_root"], root_id);
    let reply_id = reply["id"].as_i64().expect("id");
    let event = wa.next_of("message.new").await.expect("message.new");
    assert_eq!(event["message"]["thread_root"], root_id, "{event}");

    // The timeline: the reply is not in it, the root counts it.
    let (_, page) = a
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![root_id, after_id]);
    let thread = &page["messages"][0]["thread"];
    assert_eq!(thread["replies"], 1, "{thread}");
    assert_eq!(thread["last_reply_id"], reply_id);
    assert_eq!(page["messages"][1].get("thread"), None);
    // Alice started the thread, so she follows it from its first reply, unread.
    assert_eq!(
        page["thread_reads"],
        json!([{"root_id": root_id, "last_read_id": 0}])
    );
    let (_, list) = a.client.get("/api/channels").await.expect("list");
    let mine = listed(&list, channel);
    assert_eq!(mine["unread"], 0, "a thread reply is not a timeline unread");
    assert_eq!(mine["unread_threads"], 1, "{mine}");
    assert_eq!(
        mine["last_message"]["id"], after_id,
        "the preview is the timeline's"
    );
    // Bob replied, so he follows it too, read up to his reply; his own reply is not unread.
    let (_, list) = b.client.get("/api/channels").await.expect("list");
    assert_eq!(listed(&list, channel)["unread_threads"], 0);
    assert_eq!(listed(&list, channel)["unread"], 0);

    // The thread itself: the root and its replies, and Alice's position in it.
    let (status, opened) = open_thread(&a, channel, root_id).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["root"]["id"], root_id);
    assert_eq!(opened["messages"][0]["id"], reply_id);
    assert_eq!(opened["last_read_id"], 0);

    // Reading it clears its unread state and tells Alice's other sockets.
    let (status, read) = read_thread(&a, channel, root_id, reply_id).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["last_read_id"], reply_id);
    let event = wa.next_of("thread.read").await.expect("thread.read");
    assert_eq!(event["root_id"], root_id);
    assert_eq!(event["message_id"], reply_id);
    let (_, list) = a.client.get("/api/channels").await.expect("list");
    assert_eq!(listed(&list, channel)["unread_threads"], 0);

    // Editing the root keeps its thread's size in the event everyone gets.
    let (_, edited) = a
        .client
        .patch_json(
            &format!("/api/channels/{channel}/messages/{root_id}"),
            &json!({"text": "lunch plans? (today)"}),
        )
        .await
        .expect("edit");
    assert_eq!(edited["thread"]["replies"], 1, "{edited}");
}

#[tokio::test]
async fn threads_do_not_nest_cross_channels_or_quote_outside_themselves() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let channel = direct(&a, &b).await;
    let elsewhere = direct(&a, &c).await;
    let (_, root) = send(&a, channel, "root", None).await;
    let root_id = root["id"].as_i64().expect("id");
    let (_, timeline) = send(&a, channel, "in the timeline", None).await;
    let timeline_id = timeline["id"].as_i64().expect("id");
    let (_, reply) = reply_in_thread(&b, channel, root_id, "in the thread").await;
    let reply_id = reply["id"].as_i64().expect("id");
    let (_, private) = send(&a, elsewhere, "private", None).await;
    let private_id = private["id"].as_i64().expect("id");

    // A reply's thread, another channel's message, or nothing cannot start a thread.
    for bad in [reply_id, private_id, 999_999] {
        let (status, body) = reply_in_thread(&b, channel, bad, "x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // Inside a thread one quotes the thread (its root included), not the timeline.
    let quote = |reply_to: i64, thread_root: Option<i64>| {
        let mut body = json!({"text": "quoting", "reply_to": reply_to});
        if let Some(root) = thread_root {
            body["thread_root"] = json!(root);
        }
        body
    };
    let path = format!("/api/channels/{channel}/messages");
    for (body, expected) in [
        (quote(reply_id, Some(root_id)), StatusCode::CREATED),
        (quote(root_id, Some(root_id)), StatusCode::CREATED),
        (quote(timeline_id, Some(root_id)), StatusCode::BAD_REQUEST),
        (quote(reply_id, None), StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = b.client.post_json(&path, &body).await.expect("send");
        assert_eq!(status, expected, "{body}: {answer}");
    }

    // Only members see a thread, and only a root has one.
    assert_eq!(
        open_thread(&c, channel, root_id).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        open_thread(&a, channel, reply_id).await.0,
        StatusCode::NOT_FOUND
    );
    // A read position names a reply of that very thread.
    let (status, _) = read_thread(&a, channel, root_id, timeline_id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn mute_is_kept_by_the_server_and_told_to_my_sockets_only() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let channel = direct(&a, &b).await;
    let mut wa = a.client.ws("").await.expect("alice socket");
    hello(&mut wa).await;
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;

    let (status, _) = put(&a.client, &format!("/api/channels/{channel}/mute"))
        .await
        .expect("mute");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = wa.next_of("channel.muted").await.expect("channel.muted");
    assert_eq!(
        event,
        json!({"type": "channel.muted", "channel_id": channel, "muted": true, "seq": event["seq"]})
    );
    let (_, list) = a.client.get("/api/channels").await.expect("list");
    assert_eq!(listed(&list, channel)["muted"], true);
    let (_, list) = b.client.get("/api/channels").await.expect("list");
    assert_eq!(listed(&list, channel)["muted"], false, "mute is mine alone");

    let (status, _) = a
        .client
        .delete(&format!("/api/channels/{channel}/mute"))
        .await
        .expect("unmute");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = wa.next_of("channel.muted").await.expect("channel.muted");
    assert_eq!(event["muted"], false);
    let (_, list) = a.client.get("/api/channels").await.expect("list");
    assert_eq!(listed(&list, channel)["muted"], false);

    // Bob heard nothing of it: the next event on his socket is the message sent after.
    send(&a, channel, "after the mute", None).await;
    let next = wb.next_json().await.expect("frame");
    assert_eq!(next["type"], "message.new", "{next}");

    // Not a member: 404, as for any channel one cannot see.
    let (status, _) = put(&c.client, &format!("/api/channels/{channel}/mute"))
        .await
        .expect("mute");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn openapi_describes_the_thread_and_mute_routes() {
    let server = TestServer::start().await.expect("server");
    let doc = openapi(&server).await;
    for (path, method, expected) in [
        (
            "/api/channels/{id}/threads/{root}",
            "get",
            vec!["200", "400", "401", "403", "404"],
        ),
        (
            "/api/channels/{id}/threads/{root}/read",
            "post",
            vec!["200", "400", "401", "403", "404", "413"],
        ),
        (
            "/api/channels/{id}/mute",
            "put",
            vec!["204", "401", "403", "404", "429"],
        ),
        (
            "/api/channels/{id}/mute",
            "delete",
            vec!["204", "401", "403", "404", "429"],
        ),
    ] {
        assert_eq!(statuses(&doc, path, method), expected, "{method} {path}");
    }
    let send = &doc["components"]["schemas"]["SendMessage"]["properties"];
    assert!(send["thread_root"].is_object(), "{send}");
}
