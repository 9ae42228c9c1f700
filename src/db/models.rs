//! Rows as the database holds them. `User` carries the password hash and is never serialized:
//! what the API shows is `domain::AuthUser`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{login_logs, users};
pub use crate::domain::{STATUS_DISABLED, STATUS_ENABLED};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub nickname: String,
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub status: i32,
    pub is_superuser: bool,
    pub is_staff: bool,
    pub multi_login: bool,
    pub password_changed_at: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl User {
    pub fn is_enabled(&self) -> bool {
        self.status == STATUS_ENABLED
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub uuid: String,
    pub username: String,
    pub nickname: String,
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub status: i32,
    pub is_superuser: bool,
    pub is_staff: bool,
    pub multi_login: bool,
    pub password_changed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One login attempt as stored and listed.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, paperclip::actix::Apiv2Schema)]
#[diesel(table_name = login_logs)]
pub struct LoginLogRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub success: bool,
    /// success, bad_password, unknown_user, disabled, locked, captcha_invalid, rate_limited
    pub reason: String,
    pub ip: String,
    pub user_agent: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    /// password, swagger or oauth2:{provider}
    pub method: String,
    #[serde(serialize_with = "as_utc")]
    pub created_at: NaiveDateTime,
    /// More than 1 for rate-limited refusals, counted per address and minute.
    pub attempts: i32,
}

/// Stored times are UTC without a zone; the API says so (RFC 3339 with `Z`).
fn as_utc<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    t.and_utc().serialize(s)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = login_logs)]
pub struct NewLoginLog {
    pub user_id: Option<i64>,
    pub username: String,
    pub success: bool,
    pub reason: String,
    pub ip: String,
    pub user_agent: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    pub method: String,
    pub created_at: NaiveDateTime,
    pub attempts: i32,
}

/// A role with its permission codes, as listed.
#[derive(Debug, Clone, Serialize, paperclip::actix::Apiv2Schema)]
pub struct RoleRow {
    pub id: i64,
    pub name: String,
    /// 1 enabled, 0 disabled.
    pub status: i32,
    pub codes: Vec<String>,
}

/// An API client as listed (never its secret).
#[derive(Debug, Clone, Serialize, paperclip::actix::Apiv2Schema)]
pub struct ApiClientRow {
    pub client_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Space-separated claim names its introspection answers hold.
    pub claims: String,
    pub audience: Option<String>,
}
