use actix_web::web::Data;
use chrono::NaiveDateTime;
use paperclip::actix::{api_v2_operation, web::Path, Apiv2Schema};
use serde::Serialize;

use crate::auth::user::CurrentUser;
use crate::error::{kind, ApiError};
use crate::routes::ApiOk;
use crate::startup::AppState;

#[derive(Serialize, Apiv2Schema)]
pub struct Binding {
    pub provider: String,
    pub provider_user_id: String,
    pub bound_at: NaiveDateTime,
}

/// The caller's bound provider identities.
#[api_v2_operation(tags(oauth2))]
pub async fn list(state: Data<AppState>, me: CurrentUser) -> Result<ApiOk<Vec<Binding>>, ApiError> {
    let uid = me.user.id;
    let rows = state
        .repo
        .run(move |r| async move { r.socials_of(uid).await })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(
        rows.into_iter()
            .map(|(provider, provider_user_id, bound_at)| Binding {
                provider,
                provider_user_id,
                bound_at,
            })
            .collect(),
    ))
}

/// Unbind a provider from the caller's account; refused when it is the last way to log in.
#[api_v2_operation(tags(oauth2))]
pub async fn unbind(
    state: Data<AppState>,
    me: CurrentUser,
    provider: Path<String>,
) -> Result<ApiOk<()>, ApiError> {
    let uid = me.user.id;
    let provider = provider.into_inner();
    let rows = state
        .repo
        .run(move |r| async move { r.socials_of(uid).await })
        .await
        .map_err(ApiError::unavailable)?;
    if !rows.iter().any(|(p, _, _)| *p == provider) {
        return Err(ApiError::new(kind::NOT_FOUND));
    }
    // Read the password state from the database, not the cache: it is what login will see.
    let has_password = state
        .repo
        .run(move |r| async move { r.user_by_id(uid).await })
        .await
        .map_err(ApiError::unavailable)?
        .is_some_and(|u| u.password_hash.is_some());
    if !has_password && rows.len() == 1 {
        return Err(ApiError::new(kind::LAST_LOGIN_METHOD));
    }
    state
        .repo
        .run(move |r| async move { r.unlink_social(uid, &provider).await })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(ApiOk::new(()))
}
