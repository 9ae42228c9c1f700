//! Username and password, checked the same way for every login method: the lockout reservation
//! first (no hashing while locked), then exactly one hash whatever the user's state, then one
//! uniform answer. Every outcome goes to the login log.

use super::client::ClientInfo;
use super::lockout::{Attempt, Lockout};
use super::password::PasswordHasher;
use crate::actors::repo::{FindUserByName, RepoHandle, SetPasswordHash, TouchLastLogin};
use crate::clock::SharedClock;
use crate::db::models::User;
use crate::error::{kind, ApiError};
use crate::login_log::{LoginLog, Method, Reason};

/// Longest username or password looked at; anything longer cannot match.
const MAX_CREDENTIAL: usize = 1024;

#[derive(Clone)]
pub struct Authenticator {
    repo: RepoHandle,
    lockout: Lockout,
    hasher: PasswordHasher,
    login_log: LoginLog,
    clock: SharedClock,
}

impl Authenticator {
    pub fn new(
        repo: RepoHandle,
        lockout: Lockout,
        hasher: PasswordHasher,
        login_log: LoginLog,
        clock: SharedClock,
    ) -> Self {
        Self {
            repo,
            lockout,
            hasher,
            login_log,
            clock,
        }
    }

    /// The user, if the password is theirs and they may log in; logged as a login.
    pub async fn check(
        &self,
        client: &ClientInfo,
        username: &str,
        password: String,
        method: Method,
    ) -> Result<User, ApiError> {
        let user = self.first_step(client, username, password, method).await?;
        self.record(
            client,
            user.id,
            &user.username,
            Reason::Success,
            method.as_str(),
        );
        Ok(user)
    }

    /// Logs how a login of this user (whose password was right) went on.
    pub fn record(
        &self,
        client: &ClientInfo,
        uid: i64,
        username: &str,
        reason: Reason,
        method: &str,
    ) {
        self.login_log.record(
            username,
            Some(uid),
            reason,
            method,
            client,
            self.clock.naive(),
        );
    }

    /// As `check`, but a right password is not logged yet: a second factor may follow
    /// (`record` says how it went on). Wrong ones are logged here.
    pub async fn first_step(
        &self,
        client: &ClientInfo,
        username: &str,
        password: String,
        method: Method,
    ) -> Result<User, ApiError> {
        let at = self.clock.naive();
        let log = |user_id: Option<i64>, reason: Reason| {
            self.login_log
                .record(username, user_id, reason, method.as_str(), client, at);
        };
        let refused = || ApiError::new(kind::INVALID_CREDENTIALS);

        let user = if username.len() <= MAX_CREDENTIAL {
            self.repo
                .send(FindUserByName {
                    username: username.to_owned(),
                })
                .await
                .map_err(ApiError::unavailable)?
        } else {
            None
        };
        let user_id = user.as_ref().map(|u| u.id);

        match self.lockout.reserve(username, &client.key).await? {
            Attempt::Locked { until } => {
                // Answer in the time a hash would take: a lock must look like a wrong password.
                actix_web::rt::time::sleep(self.hasher.typical_verify()).await;
                tracing::info!(ip = %client.ip, until, "login refused: locked");
                log(user_id, Reason::Locked);
                return Err(refused());
            }
            Attempt::Allowed { delay } if !delay.is_zero() => {
                tracing::info!(
                    ?delay,
                    "login slowed: the account is failing from elsewhere"
                );
                actix_web::rt::time::sleep(delay).await;
            }
            Attempt::Allowed { .. } => {}
        }

        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let password = if password.len() <= MAX_CREDENTIAL {
            password
        } else {
            String::new()
        };
        let verified = self.hasher.verify(password.clone(), stored).await?;
        let user = match user {
            None => {
                log(None, Reason::UnknownUser);
                return Err(refused());
            }
            Some(_) if !verified.ok => {
                log(user_id, Reason::BadPassword);
                return Err(refused());
            }
            Some(u) if !u.is_enabled() => {
                log(user_id, Reason::Disabled);
                return Err(refused());
            }
            Some(u) => u,
        };

        self.lockout.succeeded(username, &client.key).await?;
        let uid = user.id;
        let now = self.clock.naive();
        if verified.needs_rehash {
            let hash = self.hasher.hash(password).await?;
            self.repo
                .send(SetPasswordHash {
                    user_id: uid,
                    hash,
                    changed_at: None,
                    now,
                })
                .await
                .map_err(ApiError::unavailable)?;
            tracing::info!(uid, "rehashed a bcrypt password to Argon2id");
        }
        self.repo
            .send(TouchLastLogin {
                user_id: uid,
                at: now,
            })
            .await
            .map_err(ApiError::unavailable)?;
        Ok(user)
    }

    /// Checks the password of a logged-in user again (re-authentication, password change),
    /// without logging a login.
    pub async fn confirm(
        &self,
        client: &ClientInfo,
        username: &str,
        password: String,
    ) -> Result<bool, ApiError> {
        match self.lockout.reserve(username, &client.key).await? {
            Attempt::Locked { .. } => return Ok(false),
            Attempt::Allowed { delay } => actix_web::rt::time::sleep(delay).await,
        }
        let user = self
            .repo
            .send(FindUserByName {
                username: username.to_owned(),
            })
            .await
            .map_err(ApiError::unavailable)?;
        let stored = user.and_then(|u| u.password_hash);
        let ok = self.hasher.verify(password, stored).await?.ok;
        if ok {
            self.lockout.succeeded(username, &client.key).await?;
        }
        Ok(ok)
    }
}
