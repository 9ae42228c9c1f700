//! Stopping without dropping a request: once the server is told to stop (SIGTERM, SIGINT), every
//! answer says `Connection: close`, so each keep-alive connection ends after the request it is
//! serving, and a client opens a new connection (refused: the listener is closed) instead of
//! sending into one that is about to be closed under it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::ConnectionType,
    middleware::Next,
    web::Data,
};

/// Set when the server starts stopping.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if res
        .request()
        .app_data::<Data<Draining>>()
        .is_some_and(|d| d.is_on())
    {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}
