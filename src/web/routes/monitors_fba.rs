//! fba's online-sessions paths, `GET /monitors/sessions` and
//! `DELETE /monitors/sessions/{user_id}?session_uuid=`, in fba's shape (`GetTokenDetail`), for
//! fba's frontend (its profile's devices tab among others). Holders of the `monitor:online:*`
//! codes (and superusers) see everyone, as at `/monitors/online`; anyone else sees and ends
//! only their own sessions.

use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{
    api_v2_operation,
    web::{Path, Query},
    Apiv2Schema,
};
use serde::{Deserialize, Serialize};

use super::monitors::{end_sessions, KickQuery, Kicked};
use crate::actors::repo::{FindUserByName, FindUsersByIds, RepoHandle};
use crate::auth::sessions::Sessions;
use crate::db::models::User;
use crate::domain::{codes, SessionRecord};
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser};

/// Users whose sessions one answer lists at most (fba's answer is not paged).
const MAX_USERS: usize = 1000;

#[derive(Deserialize, Apiv2Schema)]
pub struct SessionsQuery {
    /// Exactly this user's sessions.
    pub username: Option<String>,
}

/// One live session, as fba's `GetTokenDetail` names it.
#[derive(Serialize, Apiv2Schema)]
pub struct TokenDetail {
    /// The user's id.
    pub id: i64,
    pub session_uuid: String,
    pub username: String,
    pub nickname: String,
    pub ip: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    /// 1: the session is live (every listed one is).
    pub status: i32,
    /// When the session signed in.
    pub last_login_time: DateTime<Utc>,
    /// When the session ends unless refreshed.
    pub expire_time: DateTime<Utc>,
}

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

fn details(u: &User, live: Vec<SessionRecord>) -> impl Iterator<Item = TokenDetail> + '_ {
    live.into_iter().map(move |s| TokenDetail {
        id: u.id,
        username: u.username.clone(),
        nickname: u.nickname.clone(),
        expire_time: at(s.live_until()),
        last_login_time: at(s.created_at),
        session_uuid: s.sid,
        ip: s.ip,
        os: s.os,
        browser: s.browser,
        device: s.device,
        status: 1,
    })
}

/// One user's live sessions, by name.
async fn of_user(
    repo: &RepoHandle,
    sessions: &Sessions,
    username: String,
) -> Result<Vec<(User, Vec<SessionRecord>)>, ApiError> {
    let user = repo
        .send(FindUserByName { username })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(match user {
        Some(u) => {
            let live = sessions.list(u.id).await?;
            vec![(u, live)]
        }
        None => Vec::new(),
    })
}

/// Live sessions in fba's shape, by user id: everyone's for `monitor:online:*` holders (up to
/// 1000 users), else the caller's own.
#[api_v2_operation(tags(monitors))]
pub async fn sessions(
    me: CurrentUser,
    query: Query<SessionsQuery>,
    sessions: Data<Sessions>,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<Vec<TokenDetail>>, ApiError> {
    let monitor = me.require_any(codes::ONLINE_ANY).is_ok();
    let users = match query.into_inner().username.filter(|u| !u.is_empty()) {
        Some(name) if !monitor && name != me.user.username => {
            return Err(ApiError::new(kind::INSUFFICIENT_SCOPE));
        }
        Some(name) => of_user(&repo, &sessions, name).await?,
        None if !monitor => of_user(&repo, &sessions, me.user.username.clone()).await?,
        None => {
            let (online, _) = sessions.online(1, MAX_USERS).await?;
            let ids = online.iter().map(|(uid, _)| *uid).collect();
            let found = repo
                .send(FindUsersByIds { ids })
                .await
                .map_err(ApiError::unavailable)?;
            online
                .into_iter()
                .filter_map(|(uid, live)| Some((found.iter().find(|u| u.id == uid)?.clone(), live)))
                .collect()
        }
    };
    Ok(ApiOk::new(
        users
            .into_iter()
            .flat_map(|(u, live)| details(&u, live).collect::<Vec<_>>())
            .collect(),
    ))
}

/// End a session (`session_uuid`) or every session of the user, at fba's path: one's own
/// always, anyone's with `monitor:online:kick`.
#[api_v2_operation(tags(monitors))]
pub async fn end(
    me: CurrentUser,
    user_id: Path<i64>,
    query: Query<KickQuery>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<Kicked>, ApiError> {
    let uid = user_id.into_inner();
    if uid != me.user.id {
        me.require(codes::ONLINE_KICK)?;
    }
    let ended_sessions = end_sessions(&sessions, uid, query.into_inner().session_uuid).await?;
    Ok(ApiOk::new(Kicked { ended_sessions }))
}
