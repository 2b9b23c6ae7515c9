//! Subscriber tokens: short-lived HS256 JWTs whose `sub` is the subscriber's external
//! id, `aud` the configured audience, `iat` when they were issued and `exp` their
//! expiry (seconds since the epoch). Herald mints them for a product holding an API
//! key, or the product's backend signs them itself with the configured secret. A token
//! lets its holder read and acknowledge that one subscriber's inbox.
//!
//! A token lives at most the configured maximum (`exp - iat`), and every token of a
//! subscriber issued before their tokens were last revoked is refused.

use chrono::{DateTime, Duration, DurationRound, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, IntoActiveModel, TransactionSession,
    TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, AuditContext, Change};
use crate::error::{Error, Result};

/// Where the generated secret is kept when none is configured.
const KEY_NAME: &str = "subscriber-tokens";
/// How far ahead of ours a product's clock may run when it signs `iat`.
const CLOCK_SKEW_SECS: i64 = 60;

#[derive(Debug, Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// What is read back (`aud` and `exp` are checked by the validation itself). All
/// optional: they are read before the validation runs, which names a missing claim.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub external_id: String,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    pub expires_at: DateTime<Utc>,
}

/// What tokens must satisfy, from `[auth]`.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub audience: String,
    pub max_lifetime: Duration,
}

/// Signs and checks subscriber tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    policy: TokenPolicy,
}

impl TokenKeys {
    /// The configured secret, or the one kept in the database (created on first use,
    /// so every node shares it).
    pub async fn load(
        conn: &impl ConnectionTrait,
        configured: &SecretString,
        policy: TokenPolicy,
    ) -> Result<Self> {
        let secret = match configured.expose_secret() {
            "" => crate::secrets::stored_key(conn, KEY_NAME).await?,
            given => given.as_bytes().to_vec(),
        };
        Ok(Self::from_secret(&secret, policy))
    }

    fn from_secret(secret: &[u8], policy: TokenPolicy) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            policy,
        }
    }

    pub fn max_lifetime(&self) -> Duration {
        self.policy.max_lifetime
    }

    /// A token for `external_id` issued at `issued_at` that expires `ttl` later; a
    /// `ttl` beyond the configured maximum is refused naming `ttl_secs`.
    pub fn mint(
        &self,
        external_id: &str,
        ttl: Duration,
        issued_at: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>)> {
        if ttl > self.policy.max_lifetime {
            return Err(Error::invalid(
                "ttl_secs",
                format!(
                    "must be at most {} seconds (auth.subscriber_token_max_lifetime_secs)",
                    self.policy.max_lifetime.num_seconds()
                ),
            ));
        }
        let expires_at = issued_at
            .checked_add_signed(ttl)
            .ok_or_else(|| Error::invalid("ttl_secs", "is out of range"))?;
        let claims = MintedClaims {
            sub: external_id,
            aud: &self.policy.audience,
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::invalid("token", e.to_string()))?;
        Ok((token, expires_at))
    }

    /// What a valid token says: HS256 only, signed with our secret, for our audience,
    /// issued (give or take a minute of clock skew) before `now`, unexpired, and living
    /// no longer than the maximum. Revocation is checked by the caller, against the
    /// subscriber's row ([`is_revoked`]).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.set_audience(&[&self.policy.audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|error| {
                Error::InvalidToken(match error.kind() {
                    ErrorKind::ExpiredSignature => "the subscriber token has expired",
                    ErrorKind::InvalidAudience => {
                        "the subscriber token is meant for another audience (`aud`)"
                    }
                    ErrorKind::MissingRequiredClaim(_) => {
                        "the subscriber token lacks a claim it needs: `sub`, `aud`, `iat` and `exp`"
                    }
                    _ => "the subscriber token is malformed or forged",
                })
            })?
            .claims;
        let lacking = Error::InvalidToken(
            "the subscriber token lacks a claim it needs: `sub`, `aud`, `iat` and `exp`",
        );
        let (Some(external_id), Some(issued_at), Some(exp)) = (claims.sub, claims.iat, claims.exp)
        else {
            return Err(lacking);
        };
        if issued_at > now.timestamp().saturating_add(CLOCK_SKEW_SECS) {
            return Err(Error::InvalidToken(
                "the subscriber token was issued in the future (`iat`)",
            ));
        }
        if exp.saturating_sub(issued_at) > self.policy.max_lifetime.num_seconds() {
            return Err(Error::InvalidToken(
                "the subscriber token lives longer than auth.subscriber_token_max_lifetime_secs allows",
            ));
        }
        let expires_at = DateTime::from_timestamp(exp, 0).ok_or(Error::InvalidToken(
            "the subscriber token's `exp` is out of range",
        ))?;
        Ok(VerifiedToken {
            external_id,
            issued_at,
            expires_at,
        })
    }
}

/// Whether a token issued at `issued_at` (seconds) was revoked: revocations are kept
/// as a whole second, rounded up, so a token from the very second of a revocation is
/// refused too.
pub fn is_revoked(issued_at: i64, revoked_before: Option<DateTime<Utc>>) -> bool {
    revoked_before.is_some_and(|before| issued_at < before.timestamp())
}

/// When a token minted now for a subscriber must say it was issued: not before the
/// subscriber's last revocation, or the new token would be refused with the old ones.
pub fn issue_time(now: DateTime<Utc>, revoked_before: Option<DateTime<Utc>>) -> DateTime<Utc> {
    revoked_before.map_or(now, |before| now.max(before))
}

/// Revokes every token of the subscriber issued until now, and returns their id (so
/// the caller can end their open streams). Audited.
pub async fn revoke_all(
    conn: &impl TransactionTrait,
    ctx: &AuditContext,
    external_id: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    // Up to the next whole second, since `iat` has no finer grain.
    let before = now
        .duration_trunc(Duration::seconds(1))
        .ok()
        .and_then(|second| second.checked_add_signed(Duration::seconds(1)))
        .ok_or(Error::Internal("the clock is out of range"))?;
    let txn = crate::db::begin_write(conn).await?;
    let subscriber = crate::subscribers::store::find(&txn, external_id).await?;
    let id = subscriber.id;
    let mut row = subscriber.into_active_model();
    row.tokens_revoked_before = Set(Some(before));
    row.update(&txn).await?;
    audit::record(
        &txn,
        ctx,
        Change {
            action: "subscriber.tokens.revoke",
            target_kind: "subscriber",
            target_id: Some(external_id.to_owned()),
            before: None,
            after: Some(json!({ "revoked_before": before })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-secret-of-at-least-thirty-two-chars";

    fn keys(secret: &[u8]) -> TokenKeys {
        TokenKeys::from_secret(
            secret,
            TokenPolicy {
                audience: "herald".into(),
                max_lifetime: Duration::days(1),
            },
        )
    }

    fn signed(claims: serde_json::Value) -> String {
        let key = EncodingKey::from_secret(SECRET);
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    fn refusal(result: Result<VerifiedToken>) -> &'static str {
        match result {
            Err(Error::InvalidToken(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_token_names_its_subscriber_until_it_expires() {
        let keys = keys(SECRET);
        let now = Utc::now();
        let (token, expires_at) = keys.mint("user-42", Duration::minutes(5), now).unwrap();
        assert_eq!(expires_at, now + Duration::minutes(5));
        let verified = keys.verify(&token, now).unwrap();
        assert_eq!(verified.external_id, "user-42");
        assert_eq!(verified.issued_at, now.timestamp());
        let (old, _) = keys
            .mint("user-42", Duration::minutes(5), now - Duration::minutes(10))
            .unwrap();
        assert!(refusal(keys.verify(&old, now)).contains("expired"));
    }

    #[test]
    fn another_secret_or_algorithm_is_refused() {
        let now = Utc::now();
        let (token, _) = keys(SECRET)
            .mint("user-42", Duration::minutes(5), now)
            .unwrap();
        let other = keys(b"another-secret-of-thirty-two-chars!!");
        assert!(refusal(other.verify(&token, now)).contains("forged"));
        // `alg: none` with the same claims.
        let unsigned = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            token.split('.').nth(1).unwrap()
        );
        assert!(keys(SECRET).verify(&unsigned, now).is_err());
    }

    #[test]
    fn audience_issue_time_and_lifetime_are_checked() {
        let keys = keys(SECRET);
        let now = Utc::now();
        let (iat, exp) = (now.timestamp(), now.timestamp() + 600);
        let good = json!({ "sub": "u", "aud": "herald", "iat": iat, "exp": exp });
        assert!(keys.verify(&signed(good), now).is_ok());
        // An audience list naming us is fine too (RFC 7519 allows an array).
        let listed = json!({ "sub": "u", "aud": ["crm", "herald"], "iat": iat, "exp": exp });
        assert!(keys.verify(&signed(listed), now).is_ok());
        let cases = [
            (
                json!({ "sub": "u", "aud": "crm", "iat": iat, "exp": exp }),
                "audience",
            ),
            (json!({ "sub": "u", "iat": iat, "exp": exp }), "lacks"),
            (json!({ "sub": "u", "aud": "herald", "exp": exp }), "lacks"),
            (
                json!({ "sub": "u", "aud": "herald", "iat": iat + 3600, "exp": exp + 3600 }),
                "future",
            ),
            (
                json!({ "sub": "u", "aud": "herald", "iat": iat, "exp": iat + 86_401 }),
                "longer",
            ),
            (
                json!({ "sub": "u", "aud": "herald", "iat": iat - 10, "exp": i64::MAX }),
                "longer",
            ),
        ];
        for (claims, reason) in cases {
            let said = refusal(keys.verify(&signed(claims.clone()), now));
            assert!(said.contains(reason), "{claims}: {said}");
        }
        // A minute of clock skew is forgiven.
        let skewed = json!({ "sub": "u", "aud": "herald", "iat": iat + 30, "exp": exp });
        assert!(keys.verify(&signed(skewed), now).is_ok());
    }

    #[test]
    fn minting_past_the_maximum_is_refused() {
        let keys = keys(SECRET);
        let error = keys
            .mint("u", Duration::days(2), Utc::now())
            .expect_err("two days is past the maximum");
        assert!(matches!(error, Error::Invalid { ref field, .. } if field == "ttl_secs"));
    }

    #[test]
    fn a_revocation_covers_its_own_second_and_new_tokens_start_after_it() {
        let revoked_at = DateTime::from_timestamp(1_000, 0).unwrap();
        assert!(is_revoked(999, Some(revoked_at)));
        assert!(!is_revoked(1_000, Some(revoked_at)));
        assert!(!is_revoked(5, None));
        let just_before = DateTime::from_timestamp(999, 500_000_000).unwrap();
        let issued = issue_time(just_before, Some(revoked_at));
        assert!(!is_revoked(issued.timestamp(), Some(revoked_at)));
    }
}
