use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

use crate::actors::repo::{Ping, RepoHandle};
use crate::error::ApiError;
use crate::store::Store;
use crate::web::ApiOk;

#[derive(Serialize, Apiv2Schema)]
pub struct Health {
    pub status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    pub database: Option<&'static str>,
    /// `embedded` or `redis` (readiness only).
    pub store: Option<&'static str>,
}

/// Liveness: the process answers.
#[api_v2_operation(tags(health))]
pub async fn live() -> Result<ApiOk<Health>, ApiError> {
    Ok(ApiOk::new(Health {
        status: "ok",
        database: None,
        store: None,
    }))
}

/// The database backend's name, registered at start.
pub struct Backend(pub &'static str);

/// Readiness: the database answers and the hot store takes writes.
#[api_v2_operation(tags(health))]
pub async fn ready(
    repo: Data<RepoHandle>,
    store: Data<Store>,
    backend: Data<Backend>,
) -> Result<ApiOk<Health>, ApiError> {
    repo.send(Ping {}).await.map_err(ApiError::unavailable)?;
    store.probe_write().await?;
    Ok(ApiOk::new(Health {
        status: "ready",
        database: Some(backend.0),
        store: Some(store.name()),
    }))
}
