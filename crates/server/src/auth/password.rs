//! Password policy and hashing.
//!
//! Policy (NIST SP 800-63B-4, ASVS 5.0 6.2): at least 8 characters, up to 256 accepted, no
//! composition rules, and none of the 3,000 most common passwords. Hashing: argon2id with 19 MiB
//! of memory, 2 passes, 1 lane and a random salt (OWASP). A fixed dummy hash is verified when
//! the account does not exist, so that answer costs the same time as a wrong password.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;

use crate::error::ApiError;

/// Shortest password accepted, in characters.
pub const MIN_CHARS: usize = 8;
/// Longest password accepted, in characters (the standards ask for at least 64).
pub const MAX_CHARS: usize = 256;
/// argon2id memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ITERATIONS: u32 = 2;
/// argon2id lanes.
pub const PARALLELISM: u32 = 1;

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// A password as received. `Debug` never prints it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

// The stored hash is storage's type; hashing and checking passwords is here.
pub use crate::storage::users::PasswordHashString;

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Checks a new password against the policy.
pub fn check_policy(password: &Password) -> Result<(), ApiError> {
    let chars = password.0.chars().count();
    if chars < MIN_CHARS {
        return Err(ApiError::PasswordTooShort { min: MIN_CHARS });
    }
    if chars > MAX_CHARS {
        return Err(ApiError::PasswordTooLong { max: MAX_CHARS });
    }
    if common_passwords().contains(password.0.to_lowercase().as_str()) {
        return Err(ApiError::PasswordTooCommon);
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes with argon2id and a fresh salt. CPU-heavy: call from the blocking pool.
pub fn hash(password: &Password) -> PasswordHashString {
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2()
        .hash_password(password.0.as_bytes(), &salt)
        .expect("argon2 with valid parameters and a generated salt cannot fail")
        .to_string();
    PasswordHashString(phc)
}

/// Whether `password` matches `stored` (argon2id, or bcrypt for an imported account); a
/// malformed stored hash never matches. CPU-heavy.
pub fn verify(password: &Password, stored: &PasswordHashString) -> bool {
    if is_bcrypt(&stored.0) {
        return verify_bcrypt(password, &stored.0);
    }
    match PasswordHash::new(&stored.0) {
        Ok(parsed) => argon2()
            .verify_password(password.0.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether `stored` is a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, cost 4-31, 22 salt and 31 hash
/// characters), as passport-style backends store them. Only accounts moved over by
/// `facegate admin import-users` hold one, until their first successful sign-in replaces it
/// with argon2id ([`needs_rehash`]).
pub fn is_bcrypt(stored: &str) -> bool {
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| stored.strip_prefix(prefix))
    else {
        return false;
    };
    let Some((cost, salt_and_hash)) = rest.split_once('$') else {
        return false;
    };
    cost.len() == 2
        && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c))
        && salt_and_hash.len() == 53
        && salt_and_hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

/// Verifies against an imported bcrypt hash. bcrypt reads only the first 72 bytes of the
/// password, as the old backend did, so the same password keeps working. CPU-heavy.
fn verify_bcrypt(password: &Password, stored: &str) -> bool {
    bcrypt::verify(password.0.as_bytes(), stored).unwrap_or(false)
}

/// Whether a verified `stored` hash should be replaced by [`hash`] of the same password: true
/// for imported bcrypt hashes, which are weaker than the policy's argon2id.
pub fn needs_rehash(stored: &PasswordHashString) -> bool {
    is_bcrypt(&stored.0)
}

fn dummy_hash() -> &'static PasswordHashString {
    static DUMMY: OnceLock<PasswordHashString> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&Password::new("dummy password, never matches".into())))
}

/// Computes the dummy hash now, so the first unknown-account login is not slower than the rest.
/// CPU-heavy.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// Spends the time of one verification against a hash of the same cost, for unknown accounts.
pub fn verify_dummy(password: &Password) {
    let _ = verify(password, dummy_hash());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::new(s.to_owned())
    }

    #[test]
    fn common_list_holds_three_thousand_entries() {
        assert_eq!(common_passwords().len(), 3000);
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(matches!(
            check_policy(&pw("password1")),
            Err(ApiError::PasswordTooCommon)
        ));
        assert!(matches!(
            check_policy(&pw("Qwertyuiop")),
            Err(ApiError::PasswordTooCommon)
        ));
    }

    #[test]
    fn length_bounds_are_enforced_in_characters() {
        assert!(matches!(
            check_policy(&pw("7 chars")),
            Err(ApiError::PasswordTooShort { .. })
        ));
        assert!(check_policy(&pw("ééééééééx")).is_ok());
        assert!(
            check_policy(&pw(&"a9".repeat(32))).is_ok(),
            "64 characters must be accepted"
        );
        assert!(matches!(
            check_policy(&pw(&"z".repeat(MAX_CHARS + 1))),
            Err(ApiError::PasswordTooLong { .. })
        ));
    }

    #[test]
    fn hash_is_argon2id_19mib_t2_p1_and_verifies() {
        let h = hash(&pw("correct horse battery"));
        assert!(
            h.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            h.0
        );
        assert!(verify(&pw("correct horse battery"), &h));
        assert!(!verify(&pw("correct horse battery!"), &h));
    }

    #[test]
    fn bcrypt_hashes_of_every_prefix_verify_and_are_recognised() {
        let made = bcrypt::hash("old tutorial password", 4).expect("bcrypt");
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let stored = PasswordHashString(format!("{prefix}{}", &made[4..]));
            assert!(is_bcrypt(&stored.0) && needs_rehash(&stored), "{prefix}");
            assert!(verify(&pw("old tutorial password"), &stored), "{prefix}");
            assert!(!verify(&pw("old tutorial passwore"), &stored), "{prefix}");
        }
    }

    #[test]
    fn malformed_bcrypt_strings_and_argon2_are_not_bcrypt() {
        let made = bcrypt::hash("x", 4).expect("bcrypt");
        for bad in [
            &made[..made.len() - 1],
            &made.replacen("$04$", "$03$", 1),
            &made.replacen("$2b$", "$2x$", 1),
            &format!("{made}=",),
            "$2b$10$",
            "plain text",
            "",
        ] {
            assert!(!is_bcrypt(bad), "{bad}");
        }
        assert!(!needs_rehash(&hash(&pw("correct horse battery"))));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!(
            "{:?} {:?}",
            pw("hunter22hunter"),
            PasswordHashString("$argon2id$x".into())
        );
        assert!(
            !shown.contains("hunter") && !shown.contains("argon2id"),
            "{shown}"
        );
    }
}
