//! Named, running channel instances that can be replaced while Herald runs.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::{BuildError, Channel, ChannelConfig};

/// Channel instances by name ("marketing-smtp", "ios-apns", ...). Replacing an
/// instance does not disturb sends already holding the old one: they finish on it.
#[derive(Debug, Default)]
pub struct ChannelRegistry {
    channels: RwLock<HashMap<String, Arc<dyn Channel>>>,
}

impl ChannelRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds `config` and stores it under `name`, replacing any previous instance.
    /// On a build error the previous instance stays in place.
    pub fn configure(
        &self,
        name: &str,
        config: &ChannelConfig,
    ) -> Result<Arc<dyn Channel>, BuildError> {
        let channel = config.build()?;
        self.insert(name, Arc::clone(&channel));
        Ok(channel)
    }

    /// Stores an already running channel under `name`.
    pub fn insert(&self, name: &str, channel: Arc<dyn Channel>) {
        self.write().insert(name.to_owned(), channel);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Channel>> {
        self.read().get(name).cloned()
    }

    pub fn remove(&self, name: &str) -> Option<Arc<dyn Channel>> {
        self.write().remove(name)
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().cloned().collect();
        names.sort();
        names
    }

    // A panic while holding the lock cannot leave the map half-updated (each
    // operation is a single insert or remove), so a poisoned lock is still usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<dyn Channel>>> {
        self.channels.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<dyn Channel>>> {
        self.channels
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PluginKind;

    #[test]
    fn configures_replaces_and_removes_named_channels() {
        let registry = ChannelRegistry::new();
        let config: ChannelConfig = serde_json::from_value(serde_json::json!({
            "kind": "webhook", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        }))
        .unwrap();
        registry.configure("hooks", &config).unwrap();
        assert_eq!(registry.get("hooks").unwrap().kind(), PluginKind::Webhook);
        let broken: ChannelConfig = serde_json::from_value(serde_json::json!({
            "kind": "webhook", "secret": "whsec_!!"
        }))
        .unwrap();
        assert!(registry.configure("hooks", &broken).is_err());
        assert!(
            registry.get("hooks").is_some(),
            "a failed rebuild keeps the old instance"
        );
        assert_eq!(registry.names(), vec!["hooks".to_owned()]);
        assert!(registry.remove("hooks").is_some());
        assert!(registry.get("hooks").is_none());
    }
}
