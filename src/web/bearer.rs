//! The bearer validator behind `HttpAuthentication`: asks the gate (`auth::gate`), and puts the
//! caller in the request as `CurrentUser`.
//!
//! We use `HttpAuthentication::with_fn` with our own extractor rather than `::bearer()`: the
//! stock `BearerAuth` matches the scheme case-sensitively and answers failures with its own bare
//! body, while the contract wants case-insensitive schemes and the envelope.

use std::future::{ready, Ready};

use actix_web::{
    dev::{Payload, ServiceRequest},
    web, FromRequest, HttpMessage, HttpRequest,
};
use actix_web_httpauth::middleware::HttpAuthentication;
use futures_util::future::{Either, LocalBoxFuture};

use super::current_user::CurrentUser;
use crate::auth::gate::{Authenticated, Gate, Refusal, Step};
use crate::error::ApiError;

/// The extractor `HttpAuthentication` wants; the gate reads the header itself, borrowed, so a
/// request costs no copy of its token.
pub struct BearerHeader;

impl FromRequest for BearerHeader {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self))
    }
}

type Answer = Result<ServiceRequest, (actix_web::Error, ServiceRequest)>;

/// What the validator answers: at once when memory holds the session and the user (every
/// request after a session's first), a boxed future only when the cache actor must read through.
pub type Validation = Either<Ready<Answer>, LocalBoxFuture<'static, Answer>>;

/// The validator `HttpAuthentication` calls for every protected request.
pub fn validator(req: ServiceRequest, _: BearerHeader) -> Validation {
    let Some(gate) = req.app_data::<web::Data<Gate>>() else {
        return Either::Left(ready(Err((
            ApiError::internal("the gate is not registered").into(),
            req,
        ))));
    };
    match gate.check(req.headers()) {
        Step::Done(result) => {
            let result = gate.count(result);
            Either::Left(ready(attach(req, result)))
        }
        Step::ReadThrough(token) => {
            let gate = gate.clone();
            Either::Right(Box::pin(async move {
                let result = gate.count(gate.read_through(token).await);
                attach(req, result)
            }))
        }
    }
}

fn attach(req: ServiceRequest, result: Result<Authenticated, Refusal>) -> Answer {
    match result {
        Ok(who) => {
            req.extensions_mut().insert(CurrentUser(who));
            Ok(req)
        }
        Err(refusal) => Err((refusal.error.into(), req)),
    }
}

/// The middleware every protected resource is wrapped in.
pub type BearerMiddleware =
    HttpAuthentication<BearerHeader, fn(ServiceRequest, BearerHeader) -> Validation>;

pub fn require_bearer() -> BearerMiddleware {
    HttpAuthentication::with_fn(validator as fn(_, _) -> _)
}
