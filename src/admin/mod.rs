//! User administration, shared by the CLI and the first-start bootstrap (and the admin API).
//! It runs the same validation as the API (domain types, password policy) and tells every
//! node, through the invalidation log, when it changes something they may have cached.

mod fba;
mod import;
pub mod roles;
mod users;

pub use fba::{provider_name, ImportProgress, ImportSummary, Tally};
pub use import::{parse_import, RowError};
pub use users::{Caller, Edited, UserEdit};

use crate::actors::repo::{CreateUser, FindUserByName, RepoHandle, SetPasswordHash};
use crate::actors::Invalidator;
use crate::auth::password::{HashError, PasswordHasher};
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::db::models::{NewUser, User, STATUS_DISABLED, STATUS_ENABLED};
use crate::db::DbError;
use crate::domain::{
    parse_avatar, parse_nickname, parse_phone, DomainError, Email, Invalidation, PasswordPolicy,
    Username,
};
use crate::error::ApiError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("username or email already taken: {0}")]
    Taken(String),
    #[error("no user named `{0}`")]
    NoSuchUser(String),
    #[error("no user with id {0}")]
    NoSuchId(i64),
    /// Superuser accounts and the superuser flag are for superusers to change.
    #[error("only a superuser may change a superuser or make one")]
    NotSuperuser,
    /// An administrator manages only users whose codes they hold all of themselves: else a
    /// password reset would be a way into more than they were given.
    #[error("the user holds permission codes you do not: {0}")]
    HoldsMore(String),
    #[error("this would leave no enabled superuser")]
    LastSuperuser,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", .0.cause_chain().unwrap_or_else(|| .0.to_string()))]
    Api(ApiError),
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        use crate::error::kind;
        match e {
            AdminError::Invalid(d) if d.is_password_rule() => d.policy_error(),
            AdminError::Invalid(_) => ApiError::new(kind::INVALID_BODY).with_detail(e.to_string()),
            AdminError::Taken(_) => ApiError::new(kind::CONFLICT).with_detail(e.to_string()),
            AdminError::NoSuchUser(_) | AdminError::NoSuchId(_) => {
                ApiError::new(kind::USER_NOT_FOUND)
            }
            AdminError::NotSuperuser | AdminError::HoldsMore(_) => {
                ApiError::new(kind::INSUFFICIENT_SCOPE).with_detail(e.to_string())
            }
            AdminError::LastSuperuser => ApiError::new(kind::LAST_SUPERUSER),
            AdminError::Db(e) => ApiError::unavailable(e),
            AdminError::Hash(e) => e.into(),
            AdminError::Store(e) => ApiError::unavailable(e),
            AdminError::Api(e) => e,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub superuser: bool,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    /// Default: as `superuser`.
    #[serde(default)]
    pub staff: Option<bool>,
    /// Default: on.
    #[serde(default)]
    pub multi_login: Option<bool>,
    /// Made disabled (a sign-up waiting for its address to be verified).
    #[serde(skip)]
    pub disabled: bool,
}

#[derive(Clone)]
pub struct Admin {
    repo: RepoHandle,
    hasher: PasswordHasher,
    sessions: Sessions,
    invalidator: Invalidator,
    clock: SharedClock,
    policy: PasswordPolicy,
}

impl Admin {
    pub fn new(
        repo: RepoHandle,
        hasher: PasswordHasher,
        sessions: Sessions,
        invalidator: Invalidator,
        clock: SharedClock,
        policy: PasswordPolicy,
    ) -> Self {
        Self {
            repo,
            hasher,
            sessions,
            invalidator,
            clock,
            policy,
        }
    }

    pub async fn create_user(&self, spec: UserSpec) -> Result<User, AdminError> {
        let username = Username::parse(&spec.username)?;
        let email = spec
            .email
            .as_deref()
            .filter(|e| !e.trim_ascii().is_empty())
            .map(Email::parse)
            .transpose()?;
        let nickname = parse_nickname(spec.nickname.as_deref(), username.as_str())?;
        let phone = spec
            .phone
            .as_deref()
            .map(parse_phone)
            .transpose()?
            .flatten();
        let avatar = spec
            .avatar
            .as_deref()
            .map(parse_avatar)
            .transpose()?
            .flatten();
        self.policy.check_for(
            &spec.password,
            username.as_str(),
            email.as_ref().map(Email::as_str),
        )?;
        let hash = self.hasher.hash(spec.password).await?;
        let now = self.clock.naive();
        let new = NewUser {
            uuid: uuid::Uuid::new_v4().to_string(),
            username: username.as_str().to_owned(),
            nickname,
            password_hash: Some(hash),
            email: email.map(Email::into_inner),
            email_verified: false,
            phone,
            avatar,
            status: if spec.disabled {
                STATUS_DISABLED
            } else {
                STATUS_ENABLED
            },
            is_superuser: spec.superuser,
            is_staff: spec.staff.unwrap_or(spec.superuser),
            multi_login: spec.multi_login.unwrap_or(true),
            password_changed_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        self.repo.send(CreateUser { new }).await.map_err(|e| {
            if e.is_unique_violation() {
                AdminError::Taken(username.as_str().to_owned())
            } else {
                AdminError::Db(e)
            }
        })
    }

    pub async fn find(&self, username: &str) -> Result<User, AdminError> {
        self.repo
            .send(FindUserByName {
                username: username.to_owned(),
            })
            .await?
            .ok_or_else(|| AdminError::NoSuchUser(username.to_owned()))
    }

    /// Ends every session of the user and drops its cached copy, on every node.
    pub async fn revoke_sessions(&self, uid: i64) -> Result<usize, AdminError> {
        let ended = self.sessions.end_all(uid, None).await?;
        self.invalidator.invalidate(Invalidation::User(uid)).await?;
        Ok(ended)
    }

    pub async fn revoke_sessions_by_name(&self, username: &str) -> Result<usize, AdminError> {
        let user = self.find(username).await?;
        self.revoke_sessions(user.id).await
    }

    /// Sets a password and ends the user's sessions.
    pub async fn set_password(
        &self,
        username: &str,
        password: String,
    ) -> Result<usize, AdminError> {
        let user = self.find(username).await?;
        self.set_password_of(&user, password).await
    }

    async fn set_password_of(&self, user: &User, password: String) -> Result<usize, AdminError> {
        self.policy.check(&password, &user.username)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.clock.naive();
        self.repo
            .send(SetPasswordHash {
                user_id: user.id,
                hash,
                changed_at: Some(now),
                now,
            })
            .await?;
        self.revoke_sessions(user.id).await
    }

    /// Disables (or enables) an account; disabling ends its sessions everywhere (and is
    /// refused for the last enabled superuser).
    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<usize, AdminError> {
        let user = self.find(username).await?;
        let status = if enabled {
            STATUS_ENABLED
        } else {
            STATUS_DISABLED
        };
        let edit = UserEdit {
            status: Some(status),
            ..UserEdit::default()
        };
        Ok(self.edit_user(Caller::Operator, user.id, edit).await?.ended)
    }
}
