//! The actix-web parts: the authenticating middleware, the `User` extractor, the per-route
//! requirements (a permission, a second factor), and answers shaped as the server's (RFC 6750 challenges, the
//! `{code, msg, data, error}` envelope).

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::{Guard, User};

/// Why a request is refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// No token where one is needed: 401 with a bare `Bearer` challenge.
    #[error("Authentication required")]
    Unauthorized,
    /// The `Authorization` header is not `Bearer <token>`: 400 `invalid_request`.
    #[error("Malformed Authorization header")]
    Malformed,
    /// Bad, expired or revoked: 401 `invalid_token`.
    #[error("Token is invalid, expired or revoked")]
    InvalidToken,
    /// The user lacks the permission: 403 `insufficient_scope`.
    #[error("Permission denied")]
    InsufficientScope,
    /// The session's user signed in without a second factor where one is needed: 401
    /// `insufficient_user_authentication` (RFC 9470), `data.mfa` true.
    #[error("This needs a sign-in with a second factor")]
    InsufficientUserAuthentication,
    /// The server could not be asked: 503.
    #[error("Authentication service unavailable: {0}")]
    Unavailable(String),
}

impl Refusal {
    fn slug(&self) -> Option<&'static str> {
        match self {
            Self::Unauthorized => None,
            Self::Malformed => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
            Self::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
            Self::Unavailable(_) => Some("service_unavailable"),
        }
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::InvalidToken | Self::InsufficientUserAuthentication => {
                StatusCode::UNAUTHORIZED
            }
            Self::Malformed => StatusCode::BAD_REQUEST,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        let challenge = match (self, self.slug()) {
            (Self::Unavailable(_), _) => None,
            (_, Some(slug)) => Some(format!("Bearer realm=\"portcullis\", error=\"{slug}\"")),
            (_, None) => Some("Bearer realm=\"portcullis\"".to_owned()),
        };
        if let Some(c) = challenge {
            res.insert_header((header::WWW_AUTHENTICATE, c));
        }
        if let Self::Unavailable(why) = self {
            tracing::warn!(why, "portcullis-guard: refused for want of the server");
        }
        // Details of an outage stay in the log.
        let msg = match self {
            Self::Unavailable(_) => "Authentication service unavailable".to_owned(),
            other => other.to_string(),
        };
        // As the server says it: what would satisfy the request.
        let data = match self {
            Self::InsufficientUserAuthentication => serde_json::json!({"mfa": true}),
            _ => serde_json::Value::Null,
        };
        res.json(serde_json::json!({
            "code": status.as_u16(),
            "msg": msg,
            "data": data,
            "slug": self.slug().unwrap_or("unauthorized"),
        }))
    }
}

/// The bearer token of a request: `None` without an `Authorization` header, `Err` when it is
/// not `Bearer <token68>` (the scheme in any case).
fn bearer(req: &ServiceRequest) -> Result<Option<&str>, Refusal> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = std::str::from_utf8(value.as_bytes()).map_err(|_| Refusal::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(Refusal::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Refusal::Malformed);
    }
    // Its characters (RFC 6750 `b64token`) are checked by the guard when it has not seen these
    // very bytes before.
    Ok(Some(token))
}

/// Authenticates every request that carries a bearer token; see [`Guard::middleware`].
pub struct GuardMiddleware {
    guard: Guard,
}

impl GuardMiddleware {
    pub(crate) fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S, B> Transform<S, ServiceRequest> for GuardMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = GuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GuardService {
            service: Rc::new(service),
            guard: self.guard.clone(),
        }))
    }
}

pub struct GuardService<S> {
    service: Rc<S>,
    guard: Guard,
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for GuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let guard = self.guard.clone();
        Box::pin(async move {
            let outcome = match bearer(&req) {
                Ok(None) => Ok(None),
                Ok(Some(token)) => guard.authenticate(token).await.map(Some),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(user) => {
                    if let Some(user) = user {
                        req.extensions_mut().insert(user);
                    }
                    Ok(service.call(req).await?.map_into_left_body())
                }
                Err(refusal) => {
                    let res = refusal.error_response();
                    Ok(req.into_response(res).map_into_right_body())
                }
            }
        })
    }
}

impl FromRequest for User {
    type Error = Refusal;
    type Future = Ready<Result<Self, Refusal>>;

    /// The user the middleware authenticated; 401 when the request carried no token.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<User>()
                .cloned()
                .ok_or(Refusal::Unauthorized),
        )
    }
}

/// What a route needs of its user.
enum Need {
    Permission(String),
    Mfa,
}

/// A route (or scope) that needs a permission code: 401 without a signed-in user, 403
/// `insufficient_scope` without the code. Wrap it inside the guard's middleware.
pub fn require(code: impl Into<String>) -> Require {
    Require {
        need: Rc::new(Need::Permission(code.into())),
    }
}

/// A route (or scope) that needs a session signed in with a second factor: 401 without a
/// signed-in user, 401 `insufficient_user_authentication` without the factor (the client signs
/// in again, with it). Wrap it inside the guard's middleware; with [`require`] for both.
pub fn require_mfa() -> Require {
    Require {
        need: Rc::new(Need::Mfa),
    }
}

/// See [`require`] and [`require_mfa`].
pub struct Require {
    need: Rc<Need>,
}

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireService {
            service,
            need: self.need.clone(),
        }))
    }
}

pub struct RequireService<S> {
    service: S,
    need: Rc<Need>,
}

impl<S, B> Service<ServiceRequest> for RequireService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let verdict = match (req.extensions().get::<User>(), &*self.need) {
            (None, _) => Err(Refusal::Unauthorized),
            (Some(u), Need::Permission(code)) => u.require(code),
            (Some(u), Need::Mfa) => u.require_mfa(),
        };
        match verdict {
            Ok(()) => {
                let fut = self.service.call(req);
                Box::pin(async move { Ok(fut.await?.map_into_left_body()) })
            }
            Err(refusal) => {
                let res = req.into_response(refusal.error_response());
                Box::pin(async move { Ok(res.map_into_right_body()) })
            }
        }
    }
}
