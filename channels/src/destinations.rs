//! The hosts an instance's settings point at (an SMTP relay, an MQTT broker, a push
//! provider's API, a webhook allow-list) go through the server's SSRF policy, as
//! webhook URLs do: a console user cannot aim Herald at this machine, the private
//! network or the cloud metadata service unless the server's configuration allows
//! that destination (`channels.allowed_private_destinations`).

use url::Url;

use crate::http::ssrf::SsrfGuard;
use crate::{BuildError, ChannelConfig};

impl ChannelConfig {
    /// Refuses settings that name a destination the server's policy forbids,
    /// naming the setting.
    pub async fn check_destinations(&self, server: &SsrfGuard) -> Result<(), BuildError> {
        if let Self::Webhook(config) = self {
            // A webhook's own allow-list may only narrow the server's.
            for entry in &config.allow_list {
                if !server.covers(entry) {
                    return Err(BuildError::invalid(
                        "allow_list",
                        format!(
                            "`{entry}` is not allowed by the server's \
                             channels.allowed_private_destinations"
                        ),
                    ));
                }
            }
            return Ok(());
        }
        for (field, host, port) in self.destinations()? {
            server
                .check_destination(&host, port)
                .await
                .map_err(|reason| {
                    BuildError::invalid(
                        field,
                        format!(
                            "{reason}; only the server's channels.allowed_private_destinations \
                             may make it reachable"
                        ),
                    )
                })?;
        }
        Ok(())
    }

    /// (setting, host, port) of every destination the settings name (a webhook's are
    /// per message, so none).
    pub fn destinations(&self) -> Result<Vec<(&'static str, String, u16)>, BuildError> {
        let url = |field: &'static str,
                   text: &str|
         -> Result<(&'static str, String, u16), BuildError> {
            let url = Url::parse(text).map_err(|e| BuildError::invalid(field, e.to_string()))?;
            let host = url
                .host_str()
                .ok_or_else(|| BuildError::invalid(field, "has no host"))?;
            let port = url
                .port_or_known_default()
                .ok_or_else(|| BuildError::invalid(field, "has no port"))?;
            Ok((field, host.to_owned(), port))
        };
        Ok(match self {
            Self::Smtp(config) => {
                let port = config.port.unwrap_or(config.security.default_port());
                vec![("host", config.host.clone(), port)]
            }
            Self::Mqtt(config) => vec![("host", config.host.clone(), config.port)],
            Self::Fcm(config) => {
                let mut found = vec![url("base_url", &config.base_url)?];
                if let Some(token_uri) = &config.token_uri {
                    found.push(url("token_uri", token_uri)?);
                }
                found
            }
            Self::Apns(config) => vec![url("base_url", &config.base_url)?],
            Self::Jpush(config) => vec![url("base_url", &config.base_url)?],
            Self::Webhook(_) => Vec::new(),
        })
    }
}
