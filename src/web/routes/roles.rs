//! Roles and their permission codes over REST, at fba's paths (superusers only).

use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, web::Json, web::Path, Apiv2Schema};
use serde::Deserialize;

use crate::admin::roles::Roles;
use crate::db::models::RoleRow;
use crate::error::ApiError;
use crate::repo::{CodeChange, RoleKey};
use crate::web::{ApiOk, CurrentUser};

/// Every role with its permission codes.
#[api_v2_operation(tags(roles))]
pub async fn list(me: CurrentUser, roles: Data<Roles>) -> Result<ApiOk<Vec<RoleRow>>, ApiError> {
    me.require_superuser()?;
    Ok(ApiOk::new(roles.list().await?))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct NewRole {
    pub name: String,
    /// Permission codes, e.g. `sys:user:add` (none if left out).
    pub codes: Option<Vec<String>>,
}

/// Create a role.
#[api_v2_operation(tags(roles))]
pub async fn create(
    me: CurrentUser,
    body: Json<NewRole>,
    roles: Data<Roles>,
) -> Result<ApiOk<RoleRow>, ApiError> {
    me.require_superuser()?;
    let body = body.into_inner();
    Ok(ApiOk::new(
        roles
            .create(&body.name, body.codes.as_deref().unwrap_or_default())
            .await?,
    ))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct RoleUpdate {
    pub name: Option<String>,
    /// 1 enabled, 0 disabled.
    pub status: Option<i32>,
}

/// Rename, enable or disable a role.
#[api_v2_operation(tags(roles))]
pub async fn update(
    me: CurrentUser,
    id: Path<i64>,
    body: Json<RoleUpdate>,
    roles: Data<Roles>,
) -> Result<ApiOk<RoleRow>, ApiError> {
    me.require_superuser()?;
    let body = body.into_inner();
    let enabled = match body.status {
        None => None,
        Some(0) => Some(false),
        Some(1) => Some(true),
        Some(_) => {
            return Err(ApiError::new(crate::error::kind::INVALID_BODY)
                .with_detail("status must be 0 or 1"))
        }
    };
    Ok(ApiOk::new(
        roles
            .update(RoleKey::Id(id.into_inner()), body.name.as_deref(), enabled)
            .await?,
    ))
}

/// Delete a role; its holders lose its codes on their next request.
#[api_v2_operation(tags(roles))]
pub async fn delete(
    me: CurrentUser,
    id: Path<i64>,
    roles: Data<Roles>,
) -> Result<ApiOk<()>, ApiError> {
    me.require_superuser()?;
    roles.delete(RoleKey::Id(id.into_inner())).await?;
    Ok(ApiOk::new(()))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct Codes {
    /// The role's permission codes, exactly.
    pub codes: Vec<String>,
}

/// Set a role's permission codes.
#[api_v2_operation(tags(roles))]
pub async fn set_permissions(
    me: CurrentUser,
    id: Path<i64>,
    body: Json<Codes>,
    roles: Data<Roles>,
) -> Result<ApiOk<RoleRow>, ApiError> {
    me.require_superuser()?;
    Ok(ApiOk::new(
        roles
            .change_codes(
                RoleKey::Id(id.into_inner()),
                CodeChange::Replace,
                &body.codes,
            )
            .await?,
    ))
}

#[derive(Deserialize, Apiv2Schema)]
pub struct UserRoles {
    /// Role ids, exactly.
    pub roles: Vec<i64>,
}

/// Set a user's roles.
#[api_v2_operation(tags(roles))]
pub async fn set_user_roles(
    me: CurrentUser,
    id: Path<i64>,
    body: Json<UserRoles>,
    roles: Data<Roles>,
) -> Result<ApiOk<Vec<RoleRow>>, ApiError> {
    me.require_superuser()?;
    let keys: Vec<RoleKey> = body.roles.iter().copied().map(RoleKey::Id).collect();
    Ok(ApiOk::new(
        roles
            .change_user_roles(id.into_inner(), CodeChange::Replace, &keys)
            .await?,
    ))
}
