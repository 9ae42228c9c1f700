//! Single-use values (captcha answers, OAuth2 states, one-time login codes) and the login-attempt
//! counters of the lockout, in process.

use super::{Inner, MemoryStore};
use crate::store::{lock_seconds, Attempt, AttemptKeys, StoreError};

impl Inner {
    fn number(&self, key: &str, now: i64) -> i64 {
        self.numbers
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map_or(0, |(v, _)| *v)
    }

    fn incr(&mut self, key: String, ttl: i64, now: i64) -> i64 {
        let v = self.number(&key, now) + 1;
        self.numbers.insert(key, (v, now + ttl));
        v
    }

    fn sweep(&mut self, now: i64) {
        self.values.retain(|_, (_, exp)| *exp > now);
        self.numbers.retain(|_, (_, exp)| *exp > now);
    }
}

impl MemoryStore {
    pub async fn put_once(
        &self,
        ns: &str,
        id: &str,
        value: &str,
        ttl: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.sweep(now);
        inner
            .values
            .insert(format!("{ns}:{id}"), (value.to_owned(), now + ttl));
        Ok(())
    }

    pub async fn take_once(
        &self,
        ns: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut inner = self.lock()?;
        Ok(inner
            .values
            .remove(&format!("{ns}:{id}"))
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v))
    }

    pub async fn peek_once(
        &self,
        ns: &str,
        id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .values
            .get(&format!("{ns}:{id}"))
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone()))
    }

    pub async fn login_attempt(
        &self,
        keys: &AttemptKeys,
        now: i64,
        l: &crate::config::LockoutSettings,
    ) -> Result<Attempt, StoreError> {
        let mut inner = self.lock()?;
        inner.sweep(now);
        for k in [&keys.pair, &keys.account] {
            let until = inner.number(&format!("lock:{k}"), now);
            if until > now {
                return Ok(Attempt::Locked { until });
            }
        }
        let pair = inner.incr(format!("fail:{}", keys.pair), l.max_seconds, now);
        let account = inner.incr(format!("fail:{}", keys.account), l.max_seconds, now);
        let mut locked_until = None;
        for (k, n, limit) in [
            (&keys.pair, pair, l.threshold),
            (&keys.account, account, l.account_threshold),
        ] {
            if n > i64::from(limit) {
                let count = inner.incr(format!("locks:{k}"), 2 * l.max_seconds, now);
                let secs = lock_seconds(count as u32, l);
                inner
                    .numbers
                    .insert(format!("lock:{k}"), (now + secs, now + secs));
                inner.numbers.remove(&format!("fail:{k}"));
                locked_until = locked_until.max(Some(now + secs));
            }
        }
        Ok(match locked_until {
            Some(until) => Attempt::Locked { until },
            None => Attempt::Allowed,
        })
    }

    pub async fn login_succeeded(&self, keys: &AttemptKeys) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        for k in [&keys.pair, &keys.account] {
            for prefix in ["fail", "locks"] {
                inner.numbers.remove(&format!("{prefix}:{k}"));
            }
        }
        Ok(())
    }
}
