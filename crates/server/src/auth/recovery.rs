//! Recovery codes: 10 single-use codes of 80 random bits each, shown once and stored as their
//! SHA-256 (the entropy makes a slow hash unnecessary). A code completes a sign-in begun with
//! the password, or begins one when the password is lost (then the face or a passkey must
//! follow, and the session may set a new password).

use rand::Rng;
use sha2::{Digest, Sha256};

use super::factors::{
    admit_second_factor_attempt, complete_sign_in, open_first_step, require_second_step,
    second_factor_failed, second_factor_succeeded,
};
use super::policy::Factor;
use super::session::{AnySession, FullSession, SessionHash, SessionToken};
use super::Auth;
use super::{audit, now_ms, Client};
use crate::error::{ApiError, ApiResult};
use crate::storage::audit::AuditKind;

pub const CODES_PER_SET: usize = 10;
/// 16 characters of a 32-letter alphabet: 80 bits.
const CODE_CHARS: usize = 16;
/// Crockford's base32: no i, l, o or u, and [`normalise`] reads those look-alikes as the digits
/// they resemble, since codes are copied by hand from paper.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A code as shown: four groups of four (`abcd-efgh-jkmn-pqrs`).
fn generate_code(rng: &mut impl Rng) -> String {
    let chars: Vec<u8> = (0..CODE_CHARS)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
        .collect();
    chars
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as typed, reduced to its characters: case, spaces and dashes do not matter.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect()
}

/// What is stored: bound to the account, so a code of one account is nothing for another.
fn code_hash(user_id: i64, code: &str) -> String {
    hex::encode(Sha256::digest(
        format!("facegate recovery code v1:{user_id}:{}", normalise(code)).as_bytes(),
    ))
}

/// Replaces the account's recovery codes by a fresh set and returns it (the only time the codes
/// are seen). Needs a recent sign-in; the old set stops working.
pub async fn regenerate(
    state: &Auth<'_>,
    session: &FullSession,
    client: &Client,
) -> ApiResult<Vec<String>> {
    session.require_recent_sign_in(&state.config.sessions, now_ms())?;
    let codes: Vec<String> = {
        let mut rng = rand::rngs::OsRng;
        (0..CODES_PER_SET)
            .map(|_| generate_code(&mut rng))
            .collect()
    };
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| code_hash(session.user_id, c))
        .collect();
    state
        .db
        .replace_recovery_codes(session.user_id, &hashes, now_ms())
        .await?;
    audit(
        state,
        Some(session.user_id),
        AuditKind::FactorAdded,
        client,
        Some(format!(
            "{CODES_PER_SET} recovery codes (any earlier set revoked)"
        )),
    )
    .await?;
    Ok(codes)
}

/// Uses one code of the account (counted and throttled like a password); returns how many are
/// left, which the user is told.
async fn use_code(state: &Auth<'_>, user_id: i64, code: &str, client: &Client) -> ApiResult<i64> {
    admit_second_factor_attempt(state, user_id, client).await?;
    let left = if normalise(code).len() == CODE_CHARS {
        state
            .db
            .use_recovery_code(user_id, &code_hash(user_id, code), now_ms())
            .await?
    } else {
        None
    };
    let Some(left) = left else {
        return Err(second_factor_failed(state, user_id, "recovery code", client).await);
    };
    second_factor_succeeded(state, user_id).await?;
    audit(
        state,
        Some(user_id),
        AuditKind::RecoveryCodeUsed,
        client,
        Some(format!("{left} left")),
    )
    .await?;
    Ok(left)
}

/// Completes a sign-in begun with the password.
pub async fn sign_in(
    state: &Auth<'_>,
    session: &AnySession,
    code: &str,
    client: &Client,
) -> ApiResult<(SessionToken, i64)> {
    require_second_step(state, session, Factor::RecoveryCode).await?;
    let left = use_code(state, session.user_id, code, client).await?;
    let token = complete_sign_in(state, session, Factor::RecoveryCode, client, now_ms()).await?;
    Ok((token, left))
}

/// Begins a sign-in with a recovery code in place of a lost password. The login must name an
/// account; an unknown one gets the same answer as a wrong code, after the same throttling.
pub async fn begin_sign_in(
    state: &Auth<'_>,
    login: &str,
    code: &str,
    previous: Option<SessionHash>,
    client: &Client,
) -> ApiResult<(SessionToken, i64)> {
    state
        .limits
        .login
        .take(client.ip)
        .await
        .map_err(|w| ApiError::RateLimited { retry_after: w })?;
    let Some((user, _)) = state.db.find_login(login).await? else {
        // Throttled under the same rules as a real account's codes, so that a lockout does not
        // tell which logins exist.
        let pseudonym = state
            .login_pseudonyms
            .of(&crate::storage::users::login_key(login));
        let who = super::account::Attempted::UnknownLogin(&pseudonym);
        super::account::admit_password_attempt(state, who, client, now_ms()).await?;
        return Err(ApiError::CodeInvalid);
    };
    let left = use_code(state, user.id, code, client).await?;
    let token = open_first_step(state, user.id, Factor::RecoveryCode, previous, client).await?;
    audit(
        state,
        Some(user.id),
        AuditKind::LoginSucceeded,
        client,
        Some("recovery code accepted in place of the password, second step pending".into()),
    )
    .await?;
    Ok((token, left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_eighty_bits_in_four_groups_without_look_alike_letters() {
        assert_eq!(
            std::collections::HashSet::<&u8>::from_iter(ALPHABET.iter()).len(),
            32
        );
        let mut rng = rand::rngs::OsRng;
        let code = generate_code(&mut rng);
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.split('-').count(), 4);
        assert!(!code.contains(['o', 'l', 'i', 'u']));
        let set: std::collections::HashSet<_> =
            (0..1000).map(|_| generate_code(&mut rng)).collect();
        assert_eq!(set.len(), 1000, "codes repeat");
    }

    #[test]
    fn a_code_matches_however_it_is_typed_but_only_for_its_account() {
        let code = "abcd-efgh-jkmn-p01s";
        assert_eq!(code_hash(7, code), code_hash(7, " ABCD EFGH-jkmn pOIs "));
        assert_eq!(code_hash(7, code), code_hash(7, "abcdefghjkmnpolS"));
        assert_ne!(code_hash(7, code), code_hash(8, code));
        assert_ne!(code_hash(7, code), code_hash(7, "abcd-efgh-jkmn-p01t"));
    }
}
