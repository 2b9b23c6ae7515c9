//! Subscriber tokens: short-lived HS256 JWTs whose `sub` is the subscriber's external
//! id and `exp` their expiry (seconds since the epoch). Herald mints them for a product
//! holding an API key, or the product's backend signs them itself with the configured
//! secret. A token lets its holder read and acknowledge that one subscriber's inbox.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where the generated secret is kept when none is configured.
const KEY_NAME: &str = "subscriber-tokens";
/// The longest a token may live.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    /// Set on tokens Herald mints; a product's own tokens may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
}

/// Signs and checks subscriber tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    /// The configured secret, or the one kept in the database (created on first use,
    /// so every node shares it).
    pub async fn load(conn: &impl ConnectionTrait, configured: &SecretString) -> Result<Self> {
        let secret = match configured.expose_secret() {
            "" => crate::secrets::stored_key(conn, KEY_NAME).await?,
            given => given.as_bytes().to_vec(),
        };
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        })
    }

    /// A token for `external_id` that expires `ttl` from `now`.
    pub fn mint(
        &self,
        external_id: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>)> {
        let expires_at = now + ttl;
        let claims = Claims {
            sub: external_id.to_owned(),
            exp: expires_at.timestamp(),
            iat: Some(now.timestamp()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::invalid("token", e.to_string()))?;
        Ok((token, expires_at))
    }

    /// The external id a valid, unexpired token names. Only HS256 is accepted.
    pub fn verify(&self, token: &str) -> Result<String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims.sub)
            .map_err(|_| Error::InvalidCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    #[test]
    fn a_token_names_its_subscriber_until_it_expires() {
        let keys = keys("0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let (token, expires_at) = keys.mint("user-42", Duration::minutes(5), now).unwrap();
        assert_eq!(expires_at, now + Duration::minutes(5));
        assert_eq!(keys.verify(&token).unwrap(), "user-42");
        let (old, _) = keys
            .mint("user-42", Duration::minutes(5), now - Duration::minutes(10))
            .unwrap();
        assert!(keys.verify(&old).is_err(), "expired");
    }

    #[test]
    fn another_secret_or_algorithm_is_refused() {
        let now = Utc::now();
        let (token, _) = keys("a-secret-of-at-least-thirty-two-chars")
            .mint("user-42", Duration::minutes(5), now)
            .unwrap();
        assert!(
            keys("another-secret-of-thirty-two-chars!!")
                .verify(&token)
                .is_err()
        );
        // `alg: none` with the same claims.
        let unsigned = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            token.split('.').nth(1).unwrap()
        );
        assert!(
            keys("a-secret-of-at-least-thirty-two-chars")
                .verify(&unsigned)
                .is_err()
        );
    }
}
