use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{
    api_v2_operation,
    web::{Json, Query},
    Apiv2Schema,
};
use serde::{Deserialize, Serialize};

use super::paging;
use crate::actors::repo::{DeleteLoginLogs, ListLoginLogs, PruneLoginLogs, RepoHandle};
use crate::db::models::LoginLogRow;
use crate::domain::codes;
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

/// The login log, newest first (superusers, or the `log:login:*` codes).
#[api_v2_operation(tags(logs))]
pub async fn login_logs(
    repo: Data<RepoHandle>,
    me: CurrentUser,
    query: Query<LoginLogQuery>,
) -> Result<ApiOk<LoginLogPage>, ApiError> {
    me.require_any(codes::LOGIN_LOG_ANY)?;
    let q = query.into_inner();
    let success = match q.status.as_deref() {
        None | Some("") => None,
        Some("success") => Some(true),
        Some("failure") => Some(false),
        Some(_) => {
            return Err(ApiError::new(kind::INVALID_BODY)
                .with_detail("status must be `success` or `failure`"))
        }
    };
    let (page, size) = paging(q.page, q.size)?;
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

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct LogIds {
    /// Ids of the entries to delete.
    pub pks: Vec<i64>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Deleted {
    pub deleted: usize,
}

/// Delete these entries (`log:login:del`).
#[api_v2_operation(tags(logs))]
pub async fn delete(
    me: CurrentUser,
    body: Json<LogIds>,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<Deleted>, ApiError> {
    me.require(codes::LOGIN_LOG_DELETE)?;
    let ids = body.into_inner().pks;
    if ids.len() > 10_000 {
        return Err(ApiError::new(kind::INVALID_BODY).with_detail("at most 10000 ids at once"));
    }
    let deleted = repo
        .send(DeleteLoginLogs { ids })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(Deleted { deleted }))
}

/// Delete every entry (`log:login:clear`).
#[api_v2_operation(tags(logs))]
pub async fn clear(me: CurrentUser, repo: Data<RepoHandle>) -> Result<ApiOk<Deleted>, ApiError> {
    me.require(codes::LOGIN_LOG_CLEAR)?;
    let deleted = repo
        .send(PruneLoginLogs { before: None })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(Deleted { deleted }))
}
