//! The lockout: failed logins counted per (account, client address) and per account, in the
//! hot store's counters. An address that keeps failing at one account is locked out of it,
//! the lock doubling each time up to a cap. Failures from everywhere against one account only
//! slow its logins down (a delay that grows to a few seconds): they never lock the owner out
//! from an address that has not failed. Counter keys are digests of their parts, so no
//! username can be shaped into another account's key.
//!
//! Each attempt reserves its place before any password is hashed: concurrent attempts each get
//! their own count, so no more than `threshold` of them are ever hashed per window. A window's
//! counter is named by how many locks came before it, so attempts that raced past the check
//! while a lock was being set keep counting in the old window (and are refused), and the
//! window after a lock starts from zero without deleting anything.

use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::LockoutSettings;
use crate::crypto;
use crate::store::{Store, StoreError};

/// The longest an attempt waits because its account is under attack from elsewhere.
pub const MAX_DELAY: Duration = Duration::from_secs(4);
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// The answer to "may this login attempt hash a password?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Yes, after waiting this long.
    Allowed { delay: Duration },
    /// Refused until this Unix time, without hashing.
    Locked { until: i64 },
}

struct Keys {
    pair: String,
    pair_lock: String,
    pair_locks: String,
    account_failures: String,
}

impl Keys {
    /// Failures of the pair since its `locks`-th lock.
    fn pair_failures(&self, locks: i64) -> String {
        format!("login:fail:{}:{locks}", self.pair)
    }
}

fn keys(username: &str, client: &str) -> Keys {
    let pair = crypto::digest_parts(&["pair", username, client])[..32].to_owned();
    let account = &crypto::digest_parts(&["account", username])[..32];
    Keys {
        pair_lock: format!("login:lock:{pair}"),
        pair_locks: format!("login:locks:{pair}"),
        account_failures: format!("login:fail:{account}"),
        pair,
    }
}

/// Length of the n-th lock (1-based): the base, doubling, capped.
pub fn lock_seconds(n: i64, l: &LockoutSettings) -> i64 {
    let doublings = n.saturating_sub(1).clamp(0, 32) as u32;
    l.base_seconds
        .saturating_mul(1i64 << doublings)
        .min(l.max_seconds)
}

/// How long an attempt waits when its account has seen `failures` failures from anywhere.
pub fn account_delay(failures: i64, l: &LockoutSettings) -> Duration {
    let over = failures - i64::from(l.account_threshold);
    if over <= 0 {
        return Duration::ZERO;
    }
    let doublings = (over - 1).clamp(0, 16) as u32;
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

#[derive(Clone)]
pub struct Lockout {
    store: Store,
    settings: LockoutSettings,
    clock: SharedClock,
}

impl Lockout {
    pub fn new(store: Store, settings: LockoutSettings, clock: SharedClock) -> Self {
        Self {
            store,
            settings,
            clock,
        }
    }

    /// Reserves one attempt at `username` from `client` (the client's address key).
    pub async fn reserve(&self, username: &str, client: &str) -> Result<Attempt, StoreError> {
        let l = &self.settings;
        let k = keys(username, client);
        let now = self.clock.unix();
        // The window first, then the lock: whoever sets a lock sets it before it opens the next
        // window, so an attempt that sees the next window also sees the lock.
        let locks = self
            .store
            .get_number(&k.pair_locks, now)
            .await?
            .unwrap_or(0);
        if let Some(until) = self.store.get_number(&k.pair_lock, now).await? {
            if until > now {
                return Ok(Attempt::Locked { until });
            }
        }
        let pair = self
            .store
            .incr(&k.pair_failures(locks), l.max_seconds, now)
            .await?;
        let account = self
            .store
            .incr(&k.account_failures, l.max_seconds, now)
            .await?;
        let threshold = i64::from(l.threshold);
        if pair > threshold {
            if pair == threshold + 1 {
                // This attempt crossed the line: it sets the lock (the next, longer one), then
                // opens the window that follows it.
                let secs = lock_seconds(locks + 1, l);
                self.store
                    .set_number(&k.pair_lock, now + secs, secs, now)
                    .await?;
                self.store
                    .set_number(&k.pair_locks, locks + 1, 2 * l.max_seconds, now)
                    .await?;
                return Ok(Attempt::Locked { until: now + secs });
            }
            return Ok(Attempt::Locked { until: now });
        }
        Ok(Attempt::Allowed {
            delay: account_delay(account, l),
        })
    }

    /// A successful login clears the address's failures and backoff, and the account's.
    pub async fn succeeded(&self, username: &str, client: &str) -> Result<(), StoreError> {
        let k = keys(username, client);
        let now = self.clock.unix();
        let locks = self
            .store
            .get_number(&k.pair_locks, now)
            .await?
            .unwrap_or(0);
        self.store
            .remove_numbers(&[
                k.pair_failures(locks),
                k.pair_locks.clone(),
                k.account_failures.clone(),
            ])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LockoutSettings {
        LockoutSettings {
            threshold: 5,
            account_threshold: 20,
            base_seconds: 300,
            max_seconds: 86400,
        }
    }

    #[test]
    fn locks_double_up_to_the_cap() {
        let l = settings();
        assert_eq!(lock_seconds(1, &l), 300);
        assert_eq!(lock_seconds(2, &l), 600);
        assert_eq!(lock_seconds(9, &l), 76800);
        assert_eq!(lock_seconds(10, &l), 86400);
        assert_eq!(lock_seconds(i64::MAX, &l), 86400);
    }

    #[test]
    fn account_wide_failures_only_slow_down() {
        let l = settings();
        assert_eq!(account_delay(20, &l), Duration::ZERO);
        assert_eq!(account_delay(21, &l), Duration::from_millis(250));
        assert_eq!(account_delay(23, &l), Duration::from_millis(1000));
        assert_eq!(account_delay(1_000_000, &l), MAX_DELAY);
    }

    #[test]
    fn keys_cannot_be_forged_from_a_username() {
        let a = keys("alice", "198.51.100.7");
        let b = keys("alice|198.51.100.7", "203.0.113.9");
        assert_ne!(a.pair_failures(0), b.pair_failures(0));
        assert_ne!(a.account_failures, b.account_failures);
        assert_eq!(
            keys("alice", "x").account_failures,
            keys("alice", "y").account_failures
        );
    }
}
