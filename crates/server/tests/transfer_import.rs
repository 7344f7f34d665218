//! `facegate admin import-users` end to end: a MongoDB export of the tutorial stack made from
//! real photos (bcrypt hashes, face-api.js descriptors by the project's engine) is imported
//! into a running server; the imported people then sign in over HTTP with their old password
//! and their face; malformed records are listed with their reasons; a re-run changes nothing.

mod common;
mod mongo_fixture;

use common::*;
use mongo_fixture::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::transfer::{import, mongo};

const BARACK_OLD: &str = "obama's old tutorial password";
const JOE_OLD: &str = "joe's old tutorial password";

/// Two good users (descriptor as an array and as a keyed object, `$2b$` and bcryptjs' `$2a$`)
/// and one malformed record of each kind.
fn tutorial_export() -> String {
    let engine = engine();
    let obama = descriptor(&engine, &faces_dir().join("obama_1.jpg"));
    let biden = descriptor(&engine, &faces_dir().join("biden_1.jpg"));
    let hash = bcrypt_hash(BARACK_OLD, "2b");
    let doc = |oid: &str, user: &str, email: &str, descriptor: Value| {
        user_document(oid, user, email, "Some Body", &hash, descriptor)
    };
    let mut nan = shaped(&obama, DescriptorShape::Array);
    nan[17] = json!({"$numberDouble": "NaN"});
    let mut no_name = doc(
        "00000000000000000000000a",
        "noname",
        "noname@example.org",
        json!(obama),
    );
    no_name.as_object_mut().expect("object").remove("FullName");
    let documents = vec![
        user_document(
            "5f0000000000000000000001",
            "barack",
            "Barack@Example.org",
            "Barack Obama",
            &hash,
            shaped(&obama, DescriptorShape::Array),
        ),
        user_document(
            "5f0000000000000000000002",
            "joe",
            "joe@example.org",
            "Joe Biden",
            &bcrypt_hash(JOE_OLD, "2a"),
            shaped(&biden, DescriptorShape::KeyedObject),
        ),
        doc(
            "000000000000000000000003",
            "short",
            "short@example.org",
            json!(obama[..127]),
        ),
        doc("000000000000000000000004", "nan", "nan@example.org", nan),
        doc(
            "000000000000000000000005",
            "BARACK",
            "barack2@example.org",
            json!(obama),
        ),
        doc(
            "000000000000000000000006",
            "barack3",
            "barack@example.org",
            json!(obama),
        ),
        user_document(
            "000000000000000000000007",
            "pbkdf2",
            "p@example.org",
            "P",
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            json!(obama),
        ),
        no_name,
        doc(
            "000000000000000000000009",
            "has space",
            "space@example.org",
            json!(obama),
        ),
        doc(
            "00000000000000000000000b",
            "bademail",
            "not-an-address",
            json!(obama),
        ),
    ];
    json_lines(&documents) + "{\"username\": \"cut\", \"email\": \n"
}

/// The password hash stored for `login` now.
async fn stored_hash(s: &TestServer, login: &str) -> String {
    let (_, hash) = s
        .state
        .db
        .find_login(login)
        .await
        .expect("db")
        .expect("account");
    hash.0
}

async fn run_import(s: &TestServer, text: &str) -> import::ImportReport {
    let records = mongo::parse_export(text).expect("parse the export");
    // A second handle on the file, as the `facegate admin` process has, while the server runs.
    let db = s.second_db_handle().await;
    let mut progress = Vec::new();
    let report = import::import_users(&db, &s.state.cipher, records, 1_700_000_000_000, |p| {
        progress.push((p.done, p.total));
    })
    .await
    .expect("import");
    assert_eq!(progress.last(), Some(&(11, 11)), "progress reaches the end");
    report
}

#[tokio::test]
async fn imported_users_sign_in_with_their_old_password_and_face_and_bad_records_are_listed() {
    require_fixtures();
    let s = start(|_| {}).await;
    let text = tutorial_export();
    let report = run_import(&s, &text).await;
    assert_eq!(report.imported, ["barack", "joe"]);
    let skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|k| (k.position.clone(), k.reason.clone()))
        .collect();
    let expect = [
        ("line 3", "faceDescriptor has 127 numbers, expected 128"),
        ("line 4", "faceDescriptor[17] is not finite"),
        ("line 5", "duplicate username: line 1 has it too"),
        ("line 6", "duplicate email: line 1 has it too"),
        ("line 7", "password is not a bcrypt hash"),
        ("line 8", "missing field FullName"),
        ("line 9", "username must be"),
        ("line 10", "email is not a valid address"),
        ("line 11", "not JSON"),
    ];
    assert_eq!(skipped.len(), expect.len(), "{skipped:#?}");
    for ((position, reason), (want_pos, want_reason)) in skipped.iter().zip(expect) {
        assert_eq!(position, want_pos);
        assert!(
            reason.contains(want_reason),
            "{position}: {reason:?} should say {want_reason:?}"
        );
    }

    // Barack: his old password, then his face from another photo.
    let c = client();
    assert_eq!(
        login_as(&s, &c, "barack", "not his password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let hash_before = stored_hash(&s, "barack").await;
    assert!(hash_before.starts_with("$2b$10$"));
    assert_eq!(
        login_as(&s, &c, "barack@example.org", BARACK_OLD)
            .await
            .status(),
        StatusCode::OK
    );
    let hash_after = stored_hash(&s, "barack").await;
    assert!(
        hash_after.starts_with("$argon2id$"),
        "rehashed on the first sign-in"
    );
    let r = face_check(&s, &c, &["obama_2"]).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    assert_eq!(auth_level(&s, &c).await, "full");
    let me = get_json(&s, &c, "/api/me").await;
    assert_eq!(me["user"]["full_name"], "Barack Obama");
    assert_eq!(me["user"]["email"], "barack@example.org");
    assert!(event_kinds(&s, &c).await.contains(&"imported".to_owned()));
    // The argon2id hash keeps working.
    let again = client();
    assert_eq!(
        login_as(&s, &again, "barack", BARACK_OLD).await.status(),
        StatusCode::OK
    );

    // Joe ($2a$, keyed-object descriptor): someone else's face is refused, his own passes.
    let j = client();
    assert_eq!(
        login_as(&s, &j, "joe", JOE_OLD).await.status(),
        StatusCode::OK
    );
    let r = face_check(&s, &j, &["obama_2"]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "face_mismatch");
    assert_eq!(
        face_check(&s, &j, &["biden_2"]).await.status(),
        StatusCode::OK
    );

    // A re-run (after Barack's hash changed) imports nothing and reports both as there.
    let again = run_import(&s, &text).await;
    assert!(again.imported.is_empty(), "{:?}", again.imported);
    assert_eq!(again.already_imported, ["barack", "joe"]);
    assert_eq!(again.skipped.len(), expect.len());
    assert_eq!(
        server::admin::users(&s.state.db)
            .await
            .expect("users")
            .len(),
        2
    );
    let (barack, _) = s
        .state
        .db
        .find_login("barack")
        .await
        .expect("db")
        .expect("barack");
    assert_eq!(
        s.state
            .db
            .templates(barack.id)
            .await
            .expect("templates")
            .len(),
        1
    );
}

#[tokio::test]
async fn an_array_export_of_the_same_users_imports_the_same() {
    require_fixtures();
    let s = start(|_| {}).await;
    let lines = tutorial_export();
    let documents: Vec<Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let array = serde_json::to_string_pretty(&documents).expect("json");
    let records = mongo::parse_export(&array).expect("parse");
    assert_eq!(records.len(), 10);
    assert_eq!(records[2].position, "record 3");
    let report = import::import_users(&s.state.db, &s.state.cipher, records, 1, |_| {})
        .await
        .expect("import");
    assert_eq!(report.imported, ["barack", "joe"]);
    assert_eq!(report.skipped.len(), 8);
}
