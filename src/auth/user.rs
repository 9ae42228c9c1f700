//! The decoded user the cache holds and handlers receive as `CurrentUser`.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use chrono::NaiveDateTime;
use paperclip::actix::{Apiv2Schema, Apiv2Security};
use serde::{Deserialize, Serialize};

use crate::db::models::User;
use crate::error::{kind, ApiError, Envelope, Lang};

/// A user as the API shows it: no password hash, plus role names and permission codes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Apiv2Schema)]
pub struct AuthUser {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub nickname: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    /// 1 enabled, 0 disabled.
    pub status: i32,
    pub is_superuser: bool,
    pub is_staff: bool,
    pub multi_login: bool,
    pub has_password: bool,
    pub password_changed_at: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// A decoded user as the cache holds it: the struct for checks, its JSON, and the English
/// success envelope around that JSON, both serialized once (`/me` answers with a reference to
/// `answer`, serializing nothing).
#[derive(Debug)]
pub struct CachedUser {
    pub user: AuthUser,
    pub json: Box<serde_json::value::RawValue>,
    pub answer: Box<[u8]>,
}

impl CachedUser {
    pub fn new(user: AuthUser) -> Result<Self, serde_json::Error> {
        let json = serde_json::value::to_raw_value(&user)?;
        Self::with_json(user, json)
    }

    /// From the store's shared copy (already JSON).
    pub fn from_json(json: String) -> Result<Self, serde_json::Error> {
        let user = serde_json::from_str(&json)?;
        let json = serde_json::value::RawValue::from_string(json)?;
        Self::with_json(user, json)
    }

    fn with_json(
        user: AuthUser,
        json: Box<serde_json::value::RawValue>,
    ) -> Result<Self, serde_json::Error> {
        let answer = Envelope::success(Lang::En, &json)
            .to_json()?
            .into_boxed_slice();
        Ok(Self { user, json, answer })
    }
}

impl std::ops::Deref for CachedUser {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.user
    }
}

impl AuthUser {
    pub fn from_row(u: &User, roles: Vec<String>, permissions: Vec<String>) -> Self {
        Self {
            id: u.id,
            uuid: u.uuid.clone(),
            username: u.username.clone(),
            nickname: u.nickname.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            phone: u.phone.clone(),
            avatar: u.avatar.clone(),
            status: u.status,
            is_superuser: u.is_superuser,
            is_staff: u.is_staff,
            multi_login: u.multi_login,
            has_password: u.password_hash.is_some(),
            password_changed_at: u.password_changed_at,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            roles,
            permissions,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.status == crate::db::models::STATUS_ENABLED
    }
}

/// The authenticated caller, put in the request by the bearer validator. Taking it as an argument
/// is what makes a handler require a bearer token in the OpenAPI spec.
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
pub struct CurrentUser {
    pub user: Arc<CachedUser>,
    pub sid: Arc<str>,
}

impl CurrentUser {
    /// Authorisation, at the top of handlers that need it.
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
