//! Random tokens and their one-way digests. Session tokens and API keys are high-entropy,
//! so a SHA-256 digest is enough to store them; passwords use argon2 (see `password`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};

use crate::entities::signing_key;
use crate::error::{Error, Result};

/// A URL-safe random token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Hex SHA-256 of a token, as stored in the database.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings without an early exit, so timing does not tell how much matched.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The server's secret named `name`, created at random on first use. Kept in the
/// database so every node signs and checks with the same one.
pub async fn stored_key(conn: &impl ConnectionTrait, name: &str) -> Result<Vec<u8>> {
    signing_key::Entity::insert(signing_key::ActiveModel {
        name: Set(name.to_owned()),
        secret: Set(random_hex(32)),
        created_at: Set(chrono::Utc::now()),
    })
    .on_conflict(
        OnConflict::column(signing_key::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let key = signing_key::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await?
        .ok_or(Error::NotFound {
            entity: "signing key",
        })?;
    hex::decode(key.secret).map_err(|_| Error::invalid("signing_key", "stored key is not hex"))
}
