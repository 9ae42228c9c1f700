use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Path, Apiv2Schema};
use serde::Serialize;

use crate::actors::repo::{FindUserById, RepoHandle, SocialsOf, UnlinkSocial};
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser};

#[derive(Serialize, Apiv2Schema)]
pub struct Binding {
    pub provider: String,
    pub provider_user_id: String,
    pub bound_at: DateTime<Utc>,
}

/// The caller's bound provider identities.
#[api_v2_operation(tags(oauth2))]
pub async fn list(
    me: CurrentUser,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<Vec<Binding>>, ApiError> {
    let rows = repo
        .send(SocialsOf {
            user_id: me.user.id,
        })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(
        rows.into_iter()
            .map(|(provider, provider_user_id, bound_at)| Binding {
                provider,
                provider_user_id,
                bound_at: bound_at.and_utc(),
            })
            .collect(),
    ))
}

/// Unbind a provider from the caller's account; refused when it is the last way to log in.
#[api_v2_operation(tags(oauth2))]
pub async fn unbind(
    me: CurrentUser,
    provider: Path<String>,
    repo: Data<RepoHandle>,
) -> Result<ApiOk<()>, ApiError> {
    let uid = me.user.id;
    let provider = provider.into_inner();
    let rows = repo
        .send(SocialsOf { user_id: uid })
        .await
        .map_err(ApiError::unavailable)?;
    if !rows.iter().any(|(p, _, _)| *p == provider) {
        return Err(ApiError::new(kind::NOT_FOUND));
    }
    // Read the password state from the database, not the cache: it is what login will see.
    let has_password = repo
        .send(FindUserById { id: uid })
        .await
        .map_err(ApiError::unavailable)?
        .is_some_and(|u| u.password_hash.is_some());
    if !has_password && rows.len() == 1 {
        return Err(ApiError::new(kind::LAST_LOGIN_METHOD));
    }
    repo.send(UnlinkSocial {
        user_id: uid,
        provider,
    })
    .await
    .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(()))
}
