//! The server secret key and the encryption of face templates at rest.
//!
//! A template is a 128-float descriptor sealed with AES-256-GCM under a key kept in
//! `<data_dir>/secret.key` (mode 0600, never in the database). The user id is the associated
//! data, so a ciphertext copied to another account's row fails to open.
//!
//! The same key, through a one-way derivation, also names logins that match no account
//! ([`LoginPseudonyms`]).

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use face::Descriptor;
use rand::RngCore;
use sha2::{Digest, Sha256};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Versioned prefix of the associated data, so a future format cannot be confused with this one.
const AAD_PREFIX: &[u8] = b"facegate template v1 user ";
/// The same for an authenticator-app (TOTP) secret.
const TOTP_AAD_PREFIX: &[u8] = b"facegate totp secret v1 user ";
/// The same for a live enrolment not yet attached to an account.
const PENDING_AAD_PREFIX: &[u8] = b"facegate template v1 pending enrolment ";

/// The 256-bit server key. `Debug` never prints it.
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Reads the key file, or creates it with 32 random bytes (mode 0600) when it is missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    anyhow::anyhow!("{} must hold exactly {KEY_LEN} bytes", path.display())
                })?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Reads an existing key file (`None` when there is none); never creates one, so a
    /// restore cannot pair a backup with a fresh key that opens nothing.
    pub fn load_existing(path: &Path) -> anyhow::Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        Self::load_or_create(path).map(Some)
    }

    /// Hex SHA-256 of a one-way fingerprint of the key: tells two keys apart (a backup's
    /// manifest names the key it needs) without revealing anything of the key.
    pub fn fingerprint_sha256(&self) -> String {
        let fingerprint = Sha256::new()
            .chain_update(b"facegate key fingerprint v1\0")
            .chain_update(self.0)
            .finalize();
        hex::encode(Sha256::digest(fingerprint))
    }

    fn create(path: &Path) -> anyhow::Result<Self> {
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(&key)?;
        file.sync_all()?;
        Ok(Self(key))
    }
}

/// A sealed template as stored: nonce and ciphertext (with its 16-byte tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTemplate {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedTemplate([redacted])")
    }
}

/// Seals and opens templates with the server key.
#[derive(Clone)]
pub struct TemplateCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TemplateCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemplateCipher([redacted])")
    }
}

/// Opening a template failed: wrong key, wrong user, or a damaged row.
#[derive(Debug, thiserror::Error)]
#[error("face template of user {user_id} does not decrypt")]
pub struct OpenError {
    pub user_id: i64,
}

impl TemplateCipher {
    pub fn new(key: &SecretKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(&key.0.into()),
        }
    }

    /// Encrypts `descriptor` for `user_id` under a fresh random nonce.
    pub fn seal(&self, user_id: i64, descriptor: &Descriptor) -> SealedTemplate {
        self.seal_with(&associated_data(user_id), descriptor)
    }

    /// Decrypts a template sealed for `user_id`.
    pub fn open(&self, user_id: i64, sealed: &SealedTemplate) -> Result<Descriptor, OpenError> {
        self.open_with(&associated_data(user_id), sealed)
            .ok_or(OpenError { user_id })
    }

    /// Encrypts a descriptor of a live enrolment that no account holds yet, bound to the
    /// enrolment's token hash instead of a user id.
    pub fn seal_pending(&self, token_hash: &str, descriptor: &Descriptor) -> SealedTemplate {
        self.seal_with(&pending_associated_data(token_hash), descriptor)
    }

    /// Decrypts what [`TemplateCipher::seal_pending`] sealed for the same token hash.
    pub fn open_pending(&self, token_hash: &str, sealed: &SealedTemplate) -> Option<Descriptor> {
        self.open_with(&pending_associated_data(token_hash), sealed)
    }

    /// Encrypts an authenticator-app secret for `user_id`: `nonce || ciphertext`.
    pub fn seal_totp_secret(&self, user_id: i64, secret: &[u8]) -> Vec<u8> {
        let sealed = self.seal_bytes(&totp_associated_data(user_id), secret);
        [sealed.nonce, sealed.ciphertext].concat()
    }

    /// Decrypts what [`TemplateCipher::seal_totp_secret`] sealed for the same user.
    pub fn open_totp_secret(&self, user_id: i64, blob: &[u8]) -> Option<Vec<u8>> {
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        self.open_bytes(
            &totp_associated_data(user_id),
            &SealedTemplate {
                nonce: nonce.to_vec(),
                ciphertext: ciphertext.to_vec(),
            },
        )
    }

    fn seal_with(&self, aad: &[u8], descriptor: &Descriptor) -> SealedTemplate {
        let plain: Vec<u8> = descriptor.0.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.seal_bytes(aad, &plain)
    }

    fn seal_bytes(&self, aad: &[u8], plain: &[u8]) -> SealedTemplate {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            // Encryption fails only for messages beyond GCM's 64 GiB bound; ours are < 1 KiB.
            .expect("AES-GCM encryption of a short message cannot fail");
        SealedTemplate {
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    fn open_bytes(&self, aad: &[u8], sealed: &SealedTemplate) -> Option<Vec<u8>> {
        if sealed.nonce.len() != NONCE_LEN {
            return None;
        }
        self.cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .ok()
    }

    fn open_with(&self, aad: &[u8], sealed: &SealedTemplate) -> Option<Descriptor> {
        let plain = self.open_bytes(aad, sealed)?;
        if plain.len() != 128 * 4 {
            return None;
        }
        let mut values = [0f32; 128];
        for (v, chunk) in values.iter_mut().zip(plain.chunks_exact(4)) {
            *v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Some(Descriptor(values))
    }
}

fn totp_associated_data(user_id: i64) -> Vec<u8> {
    [TOTP_AAD_PREFIX, user_id.to_string().as_bytes()].concat()
}

/// Names a login that matches no account without storing it: SHA-256 under a key derived from
/// the server key, so the unknown-login counters hold no readable (or, without the key file,
/// guessable) usernames or email addresses.
#[derive(Clone)]
pub struct LoginPseudonyms {
    key: [u8; 32],
}

impl std::fmt::Debug for LoginPseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginPseudonyms([redacted])")
    }
}

impl LoginPseudonyms {
    pub fn new(key: &SecretKey) -> Self {
        // Domain separation: the template key itself never leaves TemplateCipher.
        let key = Sha256::new()
            .chain_update(b"facegate login pseudonym key v1\0")
            .chain_update(key.0)
            .finalize()
            .into();
        Self { key }
    }

    /// Hex pseudonym of an already normalised login (`storage::users::login_key`).
    pub fn of(&self, normalised_login: &str) -> String {
        hex::encode(
            Sha256::new()
                .chain_update(self.key)
                .chain_update(normalised_login.as_bytes())
                .finalize(),
        )
    }
}

fn associated_data(user_id: i64) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(user_id.to_string().as_bytes());
    aad
}

fn pending_associated_data(token_hash: &str) -> Vec<u8> {
    let mut aad = PENDING_AAD_PREFIX.to_vec();
    aad.extend_from_slice(token_hash.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_pseudonyms_are_stable_per_key_and_differ_across_keys_and_logins() {
        let a = LoginPseudonyms::new(&SecretKey([1; KEY_LEN]));
        let b = LoginPseudonyms::new(&SecretKey([2; KEY_LEN]));
        assert_eq!(a.of("alice"), a.of("alice"));
        assert_ne!(a.of("alice"), a.of("alicf"));
        assert_ne!(a.of("alice"), b.of("alice"));
        assert!(!a.of("alice").contains("alice"));
    }

    fn descriptor(seed: f32) -> Descriptor {
        let mut v = [0f32; 128];
        for (i, x) in v.iter_mut().enumerate() {
            *x = seed + i as f32 * 0.001;
        }
        Descriptor(v)
    }

    fn cipher() -> TemplateCipher {
        TemplateCipher::new(&SecretKey([7u8; KEY_LEN]))
    }

    #[test]
    fn sealed_template_opens_for_its_user() {
        let c = cipher();
        let d = descriptor(0.25);
        let sealed = c.seal(42, &d);
        assert_eq!(c.open(42, &sealed).expect("open"), d);
    }

    #[test]
    fn template_moved_to_another_user_does_not_open() {
        let c = cipher();
        let sealed = c.seal(42, &descriptor(0.25));
        assert!(c.open(43, &sealed).is_err());
    }

    #[test]
    fn ciphertext_does_not_contain_the_plain_floats() {
        let d = descriptor(0.25);
        let sealed = cipher().seal(1, &d);
        let needle = d.0[5].to_le_bytes();
        assert!(!sealed.ciphertext.windows(4).any(|w| w == needle));
    }

    #[test]
    fn fingerprints_differ_per_key_and_do_not_contain_it() {
        let a = SecretKey([1; KEY_LEN]).fingerprint_sha256();
        assert_eq!(a, SecretKey([1; KEY_LEN]).fingerprint_sha256());
        assert_ne!(a, SecretKey([2; KEY_LEN]).fingerprint_sha256());
        assert_eq!(a.len(), 64);
        assert!(!a.contains(&hex::encode([1u8; 8])));
    }

    #[test]
    fn key_file_is_created_with_mode_0600_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("facegate-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secret.key");
        std::fs::remove_file(&path).ok();
        let a = SecretKey::load_or_create(&path).expect("create");
        let b = SecretKey::load_or_create(&path).expect("load");
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
