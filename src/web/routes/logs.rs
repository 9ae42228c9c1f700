use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Query, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::actors::repo::{ListLoginLogs, RepoHandle};
use crate::db::models::LoginLogRow;
use crate::error::{kind, ApiError};
use crate::repo::LoginLogFilter;
use crate::web::{ApiOk, CurrentUser};

#[derive(Deserialize, Apiv2Schema)]
pub struct LoginLogQuery {
    /// Part of the username tried.
    pub username: Option<String>,
    /// `success` or `failure` (empty: both).
    pub status: Option<String>,
    pub ip: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339, inclusive.
    pub to: Option<DateTime<Utc>>,
    /// From 1 (default 1).
    pub page: Option<i64>,
    /// 1 to 200 (default 20).
    pub size: Option<i64>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct LoginLogPage {
    pub items: Vec<LoginLogRow>,
    pub total: i64,
    pub page: i64,
    pub size: i64,
}

/// The login log, newest first (superusers only).
#[api_v2_operation(tags(logs))]
pub async fn login_logs(
    repo: Data<RepoHandle>,
    me: CurrentUser,
    query: Query<LoginLogQuery>,
) -> Result<ApiOk<LoginLogPage>, ApiError> {
    me.require_superuser()?;
    let q = query.into_inner();
    let invalid = |what: &str| ApiError::new(kind::INVALID_BODY).with_detail(what.to_owned());
    let success = match q.status.as_deref() {
        None | Some("") => None,
        Some("success") => Some(true),
        Some("failure") => Some(false),
        Some(_) => return Err(invalid("status must be `success` or `failure`")),
    };
    let page = q.page.unwrap_or(1);
    let size = q.size.unwrap_or(20);
    if page < 1 || !(1..=200).contains(&size) {
        return Err(invalid("page must be at least 1 and size 1 to 200"));
    }
    let filter = LoginLogFilter {
        username: q.username.filter(|u| !u.is_empty()),
        success,
        ip: q.ip.filter(|i| !i.is_empty()),
        from: q.from.map(|t| t.naive_utc()),
        to: q.to.map(|t| t.naive_utc()),
    };
    let (items, total) = repo
        .send(ListLoginLogs { filter, page, size })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(LoginLogPage {
        items,
        total,
        page,
        size,
    }))
}
