//! One subscriber's stream: a catch-up from the log when it resumes from behind this node, then
//! what the node's one reader of the log broadcasts (`LogNews`), until the client hangs up, is
//! deleted, fails its periodic re-check, or the node stops following the log or drains.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::slots::Slot;
use crate::actors::LogNews;
use crate::auth::clients::ApiClients;
use crate::domain::{ApiClient, EventId, Invalidation};
use crate::store::Store;
use crate::web::drain::Draining;

/// One event in the `text/event-stream` format.
fn frame(kind: &str, id: Option<EventId>, data: &serde_json::Value) -> Bytes {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    Bytes::from(format!("{id}event: {kind}\ndata: {data}\n\n"))
}

/// `None` for what API clients are not told (another client's changes).
fn invalidation(inv: &Invalidation) -> Option<serde_json::Value> {
    Some(match inv {
        Invalidation::Session(sid) => json!({"type": "session", "sid": sid}),
        Invalidation::User(uid) => json!({"type": "user", "id": uid}),
        Invalidation::Roles => json!({"type": "roles"}),
        Invalidation::Keys => json!({"type": "keys"}),
        Invalidation::Client(_) => return None,
    })
}

/// What a stream needs; it ends when this is dropped.
pub struct Subscriber {
    pub client: Arc<ApiClient>,
    pub slot: Slot,
    /// `Last-Event-ID`.
    pub asked: Option<EventId>,
    /// Where this node's log reader was when the subscription began.
    pub applied: EventId,
    pub news: broadcast::Receiver<LogNews>,
    pub recheck: Duration,
}

/// Why a stream stops.
enum End {
    HungUp,
    Stop,
}

struct Out<'a> {
    tx: &'a mpsc::Sender<Bytes>,
    after: EventId,
    client: &'a str,
}

impl Out<'_> {
    async fn send(&self, f: Bytes) -> Result<(), End> {
        self.tx.send(f).await.map_err(|_| End::HungUp)
    }

    /// The entries after the position reached; `Stop` when one says this client is gone.
    async fn entries(
        &mut self,
        gap: bool,
        events: &[(EventId, Invalidation)],
    ) -> Result<bool, End> {
        if gap {
            self.send(frame("reset", None, &json!({}))).await?;
        }
        let mut sent = gap;
        for (id, inv) in events {
            if *id <= self.after {
                continue;
            }
            if *inv == Invalidation::Client(self.client.to_owned()) {
                return Err(End::Stop);
            }
            self.after = *id;
            if let Some(data) = invalidation(inv) {
                self.send(frame("invalidation", Some(*id), &data)).await?;
                sent = true;
            }
        }
        Ok(sent)
    }
}

pub async fn run(
    mut sub: Subscriber,
    tx: mpsc::Sender<Bytes>,
    store: Arc<Store>,
    clients: Arc<ApiClients>,
    draining: Arc<Draining>,
) {
    let _slot = &sub.slot;
    let mut out = Out {
        tx: &tx,
        after: sub.asked.unwrap_or(sub.applied),
        client: &sub.client.id,
    };
    let result = async {
        out.send(Bytes::from_static(b"retry: 1000\n\n")).await?;
        if out.after < sub.applied {
            catch_up(&mut out, &store, sub.applied).await?;
        }
        // `ready` (with the position, so that a client reconnecting before any event resumes
        // from here) once the client has everything this node had applied when it connected.
        out.send(frame("ready", Some(out.after), &json!({})))
            .await?;
        let mut recheck = tokio::time::interval(sub.recheck);
        recheck.tick().await;
        while !draining.is_on() {
            let sent = tokio::select! {
                news = sub.news.recv() => match news {
                    Ok(LogNews::Read { gap, events }) => out.entries(gap, &events).await?,
                    Ok(LogNews::Lost) | Err(RecvError::Closed) => return Err(End::Stop),
                    // Fell behind the broadcast: entries were missed, the client must forget.
                    Err(RecvError::Lagged(_)) => out.entries(true, &[]).await?,
                },
                _ = recheck.tick() => match clients.still_valid(&sub.client).await {
                    Ok(true) => continue,
                    Ok(false) => return Err(End::Stop),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot re-check an event stream's client");
                        continue;
                    }
                },
            };
            if !sent {
                out.send(frame("heartbeat", None, &json!({}))).await?;
            }
        }
        Ok::<(), End>(())
    }
    .await;
    if let Err(End::Stop) = result {
        tracing::debug!(client = %sub.client.id, "event stream ended");
    }
}

/// Replays what the subscriber missed, from the log, through `applied` (later entries come
/// with the broadcast). Only a resuming subscriber opens a reader of its own, and only for this.
async fn catch_up(out: &mut Out<'_>, store: &Store, applied: EventId) -> Result<(), End> {
    let mut feed = store.feed().await.map_err(|e| {
        tracing::warn!(error = %e, "event stream ended: the invalidation log cannot be read");
        End::Stop
    })?;
    while out.after < applied {
        let batch = feed.next(out.after).await.map_err(|e| {
            tracing::warn!(error = %e, "event stream ended: the invalidation log cannot be read");
            End::Stop
        })?;
        let upto: Vec<_> = batch
            .events
            .into_iter()
            .filter(|(id, _)| *id <= applied)
            .collect();
        if upto.is_empty() && !batch.gap {
            break;
        }
        out.entries(batch.gap, &upto).await?;
        if let Some((id, _)) = upto.last() {
            out.after = out.after.max(*id);
        } else {
            out.after = applied;
        }
    }
    Ok(())
}
