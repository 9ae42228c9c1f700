use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

use super::ApiOk;
use crate::error::ApiError;
use crate::startup::AppState;

#[derive(Serialize, Apiv2Schema)]
pub struct Health {
    pub status: &'static str,
    pub database: Option<&'static str>,
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

/// Readiness: the database and the hot store both answer.
#[api_v2_operation(tags(health))]
pub async fn ready(state: Data<AppState>) -> Result<ApiOk<Health>, ApiError> {
    state
        .repo
        .run(|r| async move { r.db().ping().await })
        .await
        .map_err(ApiError::unavailable)?;
    state.store.ping().await.map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(Health {
        status: "ready",
        database: Some(state.repo_backend),
        store: Some(if state.store.is_shared() {
            "redis"
        } else {
            "memory"
        }),
    }))
}
