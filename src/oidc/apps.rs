//! The apps a user let in: the clients they consented to and the ones holding a session of
//! theirs (a first-party client asks no consent but holds sessions all the same). Revoking an
//! app takes the consent back and ends its sessions, so its refresh tokens stop working and
//! its access tokens are refused at once; it is told by back-channel logout like any ended
//! session. Its next sign-in asks for consent again.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::actors::repo::{ConsentsOf, DeleteConsent, RepoHandle};
use crate::auth::sessions::Sessions;
use crate::error::{kind, ApiError};

/// An app with access to the user's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    pub client_id: String,
    /// What the user let it have (the consent's, or the scopes its sessions hold).
    pub scopes: Vec<String>,
    /// When the user consented (`None`: a first-party app, which asks no consent).
    pub consented_at: Option<NaiveDateTime>,
    /// Its live sessions of the user's.
    pub sessions: usize,
    /// When it last used one (unix seconds), if it holds any.
    pub last_used_at: Option<i64>,
}

/// The user's apps, by client id.
pub async fn apps_of(
    repo: &RepoHandle,
    sessions: &Sessions,
    uid: i64,
) -> Result<Vec<AppAccess>, ApiError> {
    let mut apps: BTreeMap<String, AppAccess> = BTreeMap::new();
    let app = |client_id: &str| AppAccess {
        client_id: client_id.to_owned(),
        scopes: Vec::new(),
        consented_at: None,
        sessions: 0,
        last_used_at: None,
    };
    for (client_id, scopes, at) in repo
        .send(ConsentsOf { user_id: uid })
        .await
        .map_err(ApiError::unavailable)?
    {
        let entry = apps
            .entry(client_id.clone())
            .or_insert_with(|| app(&client_id));
        entry.scopes = words(&scopes);
        entry.consented_at = Some(at);
    }
    for s in sessions.list(uid).await? {
        let Some(grant) = &s.client else { continue };
        let entry = apps
            .entry(grant.client_id.clone())
            .or_insert_with(|| app(&grant.client_id));
        entry.sessions += 1;
        entry.last_used_at = entry.last_used_at.max(Some(s.last_refresh_at));
        if entry.consented_at.is_none() {
            for scope in words(&grant.scope) {
                if !entry.scopes.contains(&scope) {
                    entry.scopes.push(scope);
                }
            }
        }
    }
    Ok(apps.into_values().collect())
}

/// Takes `client_id`'s access away: the consent and every session it holds of the user's.
/// How many live sessions ended; not found when it had neither.
pub async fn revoke(
    repo: &RepoHandle,
    sessions: &Sessions,
    uid: i64,
    client_id: &str,
) -> Result<usize, ApiError> {
    let consents = repo
        .send(DeleteConsent {
            user_id: uid,
            client_id: client_id.to_owned(),
        })
        .await
        .map_err(ApiError::unavailable)?;
    let ended = sessions.end_client(uid, client_id).await?;
    if consents == 0 && ended == 0 {
        return Err(ApiError::new(kind::NOT_FOUND)
            .with_detail(format!("no app `{client_id}` has access to this account")));
    }
    tracing::info!(target: "security", uid, client = client_id, ended, "app access revoked");
    Ok(ended)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}
