use actix_web::{web::Data, HttpRequest};

use crate::account::{Accounts, Notice};
use crate::error::Lang;
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::actors::repo::{FindUserById, RepoHandle, SetPasswordHash};
use crate::actors::CacheHandle;
use crate::auth::password::PasswordHasher;
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::domain::{AuthUser, Invalidation, PasswordPolicy};
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser, Prejsoned};

/// The current user, with how and when this session's user signed in: `amr` (`pwd`, `fed`,
/// `otp`, `hwk`, `swk`, `mfa`) and `auth_time` (Unix seconds), as the access token says.
#[api_v2_operation(tags(users))]
pub async fn me(me: CurrentUser) -> Result<Prejsoned<AuthUser>, ApiError> {
    Ok(Prejsoned::new(me.0.user, me.0.proof))
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

/// Change the caller's password (or set one on a password-less account). Every other session of
/// the caller ends. The current password proves who is asking (checks are limited per user);
/// an account without one needs a recent sign-in (else 401 `insufficient_user_authentication`).
#[api_v2_operation(tags(users))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    req: HttpRequest,
    me: CurrentUser,
    body: Json<ChangePassword>,
    repo: Data<RepoHandle>,
    hasher: Data<PasswordHasher>,
    sessions: Data<Sessions>,
    cache: Data<CacheHandle>,
    reauth: Data<Reauth>,
    policy: Data<PasswordPolicy>,
    clock: Data<SharedClock>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<PasswordChanged>, ApiError> {
    let body = body.into_inner();
    let uid = me.user.id;
    if body.new_password != body.confirm_password {
        return Err(ApiError::new(kind::PASSWORD_MISMATCH));
    }
    policy
        .check_for(
            &body.new_password,
            &me.user.username,
            me.user.email.as_deref(),
        )
        .map_err(|e| e.policy_error())?;
    let row = repo
        .send(FindUserById { id: uid })
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(kind::INVALID_TOKEN))?;
    if row.password_hash.is_some() {
        let old = body.old_password.unwrap_or_default();
        if !reauth.with_old_password(uid, &me.sid, old).await? {
            return Err(ApiError::new(kind::WRONG_OLD_PASSWORD));
        }
    } else {
        reauth.require_recent(uid, &me.sid).await?;
    }
    let hash = hasher.hash(body.new_password).await?;
    // Whole seconds: this session's re-authentication, stamped just after, must not predate it.
    let now = chrono::DateTime::from_timestamp(clock.unix(), 0)
        .unwrap_or_default()
        .naive_utc();
    repo.send(SetPasswordHash {
        user_id: uid,
        hash,
        changed_at: Some(now),
        now,
    })
    .await
    .map_err(ApiError::unavailable)?;
    sessions.password_changed_here(uid, &me.sid).await?;
    let ended = sessions.end_all(uid, Some(&me.sid)).await?;
    cache.invalidate(Invalidation::User(uid)).await?;
    let notice = Notice::PasswordChanged { by_reset: false };
    accounts.notify(uid, notice, Lang::from_request(&req)).await;
    Ok(ApiOk::new(PasswordChanged {
        ended_sessions: ended,
    }))
}
