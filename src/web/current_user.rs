//! `CurrentUser`: the authenticated caller, put in the request by the bearer validator.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use paperclip::actix::Apiv2Security;

use crate::auth::gate::{Authenticated, Gate};
use crate::error::{kind, ApiError};

/// Taking it as an argument is what makes a handler require a bearer token in the OpenAPI spec.
///
/// The spec declares the bearer token as an OAuth2 password flow against the Swagger login, so
/// the Swagger UI's Authorize dialog logs in directly (development); every client, the Swagger UI
/// included, then sends `Authorization: Bearer <access_token>`. (OpenAPI 2 has no bearer scheme.)
#[derive(Debug, Clone, Apiv2Security)]
#[openapi(
    oauth2,
    alias = "bearer",
    token_url = "/api/v1/auth/login/swagger",
    flow = "password",
    description = "Access token, sent as `Authorization: Bearer <access_token>`. The password flow uses POST /api/v1/auth/login/swagger (development only); other clients log in with POST /api/v1/auth/login."
)]
pub struct CurrentUser(pub Authenticated);

impl Deref for CurrentUser {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

impl CurrentUser {
    /// Authorisation at the top of a handler: the same permission rule as every way in.
    pub fn require(&self, code: &str) -> Result<(), ApiError> {
        Gate::permits(&self.user, code).map_err(|r| r.error)
    }

    /// Any one of these codes will do.
    pub fn require_any(&self, codes: &[&str]) -> Result<(), ApiError> {
        match codes.iter().any(|c| self.user.holds(c)) {
            true => Ok(()),
            false => Err(ApiError::new(kind::INSUFFICIENT_SCOPE)),
        }
    }

    pub fn require_superuser(&self) -> Result<(), ApiError> {
        if self.user.is_superuser {
            Ok(())
        } else {
            Err(ApiError::new(kind::INSUFFICIENT_SCOPE))
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    /// Moves the user out of the request rather than cloning it: the `Arc`s it holds are shared
    /// by every worker, and each clone and drop is a write to a contended cache line. A handler
    /// takes `CurrentUser` once.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions_mut()
                .remove::<CurrentUser>()
                .ok_or_else(|| ApiError::new(kind::UNAUTHORIZED)),
        )
    }
}
