//! Verified API clients, kept beside the users: read once from the database, forgotten when the
//! log says the client changed (`Invalidation::Client`) or after `cache.ttl_seconds` (a deletion
//! whose announcement was lost must not let the client in for ever), and, like everything
//! here, neither consulted nor filled while the log cannot be read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{AuthCache, CacheHandle};
use crate::domain::ApiClient;

impl AuthCache {
    fn client(&self, id: &str, now: i64) -> Option<Arc<ApiClient>> {
        if !self.link_up() {
            return None;
        }
        let (client, read_at) = self.clients.get(id)?;
        (now - read_at < self.ttl).then_some(client)
    }

    fn fill_client(&self, began: u64, client: Arc<ApiClient>, now: i64) -> bool {
        let Ok(_guard) = self.fill_lock.lock() else {
            return false;
        };
        if !self.link_up() || self.epoch.load(Ordering::Acquire) != began {
            return false;
        }
        self.clients.insert(client.id.clone(), (client, now));
        true
    }
}

impl CacheHandle {
    /// The client as last read from the database, when memory can answer.
    pub fn client(&self, id: &str, now: i64) -> Option<Arc<ApiClient>> {
        self.shared.client(id, now)
    }

    /// Taken before reading a client from the database; `remember_client` drops the read if
    /// an invalidation came in between.
    pub fn client_ticket(&self) -> u64 {
        self.shared.begin_fill()
    }

    pub fn remember_client(&self, ticket: u64, client: Arc<ApiClient>, now: i64) {
        self.shared.fill_client(ticket, client, now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cache;
    use super::*;
    use crate::domain::{ClaimSet, Invalidation};

    fn client(id: &str) -> Arc<ApiClient> {
        Arc::new(ApiClient {
            id: id.into(),
            secret_hash: "h".into(),
            claims: ClaimSet::standard(),
            audience: None,
        })
    }

    #[test]
    fn a_client_invalidation_forgets_that_client_only() {
        let c = cache();
        assert!(c.fill_client(c.begin_fill(), client("a1c"), 10));
        assert!(c.fill_client(c.begin_fill(), client("b1c"), 10));
        c.apply(&Invalidation::Client("a1c".into()), 10);
        assert!(c.client("a1c", 10).is_none());
        assert!(c.client("b1c", 10).is_some());
        let began = c.begin_fill();
        c.apply(&Invalidation::Client("b1c".into()), 10);
        assert!(
            !c.fill_client(began, client("b1c"), 10),
            "read before the deletion"
        );
    }

    #[test]
    fn a_client_is_trusted_from_memory_for_the_cache_ttl_only() {
        let c = cache();
        assert!(c.fill_client(c.begin_fill(), client("a1c"), 10));
        assert!(c.client("a1c", 10 + c.ttl - 1).is_some());
        assert!(c.client("a1c", 10 + c.ttl).is_none(), "read again");
    }
}
