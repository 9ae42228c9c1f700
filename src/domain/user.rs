//! The decoded user: what the bearer validator hands to handlers and what the cache keeps.

use actix_web::http::header::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

use crate::error::{Envelope, Lang};

pub const STATUS_ENABLED: i32 = 1;
pub const STATUS_DISABLED: i32 = 0;

/// A user as the API shows it: no password hash, plus role names and permission codes.
/// Times are RFC 3339 in UTC.
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
    pub password_changed_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// The user's active second factors (`totp`); empty: the password alone signs in.
    #[serde(default)]
    pub second_factors: Vec<String>,
    /// fba's names (`GetUserInfoDetail`) for the same facts, which fba's frontend reads: the
    /// sign-up time (`created_at`), the last login (`last_login_at`), `multi_login`.
    pub join_time: DateTime<Utc>,
    pub last_login_time: Option<DateTime<Utc>>,
    pub is_multi_login: bool,
    /// fba's department and its name: Portcullis has none, always null.
    pub dept_id: Option<i64>,
    pub dept: Option<String>,
}

impl AuthUser {
    pub fn is_enabled(&self) -> bool {
        self.status == STATUS_ENABLED
    }

    /// The one permission rule: superusers hold every code; others hold their enabled roles'.
    pub fn holds(&self, code: &str) -> bool {
        self.is_superuser || self.permissions.iter().any(|p| p == code)
    }
}

/// A decoded user as the cache holds it: the struct for checks, its JSON, the English success
/// envelope around that JSON, and the forward-auth headers, all made once (`/me` and
/// `/auth/verify` answer with copies, serializing nothing).
#[derive(Debug)]
pub struct CachedUser {
    pub user: AuthUser,
    pub json: Box<serde_json::value::RawValue>,
    pub answer: Box<[u8]>,
    /// `Remote-User`, `Remote-User-Id`, `Remote-Name`, `Remote-Email` (verified only),
    /// `Remote-Email-Verified`, `Remote-Groups`.
    pub remote_headers: Vec<(HeaderName, HeaderValue)>,
}

/// The identity headers forward-auth answers with (the names Authelia and Authentik use). An
/// email address goes out only once verified: a service must not take an address anyone could
/// type in for a proven one. A value that cannot be a header value (none should: names and
/// nicknames have no control characters) is left out.
fn remote_headers(u: &AuthUser) -> Vec<(HeaderName, HeaderValue)> {
    let verified = u.email.is_some() && u.email_verified;
    let email = u.email.clone().filter(|_| verified).unwrap_or_default();
    [
        ("remote-user", u.username.clone()),
        ("remote-user-id", u.id.to_string()),
        ("remote-name", u.nickname.clone()),
        ("remote-email", email),
        ("remote-email-verified", verified.to_string()),
        ("remote-groups", u.roles.join(",")),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
        Some((HeaderName::from_static(name), value))
    })
    .collect()
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
        Ok(Self {
            remote_headers: remote_headers(&user),
            user,
            json,
            answer,
        })
    }
}

impl std::ops::Deref for CachedUser {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.user
    }
}
