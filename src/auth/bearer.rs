//! The bearer validator behind `HttpAuthentication`: parses the header (scheme case-insensitive,
//! RFC 6750 §2.1), verifies the JWT, asks the cache for the session and the user, and puts a
//! `CurrentUser` in the request.
//!
//! We use `HttpAuthentication::with_fn` with our own extractor rather than `::bearer()`:
//! the stock `BearerAuth` matches the scheme case-sensitively and answers failures with its own
//! bare body, while the contract wants case-insensitive schemes and the envelope.

use std::future::{ready, Ready};

use actix_web::{
    dev::{Payload, ServiceRequest},
    http::header::{self, HeaderMap},
    web, FromRequest, HttpMessage, HttpRequest,
};
use actix_web_httpauth::middleware::HttpAuthentication;

use super::user::CurrentUser;
use crate::actors::AuthFailure;
use crate::error::{kind, ApiError};
use crate::metrics::AuthOutcome;
use crate::startup::AppState;

/// Our tokens are a few hundred bytes; longer ones are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 4096;

/// What the `Authorization` header holds, borrowed from the request.
pub enum BearerCredentials<'a> {
    Missing,
    Malformed,
    Token(&'a str),
}

/// The b64token alphabet of RFC 6750: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`.
/// A table: this check runs over every byte of every token on every request.
const B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        c += 1;
    }
    t
};

/// `1*b64token-char *"="`. Only ASCII passes, so the bytes are valid UTF-8 afterwards.
fn is_b64token(t: &[u8]) -> bool {
    let body_len = t.len() - t.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0 && t[..body_len].iter().all(|b| B64TOKEN[*b as usize])
}

impl<'a> BearerCredentials<'a> {
    pub fn parse(headers: &'a HeaderMap) -> Self {
        let mut values = headers.get_all(header::AUTHORIZATION);
        let Some(value) = values.next() else {
            return Self::Missing;
        };
        if values.next().is_some() {
            return Self::Malformed;
        }
        let value = value.as_bytes().trim_ascii();
        let (scheme, token) = match value.iter().position(|b| *b == b' ') {
            Some(i) => (&value[..i], value[i + 1..].trim_ascii()),
            None => (value, &[][..]),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            // Another scheme is "no bearer credentials" (RFC 6750 §3.1): a plain challenge.
            // Bytes that are not even text are a malformed header, whatever the scheme.
            return if value.is_ascii() {
                Self::Missing
            } else {
                Self::Malformed
            };
        }
        match std::str::from_utf8(token) {
            Ok(token) if is_b64token(token.as_bytes()) => Self::Token(token),
            _ => Self::Malformed,
        }
    }
}

/// The extractor `HttpAuthentication` wants; the validator reads the header itself, borrowed,
/// so a request costs no copy of its token.
pub struct BearerHeader;

impl FromRequest for BearerHeader {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self))
    }
}

pub async fn validator(
    req: ServiceRequest,
    _: BearerHeader,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err((ApiError::internal("AppState missing").into(), req));
    };
    let result = authenticate(&req, &state).await;
    state.metrics.auth(match &result {
        Ok(_) => AuthOutcome::Ok,
        Err((_, why)) => *why,
    });
    match result {
        Ok(current) => {
            req.extensions_mut().insert(current);
            Ok(req)
        }
        Err((e, _)) => Err((e.into(), req)),
    }
}

async fn authenticate(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<CurrentUser, (ApiError, AuthOutcome)> {
    let fail = |kind, why| (ApiError::new(kind), why);
    let token = match BearerCredentials::parse(req.headers()) {
        BearerCredentials::Missing => return Err(fail(kind::UNAUTHORIZED, AuthOutcome::Missing)),
        BearerCredentials::Malformed => {
            return Err(fail(kind::MALFORMED_AUTHORIZATION, AuthOutcome::Malformed))
        }
        BearerCredentials::Token(t) if t.len() <= MAX_TOKEN_BYTES => t,
        BearerCredentials::Token(_) => {
            return Err(fail(kind::INVALID_TOKEN, AuthOutcome::InvalidToken))
        }
    };
    let now = state.clock.unix();
    let token = state.jwt.verify_cached(token, now).map_err(|why| {
        tracing::debug!(reason = why.as_str(), "access token refused");
        fail(kind::INVALID_TOKEN, AuthOutcome::InvalidToken)
    })?;
    match state.cache.authenticate(&token.sid, token.uid, now).await {
        Ok(user) => Ok(CurrentUser {
            user,
            sid: token.sid,
        }),
        Err(AuthFailure::SessionEnded) => Err(fail(kind::INVALID_TOKEN, AuthOutcome::SessionEnded)),
        Err(AuthFailure::UserUnavailable) => {
            Err(fail(kind::INVALID_TOKEN, AuthOutcome::UserUnavailable))
        }
        Err(AuthFailure::Store(e)) => Err((ApiError::unavailable(e), AuthOutcome::BackendError)),
        Err(AuthFailure::Db(e)) => Err((ApiError::unavailable(e), AuthOutcome::BackendError)),
    }
}

/// The middleware every protected resource is wrapped in.
pub type BearerMiddleware = HttpAuthentication<
    BearerHeader,
    fn(
        ServiceRequest,
        BearerHeader,
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
        let req = req.to_http_request();
        match BearerCredentials::parse(req.headers()) {
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
