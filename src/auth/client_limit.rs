//! Failed API client authentications, counted per key (a client id, an address) in fixed windows
//! on this node. Memory only: a failure costs no store call, and the bound on entries keeps an
//! attacker rotating ids or addresses from growing memory.

use quick_cache::sync::Cache;

use crate::config::ApiClientSettings;

pub struct FailureLimit {
    /// key -> (failures, start of the window)
    counts: Cache<String, (u32, i64)>,
    max: u32,
    window: i64,
}

impl FailureLimit {
    pub fn new(settings: &ApiClientSettings) -> Self {
        Self {
            counts: Cache::new(100_000),
            max: settings.max_failures,
            window: settings.failure_window_seconds,
        }
    }

    /// Seconds until the key may try again, when it has used up its failures.
    pub fn blocked(&self, key: &str, now: i64) -> Option<i64> {
        let (n, start) = self.counts.get(key)?;
        (n >= self.max && now < start + self.window).then(|| start + self.window - now)
    }

    pub fn fail(&self, key: &str, now: i64) {
        let next = match self.counts.get(key) {
            Some((n, start)) if now < start + self.window => (n.saturating_add(1), start),
            _ => (1, now),
        };
        self.counts.insert(key.to_owned(), next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_until_the_window_ends() {
        let limit = FailureLimit::new(&ApiClientSettings {
            max_failures: 2,
            failure_window_seconds: 60,
        });
        limit.fail("a", 100);
        assert_eq!(limit.blocked("a", 100), None);
        limit.fail("a", 110);
        assert_eq!(limit.blocked("a", 120), Some(40));
        assert_eq!(limit.blocked("b", 120), None, "keys are counted apart");
        assert_eq!(limit.blocked("a", 160), None, "a new window");
        limit.fail("a", 161);
        assert_eq!(limit.blocked("a", 161), None, "counting starts over");
    }
}
