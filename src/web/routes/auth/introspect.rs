//! Token introspection (RFC 7662) for services that cannot sit behind a proxy: API clients ask
//! with HTTP Basic credentials. The answer is RFC 7662's JSON, not the envelope.

use actix_web::http::header;
use actix_web::{web::Data, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::STANDARD, Engine};
use paperclip::actix::{api_v2_operation, web::Form, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::clients::ApiClients;
use crate::auth::gate::Gate;
use crate::error::ApiError;

#[derive(Deserialize, Apiv2Schema)]
pub struct IntrospectRequest {
    pub token: String,
    /// Ignored: every token is looked at as an access token (a refresh token is never active).
    pub token_type_hint: Option<String>,
}

/// RFC 7662's answer. Inactive: `{"active": false}` and nothing else.
#[derive(Serialize, Apiv2Schema, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The user's permission codes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The rest of the user, for services that cache it (the guard crate does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<crate::domain::AuthUser>,
}

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

/// `None` when the request carries an API client's valid credentials; otherwise the answer to
/// give (RFC 6749's `invalid_client`, with a Basic challenge).
pub async fn refuse_unless_client(
    req: &HttpRequest,
    clients: &ApiClients,
) -> Result<Option<HttpResponse>, ApiError> {
    let client_ok = match basic(req) {
        Some((id, secret)) => clients
            .authenticate(&id, &secret)
            .await
            .map_err(ApiError::unavailable)?,
        None => false,
    };
    Ok((!client_ok).then(|| {
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"portcullis\""))
            .json(serde_json::json!({"error": "invalid_client"}))
    }))
}

/// Is this access token active, and whose is it? API clients only (HTTP Basic).
#[api_v2_operation(tags(auth))]
pub async fn introspect(
    req: HttpRequest,
    form: Form<IntrospectRequest>,
    clients: Data<ApiClients>,
    gate: Data<Gate>,
) -> Result<HttpResponse, ApiError> {
    if let Some(refusal) = refuse_unless_client(&req, &clients).await? {
        return Ok(refusal);
    }
    let answer = match gate.inspect(&form.token).await {
        Ok(i) => {
            let u = &i.who.user;
            Introspection {
                active: true,
                sub: Some(u.id.to_string()),
                username: Some(u.username.clone()),
                sid: Some(i.who.sid.to_string()),
                exp: Some(i.exp),
                iat: Some(i.iat),
                nbf: Some(i.nbf),
                iss: Some(gate.issuer().to_owned()),
                aud: Some(gate.audience().to_owned()),
                token_type: Some("Bearer".into()),
                scope: Some(u.permissions.join(" ")),
                user: Some(u.user.clone()),
            }
        }
        // A backing service failing is not "inactive": say so.
        Err(r) if r.error.kind.status >= 500 => return Err(r.error),
        Err(_) => Introspection::default(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
