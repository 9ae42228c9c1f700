//! The HTTP face: middleware (the envelope, metrics, the bearer validator, rate limits),
//! extractors (`CurrentUser`, `Client`), the success envelope, and the routes. Handlers take the
//! narrow `web::Data<T>` of the services they use; `startup` registers each.

pub mod bearer;
pub mod client;
pub mod cors;
pub mod current_user;
pub mod docs;
pub mod drain;
pub mod envelope;
pub mod metrics;
pub mod oidc;
pub mod optional_json;
pub mod rate_limit;
pub mod request_span;
pub mod respond;
pub mod routes;
pub mod spec;
pub mod ui;

pub use client::Client;
pub use current_user::CurrentUser;
pub use optional_json::OptionalJson;
pub use respond::{ApiOk, Prejsoned};

/// Where clients reach this server (`server.public_url`, no trailing `/`): the base of every
/// absolute URL it publishes.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub String);
