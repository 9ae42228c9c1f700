//! The apps (OpenID clients) with access to the caller's account, and taking that access back.

use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Path, Apiv2Schema};
use serde::Serialize;

use crate::actors::RepoHandle;
use crate::auth::sessions::Sessions;
use crate::error::ApiError;
use crate::oidc::apps;
use crate::web::{ApiOk, CurrentUser};

#[derive(Serialize, Apiv2Schema)]
pub struct AppView {
    pub client_id: String,
    /// What it may see (the scopes consented to).
    pub scopes: Vec<String>,
    /// `null` for a first-party app, which asks no consent.
    pub consented_at: Option<DateTime<Utc>>,
    /// Its live sessions (each with a refresh token).
    pub sessions: usize,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The apps with access to the caller's account: those consented to and those holding a
/// session.
#[api_v2_operation(tags(auth))]
pub async fn list(
    me: CurrentUser,
    repo: Data<RepoHandle>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<Vec<AppView>>, ApiError> {
    let all = apps::apps_of(&repo, &sessions, me.user.id).await?;
    Ok(ApiOk::new(
        all.into_iter()
            .map(|a| AppView {
                client_id: a.client_id,
                scopes: a.scopes,
                consented_at: a.consented_at.map(|t| t.and_utc()),
                sessions: a.sessions,
                last_used_at: a.last_used_at.and_then(|t| DateTime::from_timestamp(t, 0)),
            })
            .collect(),
    ))
}

#[derive(Serialize, Apiv2Schema)]
pub struct AppRevoked {
    pub ended_sessions: usize,
}

/// Revoke an app's access: its consent goes and its sessions end (its refresh tokens stop
/// working, its access tokens are refused at once, and it is told by back-channel logout).
/// It asks for consent again at its next sign-in.
#[api_v2_operation(tags(auth))]
pub async fn revoke(
    me: CurrentUser,
    client_id: Path<String>,
    repo: Data<RepoHandle>,
    sessions: Data<Sessions>,
) -> Result<ApiOk<AppRevoked>, ApiError> {
    let ended_sessions = apps::revoke(&repo, &sessions, me.user.id, &client_id).await?;
    Ok(ApiOk::new(AppRevoked { ended_sessions }))
}
