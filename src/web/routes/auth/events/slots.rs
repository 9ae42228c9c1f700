//! How many event streams are open on this node, per client and in all: each costs a task and a
//! connection, and a client's secret alone must not be enough to take the node down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::EventsSettings;

pub struct Streams {
    /// How often an open stream checks its client again.
    pub recheck: std::time::Duration,
    per_client: usize,
    total: usize,
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<String, usize>,
}

/// One open stream; dropping it frees its place.
pub struct Slot {
    client: String,
    open: Arc<Mutex<Open>>,
}

impl Streams {
    pub fn new(settings: &EventsSettings) -> Self {
        Self {
            recheck: std::time::Duration::from_secs(settings.recheck_seconds),
            per_client: settings.max_streams_per_client,
            total: settings.max_streams,
            open: Arc::default(),
        }
    }

    /// A place for one more stream of `client`, unless it or the node is at its cap.
    pub fn take(&self, client: &str) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mine = open.by_client.get(client).copied().unwrap_or(0);
        if open.total >= self.total || mine >= self.per_client {
            return None;
        }
        open.total += 1;
        open.by_client.insert(client.to_owned(), mine + 1);
        Some(Slot {
            client: client.to_owned(),
            open: self.open.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total -= 1;
        if let Some(n) = open.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_client_and_in_all_and_places_come_back() {
        let streams = Streams::new(&EventsSettings {
            max_streams_per_client: 2,
            max_streams: 3,
            recheck_seconds: 60,
        });
        let a1 = streams.take("a").unwrap();
        let _a2 = streams.take("a").unwrap();
        assert!(streams.take("a").is_none(), "per client");
        let _b1 = streams.take("b").unwrap();
        assert!(streams.take("c").is_none(), "in all");
        drop(a1);
        assert!(streams.take("a").is_some());
    }
}
