//! Encrypted face templates.

use sqlx::Row;

use super::Db;
use crate::crypto::SealedTemplate;

impl Db {
    /// Replaces all templates of the user by `templates` and resets its face failure counter
    /// (re-enrolment lifts a disabled face factor), atomically.
    pub async fn replace_templates(
        &self,
        user_id: i64,
        templates: &[SealedTemplate],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM face_templates WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for t in templates {
            sqlx::query("INSERT INTO face_templates (user_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4)")
                .bind(user_id)
                .bind(&t.nonce)
                .bind(&t.ciphertext)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE auth_counters SET face_consecutive = 0, face_last_failure_at = NULL WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn templates(&self, user_id: i64) -> Result<Vec<SealedTemplate>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT nonce, ciphertext FROM face_templates WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SealedTemplate {
                    nonce: r.try_get("nonce")?,
                    ciphertext: r.try_get("ciphertext")?,
                })
            })
            .collect()
    }
}
