//! `facegate admin migrate`, SQLite to PostgreSQL, on a populated server that keeps running:
//! an interrupted copy resumes, a finished one is checked (counts and checksums) and re-running
//! it copies nothing; a server started on the copy signs the same people in with their faces,
//! shows the same history with the same ids, finds messages, and gives new rows new ids. A
//! target that is not a copy of this source is refused.

mod common;

use common::chat::{alice, bob, direct, put, send};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::storage::copy::TABLES;
use server::storage::Db;
use server::transfer::migrate::{migrate, MigrateError, MigrateOptions};

async fn history(user: &Verified, channel: i64) -> Value {
    let (status, page) = user
        .client
        .get(&format!("/api/channels/{channel}/messages?limit=100"))
        .await
        .expect("history");
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"].clone()
}

#[tokio::test]
async fn a_running_server_is_copied_to_postgresql_resumably_and_the_copy_serves_the_same_people_and_history(
) {
    let pg = postgres_service_url();
    let s = start_sqlite(|_| {}).await;
    let (a, b) = (alice(&s).await, bob(&s).await);
    let channel = direct(&a, &b).await;
    let mut sent = Vec::new();
    for i in 0..30 {
        let (status, m) = send(&a, channel, &format!("message {i} about the Café"), None).await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        sent.push(m["id"].as_i64().expect("id"));
    }
    let (status, reply) = b
        .client
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": "a reply", "reply_to": sent[3]}),
        )
        .await
        .expect("reply");
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    // A reply in a thread: both people follow the thread from then on.
    let (status, in_thread) = b
        .client
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": "in a thread", "thread_root": sent[5]}),
        )
        .await
        .expect("thread reply");
    assert_eq!(status, StatusCode::CREATED, "{in_thread}");
    // 👍, percent-encoded in the path.
    let (status, body) = put(
        &a.client,
        &format!(
            "/api/channels/{channel}/messages/{}/reactions/%F0%9F%91%8D",
            sent[0]
        ),
    )
    .await
    .expect("react");
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = history(&b, channel).await;

    let source = s.second_db_handle().await;
    let target_url = new_postgres_schema(&pg).await;
    let target = Db::connect(&target_url).await.expect("target");

    // Interrupted after the first chunk, then resumed: nothing twice, nothing missing.
    let stopped = migrate(
        &source,
        &target,
        MigrateOptions {
            stop_after_chunks: Some(1),
        },
        |_| {},
    )
    .await;
    assert!(
        matches!(stopped, Err(MigrateError::Stopped(1))),
        "{stopped:?}"
    );
    // The server keeps writing meanwhile: the next run's snapshot has it.
    let (status, late) = a
        .client
        .post_json(
            &format!("/api/channels/{channel}/messages"),
            &json!({"text": "written during the copy"}),
        )
        .await
        .expect("send");
    assert_eq!(status, StatusCode::CREATED, "{late}");
    let mut seen = Vec::new();
    let reports = migrate(&source, &target, MigrateOptions::default(), |p| {
        seen.push((p.table.to_owned(), p.done, p.total));
    })
    .await
    .expect("migrate");
    assert_eq!(reports.len(), TABLES.len());
    let rows_of = |table: &str| reports.iter().find(|r| r.table == table).expect(table).rows;
    assert_eq!(rows_of("users"), 2);
    assert_eq!(rows_of("chat_messages"), 33);
    assert_eq!(rows_of("chat_thread_reads"), 2);
    assert_eq!(rows_of("chat_reactions"), 1);
    assert_eq!(rows_of("face_templates"), 2);
    let users = reports.iter().find(|r| r.table == "users").expect("users");
    assert_eq!(users.copied, 0, "users were copied by the interrupted run");
    assert!(
        seen.iter()
            .any(|(t, done, total)| t == "chat_messages" && done == total),
        "progress reaches the end: {seen:?}"
    );

    // Run again: checked, nothing copied.
    let again = migrate(&source, &target, MigrateOptions::default(), |_| {})
        .await
        .expect("re-run");
    assert_eq!(again.iter().map(|r| r.copied).sum::<i64>(), 0);
    assert_eq!(
        again.iter().map(|r| &r.checksum).collect::<Vec<_>>(),
        reports.iter().map(|r| &r.checksum).collect::<Vec<_>>()
    );

    // A server on the copy, with the source's key: same people, same faces, same history.
    let mut config = test_config(s.dir.path());
    config.database_url = Some(target_url.clone());
    config.secret_key_file = Some(s.dir.path().join("secret.key"));
    let dir2 = std::sync::Arc::new(tempfile::tempdir().expect("tmp"));
    config.data_dir = dir2.path().to_path_buf();
    let copy = start_in(dir2, config).await;
    let a2 = verified_login(&copy, "alice", "obama_3.jpg").await;
    let b2 = verified_login(&copy, "bob", "biden_2.jpg").await;
    let mut after = history(&b2, channel).await;
    let late_id = late["id"].as_i64().expect("id");
    let messages = after.as_array_mut().expect("messages");
    assert_eq!(messages.last().expect("last")["id"], late_id);
    messages.pop();
    assert_eq!(
        Value::Array(messages.clone()),
        before,
        "same ids, texts, reply and reaction"
    );
    let (status, found) = a2
        .client
        .get("/api/search?q=cafe%20message%2029")
        .await
        .expect("search");
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["hits"][0]["message_id"], sent[29]);
    let (status, fresh) = send(&a2, channel, "the first message on PostgreSQL", None).await;
    assert_eq!(status, StatusCode::CREATED, "{fresh}");
    assert!(
        fresh["id"].as_i64().expect("id") > late_id,
        "new ids follow the copied ones"
    );

    // Another database's rows in the target: refused, never merged.
    let other = start_sqlite(|_| {}).await;
    let _ = verified_user(
        &other,
        "carol",
        &["kit_harington_1.jpg"],
        &["kit_harington_2.jpg"],
    )
    .await
    .expect("carol");
    let refused = migrate(
        &other.second_db_handle().await,
        &target,
        MigrateOptions::default(),
        |_| {},
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(MigrateError::TargetNotEmpty { .. } | MigrateError::Mismatch { .. })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_copy_knows_every_table_the_migrations_create() {
    let pg = postgres_service_url();
    let sqlite = start_sqlite(|_| {}).await.second_db_handle().await;
    let postgres = Db::connect(&new_postgres_schema(&pg).await)
        .await
        .expect("pg");
    let mut known: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    known.sort_unstable();
    for db in [&sqlite, &postgres] {
        let tables = db.table_names().await.expect("tables");
        assert_eq!(tables, known, "{:?}", db.backend());
    }
}

/// Logs an existing account in with the password and a face photo.
async fn verified_login(server: &TestServer, username: &str, frame: &str) -> Verified {
    let client = server.client();
    let (status, body) = client.login(username, PASSWORD).await.expect("login");
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = client.face_check(&[frame]).await.expect("face");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["level"], "full");
    let (_, me) = client.get("/api/me").await.expect("me");
    Verified {
        id: me["user"]["id"].as_i64().expect("id"),
        username: username.to_owned(),
        client,
    }
}
