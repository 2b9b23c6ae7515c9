//! OAuth2 access tokens for FCM: an RS256-signed JWT assertion is exchanged at the
//! service account's token URI (RFC 7523), and the answer is cached until shortly
//! before it expires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::ServiceAccountKey;
use crate::http::body::MAX_BODY_BYTES;
use crate::http::{
    classify_failure_status, classify_transport_error, read_body_summary, read_capped,
};
use crate::{BuildError, DeliveryOutcome};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Google caps assertions at one hour.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
/// A token is replaced this long before it expires, so one never dies in flight.
const REFRESH_MARGIN: Duration = Duration::from_secs(120);

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

/// Hands out a valid access token, exchanging a new assertion when needed.
pub(super) struct AccessTokens {
    client_email: String,
    key_id: String,
    token_uri: String,
    signing_key: EncodingKey,
    /// An async mutex: concurrent sends wait for one exchange instead of racing.
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

impl AccessTokens {
    pub(super) fn new(account: &ServiceAccountKey) -> Result<Self, BuildError> {
        let signing_key = EncodingKey::from_rsa_pem(account.private_key.expose_secret().as_bytes())
            .map_err(|error| BuildError::credential("service_account_json.private_key", error))?;
        Ok(Self {
            client_email: account.client_email.clone(),
            key_id: account.private_key_id.clone(),
            token_uri: account.token_uri.clone(),
            signing_key,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid token, or the outcome to report when none can be had.
    pub(super) async fn get(
        &self,
        client: &reqwest::Client,
    ) -> Result<SecretString, DeliveryOutcome> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(current.token.clone());
        }
        let fresh = self.exchange(client).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token after FCM called it invalid.
    pub(super) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn exchange(&self, client: &reqwest::Client) -> Result<CachedToken, DeliveryOutcome> {
        let assertion = self.assertion().map_err(|error| {
            DeliveryOutcome::permanent(format!("cannot sign the FCM token assertion: {error}"))
        })?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let started = Instant::now();
        let response = client
            .post(&self.token_uri)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|error| classify_transport_error("FCM token endpoint", &error))?;
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let summary = read_body_summary(response).await;
            // A 4xx here (invalid_grant, revoked key) is a credentials problem: it
            // stays permanent until an operator fixes the channel settings.
            return Err(classify_failure_status(
                "FCM token endpoint",
                status,
                &headers,
                &summary,
            ));
        }
        let unreadable = |error: &dyn std::fmt::Display| {
            DeliveryOutcome::retryable(format!("unreadable FCM token answer: {error}"), None)
        };
        let body = read_capped(response, MAX_BODY_BYTES)
            .await
            .map_err(|error| unreadable(&error))?;
        let answer: TokenResponse =
            serde_json::from_slice(&body.bytes).map_err(|error| unreadable(&error))?;
        let lifetime = Duration::from_secs(answer.expires_in).saturating_sub(REFRESH_MARGIN);
        Ok(CachedToken {
            token: answer.access_token,
            refresh_at: started + lifetime,
        })
    }

    fn assertion(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let claims = AssertionClaims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing_key)
    }
}
