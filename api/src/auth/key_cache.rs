//! API keys checked a moment ago, so a busy product service does not cost a database
//! read on every request. A revoked key stops working at once in the process that
//! revoked it, and within [`KEY_CACHE_TTL`] in other processes (another API node, the
//! CLI).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::entities::api_key;
use herald_core::{Result, api_keys, secrets};
use sea_orm::ConnectionTrait;

pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

struct Checked {
    key: api_key::Model,
    at: Instant,
}

pub struct KeyCache {
    ttl: Duration,
    /// By the digest of the presented key: only keys that passed the check are here.
    checked: Mutex<HashMap<String, Checked>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            checked: Mutex::default(),
        }
    }

    /// [`api_keys::authenticate`], answered from the cache while its check is fresh.
    pub async fn authenticate(
        &self,
        conn: &impl ConnectionTrait,
        presented: &str,
    ) -> Result<api_key::Model> {
        let digest = secrets::digest(presented);
        if let Some(key) = self.fresh(&digest) {
            return Ok(key);
        }
        let key = api_keys::authenticate(conn, presented).await?;
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        // Keys no longer used leave as others arrive: the map holds the keys in use.
        checked.retain(|_, c| c.at.elapsed() < self.ttl);
        checked.insert(
            digest,
            Checked {
                key: key.clone(),
                at: Instant::now(),
            },
        );
        Ok(key)
    }

    fn fresh(&self, digest: &str) -> Option<api_key::Model> {
        let checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        let hit = checked.get(digest)?;
        let live = hit.key.expires_at.is_none_or(|at| at > Utc::now());
        (live && hit.at.elapsed() < self.ttl).then(|| hit.key.clone())
    }

    /// Drops a key revoked here, so it is refused from the next request on.
    pub fn forget(&self, key_id: i64) {
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked.retain(|_, c| c.key.id != key_id);
    }
}
