//! Verified API clients, kept beside the users: read once from the database, forgotten when the
//! log says the client changed (`Invalidation::Client`), and, like everything here, neither
//! consulted nor filled while the log cannot be read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{AuthCache, CacheHandle};
use crate::domain::ApiClient;

impl AuthCache {
    fn client(&self, id: &str) -> Option<Arc<ApiClient>> {
        if !self.link_up() {
            return None;
        }
        self.clients.get(id)
    }

    fn fill_client(&self, began: u64, client: Arc<ApiClient>) -> bool {
        let Ok(_guard) = self.fill_lock.lock() else {
            return false;
        };
        if !self.link_up() || self.epoch.load(Ordering::Acquire) != began {
            return false;
        }
        self.clients.insert(client.id.clone(), client);
        true
    }
}

impl CacheHandle {
    /// The client as last read from the database, when memory can answer.
    pub fn client(&self, id: &str) -> Option<Arc<ApiClient>> {
        self.shared.client(id)
    }

    /// Taken before reading a client from the database; `remember_client` drops the read if
    /// an invalidation came in between.
    pub fn client_ticket(&self) -> u64 {
        self.shared.begin_fill()
    }

    pub fn remember_client(&self, ticket: u64, client: Arc<ApiClient>) {
        self.shared.fill_client(ticket, client);
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
        assert!(c.fill_client(c.begin_fill(), client("a1c")));
        assert!(c.fill_client(c.begin_fill(), client("b1c")));
        c.apply(&Invalidation::Client("a1c".into()), 10);
        assert!(c.client("a1c").is_none());
        assert!(c.client("b1c").is_some());
        let began = c.begin_fill();
        c.apply(&Invalidation::Client("b1c".into()), 10);
        assert!(
            !c.fill_client(began, client("b1c")),
            "read before the deletion"
        );
    }
}
