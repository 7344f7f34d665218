//! Live enrolments waiting to be used by a registration or a re-enrolment.

use sqlx::Row;

use super::Db;
use crate::crypto::SealedTemplate;

/// Bytes of one sealed descriptor in the stored blob: a 12-byte nonce, then 128 f32 (512
/// bytes) of ciphertext and its 16-byte tag.
const NONCE_BYTES: usize = 12;
const SEALED_BYTES: usize = NONCE_BYTES + 512 + 16;

fn encode(templates: &[SealedTemplate]) -> Vec<u8> {
    templates
        .iter()
        .flat_map(|t| t.nonce.iter().chain(&t.ciphertext).copied())
        .collect()
}

fn decode(blob: &[u8]) -> Option<Vec<SealedTemplate>> {
    if blob.is_empty() || blob.len() % SEALED_BYTES != 0 {
        return None;
    }
    Some(
        blob.chunks_exact(SEALED_BYTES)
            .map(|c| SealedTemplate {
                nonce: c[..NONCE_BYTES].to_vec(),
                ciphertext: c[NONCE_BYTES..].to_vec(),
            })
            .collect(),
    )
}

impl Db {
    /// Stores the sealed descriptors of a live enrolment under the hash of its token.
    pub async fn insert_live_enrolment(
        &self,
        token_hash: &str,
        user_id: Option<i64>,
        templates: &[SealedTemplate],
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO live_enrolments (token_hash, user_id, sealed, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(encode(templates))
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The sealed descriptors of a live enrolment before its expiry, for the account it was
    /// made for (`None`: a registration, which only unbound enrolments serve).
    pub async fn live_enrolment(
        &self,
        token_hash: &str,
        user_id: Option<i64>,
        now: i64,
    ) -> Result<Option<Vec<SealedTemplate>>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT sealed FROM live_enrolments WHERE token_hash = $1 AND user_id IS NOT DISTINCT FROM $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => Ok(decode(&row.try_get::<Vec<u8>, _>("sealed")?)),
            None => Ok(None),
        }
    }

    /// Deletes a used live enrolment.
    pub async fn delete_live_enrolment(
        &self,
        token_hash: &str,
        user_id: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM live_enrolments WHERE token_hash = $1 AND user_id IS NOT DISTINCT FROM $2",
        )
        .bind(token_hash)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_templates_round_trip_through_the_blob() {
        let t = |b: u8| SealedTemplate {
            nonce: vec![b; NONCE_BYTES],
            ciphertext: vec![b.wrapping_add(1); 528],
        };
        let templates = vec![t(1), t(2), t(3)];
        assert_eq!(decode(&encode(&templates)), Some(templates));
        assert_eq!(decode(&[0u8; 10]), None);
        assert_eq!(decode(&[]), None);
    }
}
