//! `facegate admin import-users`: accounts of the tutorial stack (Express + passport + MongoDB,
//! face-api.js in the browser) moved over without registering again.
//!
//! Each account keeps its bcrypt hash until its first sign-in, which verifies it and stores
//! argon2id instead (`auth::password::needs_rehash`), and its old face-api.js descriptor, sealed
//! like any template (descriptors are interchangeable with the server's, see the README's
//! parity figures) until the next enrolment replaces it.
//!
//! One transaction per account: a bad record costs only itself, an interrupted import leaves
//! whole accounts only, and the write lock is held for one account at a time, so a running
//! server keeps serving (SQLite in WAL mode). Re-running skips the accounts already imported.

use std::collections::HashMap;

use face::Descriptor;

use super::mongo::{MongoUser, Record};
use crate::auth::account::check_profile;
use crate::auth::password::{is_bcrypt, PasswordHashString};
use crate::crypto::TemplateCipher;
use crate::storage::transfer::{ImportEvent, ImportOutcome};
use crate::storage::users::NewUser;
use crate::storage::Db;

/// What happened to each record of an export.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Usernames of the accounts created.
    pub imported: Vec<String>,
    /// Usernames found already imported by an earlier run.
    pub already_imported: Vec<String>,
    pub skipped: Vec<Skipped>,
}

/// A record that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// "line 7" or "record 7".
    pub position: String,
    pub username: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.username {
            Some(name) => write!(f, "{} ({name:?}): {}", self.position, self.reason),
            None => write!(f, "{}: {}", self.position, self.reason),
        }
    }
}

/// How far an import is: records done of the total.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// The first record of the file that claimed each username and email, by lower-cased value.
#[derive(Default)]
struct Claimed {
    usernames: HashMap<String, String>,
    emails: HashMap<String, String>,
}

impl Claimed {
    /// Claims the account's username and email for `position`, or names the earlier record
    /// that holds one of them.
    fn claim(&mut self, user: &MongoUser, position: &str) -> Result<(), String> {
        let name = user.username.to_lowercase();
        if let Some(first) = self.usernames.get(&name) {
            return Err(format!("duplicate username: {first} has it too"));
        }
        if let Some(first) = self.emails.get(&user.email) {
            return Err(format!("duplicate email: {first} has it too"));
        }
        self.usernames.insert(name, position.to_owned());
        self.emails.insert(user.email.clone(), position.to_owned());
        Ok(())
    }
}

/// Imports every valid record; calls `progress` after each one. Only a database error stops
/// the import (the accounts before it are in, and a re-run goes on from there).
pub async fn import_users(
    db: &Db,
    cipher: &TemplateCipher,
    records: Vec<Record>,
    now_ms: i64,
    mut progress: impl FnMut(Progress),
) -> Result<ImportReport, sqlx::Error> {
    let mut report = ImportReport::default();
    let mut claimed = Claimed::default();
    let total = records.len();
    for (done, record) in records.into_iter().enumerate() {
        let skip = |reason: String| Skipped {
            position: record.position.clone(),
            username: record.username.clone(),
            reason,
        };
        let user =
            checked(record.user).and_then(|u| claimed.claim(&u, &record.position).map(|()| u));
        match user {
            Err(reason) => report.skipped.push(skip(reason)),
            Ok(user) => match insert(db, cipher, &user, now_ms).await? {
                ImportOutcome::Imported(u) => report.imported.push(u.username),
                ImportOutcome::AlreadyImported => report.already_imported.push(user.username),
                ImportOutcome::Taken(field) => report
                    .skipped
                    .push(skip(format!("{field} taken by an existing account"))),
            },
        }
        progress(Progress {
            done: done + 1,
            total,
        });
    }
    Ok(report)
}

/// The account normalised as registration does, and checked by its rules; the password must
/// be a bcrypt hash (the only kind an imported account can sign in with).
fn checked(user: Result<MongoUser, String>) -> Result<MongoUser, String> {
    let mut user = user?;
    user.username = user.username.trim().to_owned();
    user.email = user.email.trim().to_lowercase();
    user.full_name = user.full_name.trim().to_owned();
    check_profile(&user.username, &user.email, &user.full_name).map_err(|e| e.to_string())?;
    if !is_bcrypt(&user.password_hash) {
        return Err("password is not a bcrypt hash ($2a$, $2b$ or $2y$)".into());
    }
    Ok(user)
}

async fn insert(
    db: &Db,
    cipher: &TemplateCipher,
    user: &MongoUser,
    now_ms: i64,
) -> Result<ImportOutcome, sqlx::Error> {
    let new = NewUser {
        username: user.username.clone(),
        email: user.email.clone(),
        full_name: user.full_name.clone(),
        password_hash: PasswordHashString(user.password_hash.clone()),
        // The old app collected the descriptor, so its users agreed to it there; the import is
        // when this server starts to hold it (README: importing users).
        consent_at: now_ms,
        created_at: now_ms,
    };
    let detail = match &user.source_id {
        Some(id) => format!("imported from a MongoDB export (_id {id}) with its face descriptor"),
        None => "imported from a MongoDB export with its face descriptor".into(),
    };
    let descriptor = Descriptor(user.descriptor);
    let event = ImportEvent {
        ip: crate::storage::audit::OPERATOR_IP,
        detail: &detail,
    };
    db.insert_imported_user(&new, &event, |id| cipher.seal(id, &descriptor))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::transfer::mongo::parse_export;
    use serde_json::json;

    fn line(username: &str, email: &str, password: &str, value: f64) -> String {
        json!({"username": username, "email": email, "FullName": "Some One",
               "password": password, "faceDescriptor": vec![value; 128]})
        .to_string()
    }

    async fn setup() -> (tempfile::TempDir, Db, TemplateCipher) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(&dir.path().join("t.db")).await.expect("open");
        let key = SecretKey::load_or_create(&dir.path().join("secret.key")).expect("key");
        (dir, db, TemplateCipher::new(&key))
    }

    #[tokio::test]
    async fn valid_records_are_imported_with_a_sealed_template_and_bad_ones_listed() {
        let (_dir, db, cipher) = setup().await;
        let hash = bcrypt::hash("pw", 4).expect("bcrypt");
        let text = [
            line("ada", "Ada@Example.org", &hash, 0.1),
            line("ADA", "other@example.org", &hash, 0.1),
            line("bob", "ada@example.org", &hash, 0.1),
            line("carol", "carol@example.org", "plain", 0.1),
            line("d", "d@example.org", &hash, 0.1),
            line("erin", "no-at-sign", &hash, 0.1),
        ]
        .join("\n");
        let records = parse_export(&text).expect("parse");
        let mut seen = Vec::new();
        let report = import_users(&db, &cipher, records, 77, |p| seen.push(p.done))
            .await
            .expect("import");
        assert_eq!(report.imported, ["ada"]);
        assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
        let reasons: Vec<String> = report.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(
            reasons[0].starts_with("line 2 (\"ADA\"): duplicate username: line 1"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].contains("duplicate email: line 1"),
            "{reasons:?}"
        );
        assert!(reasons[2].contains("not a bcrypt hash"), "{reasons:?}");
        assert!(reasons[3].contains("username must be"), "{reasons:?}");
        assert!(
            reasons[4].contains("email is not a valid address"),
            "{reasons:?}"
        );
        let (user, stored) = db.find_login("ada").await.expect("db").expect("ada");
        assert_eq!(user.email, "ada@example.org");
        assert_eq!(stored.0, hash);
        let templates = db.templates(user.id).await.expect("templates");
        assert_eq!(templates.len(), 1);
        let opened = cipher.open(user.id, &templates[0]).expect("opens");
        assert!(opened.0.iter().all(|v| (v - 0.1).abs() < 1e-7));
        let events = db.events(user.id, 10).await.expect("events");
        assert_eq!(events[0].kind, "imported");
        assert_eq!(events[0].at, 77);
    }

    #[tokio::test]
    async fn a_rerun_reports_already_imported_and_a_registered_name_is_taken() {
        let (_dir, db, cipher) = setup().await;
        let hash = bcrypt::hash("pw", 4).expect("bcrypt");
        let text = line("ada", "ada@example.org", &hash, 0.2);
        let first = import_users(&db, &cipher, parse_export(&text).expect("p"), 1, |_| {})
            .await
            .expect("first");
        assert_eq!(first.imported, ["ada"]);
        let again = import_users(&db, &cipher, parse_export(&text).expect("p"), 2, |_| {})
            .await
            .expect("again");
        assert!(again.imported.is_empty() && again.skipped.is_empty());
        assert_eq!(again.already_imported, ["ada"]);
        assert_eq!(crate::admin::users(&db).await.expect("users").len(), 1);
        // The same name held by an account that registered here is not the imported person.
        let other = line("Ada", "ada2@example.org", &hash, 0.2);
        let report = import_users(&db, &cipher, parse_export(&other).expect("p"), 3, |_| {})
            .await
            .expect("taken");
        assert_eq!(
            report.skipped[0].reason,
            "username taken by an existing account"
        );
    }
}
