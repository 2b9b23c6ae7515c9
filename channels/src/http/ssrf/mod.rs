//! The SSRF guard for webhooks: a URL given by a product service must not reach
//! this machine, the private network or the cloud metadata service.
//!
//! The check applies to the address actually connected to. Names are resolved by
//! [`GuardedResolver`], which reqwest uses for every connection, so a DNS answer
//! that changes between a check and the connect (rebinding) cannot slip past;
//! IP-literal URLs never reach a resolver and are checked by [`SsrfGuard::check_url`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::{Host, Url};

mod ranges;

pub use ranges::forbidden_range;

/// A destination the guard refused; its message says which range matched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refused to connect to {target}: {reason}")]
pub struct Refused {
    pub target: String,
    pub reason: String,
}

/// One allow-list entry: a network in CIDR form (a bare IP means just that
/// address), or an exact `host:port` (`[::1]:8080` for IPv6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AllowEntry {
    Network(IpNet),
    HostPort { host: String, port: u16 },
}

/// Why an allow-list entry could not be read.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is neither a CIDR, an IP address nor host:port")]
pub struct InvalidAllowEntry(String);

impl FromStr for AllowEntry {
    type Err = InvalidAllowEntry;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(network) = text.parse::<IpNet>() {
            return Ok(Self::Network(network));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::Network(IpNet::from(ip)));
        }
        let invalid = || InvalidAllowEntry(text.to_owned());
        let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse::<u16>().map_err(|_| invalid())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid());
        }
        Ok(Self::HostPort {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl TryFrom<String> for AllowEntry {
    type Error = InvalidAllowEntry;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<AllowEntry> for String {
    fn from(entry: AllowEntry) -> Self {
        entry.to_string()
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(network) => write!(f, "{network}"),
            Self::HostPort { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Self::HostPort { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// How long a destination's name may take to resolve when it is checked.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How a checked URL may be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Through the guarded client, whose resolver checks every address.
    Guarded,
    /// The allow-list names this exact host:port: any address it resolves to is fine.
    Trusted,
}

/// The address policy: forbidden ranges, minus what the allow-list names.
#[derive(Clone, Debug, Default)]
pub struct SsrfGuard {
    allowed_networks: Vec<IpNet>,
    allowed_host_ports: Vec<(String, u16)>,
}

impl SsrfGuard {
    pub fn new(allow_list: &[AllowEntry]) -> Self {
        let mut guard = Self::default();
        for entry in allow_list {
            match entry {
                AllowEntry::Network(network) => guard.allowed_networks.push(*network),
                AllowEntry::HostPort { host, port } => {
                    guard.allowed_host_ports.push((host.clone(), *port));
                }
            }
        }
        guard
    }

    /// Whether some URL may take the [`Route::Trusted`] path.
    pub fn has_host_port_entries(&self) -> bool {
        !self.allowed_host_ports.is_empty()
    }

    /// Refuses an address in a forbidden range unless an allowed network holds it.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        let ip = canonical(ip);
        match forbidden_range(ip) {
            Some(range) if !self.allowed_networks.iter().any(|net| net.contains(&ip)) => {
                Err(format!("{ip} is in the {range} range"))
            }
            _ => Ok(()),
        }
    }

    /// Checks what can be checked before connecting: the scheme, the allow-list's
    /// host:port entries and IP-literal hosts. Names are left to the resolver.
    pub fn check_url(&self, url: &Url) -> Result<Route, Refused> {
        let refuse = |reason: String| Refused {
            target: url.as_str().to_owned(),
            reason,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse(format!("scheme `{}` is not http(s)", url.scheme())));
        }
        let host = url.host().ok_or_else(|| refuse("no host".to_owned()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| refuse("no port".to_owned()))?;
        if self.names_host_port(&host, port) {
            return Ok(Route::Trusted);
        }
        match host {
            Host::Ipv4(ip) => self.check_ip(IpAddr::V4(ip)).map_err(refuse)?,
            Host::Ipv6(ip) => self.check_ip(IpAddr::V6(ip)).map_err(refuse)?,
            Host::Domain(_) => {}
        }
        Ok(Route::Guarded)
    }

    /// Whether this allow-list admits everything `entry` would: a network inside an
    /// allowed one, or a `host:port` listed as such (or an IP inside an allowed network).
    pub fn covers(&self, entry: &AllowEntry) -> bool {
        match entry {
            AllowEntry::Network(network) => self
                .allowed_networks
                .iter()
                .any(|allowed| allowed.contains(network)),
            AllowEntry::HostPort { host, port } => {
                self.allowed_host_ports
                    .iter()
                    .any(|(h, p)| h == host && p == port)
                    || host
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| self.allowed_networks.iter().any(|n| n.contains(&ip)))
            }
        }
    }

    /// Checks a `host:port` that an instance's settings name (an SMTP relay, an MQTT
    /// broker, a provider's API): fine when listed as such, else every address it
    /// resolves to must be allowed. A name that does not resolve now passes, as
    /// nothing can be reached through it yet; it is checked again whenever the
    /// instance is built.
    pub async fn check_destination(&self, host: &str, port: u16) -> Result<(), String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let named = match bare.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Host::Ipv4(ip),
            Ok(IpAddr::V6(ip)) => Host::Ipv6(ip),
            Err(_) => Host::Domain(bare),
        };
        if self.names_host_port(&named, port) {
            return Ok(());
        }
        let lookup = tokio::net::lookup_host((bare, port));
        let Ok(Ok(addresses)) = tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await else {
            return Ok(());
        };
        for address in addresses {
            self.check_ip(address.ip())?;
        }
        Ok(())
    }

    fn names_host_port(&self, host: &Host<&str>, port: u16) -> bool {
        if self.allowed_host_ports.is_empty() {
            return false;
        }
        let host = match host {
            Host::Domain(name) => name.to_ascii_lowercase(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        self.allowed_host_ports
            .iter()
            .any(|(allowed_host, allowed_port)| *allowed_host == host && *allowed_port == port)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are judged as the IPv4 address
/// they reach.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// A reqwest resolver that resolves with the system resolver and keeps only the
/// addresses the guard allows; the connection can only go to those.
#[derive(Debug)]
pub struct GuardedResolver {
    guard: Arc<SsrfGuard>,
}

impl GuardedResolver {
    pub fn new(guard: Arc<SsrfGuard>) -> Self {
        Self { guard }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = Arc::clone(&self.guard);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port on whatever we return.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusals = Vec::new();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match guard.check_ip(addr.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refusals.push(reason);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let reason = if refusals.is_empty() {
                    "it resolves to no address".to_owned()
                } else {
                    refusals.join("; ")
                };
                return Err(Box::new(Refused {
                    target: host,
                    reason,
                }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests;
