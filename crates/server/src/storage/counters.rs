//! Per-account brute-force counters, updated with compare-and-swap so concurrent attempts on
//! one account are each counted.

use sqlx::Row;

use super::Db;
use crate::auth::lockout::Counters;

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl Db {
    pub async fn counters(&self, user_id: i64) -> Result<Counters, sqlx::Error> {
        let row = sqlx::query(
            "SELECT pw_consecutive, pw_last_failure_at, pw_window_start, pw_window_count,
                    face_consecutive, face_last_failure_at
             FROM auth_counters WHERE user_id = ?",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else {
            return Ok(Counters::default());
        };
        Ok(Counters {
            pw_consecutive: to_u32(r.try_get("pw_consecutive")?),
            pw_last_failure_at: r.try_get("pw_last_failure_at")?,
            pw_window_start: r.try_get("pw_window_start")?,
            pw_window_count: to_u32(r.try_get("pw_window_count")?),
            face_consecutive: to_u32(r.try_get("face_consecutive")?),
            face_last_failure_at: r.try_get("face_last_failure_at")?,
        })
    }

    /// Writes `new` if the row still holds `old`; `false` when another request changed it first
    /// (the caller re-reads and re-decides).
    pub async fn swap_counters(
        &self,
        user_id: i64,
        old: &Counters,
        new: &Counters,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE auth_counters SET pw_consecutive = ?, pw_last_failure_at = ?, pw_window_start = ?,
                    pw_window_count = ?, face_consecutive = ?, face_last_failure_at = ?
             WHERE user_id = ? AND pw_consecutive = ? AND pw_window_count = ?
                   AND face_consecutive = ?
                   AND pw_last_failure_at IS NOT DISTINCT FROM ?
                   AND pw_window_start IS NOT DISTINCT FROM ?
                   AND face_last_failure_at IS NOT DISTINCT FROM ?",
        )
        .bind(i64::from(new.pw_consecutive))
        .bind(new.pw_last_failure_at)
        .bind(new.pw_window_start)
        .bind(i64::from(new.pw_window_count))
        .bind(i64::from(new.face_consecutive))
        .bind(new.face_last_failure_at)
        .bind(user_id)
        .bind(i64::from(old.pw_consecutive))
        .bind(i64::from(old.pw_window_count))
        .bind(i64::from(old.face_consecutive))
        .bind(old.pw_last_failure_at)
        .bind(old.pw_window_start)
        .bind(old.face_last_failure_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Applies `change` to the stored counters with compare-and-swap, retrying on conflict, and
    /// returns the counters it started from and `change`'s result.
    pub async fn update_counters<T>(
        &self,
        user_id: i64,
        mut change: impl FnMut(&mut Counters) -> T,
    ) -> Result<(Counters, T), sqlx::Error> {
        loop {
            let old = self.counters(user_id).await?;
            let mut new = old;
            let out = change(&mut new);
            if new == old || self.swap_counters(user_id, &old, &new).await? {
                return Ok((old, out));
            }
        }
    }
}
