//! The bearer validator behind `HttpAuthentication`: parses the header (scheme case-insensitive,
//! RFC 6750 §2.1), verifies the JWT, asks the cache for the session and the user, and puts a
//! `CurrentUser` in the request.
//!
//! Once a session's first request has filled memory, a request costs no store call, no await
//! and no message: the token's bytes are looked up among those verified before, then the
//! session and the user in the cache actor's shared map, and the validator answers at once.
//! The character check, base64, JSON and HMAC run only for bytes not seen before.
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
use futures_util::future::{Either, LocalBoxFuture};

use super::jwt::VerifiedToken;
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

/// One character of RFC 6750's b64token: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`.
/// Comparisons rather than a table, so the loop over a token can be vectorised.
#[inline(always)]
fn is_b64token_char(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// `1*b64token-char *"="`. Only ASCII passes, so the bytes are valid UTF-8 afterwards.
/// This runs over every byte of every token on every request: no early exit inside a block,
/// so the compiler checks 16 or 32 bytes per step.
fn is_b64token(t: &[u8]) -> bool {
    let body_len = t.len() - t.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0
        && t[..body_len]
            .chunks(64)
            .all(|block| block.iter().fold(true, |ok, b| ok & is_b64token_char(*b)))
}

/// The `Authorization` header split at the scheme; the token's characters not yet checked.
enum Presented<'a> {
    Missing,
    Malformed,
    Bearer(&'a [u8]),
}

impl<'a> Presented<'a> {
    fn from_headers(headers: &'a HeaderMap) -> Self {
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
        Self::Bearer(token)
    }
}

impl<'a> BearerCredentials<'a> {
    pub fn parse(headers: &'a HeaderMap) -> Self {
        match Presented::from_headers(headers) {
            Presented::Missing => Self::Missing,
            Presented::Malformed => Self::Malformed,
            Presented::Bearer(token) => Self::check(token),
        }
    }

    fn check(token: &'a [u8]) -> Self {
        if !is_b64token(token) {
            return Self::Malformed;
        }
        match std::str::from_utf8(token) {
            Ok(token) => Self::Token(token),
            Err(_) => Self::Malformed,
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

/// What the validator answers: at once when memory holds the session and the user (every
/// request after a session's first), a boxed future only when the cache actor must read through.
pub type Validation = Either<
    Ready<Result<ServiceRequest, (actix_web::Error, ServiceRequest)>>,
    LocalBoxFuture<'static, Result<ServiceRequest, (actix_web::Error, ServiceRequest)>>,
>;

/// The validator `HttpAuthentication` calls for every protected request.
pub fn validator(req: ServiceRequest, _: BearerHeader) -> Validation {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Either::Left(ready(Err((
            ApiError::internal("AppState missing").into(),
            req,
        ))));
    };
    let now = state.clock.unix();
    match authenticate(&req, state, now) {
        Step::Done(result) => {
            let result = finish(state, result);
            Either::Left(ready(attach(req, result)))
        }
        Step::ReadThrough(token) => {
            let state = state.clone();
            Either::Right(Box::pin(async move {
                let result = state
                    .cache
                    .resolve(&token.sid, token.uid)
                    .await
                    .map(|user| CurrentUser {
                        user,
                        sid: token.sid,
                    });
                let result = finish(&state, result.map_err(refusal));
                attach(req, result)
            }))
        }
    }
}

enum Step {
    Done(Result<CurrentUser, (ApiError, AuthOutcome)>),
    /// The token is good; the session and the user are not in memory.
    ReadThrough(VerifiedToken),
}

fn authenticate(req: &ServiceRequest, state: &AppState, now: i64) -> Step {
    let fail = |kind, why| Step::Done(Err((ApiError::new(kind), why)));
    let presented = match Presented::from_headers(req.headers()) {
        Presented::Missing => return fail(kind::UNAUTHORIZED, AuthOutcome::Missing),
        Presented::Malformed => return fail(kind::MALFORMED_AUTHORIZATION, AuthOutcome::Malformed),
        Presented::Bearer(token) => token,
    };
    // Bytes verified before need no character check, base64, JSON or HMAC: a hit means these
    // very bytes passed all of them (expiry is still checked against the clock).
    let remembered = if presented.len() <= MAX_TOKEN_BYTES {
        state.jwt.remembered(presented, now)
    } else {
        None
    };
    let verified = match remembered {
        Some(answer) => answer,
        None => match BearerCredentials::check(presented) {
            BearerCredentials::Token(t) if t.len() <= MAX_TOKEN_BYTES => {
                state.jwt.verify_and_remember(t, now)
            }
            BearerCredentials::Token(_) => {
                return fail(kind::INVALID_TOKEN, AuthOutcome::InvalidToken)
            }
            _ => return fail(kind::MALFORMED_AUTHORIZATION, AuthOutcome::Malformed),
        },
    };
    let token = match verified {
        Ok(token) => token,
        Err(why) => {
            tracing::debug!(reason = why.as_str(), "access token refused");
            return fail(kind::INVALID_TOKEN, AuthOutcome::InvalidToken);
        }
    };
    match state.cache.cached(&token.sid, token.uid, now) {
        Some(answer) => Step::Done(answer.map_err(refusal).map(|user| CurrentUser {
            user,
            sid: token.sid,
        })),
        None => Step::ReadThrough(token),
    }
}

fn refusal(failure: AuthFailure) -> (ApiError, AuthOutcome) {
    match failure {
        AuthFailure::SessionEnded => (
            ApiError::new(kind::INVALID_TOKEN),
            AuthOutcome::SessionEnded,
        ),
        AuthFailure::UserUnavailable => (
            ApiError::new(kind::INVALID_TOKEN),
            AuthOutcome::UserUnavailable,
        ),
        AuthFailure::Store(e) => (ApiError::unavailable(e), AuthOutcome::BackendError),
        AuthFailure::Db(e) => (ApiError::unavailable(e), AuthOutcome::BackendError),
    }
}

/// Counts the outcome and drops the reason.
fn finish(
    state: &AppState,
    result: Result<CurrentUser, (ApiError, AuthOutcome)>,
) -> Result<CurrentUser, ApiError> {
    state.metrics.auth(match &result {
        Ok(_) => AuthOutcome::Ok,
        Err((_, why)) => *why,
    });
    result.map_err(|(e, _)| e)
}

fn attach(
    req: ServiceRequest,
    result: Result<CurrentUser, ApiError>,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    match result {
        Ok(current) => {
            req.extensions_mut().insert(current);
            Ok(req)
        }
        Err(e) => Err((e.into(), req)),
    }
}

/// The middleware every protected resource is wrapped in.
pub type BearerMiddleware =
    HttpAuthentication<BearerHeader, fn(ServiceRequest, BearerHeader) -> Validation>;

pub fn require_bearer() -> BearerMiddleware {
    HttpAuthentication::with_fn(validator as fn(_, _) -> _)
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

    #[test]
    fn b64token_alphabet_is_exactly_rfc_6750s() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_char(b), rfc, "byte {b:#04x}");
        }
    }

    #[test]
    fn one_bad_byte_anywhere_in_a_long_token_is_caught() {
        let good = "abcXYZ019-._~+/".repeat(20);
        assert!(is_b64token(good.as_bytes()));
        assert!(is_b64token(format!("{good}==").as_bytes()));
        for at in [0, 15, 63, 64, 65, 127, 200, good.len() - 1] {
            let mut bad = good.clone().into_bytes();
            bad[at] = b'"';
            assert!(!is_b64token(&bad), "bad byte at {at}");
            bad[at] = 0xff;
            assert!(!is_b64token(&bad), "non-ASCII byte at {at}");
        }
        assert!(!is_b64token(format!("{good}=a").as_bytes()));
    }
}
