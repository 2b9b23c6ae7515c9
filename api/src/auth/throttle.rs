//! Login throttling, per account and per client address, in this node's memory.
//!
//! Each failed login counts against the username and against the address it came from.
//! Past the allowed failures the key is locked out, for a time that doubles with each
//! further lock-out (up to a cap); while locked, even the right password is refused
//! with 429 and `Retry-After`, and no password is hashed. A success clears the
//! username's count, never the address's (one valid account must not reset a guesser's
//! address). Failures are forgotten after a quiet window. The maps are bounded: when
//! full, entries with nothing to remember are dropped first, then the oldest.
//!
//! Per node: behind a load balancer each node counts on its own, so an attacker gets
//! at most (nodes × allowed) guesses per lock-out window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herald_core::config::AuthConfig;

/// Keys remembered per map before old ones are dropped.
const MAX_TRACKED: usize = 100_000;
/// The longest a lock-out lasts, however often it recurs.
const MAX_LOCKOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// Failures allowed per username before it is locked.
    pub account_failures: u32,
    /// Failures allowed per client address before it is locked.
    pub address_failures: u32,
    /// The first lock-out; each further one doubles it.
    pub lockout: Duration,
    /// Failures older than this (with no lock-out running) are forgotten.
    pub window: Duration,
}

impl ThrottlePolicy {
    pub fn from_config(config: &AuthConfig) -> Self {
        Self {
            account_failures: config.login_max_failures,
            address_failures: config.login_max_failures_per_address,
            lockout: Duration::from_secs(config.login_lockout_secs),
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    lockouts: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Locked: try again after this long.
    Locked(Duration),
}

/// A lock-out that a failure just started, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedOut {
    pub key: String,
    pub for_secs: u64,
    pub failures: u32,
}

pub struct LoginThrottle {
    policy: ThrottlePolicy,
    accounts: Mutex<HashMap<String, Record>>,
    addresses: Mutex<HashMap<IpAddr, Record>>,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            accounts: Mutex::default(),
            addresses: Mutex::default(),
        }
    }

    /// Whether a login for `username` from `address` may be tried now.
    pub fn check(&self, username: &str, address: Option<IpAddr>, now: Instant) -> Verdict {
        let account = locked_for(&lock(&self.accounts), &username.to_lowercase(), now);
        let by_address =
            address.and_then(|address| locked_for(&lock(&self.addresses), &address, now));
        match account.max(by_address) {
            Some(wait) => Verdict::Locked(wait),
            None => Verdict::Allowed,
        }
    }

    /// Counts a failed login; returns the lock-outs it started (account, address).
    pub fn failed(&self, username: &str, address: Option<IpAddr>, now: Instant) -> Vec<LockedOut> {
        let mut started = Vec::new();
        let username = username.to_lowercase();
        if let Some(locked) = fail(
            &mut lock(&self.accounts),
            username.clone(),
            self.policy.account_failures,
            &self.policy,
            now,
        ) {
            started.push(LockedOut {
                key: format!("account {username}"),
                ..locked
            });
        }
        if let Some(address) = address
            && let Some(locked) = fail(
                &mut lock(&self.addresses),
                address,
                self.policy.address_failures,
                &self.policy,
                now,
            )
        {
            started.push(LockedOut {
                key: format!("address {address}"),
                ..locked
            });
        }
        started
    }

    /// A successful login clears the account's failures.
    pub fn succeeded(&self, username: &str) {
        lock(&self.accounts).remove(&username.to_lowercase());
    }
}

fn lock<K>(map: &Mutex<HashMap<K, Record>>) -> std::sync::MutexGuard<'_, HashMap<K, Record>> {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn locked_for<K: std::hash::Hash + Eq>(
    map: &HashMap<K, Record>,
    key: &K,
    now: Instant,
) -> Option<Duration> {
    let until = map.get(key)?.locked_until?;
    (until > now).then(|| until - now)
}

fn fail<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Record>,
    key: K,
    allowed: u32,
    policy: &ThrottlePolicy,
    now: Instant,
) -> Option<LockedOut> {
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        make_room(map, policy, now);
    }
    let record = map.entry(key).or_insert(Record {
        failures: 0,
        lockouts: 0,
        last_failure: now,
        locked_until: None,
    });
    let lock_over = record.locked_until.is_some_and(|until| until <= now);
    if now.duration_since(record.last_failure) > policy.window && record.locked_until.is_none() {
        // A quiet window wipes the slate.
        *record = Record {
            failures: 0,
            lockouts: 0,
            last_failure: now,
            locked_until: None,
        };
    }
    if lock_over {
        record.locked_until = None;
        record.failures = 0;
    }
    record.failures += 1;
    record.last_failure = now;
    if record.failures < allowed.max(1) {
        return None;
    }
    let exponent = record.lockouts.min(16);
    let lockout = policy
        .lockout
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_LOCKOUT);
    record.lockouts += 1;
    record.locked_until = Some(now + lockout);
    Some(LockedOut {
        key: String::new(),
        for_secs: lockout.as_secs().max(1),
        failures: record.failures,
    })
}

/// Drops what no longer matters (no lock-out running, last failure outside the
/// window), then, if still full, the records whose last failure is oldest.
fn make_room<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Record>,
    policy: &ThrottlePolicy,
    now: Instant,
) {
    map.retain(|_, r| {
        r.locked_until.is_some_and(|until| until > now)
            || now.duration_since(r.last_failure) <= policy.window
    });
    if map.len() >= MAX_TRACKED {
        let mut by_age: Vec<(K, Instant)> = map
            .iter()
            .map(|(k, r)| (k.clone(), r.last_failure))
            .collect();
        by_age.sort_by_key(|(_, at)| *at);
        for (key, _) in by_age.into_iter().take(MAX_TRACKED / 10) {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy {
            account_failures: 3,
            address_failures: 5,
            lockout: Duration::from_secs(60),
            window: Duration::from_secs(900),
        })
    }

    #[test]
    fn an_account_locks_after_its_failures_and_each_lockout_doubles() {
        let t = throttle();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(t.failed("ada", Some(ip), now).is_empty());
        assert!(t.failed("Ada", Some(ip), now).is_empty());
        let started = t.failed("ada", Some(ip), now);
        assert_eq!(started[0].key, "account ada");
        assert_eq!(started[0].for_secs, 60);
        assert_eq!(
            t.check("ADA", None, now),
            Verdict::Locked(Duration::from_secs(60))
        );
        let later = now + Duration::from_secs(61);
        assert_eq!(t.check("ada", None, later), Verdict::Allowed);
        for _ in 0..2 {
            t.failed("ada", None, later);
        }
        assert_eq!(t.failed("ada", None, later)[0].for_secs, 120, "doubled");
    }

    #[test]
    fn an_address_locks_across_accounts_and_a_success_clears_only_the_account() {
        let t = throttle();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for name in ["a", "b", "c", "d"] {
            t.failed(name, Some(ip), now);
        }
        t.succeeded("d");
        let started = t.failed("e", Some(ip), now);
        assert_eq!(started[0].key, "address 192.0.2.9");
        assert!(matches!(t.check("f", Some(ip), now), Verdict::Locked(_)));
        assert_eq!(t.check("f", None, now), Verdict::Allowed);
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_window() {
        let t = throttle();
        let now = Instant::now();
        t.failed("ada", None, now);
        t.failed("ada", None, now);
        let much_later = now + Duration::from_secs(901);
        assert!(t.failed("ada", None, much_later).is_empty());
    }
}
