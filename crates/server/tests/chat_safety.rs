//! Blocking a person and reporting a message, end to end over HTTP: a blocked person cannot
//! message the blocker directly, the blocker's unread counts and search leave them out, and a
//! report keeps the message as written for the operators.

mod common;

use common::chat::{alice, bob, carol, direct, send};
use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_blocked_person_cannot_message_the_blocker_directly_until_unblocked() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let ab = direct(&a, &b).await;
    let put = |who: &common::Verified, path: String| {
        let client = who.client.clone();
        async move { common::chat::put(&client, &path).await.expect("put") }
    };

    let (status, body) = put(&b, format!("/api/blocks/{}", a.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        put(&b, format!("/api/blocks/{}", a.id)).await.0,
        StatusCode::NO_CONTENT,
        "twice is once"
    );
    let (_, list) = b.client.get("/api/blocks").await.expect("blocks");
    assert_eq!(
        list["users"],
        json!([{"id": a.id, "username": "alice", "full_name": "alice Tester"}])
    );

    let (status, body) = send(&a, ab, "hello?", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    // No new direct conversation either (Carol blocks Alice before they ever talked).
    put(&c, format!("/api/blocks/{}", a.id)).await;
    let (status, body) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "direct", "members": [c.id]}),
        )
        .await
        .expect("create");
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The blocker still writes, and others still write to the blocked person.
    assert_eq!(
        send(&b, ab, "I blocked you", None).await.0,
        StatusCode::CREATED
    );

    let (status, _) = b
        .client
        .delete(&format!("/api/blocks/{}", a.id))
        .await
        .expect("unblock");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&a, ab, "hello again", None).await.0,
        StatusCode::CREATED
    );
    let (_, list) = b.client.get("/api/blocks").await.expect("blocks");
    assert_eq!(list["users"], json!([]));

    assert_eq!(
        put(&a, format!("/api/blocks/{}", a.id)).await.0,
        StatusCode::BAD_REQUEST,
        "not myself"
    );
    assert_eq!(
        put(&a, "/api/blocks/999999".into()).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_blockers_unread_counts_and_search_leave_the_blocked_person_out() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let (_, group) = c
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "Ops", "members": [a.id, b.id]}),
        )
        .await
        .expect("group");
    let gid = group["id"].as_i64().expect("id");
    common::chat::put(&b.client, &format!("/api/blocks/{}", a.id))
        .await
        .expect("block");
    send(&a, gid, "alice writes about otters", None).await;
    let (_, from_carol) = send(&c, gid, "carol writes about otters", None).await;

    let (_, list) = b.client.get("/api/channels").await.expect("channels");
    assert_eq!(
        list["channels"][0]["unread"], 1,
        "only Carol's message counts: {list}"
    );
    let (_, found) = b.client.get("/api/search?q=otters").await.expect("search");
    let ids: Vec<&serde_json::Value> = found["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| &h["message_id"])
        .collect();
    assert_eq!(ids, [&from_carol["id"]]);
    // Carol, who blocked nobody, sees both.
    let (_, found) = c.client.get("/api/search?q=otters").await.expect("search");
    assert_eq!(found["hits"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_report_keeps_the_message_as_written_for_the_operators() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let ab = direct(&a, &b).await;
    let (_, m) = send(&a, ab, "buy my \u{1b}[31mcheap\u{1b}[0m pills", None).await;
    let mid = m["id"].as_i64().expect("id");
    let path = format!("/api/channels/{ab}/messages/{mid}/report");

    let (status, body) = b
        .client
        .post_json(&path, &json!({"reason": "spam"}))
        .await
        .expect("report");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"reported": true}));
    let (status, _) = b
        .client
        .post_json(&path, &json!({"reason": "spam!"}))
        .await
        .expect("again");
    assert_eq!(status, StatusCode::OK, "reporting again is the same report");
    for (reason, want) in [
        (json!(""), StatusCode::BAD_REQUEST),
        (json!("x".repeat(501)), StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = b
            .client
            .post_json(&path, &json!({"reason": reason}))
            .await
            .expect("report");
        assert_eq!(status, want);
    }
    let (status, _) = c
        .client
        .post_json(&path, &json!({"reason": "spam"}))
        .await
        .expect("outsider");
    assert_eq!(status, StatusCode::NOT_FOUND, "only members report");

    // The author deletes it; the report still says what was written.
    a.client
        .delete(&format!("/api/channels/{ab}/messages/{mid}"))
        .await
        .expect("delete");
    let (status, _) = b
        .client
        .post_json(&path, &json!({"reason": "late"}))
        .await
        .expect("report");
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a deleted message cannot be reported"
    );
    let reports = server::admin::reports(&server.state.db, 10)
        .await
        .expect("reports");
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(
        (
            r.reporter.as_str(),
            r.author_name.as_str(),
            r.reason.as_str()
        ),
        ("bob", "alice", "spam")
    );
    assert_eq!((r.message_id, r.channel_id, r.author_id), (mid, ab, a.id));
    assert_eq!(r.text, "buy my \u{1b}[31mcheap\u{1b}[0m pills");
}

#[tokio::test]
async fn openapi_lists_every_answer_of_blocks_and_reports() {
    let server = TestServer::start().await.expect("server");
    let doc = common::chat::openapi(&server).await;
    let statuses = |path: &str, method: &str| common::chat::statuses(&doc, path, method);
    assert_eq!(statuses("/api/blocks", "get"), ["200", "401", "403"]);
    assert_eq!(
        statuses("/api/blocks/{user}", "put"),
        ["204", "400", "401", "403", "404"]
    );
    assert_eq!(
        statuses("/api/blocks/{user}", "delete"),
        ["204", "401", "403", "404"]
    );
    assert_eq!(
        statuses("/api/channels/{id}/messages/{mid}/report", "post"),
        ["200", "201", "400", "401", "403", "404", "413", "429"]
    );
}
