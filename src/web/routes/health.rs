use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

use crate::actors::repo::{Ping, RepoHandle};
use crate::error::{kind, ApiError};
use crate::store::{Store, StoreError};
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

/// Readiness: the database answers and the hot store takes writes. Not ready: 503, and `data`
/// says which dependency failed (`{"database": "ok" | "unavailable", "store": "ok" |
/// "unavailable" | "refuses writes"}`).
#[api_v2_operation(tags(health))]
pub async fn ready(
    repo: Data<RepoHandle>,
    store: Data<Store>,
    backend: Data<Backend>,
) -> Result<ApiOk<Health>, ApiError> {
    let (database, written) = futures_util::join!(repo.send(Ping {}), store.probe_write());
    if database.is_ok() && written.is_ok() {
        return Ok(ApiOk::new(Health {
            status: "ready",
            database: Some(backend.0),
            store: Some(store.name()),
        }));
    }
    let store_state = match &written {
        Ok(()) => "ok",
        Err(StoreError::Full(_)) => "refuses writes",
        Err(_) => "unavailable",
    };
    let database_state = if database.is_ok() {
        "ok"
    } else {
        "unavailable"
    };
    let cause = format!(
        "database: {}; store: {}",
        database
            .err()
            .map_or_else(|| "ok".to_owned(), |e| e.to_string()),
        written
            .err()
            .map_or_else(|| "ok".to_owned(), |e| e.to_string())
    );
    Err(ApiError::new(kind::STORE_UNAVAILABLE)
        .with_data(serde_json::json!({ "database": database_state, "store": store_state }))
        .with_source(cause))
}
