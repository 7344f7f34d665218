//! Benchmark-only set-up (cargo feature `bench`, never in the shipped binary): users with a
//! `full` session created straight in the database, skipping registration and the face check,
//! so the chat load test can open ten thousand verified sockets in seconds.
//!
//! The users get a password hash that matches no password, so they cannot log in; their
//! sessions are real rows that the server validates like any other.

use crate::auth::password::PasswordHashString;
use crate::auth::session::{Level, SessionToken};
use crate::storage::chat as store;
use crate::storage::sessions::{Factor, NewSession};
use crate::storage::users::NewUser;
use crate::storage::Db;

/// A benchmark user and the raw id of its `full` session (the cookie value).
pub struct BenchUser {
    pub id: i64,
    pub session_token: String,
}

impl std::fmt::Debug for BenchUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchUser")
            .field("id", &self.id)
            .field("session_token", &"[redacted]")
            .finish()
    }
}

/// Creates `count` users `{prefix}{i}` each with one `full` session started at `now` (unix ms).
pub async fn users_with_full_sessions(
    db: &Db,
    prefix: &str,
    count: usize,
    now: i64,
) -> anyhow::Result<Vec<BenchUser>> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let username = format!("{prefix}{i}");
        let user = db
            .insert_user(&NewUser {
                email: format!("{username}@bench.invalid"),
                full_name: format!("Bench User {i}"),
                username,
                // Not a PHC string: no password verifies against it.
                password_hash: PasswordHashString("!bench-no-login".into()),
                consent_at: now,
                created_at: now,
            })
            .await?;
        let token = SessionToken::generate();
        db.insert_session(&NewSession {
            id_hash: &token.hash(),
            user_id: user.id,
            level: Level::Full,
            created_at: now,
            now,
            ip: "127.0.0.1",
            user_agent: Some("load_chat"),
            // What a password + face sign-in records: the session the benchmark stands in for.
            first_factor: Factor::Password,
            second_factor: Some(Factor::Face),
        })
        .await?;
        out.push(BenchUser {
            id: user.id,
            session_token: token.expose().to_owned(),
        });
    }
    Ok(out)
}

/// Creates a group owned by `members[0]` holding all of `members`; returns its id.
pub async fn group(db: &Db, name: &str, members: &[i64], now: i64) -> anyhow::Result<i64> {
    let (owner, rest) = members
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("a group needs at least its owner"))?;
    Ok(store::create_group(db, *owner, name, rest, now).await?)
}
