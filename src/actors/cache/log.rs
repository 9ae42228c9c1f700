//! The invalidation log as this node's cache meets it: one reader follows it and applies every
//! entry (emptying and bypassing the cache while the log is silent), and `Invalidator` appends.

use std::sync::Arc;
use std::time::Duration;

use super::{AuthCache, LogNews, SILENT};
use crate::clock::SharedClock;
use crate::domain::{EventId, Invalidation};
use crate::store::{Store, StoreError, FEED_BLOCK};

/// Follows the invalidation log for as long as the actor lives.
pub(super) async fn follow(store: Store, shared: Arc<AuthCache>, clock: SharedClock) {
    let mut last: Option<EventId> = None;
    loop {
        match read_log(&store, &shared, &clock, &mut last).await {
            Ok(()) => {}
            Err(e) => {
                if shared.link_up() {
                    tracing::warn!(error = %e, "invalidation log lost; answering from the store until it is back");
                }
                shared.set_link(false);
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Reads the log until it fails or stays silent for `SILENT`.
async fn read_log(
    store: &Store,
    shared: &AuthCache,
    clock: &SharedClock,
    last: &mut Option<EventId>,
) -> Result<(), StoreError> {
    let silent = || StoreError::Unavailable(format!("no answer from the log for {SILENT:?}"));
    let mut feed = tokio::time::timeout(SILENT, store.feed())
        .await
        .map_err(|_| silent())??;
    let mut after = match *last {
        Some(id) => id,
        None => tokio::time::timeout(SILENT, feed.head())
            .await
            .map_err(|_| silent())??,
    };
    loop {
        let batch = tokio::time::timeout(SILENT.max(FEED_BLOCK * 2), feed.next(after))
            .await
            .map_err(|_| silent())??;
        let now = clock.unix();
        if batch.gap {
            tracing::warn!(after = %after, "invalidations were trimmed before this node read them; cache emptied");
            shared.clear();
        }
        for (id, inv) in &batch.events {
            shared.apply(inv, now);
            after = *id;
        }
        *last = Some(after);
        shared.applied.send_replace(after);
        if !shared.link_up() {
            shared.set_link(true);
            tracing::info!(at = %after, "following the invalidation log");
        }
        // No subscriber is not an error.
        let _ = shared.news.send(LogNews::Read {
            gap: batch.gap,
            events: batch.events.into(),
        });
        feed.maintain(now).await;
    }
}

/// Ends what is cached, here at once and on every other node through the log. The CLI holds one
/// without a cache of its own.
#[derive(Clone)]
pub struct Invalidator {
    pub(super) local: Option<Arc<AuthCache>>,
    pub(super) store: Store,
    pub(super) clock: SharedClock,
}

impl Invalidator {
    /// For a process without a cache (the CLI): the log only.
    pub fn log_only(store: Store, clock: SharedClock) -> Self {
        Self {
            local: None,
            store,
            clock,
        }
    }

    /// Drops the entries here at once, then appends to the log every node follows.
    pub async fn invalidate(&self, inv: Invalidation) -> Result<(), StoreError> {
        let now = self.clock.unix();
        if let Some(local) = &self.local {
            local.apply(&inv, now);
        }
        self.store.append(&inv, now).await.map(|_| ())
    }
}
