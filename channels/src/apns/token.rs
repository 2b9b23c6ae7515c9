//! The APNs provider token: an ES256 JWT naming the key and the team. Apple
//! refuses tokens older than an hour and throttles tokens renewed more often than
//! every 20 minutes, so one is kept for 50 minutes.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::ApnsConfig;
use crate::BuildError;

const TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

/// Signs and caches provider tokens. Signing is quick and synchronous, so a plain
/// mutex is enough.
pub(super) struct ProviderTokens {
    key_id: String,
    team_id: String,
    signing_key: EncodingKey,
    cached: Mutex<Option<Cached>>,
}

impl ProviderTokens {
    pub(super) fn new(config: &ApnsConfig) -> Result<Self, BuildError> {
        let signing_key =
            EncodingKey::from_ec_pem(config.signing_key_pem.expose_secret().as_bytes())
                .map_err(|error| BuildError::credential("signing_key_pem", error))?;
        let tokens = Self {
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            signing_key,
            cached: Mutex::new(None),
        };
        // Sign once now so a key of the wrong kind fails at build time, not at send.
        tokens
            .sign()
            .map_err(|error| BuildError::credential("signing_key_pem", error))?;
        Ok(tokens)
    }

    pub(super) fn current(&self) -> Result<SecretString, jsonwebtoken::errors::Error> {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(current) = cached.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(current.token.clone());
        }
        let token = SecretString::from(self.sign()?);
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + TOKEN_LIFETIME,
        });
        Ok(token)
    }

    /// Forgets the token after APNs called it expired or invalid.
    pub(super) fn invalidate(&self) {
        *self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn sign(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(
            &header,
            &Claims {
                iss: &self.team_id,
                iat,
            },
            &self.signing_key,
        )
    }
}
