//! The bearer validator behind `HttpAuthentication`: parses the header (scheme case-insensitive,
//! RFC 6750 §2.1), verifies the JWT, asks the cache for the session and the user, and puts a
//! `CurrentUser` in the request.
//!
//! We use `HttpAuthentication::with_fn` with our own extractor rather than `::bearer()`:
//! the stock `BearerAuth` matches the scheme case-sensitively and answers failures with its own
//! bare body, while the contract wants case-insensitive schemes and the envelope.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::{
    dev::{Payload, ServiceRequest},
    http::header,
    web, FromRequest, HttpMessage, HttpRequest,
};
use actix_web_httpauth::middleware::HttpAuthentication;

use super::user::CurrentUser;
use crate::actors::AuthFailure;
use crate::error::{kind, ApiError};
use crate::startup::AppState;

/// Our tokens are a few hundred bytes; longer ones are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 4096;

/// What the `Authorization` header holds; extraction never fails so the validator decides.
pub enum BearerCredentials {
    Missing,
    Malformed,
    Token(String),
}

/// RFC 6750 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

impl BearerCredentials {
    pub fn parse(req: &HttpRequest) -> Self {
        let mut values = req.headers().get_all(header::AUTHORIZATION);
        let Some(value) = values.next() else {
            return Self::Missing;
        };
        if values.next().is_some() {
            return Self::Malformed;
        }
        let Ok(value) = value.to_str() else {
            return Self::Malformed;
        };
        let value = value.trim();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            // Another scheme is "no bearer credentials" (RFC 6750 §3.1): a plain challenge.
            return Self::Missing;
        }
        let token = token.trim();
        if is_b64token(token) {
            Self::Token(token.to_owned())
        } else {
            Self::Malformed
        }
    }
}

impl FromRequest for BearerCredentials {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::parse(req)))
    }
}

pub async fn validator(
    req: ServiceRequest,
    credentials: BearerCredentials,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    match authenticate(&req, credentials).await {
        Ok(current) => {
            req.extensions_mut().insert(current);
            Ok(req)
        }
        Err(e) => Err((e.into(), req)),
    }
}

async fn authenticate(
    req: &ServiceRequest,
    credentials: BearerCredentials,
) -> Result<CurrentUser, ApiError> {
    let token = match credentials {
        BearerCredentials::Missing => return Err(ApiError::new(kind::UNAUTHORIZED)),
        BearerCredentials::Malformed => return Err(ApiError::new(kind::MALFORMED_AUTHORIZATION)),
        BearerCredentials::Token(t) if t.len() <= MAX_TOKEN_BYTES => t,
        BearerCredentials::Token(_) => return Err(ApiError::new(kind::INVALID_TOKEN)),
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState missing"))?;
    let now = state.clock.unix();
    let claims = state.jwt.verify(&token, now).map_err(|why| {
        tracing::debug!(reason = why.as_str(), "access token refused");
        ApiError::new(kind::INVALID_TOKEN)
    })?;
    let uid = claims
        .user_id()
        .ok_or_else(|| ApiError::new(kind::INVALID_TOKEN))?;
    match state.cache.authenticate(&claims.sid, uid, now).await {
        Ok(user) => Ok(CurrentUser {
            user,
            sid: Arc::from(claims.sid),
        }),
        Err(AuthFailure::SessionEnded | AuthFailure::UserUnavailable) => {
            Err(ApiError::new(kind::INVALID_TOKEN))
        }
        Err(AuthFailure::Store(e)) => Err(ApiError::unavailable(e)),
        Err(AuthFailure::Db(e)) => Err(ApiError::unavailable(e)),
    }
}

/// The middleware every protected resource is wrapped in.
pub type BearerMiddleware = HttpAuthentication<
    BearerCredentials,
    fn(
        ServiceRequest,
        BearerCredentials,
    ) -> futures_util::future::LocalBoxFuture<
        'static,
        Result<ServiceRequest, (actix_web::Error, ServiceRequest)>,
    >,
>;

pub fn require_bearer() -> BearerMiddleware {
    HttpAuthentication::with_fn(|req, cred| Box::pin(validator(req, cred)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(value: Option<&str>) -> &'static str {
        let mut req = TestRequest::default();
        if let Some(v) = value {
            req = req.insert_header((header::AUTHORIZATION, v));
        }
        match BearerCredentials::parse(&req.to_http_request()) {
            BearerCredentials::Missing => "missing",
            BearerCredentials::Malformed => "malformed",
            BearerCredentials::Token(_) => "token",
        }
    }

    #[test]
    fn header_forms() {
        assert_eq!(parse(None), "missing");
        assert_eq!(parse(Some("Basic dXNlcjpwYXNz")), "missing");
        assert_eq!(parse(Some("Bearer abc.def.ghi")), "token");
        assert_eq!(parse(Some("bEaReR abc.def.ghi")), "token");
        assert_eq!(parse(Some("Bearer")), "malformed");
        assert_eq!(parse(Some("Bearer a b")), "malformed");
        assert_eq!(parse(Some("Bearer a\"b")), "malformed");
        assert_eq!(parse(Some("Bearer ===")), "malformed");
    }
}
