//! Operator passwords: argon2id with the crate's recommended parameters.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::error::{Error, Result};

pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::PasswordHash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Burns the time of one verification, so an unknown username answers as slowly as a
/// wrong password and cannot be told apart by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("dummy-password-for-timing").unwrap_or_default());
    let _ = verify(password, stored);
}

/// How long a login waits for a free hashing slot before it is turned away (503).
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Verifies `attempt` against `stored` (or burns the same time when there is no stored
/// hash) on a blocking thread, at most `slots` at once: argon2 takes tens of
/// milliseconds of CPU, which on the async runtime would stall every other request
/// of the node during a login flood.
pub async fn verify_off_runtime(
    slots: &tokio::sync::Semaphore,
    attempt: &str,
    stored: Option<&str>,
) -> Result<bool> {
    let _slot = tokio::time::timeout(HASH_WAIT, slots.acquire())
        .await
        .map_err(|_| Error::Busy("too many logins at once; try again shortly"))?
        .map_err(|_| Error::Internal("the password check is shut down"))?;
    let attempt = attempt.to_owned();
    let stored = stored.map(str::to_owned);
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify(&attempt, &stored),
        None => {
            verify_dummy(&attempt);
            false
        }
    })
    .await
    .map_err(|_| Error::Internal("the password check stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// On a one-thread runtime, another task keeps running while a hash is verified:
    /// the verification does not hold the runtime's thread.
    #[tokio::test(flavor = "current_thread")]
    async fn verification_leaves_the_runtime_free() {
        let stored = hash("correct horse battery").unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        let slots = tokio::sync::Semaphore::new(1);
        let ok = verify_off_runtime(&slots, "correct horse battery", Some(&stored))
            .await
            .unwrap();
        let during = ticks.load(Ordering::Relaxed);
        ticker.abort();
        assert!(ok);
        assert!(during > 0, "the other task ran while the hash was checked");
        assert!(!verify_off_runtime(&slots, "wrong", None).await.unwrap());
    }
}
