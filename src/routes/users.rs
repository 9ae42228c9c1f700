use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::user::{AuthUser, CurrentUser};
use crate::error::{kind, ApiError};
use crate::routes::{ApiOk, Prejsoned};
use crate::startup::AppState;
use crate::store::Invalidation;

/// The current user.
#[api_v2_operation(tags(users))]
pub async fn me(me: CurrentUser) -> Result<Prejsoned<AuthUser>, ApiError> {
    Ok(Prejsoned::new(me.user))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct ChangePassword {
    /// Required when the account has a password.
    pub old_password: Option<String>,
    pub new_password: String,
    pub confirm_password: String,
}

#[derive(Serialize, Apiv2Schema)]
pub struct PasswordChanged {
    /// Other sessions this change ended.
    pub ended_sessions: usize,
}

/// Change the caller's password. Every other session of the caller ends.
#[api_v2_operation(tags(users))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn change_password(
    state: Data<AppState>,
    me: CurrentUser,
    body: Json<ChangePassword>,
) -> Result<ApiOk<PasswordChanged>, ApiError> {
    let body = body.into_inner();
    let uid = me.user.id;
    if body.new_password != body.confirm_password {
        return Err(ApiError::new(kind::PASSWORD_MISMATCH));
    }
    state
        .password_policy()
        .check(&body.new_password, &me.user.username)
        .map_err(|e| ApiError::new(kind::PASSWORD_POLICY).with_detail(e.to_string()))?;
    let row = state
        .repo
        .run(move |r| async move { r.user_by_id(uid).await })
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(kind::INVALID_TOKEN))?;
    if let Some(stored) = row.password_hash {
        let old = body.old_password.unwrap_or_default();
        let v = state
            .hasher
            .verify(old, Some(stored))
            .await
            .map_err(ApiError::internal)?;
        if !v.ok {
            return Err(ApiError::new(kind::WRONG_OLD_PASSWORD));
        }
    }
    let hash = state
        .hasher
        .hash(body.new_password)
        .await
        .map_err(ApiError::internal)?;
    let now = state.clock.naive();
    state
        .repo
        .run(move |r| async move { r.set_password_hash(uid, &hash, Some(now), now).await })
        .await
        .map_err(ApiError::unavailable)?;
    let ended = state.sessions.end_all(uid, Some(&me.sid)).await?;
    state.cache.invalidate(Invalidation::User(uid)).await?;
    Ok(ApiOk::new(PasswordChanged {
        ended_sessions: ended,
    }))
}
