//! JWT checks written against ring, independently of the jsonwebtoken crate the
//! plugins sign with: split, decode, verify the signature, return header and claims.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;

fn verify(
    token: &str,
    algorithm: &'static dyn VerificationAlgorithm,
    public_key: &[u8],
) -> (Value, Value) {
    let mut parts = token.split('.');
    let (header, claims, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(parts.next().is_none(), "a JWS has three parts");
    let signed = format!("{header}.{claims}");
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(signed.as_bytes(), &signature)
        .expect("the JWT signature verifies");
    let decode = |part: &str| {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    (decode(header), decode(claims))
}

/// RS256 with an RSA public key in PKCS#1 DER form.
pub fn verify_rs256(token: &str, public_key_pkcs1_der: &[u8]) -> (Value, Value) {
    verify(
        token,
        &signature::RSA_PKCS1_2048_8192_SHA256,
        public_key_pkcs1_der,
    )
}

/// ES256 with an uncompressed P-256 public point.
pub fn verify_es256(token: &str, public_point: &[u8]) -> (Value, Value) {
    verify(token, &signature::ECDSA_P256_SHA256_FIXED, public_point)
}
