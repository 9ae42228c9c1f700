//! The invalidation feed over HTTP: server-sent events for services that cache what Portcullis
//! decides (the guard crate), so they need no Redis credentials and it works in embedded mode.
//!
//! Each connection follows the same log the nodes follow, from `Last-Event-ID` (or from now).
//! Every event carries its log id; a `heartbeat` comes at least every second when nothing
//! happens; a `reset` says the log no longer reaches back to the asked id (forget everything).
//! If the log cannot be read the stream ends, and a client reconnects with its last id.

use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream;
use paperclip::actix::api_v2_operation;
use serde_json::json;

use super::introspect::refuse_unless_client;
use crate::actors::CacheHandle;
use crate::auth::clients::ApiClients;
use crate::domain::{EventId, Invalidation};
use crate::error::ApiError;
use crate::store::Store;
use crate::web::drain::Draining;

/// How long an event may wait for this node's own cache to apply it.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);

/// One event in the `text/event-stream` format.
fn frame(kind: &str, id: Option<EventId>, data: &serde_json::Value) -> Bytes {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    Bytes::from(format!("{id}event: {kind}\ndata: {data}\n\n"))
}

fn invalidation(inv: &Invalidation) -> serde_json::Value {
    match inv {
        Invalidation::Session(sid) => json!({"type": "session", "sid": sid}),
        Invalidation::User(uid) => json!({"type": "user", "id": uid}),
        Invalidation::Roles => json!({"type": "roles"}),
        Invalidation::Keys => json!({"type": "keys"}),
    }
}

/// Every invalidation, as server-sent events (API clients only, HTTP Basic). Resumes after
/// `Last-Event-ID`; `heartbeat` at least every second; `reset` when the log was trimmed past it.
#[api_v2_operation(tags(auth))]
pub async fn events(
    req: HttpRequest,
    clients: Data<ApiClients>,
    store: Data<Store>,
    cache: Data<CacheHandle>,
    draining: Data<Draining>,
) -> Result<HttpResponse, ApiError> {
    if let Some(refusal) = refuse_unless_client(&req, &clients).await? {
        return Ok(refusal);
    }
    let asked: Option<EventId> = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut feed = store.feed().await.map_err(ApiError::unavailable)?;
    let head = feed.head().await.map_err(ApiError::unavailable)?;
    let after = asked.unwrap_or(head);
    // The log is read by a task of its own that sends frames to the response; when the client
    // hangs up the task ends at its next send, between reads (a read of the embedded log must
    // not be dropped half-way).
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let draining = draining.into_inner();
    let cache = cache.into_inner();
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b"retry: 1000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        // `ready` (with the position, so that a client reconnecting before any event resumes
        // from here) comes once the client has everything up to the head as it was when it
        // connected: a resumed client has then missed nothing.
        let mut ready = false;
        let mut after = after;
        while !draining.is_on() {
            let mut frames = Vec::new();
            if !ready && after >= head {
                ready = true;
                cache.applied_through(head, CATCH_UP).await;
                frames.push(frame("ready", Some(after), &json!({})));
            } else {
                let batch = match feed.next(after).await {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream ended: the invalidation log cannot be read");
                        return;
                    }
                };
                if batch.gap {
                    frames.push(frame("reset", None, &json!({})));
                }
                for (id, inv) in &batch.events {
                    frames.push(frame("invalidation", Some(*id), &invalidation(inv)));
                    after = *id;
                }
                // A client that hears of a change asks this node next (introspection): it must
                // answer with the change applied, not from what its own cache held before.
                if !batch.events.is_empty() {
                    cache.applied_through(after, CATCH_UP).await;
                }
                if frames.is_empty() {
                    frames.push(frame("heartbeat", None, &json!({})));
                }
            }
            for f in frames {
                if tx.send(f).await.is_err() {
                    return;
                }
            }
        }
    });
    let body = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // nginx and similar proxies would otherwise hold the stream back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
