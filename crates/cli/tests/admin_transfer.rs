//! `facegate admin import-users | backup | restore | export-user` as an operator runs them:
//! the wiring, the printed summaries, and the refusals.

use std::path::Path;
use std::process::{Command, Output};

fn facegate(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run facegate")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A data directory as `facegate serve` leaves it: the database and the server key.
fn data_dir(parent: &Path) -> std::path::PathBuf {
    let dir = parent.join("data");
    std::fs::create_dir(&dir).expect("mkdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let db = server::storage::Db::open(&dir.join("facegate.db"))
            .await
            .expect("db");
        db.pool().close().await;
    });
    server::crypto::SecretKey::load_or_create(&dir.join("secret.key")).expect("key");
    dir
}

const HASH: &str = "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";

#[test]
fn import_backup_restore_and_export_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = data_dir(tmp.path());
    let export = tmp.path().join("users.json");
    let descriptor: Vec<f64> = (0..128).map(|i| f64::from(i) / 1000.0).collect();
    let good = serde_json::json!({"_id": {"$oid": "5f00000000000000000000aa"}, "username": "ada",
        "email": "ada@example.org", "FullName": "Ada L", "password": HASH, "faceDescriptor": descriptor});
    let bad = serde_json::json!({"username": "bob", "email": "bob@example.org", "FullName": "Bob",
        "password": "hunter2", "faceDescriptor": descriptor});
    std::fs::write(&export, format!("{good}\n{bad}\n")).expect("write export");
    let file = export.to_str().expect("utf-8 path");

    let out = facegate(&data, &["import-users", file]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("skipped line 2 (\"bob\"): password is not a bcrypt hash"),
        "{text}"
    );
    assert!(
        text.ends_with("1 imported, 0 already imported, 1 skipped\n"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains(HASH),
        "no secret printed: {text}"
    );
    let again = stdout(&facegate(&data, &["import-users", file]));
    assert!(again.contains("already imported \"ada\""), "{again}");
    assert!(
        again.ends_with("0 imported, 1 already imported, 1 skipped\n"),
        "{again}"
    );

    let exported = facegate(&data, &["export-user", "ada"]);
    assert!(exported.status.success(), "{exported:?}");
    let doc: serde_json::Value = serde_json::from_slice(&exported.stdout).expect("json");
    assert_eq!(doc["profile"]["username"], "ada");
    assert_eq!(doc["factors"]["password"]["scheme"], "bcrypt_imported");
    assert_eq!(doc["security_events"][0]["kind"], "imported");

    let backup = tmp.path().join("b.tar.gz");
    let backup_arg = backup.to_str().expect("utf-8 path");
    let out = facegate(&data, &["backup", backup_arg]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("holds encrypted face templates"),
        "{}",
        stdout(&out)
    );
    let refused = facegate(&data, &["backup", backup_arg]);
    assert!(
        !refused.status.success(),
        "an existing backup is never overwritten"
    );

    let refused = facegate(&data, &["restore", backup_arg]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not empty"),
        "{refused:?}"
    );
    let target = tmp.path().join("restored");
    let key = data.join("secret.key");
    let out = facegate(
        &target,
        &["restore", backup_arg, "--key", key.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("1 users"), "{}", stdout(&out));
    assert!(stdout(&out).contains("the server key opens the backup's face templates"));
    let users = stdout(&facegate(&target, &["users"]));
    assert!(users.contains("ada@example.org"), "{users}");
}
