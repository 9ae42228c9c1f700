//! Who is online, and kicking a session out, at fba's paths (superusers, or the
//! `monitor:online:*` codes).

use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{
    api_v2_operation,
    web::{Path, Query},
    Apiv2Schema,
};
use serde::{Deserialize, Serialize};

use super::paging;
use crate::actors::repo::{FindUserByName, FindUsersByIds, RepoHandle};
use crate::auth::sessions::Sessions;
use crate::domain::codes;
use crate::domain::SessionRecord;
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser};

#[derive(Deserialize, Apiv2Schema)]
pub struct OnlineQuery {
    /// Exactly this user's sessions.
    pub username: Option<String>,
    /// From 1 (default 1).
    pub page: Option<i64>,
    /// Users per page, 1 to 200 (default 20).
    pub size: Option<i64>,
}

/// One live session.
#[derive(Serialize, Apiv2Schema)]
pub struct OnlineSession {
    pub user_id: i64,
    pub username: String,
    pub nickname: String,
    pub session_uuid: String,
    /// `password`, `swagger` or `oauth2:{provider}`.
    pub method: String,
    pub ip: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_refresh_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Paged by user: `size` users per page with all their live sessions; `total` counts users.
#[derive(Serialize, Apiv2Schema)]
pub struct OnlinePage {
    pub items: Vec<OnlineSession>,
    pub total: i64,
    pub page: i64,
    pub size: i64,
}

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// Every live session, oldest user id first (superusers, or `monitor:online:list`).
#[api_v2_operation(tags(monitors))]
pub async fn online(
    me: CurrentUser,
    query: Query<OnlineQuery>,
    sessions: Data<Sessions>,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<OnlinePage>, ApiError> {
    me.require_any(codes::ONLINE_ANY)?;
    let q = query.into_inner();
    let (page, size) = paging(q.page, q.size)?;
    let (users, total) = match q.username.filter(|u| !u.is_empty()) {
        Some(username) => {
            let user = repo
                .send(FindUserByName { username })
                .await
                .map_err(ApiError::unavailable)?;
            let mut found = Vec::new();
            if let Some(u) = user {
                let live = sessions.list(u.id).await?;
                if !live.is_empty() {
                    found.push((u, live));
                }
            }
            let total = found.len();
            if page > 1 {
                found.clear();
            }
            (found, total)
        }
        None => {
            let (online, total) = sessions.online(page as usize, size as usize).await?;
            let ids = online.iter().map(|(uid, _)| *uid).collect();
            let users = repo
                .send(FindUsersByIds { ids })
                .await
                .map_err(ApiError::unavailable)?;
            let with_sessions = online
                .into_iter()
                .filter_map(|(uid, live)| Some((users.iter().find(|u| u.id == uid)?.clone(), live)))
                .collect::<Vec<_>>();
            (with_sessions, total)
        }
    };
    let items = users
        .into_iter()
        .flat_map(|(u, live): (_, Vec<SessionRecord>)| {
            live.into_iter().map(move |s| OnlineSession {
                user_id: u.id,
                username: u.username.clone(),
                nickname: u.nickname.clone(),
                expires_at: at(s.live_until()),
                session_uuid: s.sid,
                method: s.method,
                ip: s.ip,
                os: s.os,
                browser: s.browser,
                device: s.device,
                created_at: at(s.created_at),
                last_refresh_at: at(s.last_refresh_at),
            })
        })
        .collect();
    Ok(ApiOk::new(OnlinePage {
        items,
        total: total as i64,
        page,
        size,
    }))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct KickQuery {
    /// The session to end; without it, every session of the user.
    pub session_uuid: Option<String>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Kicked {
    pub ended_sessions: usize,
}

/// End a user's session (or all of them), refresh token included, on every node at once
/// (superusers, or `monitor:online:kick`).
#[api_v2_operation(tags(monitors))]
pub async fn kick(
    me: CurrentUser,
    user_id: Path<i64>,
    query: Query<KickQuery>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<Kicked>, ApiError> {
    me.require(codes::ONLINE_KICK)?;
    let ended_sessions = end_sessions(
        &sessions,
        user_id.into_inner(),
        query.into_inner().session_uuid,
    )
    .await?;
    Ok(ApiOk::new(Kicked { ended_sessions }))
}

/// Ends one session of the user (404 if it is not theirs or not live), or all of them.
pub async fn end_sessions(
    sessions: &Sessions,
    uid: i64,
    sid: Option<String>,
) -> Result<usize, ApiError> {
    match sid.filter(|s| !s.is_empty()) {
        Some(sid) => {
            if sessions.get(uid, &sid).await?.is_none() {
                return Err(ApiError::new(kind::SESSION_NOT_FOUND));
            }
            Ok(usize::from(sessions.end(uid, &sid).await?))
        }
        None => sessions.end_all(uid, None).await,
    }
}
