//! HTTP Basic authentication of API clients (introspection, the event feed), answered as
//! RFC 6749 §5.2 says: 401 `invalid_client` with a Basic challenge; and 429 `rate_limited`
//! with `Retry-After` once a client id or an address has failed too often.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::{engine::general_purpose::STANDARD, Engine};

use crate::auth::clients::{ApiClients, ClientAuth};
use crate::domain::ApiClient;
use crate::error::ApiError;
use crate::web::client::Client;

/// `Authorization: Basic base64(id:secret)`, each part form-urlencoded (RFC 6749 §2.3.1).
fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// The API client the request's credentials are, or the answer to give instead.
pub async fn authenticate_client(
    req: &HttpRequest,
    clients: &ApiClients,
) -> Result<Result<Arc<ApiClient>, HttpResponse>, ApiError> {
    let address = Client::key_of(req);
    let (id, secret) = basic(req).unwrap_or_default();
    let decided = clients
        .authenticate(&id, &secret, &address)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(match decided {
        ClientAuth::Client(client) => Ok(client),
        ClientAuth::Refused => Err(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"portcullis\""))
            .json(serde_json::json!({"error": "invalid_client"}))),
        ClientAuth::Limited(wait) => Err(HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, wait.max(1).to_string()))
            .json(serde_json::json!({"error": "rate_limited"}))),
    })
}
