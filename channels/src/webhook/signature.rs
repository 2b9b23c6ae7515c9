//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::BuildError;

/// Signs webhook payloads with one secret. The key lives only inside the keyed
/// HMAC state, which is cloned per signature (no re-keying per request).
#[derive(Clone)]
pub struct WebhookSigner {
    keyed: Hmac<Sha256>,
}

const SECRET_PREFIX: &str = "whsec_";

impl WebhookSigner {
    /// Reads a `whsec_<base64>` secret (the prefix is optional, as in the reference
    /// libraries).
    pub fn from_secret(secret: &str) -> Result<Self, BuildError> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let key = BASE64
            .decode(encoded)
            .map_err(|error| BuildError::credential("secret", error))?;
        if key.len() < 16 {
            return Err(BuildError::invalid(
                "secret",
                "the key must be at least 16 bytes",
            ));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|error| BuildError::credential("secret", error))?;
        Ok(Self { keyed })
    }

    /// The `webhook-signature` header value for one request.
    pub fn sign(&self, message_id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSigner([REDACTED])")
    }
}
