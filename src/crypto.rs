//! Encryption of secrets at rest (AES-256-GCM, a fresh random nonce per value) and
//! hashing of API tokens and OAuth states.
//!
//! Ciphertexts are stored as `v1:` + base64(nonce ‖ ciphertext ‖ tag). The caller passes
//! associated data (e.g. the installation id) so that a ciphertext copied into another
//! row does not decrypt there.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// Why a key or a ciphertext was refused. Never carries key or plaintext material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("must be 32 bytes encoded as base64 (e.g. the output of `openssl rand -base64 32`)")]
    BadKey,
    #[error("stored secret could not be decrypted (wrong XTC_SLACK_SECRET_KEY?)")]
    Decrypt,
}

/// The 32-byte key from `XTC_SLACK_SECRET_KEY` or the generated key file.
pub struct SecretKey(SecretBox<[u8; 32]>);

impl SecretKey {
    /// Decodes a base64 key (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(encoded: &str) -> Result<Self, CryptoError> {
        let trimmed = encoded.trim();
        let bytes = STANDARD
            .decode(trimmed)
            .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed.trim_end_matches('=')))
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self(SecretBox::new(Box::new(key))))
    }

    /// A 64-byte key for one `purpose` (e.g. signing and encrypting the web UI's session
    /// cookie), derived with HMAC-SHA-512 keyed by the service key, so the raw key itself is
    /// only ever used to encrypt stored secrets.
    pub fn derive_64(&self, purpose: &str) -> [u8; 64] {
        use hmac::{Hmac, Mac};
        let mut out = [0u8; 64];
        // HMAC accepts keys of any length; `new_from_slice` cannot fail here.
        if let Ok(mut mac) = <Hmac<sha2::Sha512> as Mac>::new_from_slice(self.0.expose_secret()) {
            mac.update(b"xtc-slack derived key v1\0");
            mac.update(purpose.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// Whether `other` is the same key (compared in constant time).
    pub fn same_as(&self, other: &SecretKey) -> bool {
        use subtle::ConstantTimeEq;
        self.0.expose_secret().ct_eq(other.0.expose_secret()).into()
    }

    /// A new random key, base64-encoded (for the key file).
    pub fn generate_base64() -> SecretString {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretString::from(STANDARD.encode(key))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

/// Encrypts and decrypts secrets with the service key.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
    /// Keys [`Cipher::reference`] (derived from the service key for that purpose only).
    references: std::sync::Arc<SecretBox<[u8; 64]>>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([REDACTED])")
    }
}

impl Cipher {
    /// A cipher for the given key.
    pub fn new(key: &SecretKey) -> Self {
        Self {
            aead: Aes256Gcm::new(key.0.expose_secret().into()),
            references: std::sync::Arc::new(SecretBox::new(Box::new(
                key.derive_64("opaque references"),
            ))),
        }
    }

    /// An opaque, unforgeable reference to `data` (e.g. the value of a button on a Slack
    /// card): 128 bits of HMAC-SHA-256 keyed by the service key, base64url. It names no
    /// tenant, and one cannot be made for other data without the key.
    pub fn reference(&self, data: &str) -> String {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.references.expose_secret())
        else {
            unreachable!("HMAC accepts keys of any length")
        };
        mac.update(data.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }

    /// Encrypts `plaintext`, bound to `associated_data`.
    pub fn encrypt(&self, plaintext: &SecretString, associated_data: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.expose_secret().as_bytes(),
            aad: associated_data.as_bytes(),
        };
        // AES-GCM encryption only fails for messages of more than 64 GiB.
        let sealed = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{VERSION_PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts a value produced by [`Cipher::encrypt`] with the same associated data.
    pub fn decrypt(
        &self,
        stored: &str,
        associated_data: &str,
    ) -> Result<SecretString, CryptoError> {
        let encoded = stored
            .strip_prefix(VERSION_PREFIX)
            .ok_or(CryptoError::Decrypt)?;
        let raw = STANDARD.decode(encoded).map_err(|_| CryptoError::Decrypt)?;
        if raw.len() <= NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: associated_data.as_bytes(),
        };
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)?;
        Ok(SecretString::from(text))
    }
}

/// Whether a stored text has the shape of a ciphertext of [`Cipher::encrypt`] (the
/// version prefix, then base64 of at least a nonce, a tag and one byte).
pub fn looks_encrypted(stored: &str) -> bool {
    stored
        .strip_prefix(VERSION_PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .is_some_and(|raw| raw.len() > NONCE_LEN + 16)
}

/// A random, URL-safe token with 32 bytes of entropy, with a readable prefix.
pub fn random_token(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Hex SHA-256 of a high-entropy secret (API tokens, OAuth states). A slow password hash
/// adds nothing for 256-bit random values and would cost every request.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
impl Cipher {
    /// A cipher with a new random key.
    #[allow(clippy::unwrap_used)]
    pub fn for_tests() -> Self {
        let key = SecretKey::generate_base64();
        Self::new(&SecretKey::from_base64(key.expose_secret()).unwrap())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cipher() -> Cipher {
        Cipher::for_tests()
    }

    #[test]
    fn round_trips_with_the_same_associated_data() {
        let c = cipher();
        let token = SecretString::from("xoxb-123-456-abc");
        let stored = c.encrypt(&token, "inst-1");
        assert!(!stored.contains("xoxb"));
        assert_eq!(
            c.decrypt(&stored, "inst-1").unwrap().expose_secret(),
            "xoxb-123-456-abc"
        );
    }

    #[test]
    fn refuses_other_associated_data_or_key() {
        let c = cipher();
        let stored = c.encrypt(&SecretString::from("xoxb-1"), "inst-1");
        assert_eq!(
            c.decrypt(&stored, "inst-2").err(),
            Some(CryptoError::Decrypt)
        );
        assert_eq!(
            cipher().decrypt(&stored, "inst-1").err(),
            Some(CryptoError::Decrypt)
        );
        assert_eq!(
            c.decrypt("garbage", "inst-1").err(),
            Some(CryptoError::Decrypt)
        );
        assert_eq!(
            c.decrypt("v1:AAAA", "inst-1").err(),
            Some(CryptoError::Decrypt)
        );
    }

    #[test]
    fn nonces_differ_per_value() {
        let c = cipher();
        let t = SecretString::from("xoxb-same");
        assert_ne!(c.encrypt(&t, "a"), c.encrypt(&t, "a"));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert_eq!(
            SecretKey::from_base64("short").err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            SecretKey::from_base64(&STANDARD.encode([1u8; 31])).err(),
            Some(CryptoError::BadKey)
        );
        assert!(SecretKey::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(SecretKey::from_base64(&URL_SAFE_NO_PAD.encode([1u8; 32])).is_ok());
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_from_the_raw_key() {
        let raw = [7u8; 32];
        let key = SecretKey::from_base64(&STANDARD.encode(raw)).unwrap();
        let a = key.derive_64("web-ui-session");
        assert_eq!(a, key.derive_64("web-ui-session"));
        assert_ne!(a, key.derive_64("other"));
        assert_ne!(a, [0u8; 64]);
        assert_ne!(&a[..32], &raw[..]);
    }

    #[test]
    fn keys_compare_and_ciphertexts_are_recognised() {
        let a = SecretKey::from_base64(&STANDARD.encode([1u8; 32])).unwrap();
        let a2 = SecretKey::from_base64(&URL_SAFE_NO_PAD.encode([1u8; 32])).unwrap();
        let b = SecretKey::from_base64(&STANDARD.encode([2u8; 32])).unwrap();
        assert!(a.same_as(&a2));
        assert!(!a.same_as(&b));
        let stored = Cipher::new(&a).encrypt(&SecretString::from("x"), "id");
        assert!(looks_encrypted(&stored));
        assert!(!looks_encrypted("v1: checkout peak"));
        assert!(!looks_encrypted("v1:AAAA"));
        assert!(!looks_encrypted("xoxb-1"));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token("xtcs_");
        let b = random_token("xtcs_");
        assert!(a.expose_secret().len() >= 48);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
