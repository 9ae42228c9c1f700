use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Path, Apiv2Schema};
use serde::Serialize;

use crate::auth::sessions::Sessions;
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser};

#[derive(Serialize, Apiv2Schema)]
pub struct SessionView {
    pub session_uuid: String,
    pub current: bool,
    pub method: String,
    pub ip: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_refresh_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// The caller's live sessions, oldest first.
#[api_v2_operation(tags(auth))]
pub async fn list(
    me: CurrentUser,
    sessions: Data<Sessions>,
) -> Result<ApiOk<Vec<SessionView>>, ApiError> {
    let sessions = sessions.list(me.user.id).await?;
    Ok(ApiOk::new(
        sessions
            .into_iter()
            .map(|s| SessionView {
                expires_at: at(s.live_until()),
                current: *s.sid == *me.sid,
                session_uuid: s.sid,
                method: s.method,
                ip: s.ip,
                os: s.os,
                browser: s.browser,
                device: s.device,
                created_at: at(s.created_at),
                last_refresh_at: at(s.last_refresh_at),
            })
            .collect(),
    ))
}

/// End one of the caller's own sessions.
#[api_v2_operation(tags(auth))]
pub async fn end(
    me: CurrentUser,
    sid: Path<String>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<()>, ApiError> {
    let sid = sid.into_inner();
    if sessions.get(me.user.id, &sid).await?.is_none() {
        return Err(ApiError::new(kind::SESSION_NOT_FOUND));
    }
    sessions.end(me.user.id, &sid).await?;
    Ok(ApiOk::new(()))
}

/// The caller's permission codes (from the enabled roles' permissions).
#[api_v2_operation(tags(auth))]
pub async fn codes(me: CurrentUser) -> Result<ApiOk<Vec<String>>, ApiError> {
    Ok(ApiOk::new(me.user.permissions.clone()))
}
