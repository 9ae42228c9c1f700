//! The invalidation feed over HTTP: server-sent events for services that cache what Portcullis
//! decides (the guard crate), so they need no Redis credentials and it works in embedded mode.
//!
//! Every stream is fed by the node's one reader of the log (the cache actor's, which applies
//! each entry before it is broadcast): an event reaches a client only once this node answers
//! with it applied. Every event carries its log id; a `heartbeat` comes at least every second
//! when nothing happens; a `reset` says entries after the asked id are gone (forget
//! everything). A stream from `Last-Event-ID` behind the node catches up from the log first.
//! Streams are capped per client and in all (`events.*`, 503 with `Retry-After`); a stream ends
//! when the node stops following the log, when its client is deleted, or when a periodic
//! re-check finds the client's credentials changed.

mod slots;
mod stream;

use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream as body_stream;
use paperclip::actix::api_v2_operation;

pub use self::slots::Streams;
use self::stream::Subscriber;
use super::client_auth::authenticate_client;
use crate::actors::CacheHandle;
use crate::auth::clients::ApiClients;
use crate::domain::EventId;
use crate::error::ApiError;
use crate::store::Store;
use crate::web::drain::Draining;

/// 503 with `Retry-After`, in RFC 6749's error shape like the other refusals here.
fn unavailable(why: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .json(serde_json::json!({"error": "temporarily_unavailable", "error_description": why}))
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
    streams: Data<Streams>,
) -> Result<HttpResponse, ApiError> {
    let client = match authenticate_client(&req, &clients).await? {
        Ok(client) => client,
        Err(refusal) => return Ok(refusal),
    };
    let Some(slot) = streams.take(&client.id) else {
        return Ok(unavailable("too many open event streams"));
    };
    let (news, applied) = cache.subscribe();
    let Some(applied) = applied else {
        return Ok(unavailable(
            "this node is not following the invalidation log",
        ));
    };
    let asked: Option<EventId> = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let subscriber = Subscriber {
        client,
        slot,
        asked,
        applied,
        news,
        recheck: streams.recheck,
    };
    // The stream is fed by a task of its own that sends frames to the response; when the
    // client hangs up the task ends at its next send (at the latest with the next heartbeat).
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(stream::run(
        subscriber,
        tx,
        store.into_inner(),
        clients.into_inner(),
        draining.into_inner(),
    ));
    let body = body_stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // nginx and similar proxies would otherwise hold the stream back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
