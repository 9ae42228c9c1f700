//! The OpenAPI document as served: paperclip's, made exact where OpenAPI 2 and paperclip fall
//! short. Optional properties may be `null` (`x-nullable`, which OpenAPI 2 lacks and tools such as
//! schemathesis read); bodies that may be left out are not required; redirects are documented.

pub mod exact;
mod rules;

use std::sync::{Arc, OnceLock};

use actix_web::{web::Data, HttpResponse};
use serde_json::Value;

/// Filled once the app's routes are all registered; served at `/api/v1/openapi.json`.
#[derive(Clone, Default)]
pub struct Spec(Arc<OnceLock<Value>>);

impl Spec {
    /// Keeps the generated document, made exact (the first call wins: every worker makes the same).
    pub fn fill(&self, generated: Value) {
        self.0.get_or_init(|| exact::exact(generated));
    }
}

/// The OpenAPI document (left out of itself).
#[paperclip::actix::api_v2_operation(skip)]
pub async fn serve(spec: Data<Spec>) -> Result<HttpResponse, crate::error::ApiError> {
    Ok(match spec.0.get() {
        Some(doc) => HttpResponse::Ok().json(doc),
        None => HttpResponse::ServiceUnavailable().finish(),
    })
}
