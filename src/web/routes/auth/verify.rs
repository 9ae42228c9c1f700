//! Forward-auth for reverse proxies (nginx `auth_request`, Traefik `ForwardAuth`, Caddy
//! `forward_auth`, Envoy `ext_authz`): any method; 200 with the `Remote-*` headers Authelia and
//! Authentik use, or the RFC 6750 answers. The decision is the gate's, from memory for a warm
//! token: no store call.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web::Data, HttpRequest, HttpResponse};
use paperclip::actix::api_v2_operation;

use crate::auth::access::{ForwardAuth, Need};
use crate::auth::gate::{Gate, Step};
use crate::error::{kind, ApiError};

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
    let result = match gate.check(headers) {
        Step::Done(result) => result,
        Step::ReadThrough(token) => gate.read_through(token).await,
    };
    let who = gate.count(result).map_err(|r| r.error)?;
    for code in [rule_code.as_deref(), asked.as_deref()]
        .into_iter()
        .flatten()
    {
        Gate::permits(&who.user, code).map_err(|r| r.error)?;
    }
    if rule_mfa || asked_mfa {
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
