//! Users over REST at fba's paths, for superusers and holders of the `sys:user:*` codes.

use actix_web::{web::Data, HttpRequest};
use paperclip::actix::{
    api_v2_operation,
    web::{Json, Path, Query},
    Apiv2Schema,
};
use serde::{Deserialize, Serialize};

use super::paging;
use crate::account::Accounts;
use crate::admin::{Admin, Caller, UserEdit, UserSpec};
use crate::auth::reauth::Reauth;
use crate::domain::codes;
use crate::domain::AuthUser;
use crate::error::{kind, ApiError, Lang};
use crate::repo::UserFilter;
use crate::web::{ApiOk, CurrentUser};

#[derive(Deserialize, Apiv2Schema)]
pub struct UserQuery {
    /// Part of the username.
    pub username: Option<String>,
    /// 1 enabled, 0 disabled.
    pub status: Option<i32>,
    /// From 1 (default 1).
    pub page: Option<i64>,
    /// 1 to 200 (default 20).
    pub size: Option<i64>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct UserPage {
    pub items: Vec<AuthUser>,
    pub total: i64,
    pub page: i64,
    pub size: i64,
}

/// Users by id, with their roles and permission codes (superusers, or any `sys:user:*` code).
#[api_v2_operation(tags(users))]
pub async fn list(
    me: CurrentUser,
    query: Query<UserQuery>,
    admin: Data<Admin>,
) -> Result<ApiOk<UserPage>, ApiError> {
    me.require_any(codes::USER_ANY)?;
    let q = query.into_inner();
    let (page, size) = paging(q.page, q.size)?;
    if q.status.is_some_and(|s| !(0..=1).contains(&s)) {
        return Err(ApiError::new(kind::INVALID_BODY).with_detail("status must be 0 or 1"));
    }
    let filter = UserFilter {
        username: q.username.filter(|u| !u.is_empty()),
        status: q.status,
    };
    let (items, total) = admin.list_users(filter, page, size).await?;
    Ok(ApiOk::new(UserPage {
        items,
        total,
        page,
        size,
    }))
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    /// Only a superuser may create one.
    pub is_superuser: Option<bool>,
    pub is_staff: Option<bool>,
    pub multi_login: Option<bool>,
}

/// Create a user, checked as `portcullis user create` checks (`sys:user:add`).
#[api_v2_operation(tags(users))]
pub async fn create(
    req: HttpRequest,
    me: CurrentUser,
    body: Json<NewUser>,
    admin: Data<Admin>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<AuthUser>, ApiError> {
    me.require(codes::USER_ADD)?;
    let b = body.into_inner();
    let spec = UserSpec {
        username: b.username,
        password: b.password,
        email: b.email,
        nickname: b.nickname,
        superuser: b.is_superuser.unwrap_or(false),
        phone: b.phone,
        avatar: b.avatar,
        staff: b.is_staff,
        multi_login: b.multi_login,
        disabled: false,
    };
    let user = admin.create_user_by(Caller::User(&me.user), spec).await?;
    accounts
        .verify_new_address(user.id, Lang::from_request(&req))
        .await;
    Ok(ApiOk::new(user))
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// Empty: the username.
    pub nickname: Option<String>,
    /// Empty: none. A new address is unverified.
    pub email: Option<String>,
    /// Empty: none.
    pub phone: Option<String>,
    /// An http(s) URL; empty: none.
    pub avatar: Option<String>,
    /// 1 enabled, 0 disabled (ends the user's sessions).
    pub status: Option<i32>,
    /// Superusers only.
    pub is_superuser: Option<bool>,
    pub is_staff: Option<bool>,
    pub multi_login: Option<bool>,
}

/// Change any of a user's fields (`sys:user:edit`; superuser accounts, the superuser flag and
/// users holding codes the caller does not: superusers only). Takes effect on every node at the user's next request.
#[api_v2_operation(tags(users))]
pub async fn update(
    req: HttpRequest,
    me: CurrentUser,
    id: Path<i64>,
    body: Json<UserUpdate>,
    admin: Data<Admin>,
    accounts: Data<Accounts>,
) -> Result<ApiOk<AuthUser>, ApiError> {
    me.require(codes::USER_EDIT)?;
    let b = body.into_inner();
    let edit = UserEdit {
        nickname: b.nickname,
        email: b.email,
        phone: b.phone,
        avatar: b.avatar,
        status: b.status,
        is_superuser: b.is_superuser,
        is_staff: b.is_staff,
        multi_login: b.multi_login,
    };
    let edited = admin
        .edit_user(Caller::User(&me.user), id.into_inner(), edit)
        .await?;
    let user = edited.user;
    // A changed address is unverified: its owner gets the link (an unchanged one gets nothing).
    if edited.email_changed && user.email.is_some() {
        accounts
            .verify_new_address(user.id, Lang::from_request(&req))
            .await;
    }
    Ok(ApiOk::new(user))
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub password: String,
    /// If sent, must equal `password`.
    pub confirm_password: Option<String>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct SessionsEnded {
    pub ended_sessions: usize,
}

/// Set a user's password; every session of the user ends (`sys:user:pwd:reset`; a user holding
/// codes the caller does not: superusers only). One's own password this way needs a recent
/// sign-in, as `PUT /sys/users/me/password` needs the current password (else 401
/// `insufficient_user_authentication`).
#[api_v2_operation(tags(users))]
pub async fn reset_password(
    me: CurrentUser,
    id: Path<i64>,
    body: Json<PasswordReset>,
    admin: Data<Admin>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<SessionsEnded>, ApiError> {
    me.require(codes::USER_PASSWORD_RESET)?;
    let id = id.into_inner();
    if id == me.user.id {
        reauth.require_recent(me.user.id, &me.sid).await?;
    }
    let b = body.into_inner();
    if b.confirm_password
        .as_ref()
        .is_some_and(|c| *c != b.password)
    {
        return Err(ApiError::new(kind::PASSWORD_MISMATCH));
    }
    let ended_sessions = admin
        .reset_password(Caller::User(&me.user), id, b.password)
        .await?;
    Ok(ApiOk::new(SessionsEnded { ended_sessions }))
}

#[derive(Serialize, Apiv2Schema)]
pub struct MfaReset {
    /// Whether the user had a second factor (false: nothing changed).
    pub removed: bool,
    pub ended_sessions: usize,
}

/// Remove a user's second factors (TOTP, passkeys, recovery codes), for a user who lost them: the
/// next login needs only the password, and every session of the user ends on every node
/// (`sys:user:mfa:reset`; a user holding codes the caller does not: superusers only). Logged
/// as a `security` event. One's own factors this way need a recent sign-in with them.
#[api_v2_operation(tags(users))]
pub async fn reset_mfa(
    me: CurrentUser,
    id: Path<i64>,
    admin: Data<Admin>,
    reauth: Data<Reauth>,
) -> Result<ApiOk<MfaReset>, ApiError> {
    me.require(codes::USER_MFA_RESET)?;
    let id = id.into_inner();
    // One's own factors: as removing them oneself, a recent sign-in with them.
    if id == me.user.id {
        reauth.require_recent(me.user.id, &me.sid).await?;
    }
    let ended = admin.reset_mfa(Caller::User(&me.user), id).await?;
    Ok(ApiOk::new(MfaReset {
        removed: ended.is_some(),
        ended_sessions: ended.unwrap_or(0),
    }))
}

/// Delete a user; its sessions end on every node (`sys:user:del`; a user holding codes the
/// caller does not: superusers only).
#[api_v2_operation(tags(users))]
pub async fn delete(
    me: CurrentUser,
    id: Path<i64>,
    admin: Data<Admin>,
) -> Result<ApiOk<SessionsEnded>, ApiError> {
    me.require(codes::USER_DELETE)?;
    let ended_sessions = admin
        .delete_user(Caller::User(&me.user), id.into_inner())
        .await?;
    Ok(ApiOk::new(SessionsEnded { ended_sessions }))
}
