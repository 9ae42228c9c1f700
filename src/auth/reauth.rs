//! Re-authentication: what a stolen access token alone must not be able to do. Binding a
//! provider and setting a password on a password-less account need a session that proved
//! who its user is within `security.reauth_seconds` (its `auth_time`, as OIDC names it); else
//! 401 `insufficient_user_authentication` (RFC 9470), and the frontend asks for the password
//! (`POST /auth/reauthenticate`) or a fresh social login. Password checks of a signed-in user
//! are limited per user (`security.max_password_checks` per window), so a stolen token cannot
//! guess the password either.

use crate::actors::repo::{FindUserById, RepoHandle};
use crate::auth::password::PasswordHasher;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::SecuritySettings;
use crate::domain::Amr;
use crate::error::{kind, ApiError};
use crate::store::Store;

#[derive(Clone)]
pub struct Reauth {
    sessions: Sessions,
    repo: RepoHandle,
    hasher: PasswordHasher,
    store: Store,
    settings: SecuritySettings,
    clock: SharedClock,
}

impl Reauth {
    pub fn new(
        sessions: Sessions,
        repo: RepoHandle,
        hasher: PasswordHasher,
        store: Store,
        settings: SecuritySettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            sessions,
            repo,
            hasher,
            store,
            settings,
            clock,
        }
    }

    fn needed(&self) -> ApiError {
        ApiError::new(kind::INSUFFICIENT_USER_AUTHENTICATION)
            .with_data(serde_json::json!({ "max_age": self.settings.reauth_seconds }))
    }

    /// Ok when this session proved its user recently enough.
    pub async fn require_recent(&self, uid: i64, sid: &str) -> Result<(), ApiError> {
        let now = self.clock.unix();
        match self.sessions.get(uid, sid).await? {
            Some(s) if now - s.auth_time <= self.settings.reauth_seconds => Ok(()),
            Some(_) => Err(self.needed()),
            None => Err(ApiError::new(kind::INVALID_TOKEN)),
        }
    }

    /// Counts one password check of this user; refused (429) past the limit.
    async fn count_check(&self, uid: i64) -> Result<(), ApiError> {
        let window = self.settings.password_check_window_seconds;
        let now = self.clock.unix();
        let n = self
            .store
            .incr(&format!("pwcheck:{uid}"), window, now)
            .await?;
        if n > i64::from(self.settings.max_password_checks) {
            return Err(ApiError::new(kind::RATE_LIMITED).with_retry_after(window as u64));
        }
        Ok(())
    }

    /// Checks the user's password (limited per user). Right: this session counts as just
    /// authenticated, and the answer is true; wrong: false. No password on the account: false.
    pub async fn with_password(
        &self,
        uid: i64,
        sid: &str,
        password: String,
    ) -> Result<bool, ApiError> {
        self.count_check(uid).await?;
        let stored = self
            .repo
            .send(FindUserById { id: uid })
            .await
            .map_err(ApiError::unavailable)?
            .and_then(|u| u.password_hash);
        let real = stored.is_some();
        let ok = self.hasher.verify(password, stored).await?.ok && real;
        if ok {
            self.sessions.reauthenticated(uid, sid, Amr::PWD).await?;
            self.store
                .remove_numbers(&[format!("pwcheck:{uid}")])
                .await?;
        }
        Ok(ok)
    }
}
