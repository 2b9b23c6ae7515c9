//! Subscriber tokens as a product backend signs them: made here from the documented
//! format (HS256 JWT, `sub` = external id, `aud`, `iat`, `exp`), not with Herald's own code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The secret test apps configure as `auth.subscriber_token_secret`.
pub const TOKEN_SECRET: &str = "a-product-secret-of-more-than-32-characters";

/// A JWT with these claims, signed with `secret`.
pub fn sign(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

/// The claims of a token for `external_id` issued now, valid for ten minutes, for the
/// default audience.
pub fn claims(external_id: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": external_id, "aud": "herald", "iat": now, "exp": now + 600 })
}

/// A token with [`claims`], signed with [`TOKEN_SECRET`].
pub fn subscriber_token(external_id: &str) -> String {
    sign(&claims(external_id), TOKEN_SECRET)
}
