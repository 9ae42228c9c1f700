//! What this node's one reader of the log tells everyone else in the process: the event feed's
//! streams (every subscriber shares this reader, none opens a store connection of its own to
//! follow) and introspection (the position it answers at).

use std::sync::Arc;

use tokio::sync::broadcast;

use super::CacheHandle;
use crate::domain::{EventId, Invalidation};

/// How many reads a slow subscriber may fall behind before it is told to start over.
pub const BACKLOG: usize = 1024;

#[derive(Debug, Clone)]
pub enum LogNews {
    /// One read of the log, already applied here. Empty when nothing happened: the log is
    /// alive (a read answers at least every `FEED_BLOCK`).
    Read {
        /// Entries after the previous read were trimmed before they could be read.
        gap: bool,
        events: Arc<[(EventId, Invalidation)]>,
    },
    /// The log cannot be read: anything could be missed from here on.
    Lost,
}

impl CacheHandle {
    /// The last position of the log this node has applied; `None` while it does not follow
    /// the log (it then reads everything through the store, and has no position to name).
    pub fn applied(&self) -> Option<EventId> {
        self.shared.link_up().then(|| *self.shared.applied.borrow())
    }

    /// What the log brings from now on, and the position it was applied through when the
    /// subscription began (`None`: the node is not following the log). Every entry the
    /// receiver sees after that position is new to the subscriber.
    pub fn subscribe(&self) -> (broadcast::Receiver<LogNews>, Option<EventId>) {
        let news = self.shared.news.subscribe();
        (news, self.applied())
    }
}
