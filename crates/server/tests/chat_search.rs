//! Message search end to end over HTTP: what is found (a message just sent, an edit by its new
//! words), what never is (another channel's messages, a deleted one, an edit's old words), and
//! input that must not reach FTS5 as syntax.

mod common;

use common::chat::{alice, bob, carol, direct, send};
use common::TestServer;
use common::Verified;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn search(user: &Verified, q: &str) -> (StatusCode, Value) {
    let url = format!("/api/search?q={}", urlencode(q));
    user.client.get(&url).await.expect("search")
}

fn urlencode(q: &str) -> String {
    q.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The ids of the messages a search finds (and asserts it answered 200).
async fn found(user: &Verified, q: &str) -> Vec<i64> {
    let (status, body) = search(user, q).await;
    assert_eq!(status, StatusCode::OK, "{q:?}: {body}");
    body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["message_id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn a_message_just_sent_is_found_with_its_channel_author_time_and_snippet() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    send(&a, channel, "nothing to see", None).await;
    let (_, m) = send(
        &a,
        channel,
        "Shall we have <b>lunch</b> at the Café on Friday?",
        None,
    )
    .await;

    let (status, body) = search(&b, "cafe friday").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hits = body["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 1, "{body}");
    let hit = &hits[0];
    assert_eq!(hit["message_id"], m["id"]);
    assert_eq!(hit["channel_id"], channel);
    assert_eq!(hit["author"]["username"], "alice");
    assert_eq!(hit["created_at"], m["created_at"]);
    let parts = hit["snippet"].as_array().expect("snippet");
    let text: String = parts
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        text, "Shall we have <b>lunch</b> at the Café on Friday?",
        "markup stays text"
    );
    let hits_marked: Vec<&str> = parts
        .iter()
        .filter(|p| p["hit"] == true)
        .map(|p| p["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(hits_marked, ["Café", "Friday"]);
    // The last word is a prefix too: a word still being typed finds it.
    assert_eq!(
        found(&b, "lunch fri").await,
        [m["id"].as_i64().expect("id")]
    );
    // Every word must match.
    assert_eq!(found(&b, "lunch dinner").await, Vec::<i64>::new());
}

#[tokio::test]
async fn messages_of_a_channel_i_am_not_in_are_never_found() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let ab = direct(&a, &b).await;
    let ac = direct(&a, &c).await;
    let (_, shared) = send(&a, ab, "the secret plan is ready", None).await;
    let (_, private) = send(&a, ac, "the secret plan for carol only", None).await;
    let (shared, private) = (
        shared["id"].as_i64().expect("id"),
        private["id"].as_i64().expect("id"),
    );

    assert_eq!(
        found(&a, "secret plan").await,
        [private, shared],
        "newest first"
    );
    assert_eq!(found(&b, "secret plan").await, [shared]);
    assert_eq!(found(&c, "secret plan").await, [private]);

    // Leaving a group takes its messages out of my results.
    let (_, group) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "Ops", "members": [b.id]}),
        )
        .await
        .expect("group");
    let gid = group["id"].as_i64().expect("group id");
    let (_, in_group) = send(&a, gid, "secret group agenda", None).await;
    assert_eq!(
        found(&b, "agenda").await,
        [in_group["id"].as_i64().expect("id")]
    );
    let (status, _) = b
        .client
        .delete(&format!("/api/channels/{gid}/members/{}", b.id))
        .await
        .expect("leave");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(found(&b, "agenda").await, Vec::<i64>::new());
}

#[tokio::test]
async fn an_edit_is_found_by_its_new_words_only_and_a_deleted_message_is_gone() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let (_, m) = send(&a, channel, "meet at the harbour", None).await;
    let mid = m["id"].as_i64().expect("id");
    assert_eq!(found(&b, "harbour").await, [mid]);

    let (status, _) = a
        .client
        .patch_json(
            &format!("/api/channels/{channel}/messages/{mid}"),
            &json!({"text": "meet at the station"}),
        )
        .await
        .expect("edit");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        found(&b, "harbour").await,
        Vec::<i64>::new(),
        "the old words are gone"
    );
    assert_eq!(found(&b, "station").await, [mid]);

    let (status, _) = a
        .client
        .delete(&format!("/api/channels/{channel}/messages/{mid}"))
        .await
        .expect("delete");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(found(&b, "station").await, Vec::<i64>::new());
    assert_eq!(found(&b, "meet").await, Vec::<i64>::new());

    // A deleted channel takes its messages out of the index too.
    let (_, m) = send(&a, channel, "ephemeral words", None).await;
    assert_eq!(
        found(&a, "ephemeral").await,
        [m["id"].as_i64().expect("id")]
    );
    a.client
        .delete(&format!("/api/channels/{channel}"))
        .await
        .expect("delete channel");
    assert_eq!(found(&a, "ephemeral").await, Vec::<i64>::new());
}

#[tokio::test]
async fn search_syntax_in_the_input_is_searched_as_text_and_bad_input_is_a_400() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let (_, m) = send(&a, channel, "ship it OR NOT, said \"Ann\"", None).await;
    let mid = m["id"].as_i64().expect("id");

    // Each of these is an FTS5 syntax error if it reaches MATCH as written.
    for q in [
        "NEAR(",
        "\"ann",
        "ship OR",
        "ann\"",
        "ship -it",
        "ship AND (",
        "col:ship",
        "^ship",
        "ship* NOT",
    ] {
        let (status, body) = search(&b, q).await;
        assert_eq!(status, StatusCode::OK, "{q:?}: {body}");
    }
    assert_eq!(found(&b, "\"ann\"").await, [mid]);
    assert_eq!(found(&b, "OR NOT").await, [mid], "operators are words");

    for (q, why) in [
        ("", "empty"),
        ("  ( * ) ", "no word"),
        (&"w".repeat(201) as &str, "too long"),
    ] {
        let (status, body) = search(&b, q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request");
    }
    for limit in ["0", "51", "x"] {
        let (status, _) = b
            .client
            .get(&format!("/api/search?q=ship&limit={limit}"))
            .await
            .expect("search");
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={limit}");
    }
    for i in 0..3 {
        send(&a, channel, &format!("ship number {i}"), None).await;
    }
    let (_, body) = b
        .client
        .get("/api/search?q=ship&limit=2")
        .await
        .expect("search");
    assert_eq!(body["hits"].as_array().map(Vec::len), Some(2));

    let anonymous = server.client();
    let (status, _) = anonymous.get("/api/search?q=ship").await.expect("search");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn openapi_lists_every_answer_of_search() {
    let server = TestServer::start().await.expect("server");
    let doc = common::chat::openapi(&server).await;
    assert_eq!(
        common::chat::statuses(&doc, "/api/search", "get"),
        ["200", "400", "401", "403"]
    );
    assert!(doc["components"]["schemas"]["SearchHit"]["properties"]["snippet"].is_object());
}
