//! Chat features beyond sending text, end to end over HTTP and WebSocket: messages and group
//! names that cannot pretend to be something else (bidirectional and invisible characters; the
//! same rule on people's names is in auth_input.rs), reactions, replies and edit history.

mod common;

use common::chat::{alice, bob, carol, direct, hello, put, send, statuses};
use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

/// The example: U+202E reverses what follows and U+200B hides a space.
const SPOOF: &str = "Admin\u{202e}\u{200b} nimdA";

#[tokio::test]
async fn messages_and_group_names_are_stored_and_delivered_without_bidi_controls() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;

    let (status, m) = send(&a, channel, SPOOF, None).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["text"], "Admin nimdA");
    let event = wb.next_of("message.new").await.expect("message.new");
    assert_eq!(event["message"]["text"], "Admin nimdA");
    let (_, list) = b.client.get("/api/channels").await.expect("list");
    assert_eq!(list["channels"][0]["last_message"]["text"], "Admin nimdA");

    // Joiners that emoji need are kept; a message of nothing but invisible characters is empty.
    let (_, m) = send(&a, channel, "👩\u{200d}💻 ok\u{2069}", None).await;
    assert_eq!(m["text"], "👩\u{200d}💻 ok");
    let (status, body) = send(&a, channel, "\u{200b}\u{202e}\u{feff}", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");

    // An edit is cleaned the same way.
    let mid = m["id"].as_i64().expect("id");
    let (status, edited) = a
        .client
        .patch_json(
            &format!("/api/channels/{channel}/messages/{mid}"),
            &json!({"text": "\u{202d}fixed"}),
        )
        .await
        .expect("edit");
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["text"], "fixed");

    // Group names, at creation and on rename.
    let (status, group) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "\u{202e}moor", "members": [b.id]}),
        )
        .await
        .expect("create group");
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["name"], "moor");
    let gid = group["id"].as_i64().expect("group id");
    let (status, renamed) = a
        .client
        .patch_json(
            &format!("/api/channels/{gid}"),
            &json!({"name": "War\u{200b}\u{2067} room"}),
        )
        .await
        .expect("rename");
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "War room");
}

fn reaction_path(channel: i64, message: i64, emoji: &str) -> String {
    let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("/api/channels/{channel}/messages/{message}/reactions/{encoded}")
}

#[tokio::test]
async fn reactions_toggle_live_for_every_member_with_who_reacted() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let (_, m) = send(&a, channel, "lunch?", None).await;
    let mid = m["id"].as_i64().expect("id");
    let mut wa = a.client.ws("").await.expect("alice socket");
    hello(&mut wa).await;

    let react = |who: &common::Verified, emoji: &str| {
        let path = reaction_path(channel, mid, emoji);
        let client = who.client.clone();
        async move { put(&client, &path).await.expect("put") }
    };
    let (status, body) = react(&b, "👍").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "count": 1, "user_ids": [b.id]}])
    );
    let event = wa.next_of("reaction.updated").await.expect("event");
    assert_eq!(event["message_id"], mid);
    assert_eq!(event["reactions"][0]["user_ids"], json!([b.id]));

    // Twice is once; a second person adds to the count; a new emoji comes after.
    react(&b, "👍").await;
    react(&a, "👍").await;
    let (_, body) = react(&a, "👩\u{200d}💻").await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "count": 2, "user_ids": [b.id, a.id]},
               {"emoji": "👩\u{200d}💻", "count": 1, "user_ids": [a.id]}])
    );
    let (_, page) = b
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    assert_eq!(page["messages"][0]["reactions"], body["reactions"]);

    // Taking one back.
    let (status, body) = b
        .client
        .delete(&reaction_path(channel, mid, "👍"))
        .await
        .expect("delete");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["reactions"][0],
        json!({"emoji": "👍", "count": 1, "user_ids": [a.id]})
    );

    // Not an emoji, too long, or on a message of a channel I am not in.
    for bad in ["lol", "👍 👍", &"👍".repeat(17)] {
        let (status, body) = react(&a, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
    }
    let carol = common::chat::carol(&server).await;
    let (status, _) = put(&carol.client, &reaction_path(channel, mid, "👍"))
        .await
        .expect("put");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_message_holds_at_most_20_different_reactions_and_loses_them_when_deleted() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let (_, m) = send(&a, channel, "react to me", None).await;
    let mid = m["id"].as_i64().expect("id");
    for i in 0..20u32 {
        let emoji = char::from_u32(0x1F600 + i).expect("emoji").to_string();
        let (status, body) = put(&b.client, &reaction_path(channel, mid, &emoji))
            .await
            .expect("put");
        assert_eq!(status, StatusCode::OK, "{i}: {body}");
    }
    let (status, body) = put(&b.client, &reaction_path(channel, mid, "🚀"))
        .await
        .expect("put");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // One of the 20 still takes another person.
    let (status, body) = put(&a.client, &reaction_path(channel, mid, "😀"))
        .await
        .expect("put");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reactions"][0]["count"], 2);

    let (status, _) = a
        .client
        .delete(&format!("/api/channels/{channel}/messages/{mid}"))
        .await
        .expect("delete message");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = a
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    assert_eq!(page["messages"][0]["reactions"], json!([]));
    let (status, _) = put(&b.client, &reaction_path(channel, mid, "😀"))
        .await
        .expect("put");
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no reacting to a deleted message"
    );
}

#[tokio::test]
async fn a_reply_quotes_a_message_of_the_same_channel_only() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let long = "q".repeat(300);
    let (_, first) = send(&a, channel, &long, None).await;
    let first_id = first["id"].as_i64().expect("id");
    let mut wa = a.client.ws("").await.expect("alice socket");
    hello(&mut wa).await;

    let (status, reply) = b
        .client
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": "yes", "reply_to": first_id}),
        )
        .await
        .expect("reply");
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["reply_to"]["id"], first_id);
    assert_eq!(reply["reply_to"]["author"]["username"], "alice");
    let quoted = reply["reply_to"]["text"].as_str().expect("quote");
    assert_eq!(
        quoted.chars().count(),
        201,
        "200 characters and an ellipsis"
    );
    let event = wa.next_of("message.new").await.expect("message.new");
    assert_eq!(event["message"]["reply_to"]["id"], first_id);
    assert_eq!(
        send(&a, channel, "plain", None).await.1["reply_to"],
        json!(null)
    );

    // A message of another channel, or none at all, cannot be answered.
    let carol = common::chat::carol(&server).await;
    let other = direct(&a, &carol).await;
    let (_, elsewhere) = send(&a, other, "private", None).await;
    for bad in [elsewhere["id"].as_i64().expect("id"), 999_999] {
        let (status, body) = b
            .client
            .post_json(
                &format!("/api/channels/{channel}/messages"),
                &json!({"text": "leak?", "reply_to": bad}),
            )
            .await
            .expect("reply");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    // Once the answered message is deleted, the reply says so and quotes nothing.
    a.client
        .delete(&format!("/api/channels/{channel}/messages/{first_id}"))
        .await
        .expect("delete");
    let (_, page) = b
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    let reply_view = &page["messages"][1]["reply_to"];
    assert_eq!(reply_view["deleted"], true, "{reply_view}");
    assert_eq!(reply_view["text"], "");
}

#[tokio::test]
async fn openapi_describes_the_reaction_routes() {
    let server = TestServer::start().await.expect("server");
    let (_, doc) = server
        .client()
        .get("/api/openapi.json")
        .await
        .expect("openapi");
    let path = &doc["paths"]["/api/channels/{id}/messages/{mid}/reactions/{emoji}"];
    assert!(
        path["put"].is_object() && path["delete"].is_object(),
        "{path}"
    );
    assert!(doc["components"]["schemas"]["MessageView"]["properties"]["reply_to"].is_object());
}

#[tokio::test]
async fn members_see_a_messages_earlier_versions_until_it_is_deleted() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let channel = direct(&a, &b).await;
    let (_, m) = send(&a, channel, "first", None).await;
    let id = m["id"].as_i64().expect("id");
    let message = format!("/api/channels/{channel}/messages/{id}");
    let versions = format!("{message}/versions");

    let (status, body) = b.client.get(&versions).await.expect("versions");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["versions"], json!([]), "never edited");
    for text in ["second", "third"] {
        let (status, body) = a
            .client
            .patch_json(&message, &json!({"text": text}))
            .await
            .expect("edit");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = b.client.get(&versions).await.expect("versions");
    assert_eq!(status, StatusCode::OK, "{body}");
    let texts: Vec<&str> = body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        texts,
        ["first", "second"],
        "oldest first, the current text apart"
    );
    let times: Vec<i64> = body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["replaced_at"].as_i64().expect("replaced_at"))
        .collect();
    assert!(times[0] <= times[1] && times[0] > 0, "{times:?}");

    // Not a member: as if the message did not exist. An unknown message: 404 too.
    let (status, _) = c.client.get(&versions).await.expect("versions");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b
        .client
        .get(&format!(
            "/api/channels/{channel}/messages/{}/versions",
            id + 1000
        ))
        .await
        .expect("versions");
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Only the latest 20 are kept.
    for i in 0..25 {
        let (status, _) = a
            .client
            .patch_json(&message, &json!({"text": format!("edit {i}")}))
            .await
            .expect("edit");
        assert_eq!(status, StatusCode::OK);
    }
    let (_, body) = b.client.get(&versions).await.expect("versions");
    let kept = body["versions"].as_array().expect("versions");
    assert_eq!(kept.len(), 20);
    assert_eq!(kept[0]["text"], "edit 4");
    assert_eq!(kept[19]["text"], "edit 23");

    // Deleting the message drops its earlier versions with its text.
    let (status, _) = a.client.delete(&message).await.expect("delete");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = b.client.get(&versions).await.expect("versions");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["versions"], json!([]));

    let (_, doc) = server
        .client()
        .get("/api/openapi.json")
        .await
        .expect("openapi");
    assert_eq!(
        statuses(&doc, "/api/channels/{id}/messages/{mid}/versions", "get"),
        ["200", "401", "403", "404"]
    );
    // Every chat write documents the per-account limit.
    for (path, method) in [
        ("/api/channels/{id}/messages", "post"),
        ("/api/channels/{id}/messages/{mid}", "patch"),
        ("/api/channels/{id}/messages/{mid}/reactions/{emoji}", "put"),
        ("/api/channels", "post"),
    ] {
        let listed = statuses(&doc, path, method);
        assert!(
            listed.iter().any(|s| s == "429"),
            "{method} {path}: {listed:?}"
        );
    }
}
