//! `facegate admin backup` / `restore` on a running server: a backup taken while three people
//! post to a group is restored into a new data directory, a server started on it holds the same
//! users and exactly the messages stored up to the snapshot, and the restored templates verify
//! a face over HTTP. Restores that would lose or corrupt data are refused.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use server::crypto::SecretKey;
use server::storage::Db;
use server::transfer::backup::{backup, restore, BackupError};

const PER_SENDER: usize = 40;

/// (id, channel, author, text, edited, deleted) of every message, in id order.
async fn messages(db: &Db) -> Vec<(i64, i64, i64, String, Option<i64>, Option<i64>)> {
    sqlx::query_as("SELECT id, channel_id, author_id, text, edited_at, deleted_at FROM chat_messages ORDER BY id")
        .fetch_all(db.pool())
        .await
        .expect("messages")
}

fn key_of(dir: &Path) -> SecretKey {
    SecretKey::load_existing(&dir.join("secret.key"))
        .expect("read key")
        .expect("a key")
}

#[tokio::test]
async fn a_backup_under_chat_load_restores_into_a_server_with_the_same_content() {
    require_fixtures();
    let s = start_sqlite(|_| {}).await;
    let a = verified_user(&s, "alice", &["obama_1.jpg"], &["obama_2.jpg"])
        .await
        .expect("alice");
    let b = verified_user(&s, "bob", &["biden_1.jpg"], &["biden_2.jpg"])
        .await
        .expect("bob");
    let c = verified_user(
        &s,
        "carol",
        &["kit_harington_1.jpg"],
        &["kit_harington_2.jpg"],
    )
    .await
    .expect("carol");
    let (status, group) = a
        .client
        .post_json(
            "/api/channels",
            &json!({"kind": "group", "name": "team", "members": [b.id, c.id]}),
        )
        .await
        .expect("group");
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let channel = group["id"].as_i64().expect("id");

    // Three senders post concurrently; the backup starts once some messages are stored.
    let stored = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = [&a, &b, &c]
        .into_iter()
        .map(|user| {
            let (client, name, stored) = (
                user.client.clone(),
                user.username.clone(),
                Arc::clone(&stored),
            );
            tokio::spawn(async move {
                for i in 0..PER_SENDER {
                    let body = json!({"text": format!("{name} says {i} ✓")});
                    let (status, m) = client
                        .post_json(&format!("/api/channels/{channel}/messages"), &body)
                        .await
                        .expect("send");
                    assert_eq!(status, StatusCode::CREATED, "{m}");
                    stored.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    while stored.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let out = tempfile::tempdir().expect("tmp");
    let file = out.path().join("facegate-backup.tar.gz");
    // A second handle on the file, as the `facegate admin backup` process has.
    let admin_db = Db::open(&s.db_path()).await.expect("open");
    let at_start = stored.load(Ordering::SeqCst);
    let manifest = backup(&admin_db, Some(&key_of(s.dir.path())), &file, 42)
        .await
        .expect("backup");
    let at_end = stored.load(Ordering::SeqCst);
    for sender in senders {
        sender.await.expect("sender");
    }
    eprintln!(
        "backup taken while {at_start}..{at_end} of {} messages were stored; it holds {}",
        3 * PER_SENDER,
        manifest.counts["chat_messages"]
    );
    assert!(manifest.holds_encrypted_templates && manifest.key.required);
    assert_eq!(
        manifest.key.fingerprint_sha256,
        Some(key_of(s.dir.path()).fingerprint_sha256())
    );
    assert_eq!(
        manifest.schema_version,
        server::transfer::backup::known_schema_version()
    );
    assert_eq!(manifest.counts["users"], 3);
    assert_eq!(manifest.counts["face_templates"], 3);
    let snapshot_messages = usize::try_from(manifest.counts["chat_messages"]).expect("count");
    assert!(
        snapshot_messages >= at_start && snapshot_messages <= at_end,
        "a snapshot of one moment"
    );

    // Restore into a new data directory with the key, and start a server there.
    let target = tempfile::tempdir().expect("tmp");
    let data = target.path().join("data");
    let key_file = s.dir.path().join("secret.key");
    let restored = restore(&file, &data, Some(&key_file))
        .await
        .expect("restore");
    assert!(restored.key_checked);
    let original = messages(&s.state.db).await;
    assert_eq!(original.len(), 3 * PER_SENDER);
    let r = start_in(Arc::new(target), sqlite_config(&data)).await;
    let copy = messages(&r.state.db).await;
    assert_eq!(copy.len(), snapshot_messages);
    // Ids are assigned in commit order, so the snapshot is exactly the first messages stored.
    assert_eq!(copy, original[..copy.len()].to_vec());
    assert_eq!(
        server::admin::users(&r.state.db).await.expect("users"),
        server::admin::users(&s.state.db).await.expect("users")
    );

    // The restored templates verify over HTTP, and history pages show the same messages.
    let carol = r.client();
    assert_eq!(
        carol.login("carol", PASSWORD).await.expect("login").0,
        StatusCode::OK
    );
    let (status, body) = carol
        .face_check(&["kit_harington_2.jpg"])
        .await
        .expect("face");
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, history) = carol
        .get(&format!("/api/channels/{channel}/messages?limit=100"))
        .await
        .expect("history");
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<String> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect();
    let want: Vec<String> = copy
        .iter()
        .rev()
        .take(texts.len())
        .rev()
        .map(|m| m.3.clone())
        .collect();
    assert_eq!(texts, want);
}

#[tokio::test]
async fn restore_refuses_a_non_empty_directory_a_wrong_or_missing_key_and_a_damaged_file() {
    require_fixtures();
    let s = start_sqlite(|_| {}).await;
    register(&s, &client(), "barack", "obama_1").await;
    let out = tempfile::tempdir().expect("tmp");
    let file = out.path().join("b.tar.gz");
    backup(&s.state.db, Some(&key_of(s.dir.path())), &file, 1)
        .await
        .expect("backup");
    assert!(matches!(
        backup(&s.state.db, None, &file, 1).await,
        Err(BackupError::TargetExists(_))
    ));

    // Into the running server's own directory: refused, nothing touched.
    let err = restore(&file, s.dir.path(), None)
        .await
        .expect_err("non-empty");
    assert!(matches!(err, BackupError::NotEmpty { .. }), "{err}");
    assert_eq!(
        server::admin::users(&s.state.db)
            .await
            .expect("users")
            .len(),
        1
    );

    // No key in the target and none given.
    let target = tempfile::tempdir().expect("tmp");
    let data = target.path().join("data");
    let err = restore(&file, &data, None).await.expect_err("no key");
    assert!(matches!(err, BackupError::KeyMissing(_)), "{err}");
    assert!(!data.exists(), "a refused restore leaves nothing");

    // Another server's key: its fingerprint differs and it opens no template.
    let other = tempfile::tempdir().expect("tmp");
    let wrong = other.path().join("secret.key");
    SecretKey::load_or_create(&wrong).expect("make a key");
    let err = restore(&file, &data, Some(&wrong))
        .await
        .expect_err("wrong key");
    assert!(matches!(err, BackupError::WrongKey { .. }), "{err}");
    assert!(!data.exists(), "a refused restore leaves nothing");

    // A data directory that holds only the right key is "empty".
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::copy(s.dir.path().join("secret.key"), data.join("secret.key")).expect("copy key");
    let err = restore(&file, &data, Some(&wrong))
        .await
        .expect_err("conflicting key");
    assert!(matches!(err, BackupError::KeyConflict(_)), "{err}");
    let mut damaged = std::fs::read(&file).expect("read");
    let damaged_file = out.path().join("damaged.tar.gz");
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x55;
    std::fs::write(&damaged_file, &damaged).expect("write");
    assert!(
        restore(&damaged_file, &data, None).await.is_err(),
        "a damaged backup is refused"
    );
    let names: Vec<_> = std::fs::read_dir(&data)
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        names,
        ["secret.key"],
        "a refused restore leaves the key alone and adds nothing"
    );
    let restored = restore(&file, &data, None)
        .await
        .expect("restore with the key in place");
    assert!(restored.key_checked);
    assert_eq!(restored.manifest.counts["users"], 1);
}
