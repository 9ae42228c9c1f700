//! Discovery for generic JWT middleware in other languages: the public keys (JWKS) and an
//! OpenID-style configuration that points at them and at introspection.

use actix_web::http::header;
use actix_web::{web::Data, HttpResponse};
use paperclip::actix::api_v2_operation;
use serde_json::json;

use crate::auth::jwt::JwtKeys;
use crate::error::ApiError;
use crate::web::PublicUrl;

/// The public keys that verify access tokens (EdDSA: the current and previous keys; HS256:
/// none, its secret is never published).
#[api_v2_operation(tags(discovery))]
pub async fn jwks(jwt: Data<JwtKeys>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=60"))
        .json(jwt.jwks()))
}

/// Where the keys and introspection are, and what tokens say (`issuer`, algorithms). Every URL
/// is built from `server.public_url`, never from the request's `Host` or `Forwarded` headers: a
/// shared cache would otherwise hand one client's spoofed answer to every service.
#[api_v2_operation(tags(discovery))]
pub async fn openid_configuration(
    jwt: Data<JwtKeys>,
    public_url: Data<PublicUrl>,
) -> Result<HttpResponse, ApiError> {
    let base = &public_url.0;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=60"))
        .json(json!({
            "issuer": jwt.issuer(),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "introspection_endpoint": format!("{base}/api/v1/auth/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "id_token_signing_alg_values_supported": [jwt.algorithm()],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "response_types_supported": [],
            "subject_types_supported": ["public"],
        })))
}
