//! Discovery: the public keys (JWKS) and the configuration that points at them, at
//! introspection and, with the OpenID provider on, at its endpoints (OpenID Connect Discovery
//! 1.0 §3).

use actix_web::http::header;
use actix_web::{web::Data, HttpResponse};
use paperclip::actix::api_v2_operation;
use serde_json::{json, Value};

use crate::auth::jwt::JwtKeys;
use crate::domain::Amr;
use crate::error::ApiError;
use crate::oidc::clients::SCOPES;
use crate::oidc::tokens::{ACR_MFA, ACR_ONE_FACTOR};

/// `/.well-known/openid-configuration`, made once at start.
pub struct Discovery(pub Value);

impl Discovery {
    /// Every URL is built from `server.public_url` (`base`), never from the request's `Host` or
    /// `Forwarded` headers: a shared cache would otherwise hand one client's spoofed answer to
    /// every service. `provider`: whether the OpenID provider is on, and whether ID tokens can
    /// be signed with EdDSA too.
    pub fn new(base: &str, jwt: &JwtKeys, provider: Option<bool>) -> Self {
        let mut doc = json!({
            "issuer": jwt.issuer(),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "introspection_endpoint": format!("{base}/api/v1/auth/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "id_token_signing_alg_values_supported": [jwt.algorithm()],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "response_types_supported": [],
            "subject_types_supported": ["public"],
        });
        if let Some(eddsa) = provider {
            let algs: &[&str] = match eddsa {
                true => &["RS256", "EdDSA"],
                false => &["RS256"],
            };
            let extra = json!({
                // The issuer identifier is the URL discovery is found under (§4.3).
                "issuer": base,
                "authorization_endpoint": format!("{base}/oidc/authorize"),
                "token_endpoint": format!("{base}/oidc/token"),
                "userinfo_endpoint": format!("{base}/oidc/userinfo"),
                "revocation_endpoint": format!("{base}/oidc/revoke"),
                "revocation_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post", "none"],
                "end_session_endpoint": format!("{base}/oidc/logout"),
                "backchannel_logout_supported": true,
                "backchannel_logout_session_supported": true,
                "scopes_supported": SCOPES,
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": algs,
                "token_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post", "none"],
                "acr_values_supported": [ACR_ONE_FACTOR, ACR_MFA],
                "amr_values_supported": Amr::known_names().collect::<Vec<_>>(),
                "prompt_values_supported": ["none", "login", "consent", "select_account"],
                "claims_supported": [
                    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
                    "sid", "at_hash", "preferred_username", "name", "picture", "updated_at",
                    "email", "email_verified", "roles", "permissions",
                ],
                "claims_parameter_supported": false,
                "request_parameter_supported": false,
                "request_uri_parameter_supported": false,
                "authorization_response_iss_parameter_supported": true,
            });
            if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
                doc.extend(extra);
            }
        }
        Self(doc)
    }
}

/// The public keys that verify access tokens (EdDSA: the current and previous keys; HS256:
/// none, its secret is never published) and, with the OpenID provider on, ID tokens (RS256).
#[api_v2_operation(tags(discovery))]
pub async fn jwks(jwt: Data<JwtKeys>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=60"))
        .json(jwt.jwks()))
}

/// Where the keys, introspection and the OpenID provider's endpoints are, and what tokens say
/// (`issuer`, algorithms).
#[api_v2_operation(tags(discovery))]
pub async fn openid_configuration(discovery: Data<Discovery>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=60"))
        .json(&discovery.0))
}
