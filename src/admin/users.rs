//! Users over the admin API (and the CLI): listing, editing, password and second-factor resets
//! and deletion,
//! under three rules: only a superuser changes a superuser account or makes one; an
//! administrator changes only users whose permission codes they hold all of themselves (a
//! password reset would otherwise be a way into more than they were given); and the last
//! enabled superuser stays (checked inside the database transaction, so two administrators at
//! once cannot both take one away).

use super::{Admin, AdminError, UserSpec};
use crate::actors::repo::{
    ChangeUser, DeleteFactors, DeleteUser, FindUserById, ListUsers, LoadAuthUser,
};
use crate::db::models::User;
use crate::domain::{
    parse_avatar, parse_nickname, parse_phone, AuthUser, DomainError, Email, Invalidation,
    STATUS_DISABLED, STATUS_ENABLED,
};
use crate::repo::{Guarded, UserChanges, UserFilter};

/// What an administrator asks to change: `None` leaves a field alone; for the email, phone and
/// avatar an empty string clears it (an empty nickname falls back to the username).
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    /// 1 enabled, 0 disabled.
    pub status: Option<i32>,
    pub is_superuser: Option<bool>,
    pub is_staff: Option<bool>,
    pub multi_login: Option<bool>,
}

/// What an edit did: the user as it is now, the sessions it ended and whether it set a new
/// email address (or cleared one).
#[derive(Debug)]
pub struct Edited {
    pub user: AuthUser,
    pub ended: usize,
    pub email_changed: bool,
}

/// Who asks for a change.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The command line, run by whoever runs the server.
    Operator,
    /// A signed-in administrator.
    User(&'a AuthUser),
}

/// As the security log names it.
impl std::fmt::Display for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Operator => f.write_str("the command line"),
            Self::User(u) => write!(f, "user {} ({})", u.id, u.username),
        }
    }
}

impl Caller<'_> {
    fn is_superuser(&self) -> bool {
        match self {
            Self::Operator => true,
            Self::User(u) => u.is_superuser,
        }
    }

    /// Whether the caller may change `target`: a superuser (or the operator) anyone; anyone else
    /// no superuser, and no user holding a code the caller does not.
    fn may_manage(&self, target: &AuthUser) -> Result<(), AdminError> {
        let Self::User(me) = self else {
            return Ok(());
        };
        if me.is_superuser {
            return Ok(());
        }
        if target.is_superuser {
            return Err(AdminError::NotSuperuser);
        }
        let more: Vec<&str> = target
            .permissions
            .iter()
            .filter(|code| !me.permissions.contains(code))
            .map(String::as_str)
            .collect();
        if more.is_empty() {
            Ok(())
        } else {
            Err(AdminError::HoldsMore(more.join(", ")))
        }
    }
}

impl Admin {
    /// One page of users, by id, and how many match.
    pub async fn list_users(
        &self,
        filter: UserFilter,
        page: i64,
        size: i64,
    ) -> Result<(Vec<AuthUser>, i64), AdminError> {
        Ok(self.repo.send(ListUsers { filter, page, size }).await?)
    }

    async fn user(&self, id: i64) -> Result<User, AdminError> {
        self.repo
            .send(FindUserById { id })
            .await?
            .ok_or(AdminError::NoSuchId(id))
    }

    async fn shown(&self, id: i64) -> Result<AuthUser, AdminError> {
        self.repo
            .send(LoadAuthUser { id })
            .await?
            .ok_or(AdminError::NoSuchId(id))
    }

    /// Creates a user for a caller; only a superuser creates a superuser.
    pub async fn create_user_by(
        &self,
        caller: Caller<'_>,
        spec: UserSpec,
    ) -> Result<AuthUser, AdminError> {
        if spec.superuser && !caller.is_superuser() {
            return Err(AdminError::NotSuperuser);
        }
        let user = self.create_user(spec).await?;
        self.shown(user.id).await
    }

    /// Applies an edit; disabling ends the user's sessions on every node, any other change
    /// drops the cached copies.
    pub async fn edit_user(
        &self,
        caller: Caller<'_>,
        id: i64,
        edit: UserEdit,
    ) -> Result<Edited, AdminError> {
        let user = self.user(id).await?;
        caller.may_manage(&self.shown(id).await?)?;
        if !caller.is_superuser() && edit.is_superuser.is_some() {
            return Err(AdminError::NotSuperuser);
        }
        let changes = checked(&user, edit)?;
        let email_changed = changes.email.is_some();
        let new_email = changes.email.clone().flatten().unwrap_or_default();
        let changed = match self
            .repo
            .send(ChangeUser {
                id,
                changes: UserChanges {
                    updated_at: Some(self.clock.naive()),
                    ..changes
                },
            })
            .await
        {
            Ok(Guarded::Done(u)) => u,
            Ok(Guarded::NoSuchUser) => return Err(AdminError::NoSuchId(id)),
            Ok(Guarded::LastSuperuser) => return Err(AdminError::LastSuperuser),
            Err(e) if e.is_unique_violation() => return Err(AdminError::Taken(new_email)),
            Err(e) => return Err(e.into()),
        };
        let ended = if changed.status == STATUS_DISABLED && user.status != STATUS_DISABLED {
            self.revoke_sessions(id).await?
        } else {
            self.invalidator.invalidate(Invalidation::User(id)).await?;
            0
        };
        Ok(Edited {
            user: self.shown(id).await?,
            ended,
            email_changed,
        })
    }

    /// Sets a new password for the user and ends its sessions (how many).
    pub async fn reset_password(
        &self,
        caller: Caller<'_>,
        id: i64,
        password: String,
    ) -> Result<usize, AdminError> {
        let user = self.user(id).await?;
        caller.may_manage(&self.shown(id).await?)?;
        self.set_password_of(&user, password).await
    }

    /// Removes the user's second factors (TOTP, passkeys, recovery codes; the next login needs only
    /// the password) and ends its sessions on every node. `None` when there were none (nothing
    /// changed, no session ended); else how many sessions ended.
    pub async fn reset_mfa(
        &self,
        caller: Caller<'_>,
        id: i64,
    ) -> Result<Option<usize>, AdminError> {
        let user = self.shown(id).await?;
        caller.may_manage(&user)?;
        let removed = self.repo.send(DeleteFactors { user_id: id }).await?;
        if removed == 0 {
            return Ok(None);
        }
        let ended = self.revoke_sessions(id).await?;
        tracing::warn!(
            target: "security",
            event = "mfa_reset",
            uid = id,
            username = %user.username,
            by = %caller,
            ended_sessions = ended,
            "the user's second factors were reset by an administrator; the user signs in with the password alone until enrolling again"
        );
        Ok(Some(ended))
    }

    /// Deletes the user (its roles and social identities go with it) and ends its sessions.
    pub async fn delete_user(&self, caller: Caller<'_>, id: i64) -> Result<usize, AdminError> {
        caller.may_manage(&self.shown(id).await?)?;
        match self.repo.send(DeleteUser { id }).await? {
            Guarded::Done(()) => self.revoke_sessions(id).await,
            Guarded::NoSuchUser => Err(AdminError::NoSuchId(id)),
            Guarded::LastSuperuser => Err(AdminError::LastSuperuser),
        }
    }
}

/// The edit, validated as `user create` validates, as columns to set.
fn checked(user: &User, edit: UserEdit) -> Result<UserChanges, DomainError> {
    let email = match edit.email.as_deref() {
        None => None,
        Some(e) if e.trim_ascii().is_empty() => Some(None),
        Some(e) => Some(Some(Email::parse(e)?.into_inner())),
    }
    .filter(|e| *e != user.email);
    let status = match edit.status {
        None => None,
        Some(s @ (STATUS_ENABLED | STATUS_DISABLED)) => Some(s),
        Some(_) => return Err(DomainError::Status),
    };
    Ok(UserChanges {
        nickname: edit
            .nickname
            .as_deref()
            .map(|n| parse_nickname(Some(n), &user.username))
            .transpose()?,
        // A new address is not proven yet.
        email_verified: email.as_ref().map(|_| false),
        email,
        phone: edit.phone.as_deref().map(parse_phone).transpose()?,
        avatar: edit.avatar.as_deref().map(parse_avatar).transpose()?,
        status,
        is_superuser: edit.is_superuser,
        is_staff: edit.is_staff,
        multi_login: edit.multi_login,
        updated_at: None,
    })
}
