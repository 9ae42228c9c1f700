//! Re-authentication: what a stolen access token alone must not be able to do. Sensitive
//! changes of one's own account (binding a provider, a password, second factors) need a
//! session that proved who its user is within `security.reauth_seconds` (its `auth_time`, as
//! OIDC names it) and, when the user has a second factor, proved it with that factor too;
//! else 401 `insufficient_user_authentication` (RFC 9470) with `data.mfa` saying whether a
//! code is wanted, and the frontend asks for the password and code
//! (`POST /auth/reauthenticate`) or a fresh login. Password checks of a signed-in user are
//! limited per user (`security.max_password_checks` per window), codes by the second factor's
//! own limit, so a stolen token cannot guess either.

use crate::actors::repo::{FindUserById, RepoHandle};
use crate::auth::mfa::Mfa;
use crate::auth::password::PasswordHasher;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::SecuritySettings;
use crate::domain::Amr;
use crate::error::{kind, ApiError};
use crate::store::Store;

/// What a re-authentication found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The session counts as just authenticated.
    Confirmed,
    WrongPassword,
    /// The password was right; the user has a second factor and no code came with it.
    CodeNeeded,
    WrongCode,
}

#[derive(Clone)]
pub struct Reauth {
    sessions: Sessions,
    repo: RepoHandle,
    hasher: PasswordHasher,
    mfa: Mfa,
    store: Store,
    settings: SecuritySettings,
    clock: SharedClock,
}

impl Reauth {
    pub fn new(
        sessions: Sessions,
        repo: RepoHandle,
        hasher: PasswordHasher,
        mfa: Mfa,
        store: Store,
        settings: SecuritySettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            sessions,
            repo,
            hasher,
            mfa,
            store,
            settings,
            clock,
        }
    }

    fn needed(&self, mfa: bool) -> ApiError {
        let max_age = self.settings.reauth_seconds;
        ApiError::new(kind::INSUFFICIENT_USER_AUTHENTICATION)
            .with_max_age(max_age)
            .with_data(serde_json::json!({ "max_age": max_age, "mfa": mfa }))
    }

    /// Ok when this session proved its user recently enough, with the second factor when
    /// the user has one. A session whose latest proof was only a password (a login before the
    /// factor was enrolled) is not enough for a user who has one now.
    pub async fn require_recent(&self, uid: i64, sid: &str) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let Some(session) = self.sessions.get(uid, sid).await? else {
            return Err(ApiError::new(kind::INVALID_TOKEN));
        };
        let recent = now - session.auth_time <= self.settings.reauth_seconds;
        let mfa = self.mfa.has_factor(uid).await?;
        match recent && (!mfa || session.proof().amr.is_mfa()) {
            true => Ok(()),
            false => Err(self.needed(mfa)),
        }
    }

    /// Counts one password check of this user; refused (429) past the limit.
    async fn count_check(&self, uid: i64) -> Result<(), ApiError> {
        let window = self.settings.password_check_window_seconds;
        let n = self
            .store
            .incr(&format!("pwcheck:{uid}"), window, self.clock.unix())
            .await?;
        if n > i64::from(self.settings.max_password_checks) {
            return Err(ApiError::new(kind::RATE_LIMITED).with_retry_after(window as u64));
        }
        Ok(())
    }

    /// Checks the user's password (limited per user); false also for an account without one.
    async fn password_is(&self, uid: i64, password: String) -> Result<bool, ApiError> {
        self.count_check(uid).await?;
        let stored = self
            .repo
            .send(FindUserById { id: uid })
            .await
            .map_err(ApiError::unavailable)?
            .and_then(|u| u.password_hash);
        let real = stored.is_some();
        Ok(self.hasher.verify(password, stored).await?.ok && real)
    }

    async fn passed(&self, uid: i64, sid: &str, amr: Amr) -> Result<(), ApiError> {
        self.sessions.reauthenticated(uid, sid, amr).await?;
        self.store
            .remove_numbers(&[format!("pwcheck:{uid}")])
            .await?;
        Ok(())
    }

    /// `POST /auth/reauthenticate`: the password, and a TOTP or recovery code when the user
    /// has a second factor. Confirmed: this session counts as just authenticated (and as
    /// multi-factor, after a code).
    pub async fn confirm(
        &self,
        uid: i64,
        sid: &str,
        password: String,
        code: Option<&str>,
    ) -> Result<Confirmation, ApiError> {
        if !self.password_is(uid, password).await? {
            return Ok(Confirmation::WrongPassword);
        }
        if !self.mfa.has_factor(uid).await? {
            self.passed(uid, sid, Amr::PWD).await?;
            return Ok(Confirmation::Confirmed);
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Ok(Confirmation::CodeNeeded);
        };
        match self.mfa.check_code(uid, code).await? {
            Ok(passed) => {
                let amr = Amr::PWD.and_second(passed.factor.amr());
                self.passed(uid, sid, amr).await?;
                Ok(Confirmation::Confirmed)
            }
            Err(_) => Ok(Confirmation::WrongCode),
        }
    }

    /// `POST /auth/reauthenticate` with a passkey (its user verified: the password is not
    /// asked too): the answer to `Mfa::passkey_reauth_options`. Confirmed: this session counts
    /// as just authenticated, and as multi-factor.
    pub async fn confirm_with_passkey(
        &self,
        uid: i64,
        sid: &str,
        challenge_id: &str,
        assertion: &serde_json::Value,
    ) -> Result<bool, ApiError> {
        if !self
            .mfa
            .check_reauth_passkey(uid, challenge_id, assertion)
            .await?
        {
            return Ok(false);
        }
        self.sessions
            .reauthenticated(uid, sid, Amr::passkey_alone())
            .await?;
        Ok(true)
    }

    /// A password change's old password: false when wrong. Right, for a user without a
    /// second factor it is this session's re-authentication; a user with one needs a recent
    /// sign-in with it as well (`require_recent`), which the password alone does not give.
    pub async fn with_old_password(
        &self,
        uid: i64,
        sid: &str,
        password: String,
    ) -> Result<bool, ApiError> {
        if !self.password_is(uid, password).await? {
            return Ok(false);
        }
        if self.mfa.has_factor(uid).await? {
            self.require_recent(uid, sid).await?;
        } else {
            self.passed(uid, sid, Amr::PWD).await?;
        }
        Ok(true)
    }
}
