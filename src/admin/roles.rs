//! Roles and their permission codes (fba's `module:resource:action`), and who holds them, for
//! the CLI and the REST API alike. A change to a role or its codes reaches every node's cache
//! (and every guard) at once through the invalidation log; a change to a user's roles, that
//! user's cached copy. Sessions stay: the next request sees the new codes.

use crate::actors::repo::{
    ChangeRoleCodes, ChangeUserRoles, CreateRole, DeleteRole, FindRole, FindUserById,
    FindUserByName, ListRoles, RepoHandle, RolesOf, UpdateRole,
};
use crate::actors::Invalidator;
use crate::clock::SharedClock;
use crate::db::models::RoleRow;
use crate::db::DbError;
use crate::domain::Invalidation;
use crate::repo::{CodeChange, RoleKey};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("role names are 1 to 64 characters, without control characters or commas")]
    InvalidName,
    #[error("`{0}` is not a permission code: 1 to 128 characters without spaces, commas or control characters (e.g. sys:user:add)")]
    InvalidCode(String),
    #[error("a role `{0}` exists already")]
    Taken(String),
    #[error("no role `{0}`")]
    NoSuchRole(String),
    #[error("no user `{0}`")]
    NoSuchUser(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RoleError> for crate::error::ApiError {
    fn from(e: RoleError) -> Self {
        use crate::error::{kind, ApiError};
        match e {
            RoleError::InvalidName | RoleError::InvalidCode(_) => {
                ApiError::new(kind::INVALID_BODY).with_detail(e.to_string())
            }
            RoleError::Taken(_) => ApiError::new(kind::CONFLICT).with_detail(e.to_string()),
            RoleError::NoSuchRole(_) | RoleError::NoSuchUser(_) => ApiError::new(kind::NOT_FOUND),
            RoleError::Db(e) => ApiError::unavailable(e),
            RoleError::Store(e) => ApiError::unavailable(e),
        }
    }
}

/// At most 64 characters as sent, and something left once trimmed.
pub fn check_name(name: &str) -> Result<String, RoleError> {
    let ok = name.chars().count() <= 64 && !name.chars().any(|c| c.is_control() || c == ',');
    let name = name.trim_ascii();
    (ok && !name.is_empty())
        .then(|| name.to_owned())
        .ok_or(RoleError::InvalidName)
}

/// Codes trimmed, checked, without duplicates, in order.
pub fn check_codes(codes: &[String]) -> Result<Vec<String>, RoleError> {
    let mut out: Vec<String> = Vec::with_capacity(codes.len());
    for c in codes {
        let long = c.chars().count() > 128;
        let c = c.trim_ascii();
        let ok = !long
            && !c.is_empty()
            && !c
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control() || ch == ',');
        if !ok {
            return Err(RoleError::InvalidCode(c.to_owned()));
        }
        if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
    }
    Ok(out)
}

#[derive(Clone)]
pub struct Roles {
    repo: RepoHandle,
    invalidator: Invalidator,
    clock: SharedClock,
}

impl Roles {
    pub fn new(repo: RepoHandle, invalidator: Invalidator, clock: SharedClock) -> Self {
        Self {
            repo,
            invalidator,
            clock,
        }
    }

    async fn changed(&self) -> Result<(), RoleError> {
        Ok(self.invalidator.invalidate(Invalidation::Roles).await?)
    }

    pub async fn list(&self) -> Result<Vec<RoleRow>, RoleError> {
        Ok(self.repo.send(ListRoles {}).await?)
    }

    pub async fn get(&self, key: RoleKey) -> Result<RoleRow, RoleError> {
        let shown = match &key {
            RoleKey::Id(id) => id.to_string(),
            RoleKey::Name(n) => n.clone(),
        };
        self.repo
            .send(FindRole { key })
            .await?
            .ok_or(RoleError::NoSuchRole(shown))
    }

    pub async fn create(&self, name: &str, codes: &[String]) -> Result<RoleRow, RoleError> {
        let name = check_name(name)?;
        let codes = check_codes(codes)?;
        let created = self
            .repo
            .send(CreateRole {
                name: name.clone(),
                codes,
                now: self.clock.naive(),
            })
            .await;
        let id = match created {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(RoleError::Taken(name)),
            Err(e) => return Err(e.into()),
        };
        self.get(RoleKey::Id(id)).await
    }

    /// Renames, enables or disables a role.
    pub async fn update(
        &self,
        key: RoleKey,
        name: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<RoleRow, RoleError> {
        let role = self.get(key).await?;
        let name = name.map(check_name).transpose()?;
        let updated = self
            .repo
            .send(UpdateRole {
                id: role.id,
                name: name.clone(),
                status: enabled.map(i32::from),
            })
            .await;
        match updated {
            Ok(_) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(RoleError::Taken(name.unwrap_or_default()))
            }
            Err(e) => return Err(e.into()),
        }
        self.changed().await?;
        self.get(RoleKey::Id(role.id)).await
    }

    pub async fn delete(&self, key: RoleKey) -> Result<(), RoleError> {
        let role = self.get(key).await?;
        self.repo.send(DeleteRole { id: role.id }).await?;
        self.changed().await
    }

    /// Adds, removes, or sets exactly (`Replace`) a role's codes.
    pub async fn change_codes(
        &self,
        key: RoleKey,
        change: CodeChange,
        codes: &[String],
    ) -> Result<RoleRow, RoleError> {
        let role = self.get(key).await?;
        let codes = check_codes(codes)?;
        self.repo
            .send(ChangeRoleCodes {
                id: role.id,
                change,
                codes,
            })
            .await?;
        self.changed().await?;
        self.get(RoleKey::Id(role.id)).await
    }

    pub async fn user_id(&self, username: &str) -> Result<i64, RoleError> {
        self.repo
            .send(FindUserByName {
                username: username.to_owned(),
            })
            .await?
            .map(|u| u.id)
            .ok_or_else(|| RoleError::NoSuchUser(username.to_owned()))
    }

    /// Gives (`Add`), takes (`Remove`) or sets exactly (`Replace`) the user's roles.
    pub async fn change_user_roles(
        &self,
        uid: i64,
        change: CodeChange,
        roles: &[RoleKey],
    ) -> Result<Vec<RoleRow>, RoleError> {
        if self.repo.send(FindUserById { id: uid }).await?.is_none() {
            return Err(RoleError::NoSuchUser(uid.to_string()));
        }
        let mut ids = Vec::with_capacity(roles.len());
        for key in roles {
            ids.push(self.get(key.clone()).await?.id);
        }
        self.repo
            .send(ChangeUserRoles {
                user_id: uid,
                change,
                role_ids: ids,
            })
            .await?;
        self.invalidator.invalidate(Invalidation::User(uid)).await?;
        Ok(self.repo.send(RolesOf { user_id: uid }).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_and_deduplicated() {
        let codes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_codes(&codes(&[" sys:user:add", "sys:user:add", "order:create"])).unwrap(),
            codes(&["sys:user:add", "order:create"])
        );
        for bad in ["", "a b", "a,b", "x\u{7}y", &"x".repeat(129)] {
            assert!(check_codes(&codes(&[bad])).is_err(), "{bad:?}");
        }
        assert!(check_name("editors").is_ok());
        assert!(check_name(" ").is_err());
        assert!(check_name("a,b").is_err());
    }
}
