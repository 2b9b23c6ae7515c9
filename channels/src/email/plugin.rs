//! The email plugin: MIME composition, a bounded connection pool, SMTP replies
//! classified.

use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;
use secrecy::ExposeSecret;

use super::classify::{classify_error, classify_response};
use super::connect::{Connector, Protection, implicit_tls_connector};
use super::pool::SmtpPool;
use super::{SmtpConfig, SmtpSecurity, compose};
use crate::channel::wrong_kind;
use crate::prelude::*;

/// A running email channel.
pub struct EmailChannel {
    pool: SmtpPool,
    message_id_domain: Option<String>,
    max_concurrency: usize,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("message_id_domain", &self.message_id_domain)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    pub fn new(config: &SmtpConfig) -> Result<Self, BuildError> {
        if config.host.is_empty() {
            return Err(BuildError::invalid("host", "must not be empty"));
        }
        let credentials = match (&config.username, &config.password) {
            (Some(user), Some(password)) => Some(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            )),
            (None, None) => None,
            _ => {
                return Err(BuildError::invalid(
                    "username",
                    "username and password go together",
                ));
            }
        };
        let connector = Connector {
            host: config.host.clone(),
            port: config.port.unwrap_or(config.security.default_port()),
            timeout: Duration::from_secs(config.timeout_secs),
            hello_name: config
                .hello_name
                .clone()
                .map_or_else(ClientId::default, ClientId::Domain),
            protection: protection_for(config)?,
            credentials,
        };
        let max_size = config.pool.max_size.max(1) as usize;
        let idle_timeout = Duration::from_secs(config.pool.idle_timeout_secs);
        Ok(Self {
            pool: SmtpPool::new(connector, max_size, idle_timeout),
            message_id_domain: config.message_id_domain.clone(),
            max_concurrency: max_size,
        })
    }
}

fn protection_for(config: &SmtpConfig) -> Result<Protection, BuildError> {
    let extra_root = config.extra_root_certificate_pem.as_deref();
    match config.security {
        SmtpSecurity::Plain => Ok(Protection::Plain),
        SmtpSecurity::Starttls => {
            let mut parameters = TlsParameters::builder(config.host.clone());
            if let Some(pem) = extra_root {
                let certificate = Certificate::from_pem(pem.as_bytes())
                    .map_err(|error| BuildError::credential("extra_root_certificate_pem", error))?;
                parameters = parameters.add_root_certificate(certificate);
            }
            let parameters = parameters.build_rustls().map_err(BuildError::Smtp)?;
            Ok(Protection::Starttls(parameters))
        }
        SmtpSecurity::Tls => {
            let connector = implicit_tls_connector(extra_root)
                .map_err(|error| BuildError::credential("extra_root_certificate_pem", error))?;
            let server_name = ServerName::try_from(config.host.clone())
                .map_err(|error| BuildError::credential("host", error))?;
            Ok(Protection::Implicit {
                connector,
                server_name,
            })
        }
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> PluginKind {
        PluginKind::Smtp
    }

    #[tracing::instrument(skip_all, fields(channel = "email", idempotency_key = %delivery.idempotency_key))]
    async fn send(&self, delivery: &Delivery) -> DeliveryOutcome {
        let Message::Email(message) = &delivery.message else {
            return wrong_kind(self.kind(), &delivery.message);
        };
        let email = match compose(
            message,
            &delivery.idempotency_key,
            self.message_id_domain.as_deref(),
        ) {
            Ok(email) => email,
            Err(error) => return DeliveryOutcome::permanent(error.to_string()),
        };
        match self.pool.send(email.envelope(), &email.formatted()).await {
            Ok(response) => classify_response(&response),
            Err(error) => classify_error(&error),
        }
    }

    fn batch_concurrency(&self) -> usize {
        self.max_concurrency
    }
}
