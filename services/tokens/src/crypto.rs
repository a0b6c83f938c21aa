//! Secrets at rest: AES-256-GCM envelopes under named keys, so keys can rotate.
//!
//! An envelope is `[1][key id length][key id][12-byte random nonce][ciphertext and tag]`.
//! The key id travels beside the ciphertext, so a value sealed under any configured key can
//! be opened while new values are sealed under the active one: rotating means adding a key,
//! making it active, and dropping the old one once every row has been rewritten (every
//! refresh and update rewrites its row; see docs/tokens.md).
//!
//! The associated data binds an envelope to its table, column and row id ([`Binding`]):
//! moving a ciphertext to another row or column makes it fail to open instead of handing
//! one account's secret to another.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The key id of the development key, used when no key is configured.
pub const DEVELOPMENT_KEY_ID: &str = "development";

/// Where a sealed value lives: its column (`table.column`) and row id.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub column: &'static str,
    pub row: &'a str,
}

impl<'a> Binding<'a> {
    pub fn new(column: &'static str, row: &'a str) -> Self {
        Self { column, row }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the envelope is malformed")]
    Malformed,
    #[error("the envelope is sealed under key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("the envelope does not open with its key and binding")]
    Tampered,
}

/// The configured keys, one of them active.
#[derive(Clone)]
pub struct Keyring {
    keys: HashMap<String, Aes256Gcm>,
    active: String,
    development: bool,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Keyring")
            .field("key_ids", &ids)
            .field("active", &self.active)
            .finish()
    }
}

impl Keyring {
    /// Parses `kid1:<base64 of 32 bytes>,kid2:…`; `active` names the key that seals, and may
    /// be omitted when there is only one key.
    pub fn parse(spec: &str, active: Option<&str>) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("an encryption key must be KEY_ID:BASE64_KEY"))?;
            let id = id.trim();
            anyhow::ensure!(
                !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_graphic()),
                "encryption key ids are 1 to 64 printable ASCII characters"
            );
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| anyhow::anyhow!("encryption key {id:?} is not valid base64"))?;
            anyhow::ensure!(
                bytes.len() == 32,
                "encryption key {id:?} must be 32 bytes, not {}",
                bytes.len()
            );
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| anyhow::anyhow!("encryption key {id:?} must be 32 bytes"))?;
            anyhow::ensure!(
                keys.insert(id.to_owned(), cipher).is_none(),
                "encryption key {id:?} is given twice"
            );
        }
        anyhow::ensure!(!keys.is_empty(), "no encryption key is given");
        let active = match active.map(str::trim).filter(|a| !a.is_empty()) {
            Some(active) => active.to_owned(),
            None if keys.len() == 1 => keys.keys().next().cloned().unwrap_or_default(),
            None => anyhow::bail!(
                "several encryption keys are given: name the active one in TRELLIS_TOKENS_ACTIVE_KEY_ID"
            ),
        };
        anyhow::ensure!(
            keys.contains_key(&active),
            "the active key id {active:?} is not among the encryption keys"
        );
        Ok(Self {
            keys,
            active,
            development: false,
        })
    }

    /// A fixed key for development, derived from a public string: it protects nothing.
    pub fn development() -> Self {
        let key = Sha256::digest(b"trellis-tokens-development-key-not-for-production");
        let mut keys = HashMap::new();
        keys.insert(
            DEVELOPMENT_KEY_ID.to_owned(),
            Aes256Gcm::new(&Key::<Aes256Gcm>::from(<[u8; 32]>::from(key))),
        );
        Self {
            keys,
            active: DEVELOPMENT_KEY_ID.to_owned(),
            development: true,
        }
    }

    pub fn is_development(&self) -> bool {
        self.development
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Seals `secret` under the active key, bound to `binding`.
    pub fn seal(&self, secret: &Secret, binding: Binding<'_>) -> Vec<u8> {
        let cipher = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(&self.active, binding);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory value cannot fail");
        let id = self.active.as_bytes();
        let mut envelope = Vec::with_capacity(2 + id.len() + NONCE_LEN + ciphertext.len());
        envelope.push(VERSION);
        envelope.push(id.len() as u8);
        envelope.extend_from_slice(id);
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(&ciphertext);
        envelope
    }

    /// Opens an envelope sealed under any configured key for `binding`.
    pub fn open(&self, envelope: &[u8], binding: Binding<'_>) -> Result<Secret, CryptoError> {
        let (key_id, nonce, ciphertext) = split(envelope)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| CryptoError::UnknownKey(key_id.to_owned()))?;
        let aad = associated_data(key_id, binding);
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| CryptoError::Malformed)
    }

    /// The key id an envelope is sealed under.
    pub fn key_id_of(envelope: &[u8]) -> Result<&str, CryptoError> {
        split(envelope).map(|(id, _, _)| id)
    }
}

fn split(envelope: &[u8]) -> Result<(&str, &[u8], &[u8]), CryptoError> {
    let (&version, rest) = envelope.split_first().ok_or(CryptoError::Malformed)?;
    if version != VERSION {
        return Err(CryptoError::Malformed);
    }
    let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + NONCE_LEN + 16 {
        return Err(CryptoError::Malformed);
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let id = std::str::from_utf8(id).map_err(|_| CryptoError::Malformed)?;
    Ok((id, nonce, ciphertext))
}

fn associated_data(key_id: &str, binding: Binding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"trellis.tokens/1\0");
    aad.extend_from_slice(key_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(binding.column.as_bytes());
    aad.push(0);
    aad.extend_from_slice(binding.row.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_row_and_column() {
        let keyring = Keyring::parse(&format!("k1:{}", key(1)), None).unwrap();
        let secret = Secret::new("refresh-token-value");
        let sealed = keyring.seal(
            &secret,
            Binding::new("token_secrets.refresh_token", "row-a"),
        );
        assert!(
            !sealed
                .windows(secret.expose().len())
                .any(|w| w == secret.expose().as_bytes())
        );
        let opened = keyring
            .open(
                &sealed,
                Binding::new("token_secrets.refresh_token", "row-a"),
            )
            .unwrap();
        assert_eq!(opened, secret);
        assert!(matches!(
            keyring.open(
                &sealed,
                Binding::new("token_secrets.refresh_token", "row-b")
            ),
            Err(CryptoError::Tampered)
        ));
        assert!(matches!(
            keyring.open(&sealed, Binding::new("token_secrets.access_token", "row-a")),
            Err(CryptoError::Tampered)
        ));
    }

    #[test]
    fn keys_rotate_old_values_open_new_ones_use_the_active_key() {
        let old = Keyring::parse(&format!("k1:{}", key(1)), None).unwrap();
        let binding = Binding::new("credentials.secret", "row");
        let sealed_old = old.seal(&Secret::new("pw"), binding);
        let rotated = Keyring::parse(&format!("k1:{},k2:{}", key(1), key(2)), Some("k2")).unwrap();
        assert_eq!(rotated.open(&sealed_old, binding).unwrap().expose(), "pw");
        let sealed_new = rotated.seal(&Secret::new("pw"), binding);
        assert_eq!(Keyring::key_id_of(&sealed_new).unwrap(), "k2");
        let only_new = Keyring::parse(&format!("k2:{}", key(2)), None).unwrap();
        assert!(matches!(
            only_new.open(&sealed_old, binding),
            Err(CryptoError::UnknownKey(id)) if id == "k1"
        ));
        assert_ne!(
            rotated.seal(&Secret::new("pw"), binding),
            sealed_new,
            "random nonces"
        );
    }

    #[test]
    fn bad_key_specs_are_refused() {
        assert!(Keyring::parse("", None).is_err());
        assert!(Keyring::parse("k1", None).is_err());
        assert!(Keyring::parse("k1:bm90MzI=", None).is_err());
        assert!(Keyring::parse(&format!("k1:{},k2:{}", key(1), key(2)), None).is_err());
        assert!(Keyring::parse(&format!("k1:{}", key(1)), Some("k9")).is_err());
        let debug = format!(
            "{:?}",
            Keyring::parse(&format!("k1:{}", key(1)), None).unwrap()
        );
        assert!(!debug.contains(&key(1)));
    }
}
