//! Secrets at rest: channel passwords, provider keys and signing secrets are stored
//! sealed with XChaCha20-Poly1305 under a key from configuration, so a copy of the
//! database (a backup, a replica, a leaked dump) does not give them away.
//!
//! A sealed value reads `sealed:v1:<key id>:<base64 of nonce ‖ ciphertext>`. The key id
//! (the first bytes of the key's SHA-256) says which key sealed it, so a key can be
//! rotated: the new key goes in `secrets.key`, the old ones in `secrets.previous_keys`,
//! and `herald secrets reseal` seals every stored secret again under the new key.
//! The setting's name is authenticated with the value, so a sealed password cannot be
//! moved into another setting.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::SecretsConfig;
use crate::error::{Error, Result};

const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
/// Name of the generated key file under `data_dir` when no key is configured.
pub const KEY_FILE: &str = "secrets.key";

struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        Some(Self {
            id: hex::encode(&Sha256::digest(bytes)[..4]),
            cipher: XChaCha20Poly1305::new_from_slice(bytes).ok()?,
        })
    }

    fn from_base64(text: &str) -> Option<Self> {
        Self::from_bytes(&STANDARD.decode(text.trim()).ok()?)
    }
}

/// Seals and opens stored secrets. Cheap to clone behind an `Arc`.
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.current.id)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The configured key, or (when none is configured) the key kept in
    /// `data_dir/secrets.key`, generated on first use.
    pub fn from_config(config: &SecretsConfig, data_dir: &Path) -> Result<Self> {
        let invalid = |field: &str| {
            Error::invalid(
                field,
                "must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)",
            )
        };
        let current = match config.key.expose_secret() {
            "" => Self::key_file(data_dir)?,
            text => Key::from_base64(text).ok_or_else(|| invalid("secrets.key"))?,
        };
        let previous = config
            .previous_keys
            .iter()
            .map(|text| {
                Key::from_base64(text.expose_secret())
                    .ok_or_else(|| invalid("secrets.previous_keys"))
            })
            .collect::<Result<_>>()?;
        Ok(Self { current, previous })
    }

    /// A sealer with the given key alone, for tests and tools.
    pub fn with_key(bytes: &[u8; KEY_LEN]) -> Self {
        Self {
            current: Key::from_bytes(bytes).unwrap_or_else(|| unreachable!("32 bytes")),
            previous: Vec::new(),
        }
    }

    fn key_file(data_dir: &Path) -> Result<Key> {
        let path = data_dir.join(KEY_FILE);
        let unreadable = |e: std::io::Error| {
            Error::invalid(
                "secrets.key",
                format!("cannot use the key file {}: {e}", path.display()),
            )
        };
        if !path.exists() {
            std::fs::create_dir_all(data_dir).map_err(unreadable)?;
            let mut bytes = [0u8; KEY_LEN];
            rand::rng().fill_bytes(&mut bytes);
            // Written aside and linked into place, so a process sharing the data dir
            // never reads a half-written key; if another one made it first, use theirs.
            let aside = data_dir.join(format!("{KEY_FILE}.{}", crate::secrets::random_hex(8)));
            write_private(&aside, STANDARD.encode(bytes).as_bytes()).map_err(unreadable)?;
            let linked = std::fs::hard_link(&aside, &path);
            let _ = std::fs::remove_file(&aside);
            match linked {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => other.map_err(unreadable)?,
            }
        }
        let text = std::fs::read_to_string(&path).map_err(unreadable)?;
        Key::from_base64(&text).ok_or_else(|| {
            Error::invalid(
                "secrets.key",
                format!("{} does not hold a 32-byte base64 key", path.display()),
            )
        })
    }

    /// Whether `value` is already sealed (by any key).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }

    /// Seals `plaintext` as the value of the setting `name`.
    pub fn seal(&self, name: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: name.as_bytes(),
        };
        // Encryption with a valid key and nonce cannot fail (only the length of the
        // message is limited, far beyond any setting).
        let ciphertext = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}:{}", self.current.id, STANDARD.encode(sealed))
    }

    /// The plaintext of the setting `name`. A value that is not sealed (stored before
    /// sealing existed) is returned as it is; `reseal` seals it.
    pub fn open(&self, name: &str, value: &str) -> Result<SecretString> {
        let Some(rest) = value.strip_prefix(PREFIX) else {
            return Ok(value.to_owned().into());
        };
        let unreadable = |why: &str| Error::invalid(format!("settings.{name}"), why.to_owned());
        let (id, encoded) = rest
            .split_once(':')
            .ok_or_else(|| unreadable("the stored secret is damaged"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or_else(|| {
                unreadable(
                    "the stored secret was sealed with a key that is not configured \
                     (secrets.key / secrets.previous_keys)",
                )
            })?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| unreadable("the stored secret is damaged"))?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable("the stored secret is damaged"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plaintext = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| unreadable("the stored secret does not open with its key"))?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| unreadable("the stored secret is damaged"))
    }

    /// Whether `value` is sealed under the current key (nothing to reseal).
    pub fn is_current(&self, value: &str) -> bool {
        value
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: &[u8; 32], previous: &[[u8; 32]]) -> SecretsConfig {
        SecretsConfig {
            key: STANDARD.encode(key).into(),
            previous_keys: previous.iter().map(|k| STANDARD.encode(k).into()).collect(),
        }
    }

    #[test]
    fn a_sealed_value_opens_only_as_the_setting_it_was_sealed_for() {
        let sealer = Sealer::with_key(&[7; 32]);
        let sealed = sealer.seal("password", "hunter2-hunter2");
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains("hunter2"));
        assert_eq!(
            sealer.open("password", &sealed).unwrap().expose_secret(),
            "hunter2-hunter2"
        );
        assert!(sealer.open("master_secret", &sealed).is_err());
        assert_ne!(
            sealed,
            sealer.seal("password", "hunter2-hunter2"),
            "nonces differ"
        );
    }

    #[test]
    fn rotation_opens_with_previous_keys_and_reports_what_to_reseal() {
        let dir = std::env::temp_dir();
        let old = Sealer::from_config(&config(&[1; 32], &[]), &dir).unwrap();
        let sealed = old.seal("secret", "s3cret");
        let rotated = Sealer::from_config(&config(&[2; 32], &[[1; 32]]), &dir).unwrap();
        assert_eq!(
            rotated.open("secret", &sealed).unwrap().expose_secret(),
            "s3cret"
        );
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal("secret", "s3cret")));
        let without_old = Sealer::from_config(&config(&[2; 32], &[]), &dir).unwrap();
        assert!(without_old.open("secret", &sealed).is_err());
    }

    #[test]
    fn a_generated_key_is_kept_in_the_data_dir_and_reused() {
        let dir =
            std::env::temp_dir().join(format!("herald-seal-{}", crate::secrets::random_hex(6)));
        let empty = SecretsConfig {
            key: String::new().into(),
            previous_keys: Vec::new(),
        };
        let first = Sealer::from_config(&empty, &dir).unwrap();
        let second = Sealer::from_config(&empty, &dir).unwrap();
        let sealed = first.seal("secret", "x");
        assert_eq!(second.open("secret", &sealed).unwrap().expose_secret(), "x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_malformed_key_is_refused() {
        let bad = SecretsConfig {
            key: "too-short".to_owned().into(),
            previous_keys: Vec::new(),
        };
        assert!(Sealer::from_config(&bad, &std::env::temp_dir()).is_err());
    }
}
