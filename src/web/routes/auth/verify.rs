//! Forward-auth for reverse proxies (nginx `auth_request`, Traefik `ForwardAuth`, Caddy
//! `forward_auth`, Envoy `ext_authz`): any method; 200 with the `Remote-*` headers Authelia and
//! Authentik use, or the RFC 6750 answers. The decision is the gate's, from memory for a warm
//! token: no store call.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web::Data, HttpRequest, HttpResponse};
use paperclip::actix::api_v2_operation;

use crate::auth::access::{ForwardAuth, Need};
use crate::auth::gate::{Authenticated, Gate, Presented, Step};
use crate::error::{kind, ApiError};
use crate::oidc::Provider;

/// `permission=CODE` from the verify URL's own query.
fn permission_param(query: &str) -> Option<String> {
    param(query, "permission")
}

/// `mfa=true` in the verify URL's own query.
fn mfa_param(query: &str) -> bool {
    param(query, "mfa").is_some_and(|v| v == "true" || v == "1")
}

fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|v| !v.is_empty())
}

/// Forward-auth: is the request the proxy is holding allowed? 200 with `Remote-User`,
/// `Remote-User-Id`, `Remote-Name`, `Remote-Email`, `Remote-Groups` (role names) and
/// `Remote-Amr` (how the session signed in: `pwd`, `fed`, `otp`, `mfa`, comma-separated); 401
/// with a `WWW-Authenticate` challenge, `insufficient_user_authentication` (RFC 9470) where a
/// rule says `mfa = true` or the URL `?mfa=true` and the session has no second factor; 400 for a malformed header, or when rules exist and the
/// original request's method or path is missing or unreadable (`invalid_forwarded_request`);
/// 403 `insufficient_scope`, or `forbidden` where `forward_auth.default = "deny"`. Add
/// `?permission=CODE` to require a permission code; the `forward_auth.rules` match the original
/// request as a trusted proxy reports it, in the one header set `forward_auth.headers` names.
/// Add `?audience=APP` to take the tokens the OpenID provider issued for that app instead of
/// Portcullis's own (`Remote-Client-Id` and `Remote-Scope` besides).
#[api_v2_operation(tags(auth))]
pub async fn verify(
    req: HttpRequest,
    gate: Data<Gate>,
    forward: Data<ForwardAuth>,
) -> Result<HttpResponse, ApiError> {
    let headers = req.headers();
    let need = forward.need(req.peer_addr(), headers).map_err(|why| {
        tracing::debug!(reason = %why, "forward-auth request cannot be judged");
        ApiError::new(kind::FORWARDED_REQUEST_INVALID).with_detail(why.to_string())
    })?;
    let asked = permission_param(req.query_string());
    let asked_mfa = mfa_param(req.query_string());
    let (rule_code, rule_mfa) = match need {
        Need::Public if asked.is_none() && !asked_mfa => return Ok(HttpResponse::Ok().finish()),
        Need::Public => (None, false),
        Need::User { permission, mfa } => (permission, mfa),
        Need::Denied => return Err(ApiError::new(kind::FORBIDDEN)),
    };
    let codes = [rule_code.as_deref(), asked.as_deref()];
    let needs_mfa = rule_mfa || asked_mfa;
    if let Some(audience) = param(req.query_string(), "audience") {
        return app_token(&req, &audience, codes, needs_mfa).await;
    }
    let result = match gate.check(headers) {
        Step::Done(result) => result,
        Step::ReadThrough(token) => gate.read_through(token).await,
    };
    let who = gate.count(result).map_err(|r| r.error)?;
    allowed(who, codes, needs_mfa)
}

/// The user's answer: the permission codes and the second factor checked, the `Remote-*`
/// headers set.
fn allowed(
    who: Authenticated,
    codes: [Option<&str>; 2],
    needs_mfa: bool,
) -> Result<HttpResponse, ApiError> {
    for code in codes.into_iter().flatten() {
        Gate::permits(&who.user, code).map_err(|r| r.error)?;
    }
    if needs_mfa {
        Gate::second_factor(&who)?;
    }
    let mut res = HttpResponse::Ok().finish();
    let headers = res.headers_mut();
    for (name, value) in &who.user.remote_headers {
        headers.insert(name.clone(), value.clone());
    }
    // Method names and commas only: always a header value.
    headers.insert(
        HeaderName::from_static("remote-amr"),
        HeaderValue::from_static(who.proof.amr.joined()),
    );
    Ok(res)
}

/// `?audience=APP`: only a token the OpenID provider issued for that app passes — a user's (while
/// its session lives; the same answer as for Portcullis's own, plus `Remote-Client-Id` and
/// `Remote-Scope`) or the app's own `client_credentials` token (no user: `Remote-Client-Id`
/// and `Remote-Scope` only, and refused where a permission code or a second factor is asked).
/// Portcullis's own tokens, and another app's, are refused as `invalid_token`.
async fn app_token(
    req: &HttpRequest,
    audience: &str,
    codes: [Option<&str>; 2],
    needs_mfa: bool,
) -> Result<HttpResponse, ApiError> {
    let presented = Presented::from_headers(req.headers());
    let token = match &presented {
        Presented::Missing => return Err(ApiError::new(kind::UNAUTHORIZED)),
        Presented::Malformed => return Err(ApiError::new(kind::MALFORMED_AUTHORIZATION)),
        Presented::Bearer(_) => presented
            .token()
            .ok_or_else(|| ApiError::new(kind::MALFORMED_AUTHORIZATION))?,
    };
    let invalid = || ApiError::new(kind::INVALID_TOKEN);
    let provider = req.app_data::<Data<Provider>>().ok_or_else(invalid)?;
    let app = provider
        .inspect(token)
        .await?
        .filter(|app| app.claims.aud == audience)
        .ok_or_else(invalid)?;
    let mut res = match app.user {
        Some(user) => allowed(
            Authenticated {
                user,
                sid: std::sync::Arc::from(app.claims.sid.as_str()),
                proof: app.claims.proof(),
            },
            codes,
            needs_mfa,
        )?,
        // A client acting for itself holds no permission code and signed nobody in.
        None if needs_mfa || codes.iter().any(Option::is_some) => {
            return Err(ApiError::new(kind::INSUFFICIENT_SCOPE)
                .with_detail("a client's own token holds no permission code and no user"))
        }
        None => HttpResponse::Ok().finish(),
    };
    let headers = res.headers_mut();
    let client = app.claims.client_id.as_deref().unwrap_or(&app.claims.aud);
    // Client ids and scope names are checked words: always header values.
    for (name, value) in [
        ("remote-client-id", client),
        ("remote-scope", app.claims.scope.as_deref().unwrap_or("")),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_is_read_from_the_query() {
        assert_eq!(
            permission_param("permission=order%3Acreate").as_deref(),
            Some("order:create")
        );
        assert_eq!(permission_param("a=1&permission=x:y"), Some("x:y".into()));
        assert_eq!(permission_param("permission="), None);
        assert_eq!(permission_param(""), None);
    }
}
