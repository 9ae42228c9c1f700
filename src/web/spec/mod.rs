//! The OpenAPI documents as served, both from the one registration of the routes: paperclip's
//! Swagger 2.0 document made exact (`exact`), and the OpenAPI 3 document converted from it
//! (`v3`, with `answers`), which is what today's tools and the Swagger UI read. What the handlers
//! enforce beyond what paperclip sees is stated once, in `rules`.

mod answers;
pub mod exact;
mod rules;
pub mod v3;

use std::sync::{Arc, OnceLock};

use actix_web::{web::Data, HttpResponse};
use serde_json::Value;

/// Filled once the app's routes are all registered; served at `/api/v1/openapi.json` (2.0) and
/// `/api/v1/openapi3.json` (3.0).
#[derive(Clone)]
pub struct Spec(Arc<Documents>);

struct Documents {
    /// The 3.0 document's server (`server.public_url`).
    public_url: String,
    v2: OnceLock<Value>,
    v3: OnceLock<Value>,
}

impl Spec {
    pub fn new(public_url: &str) -> Self {
        Self(Arc::new(Documents {
            public_url: public_url.to_owned(),
            v2: OnceLock::new(),
            v3: OnceLock::new(),
        }))
    }

    /// Keeps the generated document made exact, and its 3.0 conversion (the first call wins:
    /// every worker makes the same).
    pub fn fill(&self, generated: Value) {
        let v2 = self.0.v2.get_or_init(|| exact::exact(generated));
        self.0
            .v3
            .get_or_init(|| v3::document(v2, &self.0.public_url));
    }
}

fn answer(doc: Option<&Value>) -> HttpResponse {
    match doc {
        Some(doc) => HttpResponse::Ok().json(doc),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The Swagger 2.0 document (left out of itself).
#[paperclip::actix::api_v2_operation(skip)]
pub async fn serve(spec: Data<Spec>) -> Result<HttpResponse, crate::error::ApiError> {
    Ok(answer(spec.0.v2.get()))
}

/// The OpenAPI 3 document (left out of both).
#[paperclip::actix::api_v2_operation(skip)]
pub async fn serve_v3(spec: Data<Spec>) -> Result<HttpResponse, crate::error::ApiError> {
    Ok(answer(spec.0.v3.get()))
}
