//! Brute-force counters, updated with compare-and-swap so concurrent attempts on one account are
//! each counted: per account (`auth_counters`), and per login that matches no account
//! (`unknown_login_counters`, same columns), so an unknown login is throttled like a real one.

use sqlx::Row;

use super::{AnyQuery, Db, DbRow};

/// Consecutive failures and an hourly window of failures: the password's rules, also applied
/// to the non-face second factors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttle {
    pub consecutive: u32,
    pub last_failure_at: Option<i64>,
    pub window_start: Option<i64>,
    pub window_count: u32,
}

/// The counters stored per account (times in unix milliseconds). The rules that move them
/// are in `crate::auth::lockout`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub password: Throttle,
    /// TOTP and recovery code failures.
    pub second_factor: Throttle,
    pub face_consecutive: u32,
    pub face_last_failure_at: Option<i64>,
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// Whose counters: an account, or a login that matches none (by its pseudonym).
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    Account(i64),
    UnknownLogin(&'a str),
}

impl<'a> Owner<'a> {
    /// Table and key column: constants, never input.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::Account(_) => ("auth_counters", "user_id"),
            Self::UnknownLogin(_) => ("unknown_login_counters", "login_key"),
        }
    }

    fn bind<'q>(self, q: AnyQuery<'q>) -> AnyQuery<'q>
    where
        'a: 'q,
    {
        match self {
            Self::Account(id) => q.bind(id),
            Self::UnknownLogin(key) => q.bind(key),
        }
    }
}

fn throttle_from_row(r: &DbRow, prefix: &str) -> Result<Throttle, sqlx::Error> {
    Ok(Throttle {
        consecutive: to_u32(r.try_get(format!("{prefix}_consecutive").as_str())?),
        last_failure_at: r.try_get(format!("{prefix}_last_failure_at").as_str())?,
        window_start: r.try_get(format!("{prefix}_window_start").as_str())?,
        window_count: to_u32(r.try_get(format!("{prefix}_window_count").as_str())?),
    })
}

fn counters_from_row(r: &DbRow) -> Result<Counters, sqlx::Error> {
    Ok(Counters {
        password: throttle_from_row(r, "pw")?,
        second_factor: throttle_from_row(r, "second")?,
        face_consecutive: to_u32(r.try_get("face_consecutive")?),
        face_last_failure_at: r.try_get("face_last_failure_at")?,
    })
}

/// Every counter column, in the order [`Db::swap_counters`] binds them.
const COLUMNS: [&str; 10] = [
    "pw_consecutive",
    "pw_last_failure_at",
    "pw_window_start",
    "pw_window_count",
    "second_consecutive",
    "second_last_failure_at",
    "second_window_start",
    "second_window_count",
    "face_consecutive",
    "face_last_failure_at",
];

/// The column values of `c`, in [`COLUMNS`] order (NULL for an absent time).
fn column_values(c: &Counters) -> [Option<i64>; 10] {
    [
        Some(i64::from(c.password.consecutive)),
        c.password.last_failure_at,
        c.password.window_start,
        Some(i64::from(c.password.window_count)),
        Some(i64::from(c.second_factor.consecutive)),
        c.second_factor.last_failure_at,
        c.second_factor.window_start,
        Some(i64::from(c.second_factor.window_count)),
        Some(i64::from(c.face_consecutive)),
        c.face_last_failure_at,
    ]
}

impl Db {
    /// The counters of an account (all zero when it has no row).
    pub async fn counters(&self, user_id: i64) -> Result<Counters, sqlx::Error> {
        self.read_counters(Owner::Account(user_id)).await
    }

    /// Applies `change` to an account's counters with compare-and-swap, retrying on conflict,
    /// and returns the counters it started from and `change`'s result.
    pub async fn update_counters<T>(
        &self,
        user_id: i64,
        change: impl FnMut(&mut Counters) -> T,
    ) -> Result<(Counters, T), sqlx::Error> {
        self.change_counters(Owner::Account(user_id), change).await
    }

    /// Like [`Db::update_counters`] for a login that matches no account, named by its
    /// pseudonym (see `crypto::LoginPseudonyms`); the row is created on first use.
    pub async fn update_unknown_login_counters<T>(
        &self,
        login_key: &str,
        change: impl FnMut(&mut Counters) -> T,
    ) -> Result<(Counters, T), sqlx::Error> {
        sqlx::query(
            "INSERT INTO unknown_login_counters (login_key) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(login_key)
        .execute(self.pool())
        .await?;
        self.change_counters(Owner::UnknownLogin(login_key), change)
            .await
    }

    /// Deletes the unknown-login rows whose last failure is older than `before`: by then
    /// neither the hourly cap nor the longest delay depends on them.
    pub async fn prune_unknown_login_counters(&self, before: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "DELETE FROM unknown_login_counters
             WHERE pw_last_failure_at IS NULL OR pw_last_failure_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn read_counters(&self, owner: Owner<'_>) -> Result<Counters, sqlx::Error> {
        let (table, key) = owner.table();
        let sql = format!(
            "SELECT {} FROM {table} WHERE {key} = $1",
            COLUMNS.join(", ")
        );
        let row = owner
            .bind(sqlx::query(&sql))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref()
            .map_or(Ok(Counters::default()), counters_from_row)
    }

    async fn change_counters<T>(
        &self,
        owner: Owner<'_>,
        mut change: impl FnMut(&mut Counters) -> T,
    ) -> Result<(Counters, T), sqlx::Error> {
        loop {
            let old = self.read_counters(owner).await?;
            let mut new = old;
            let out = change(&mut new);
            if new == old || self.swap_counters(owner, &old, &new).await? {
                return Ok((old, out));
            }
        }
    }

    /// Writes `new` if the row still holds `old`; `false` when another request changed it first
    /// (the caller re-reads and re-decides).
    async fn swap_counters(
        &self,
        owner: Owner<'_>,
        old: &Counters,
        new: &Counters,
    ) -> Result<bool, sqlx::Error> {
        let (table, key) = owner.table();
        // Binds in order: the new values ($1..$n), the key ($n+1), the old values ($n+2..).
        let n = COLUMNS.len();
        let set: Vec<String> = (COLUMNS.iter().enumerate())
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let unchanged: Vec<String> = (COLUMNS.iter().enumerate())
            .map(|(i, c)| format!("{c} IS NOT DISTINCT FROM ${}", n + 2 + i))
            .collect();
        let sql = format!(
            "UPDATE {table} SET {} WHERE {key} = ${} AND {}",
            set.join(", "),
            n + 1,
            unchanged.join(" AND ")
        );
        let mut q = sqlx::query(&sql);
        for v in column_values(new) {
            q = q.bind(v);
        }
        q = owner.bind(q);
        for v in column_values(old) {
            q = q.bind(v);
        }
        let done = q.execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_at(now: i64) -> impl FnMut(&mut Counters) {
        move |c| c.record_password_attempt(now)
    }

    #[tokio::test]
    async fn unknown_login_counters_accumulate_per_key_and_are_pruned_when_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("t.db")).await.expect("open");
        db.update_unknown_login_counters("old", fail_at(1_000))
            .await
            .expect("update");
        for now in [5_000, 6_000] {
            db.update_unknown_login_counters("recent", fail_at(now))
                .await
                .expect("update");
        }
        let (recent, ()) = db
            .update_unknown_login_counters("recent", |_| ())
            .await
            .expect("read");
        assert_eq!(
            (recent.password.consecutive, recent.password.window_count),
            (2, 2)
        );

        assert_eq!(
            db.prune_unknown_login_counters(2_000).await.expect("prune"),
            1
        );
        let (old, ()) = db
            .update_unknown_login_counters("old", |_| ())
            .await
            .expect("read");
        assert_eq!(old, Counters::default(), "the stale row was deleted");
        let (recent_again, ()) = db
            .update_unknown_login_counters("recent", |_| ())
            .await
            .expect("read");
        assert_eq!(recent_again, recent, "a live row survives pruning");
    }
}
