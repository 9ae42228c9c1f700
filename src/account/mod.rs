//! The account's life by email: verifying an address (a single-use link, or its six-digit
//! code), a forgotten password (a single-use reset link), sign-up, changing the address, and the
//! security notices a user is sent. Tokens and codes live in the hot store under their SHA-256
//! only, single-use and expiring; every message goes through the mail queue, off the request.
//!
//! Who may cause how much mail is bounded per client address and per address asked about (the
//! counters count requests, whether an account exists or not, so a refusal tells nothing), and
//! no route lets a caller choose what a message says: only which of its own links to resend.

mod notices;

pub use notices::Notice;

use serde::{Deserialize, Serialize};

use crate::actors::repo::{
    ChangeUser, ChangeUserRoles, FindRole, FindUserByEmail, FindUserById, FindUserByName,
    RepoHandle, SetPasswordHash,
};
use crate::actors::Invalidator;
use crate::admin::{Admin, UserSpec};
use crate::auth::password::PasswordHasher;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::{MailSettings, RegistrationSettings};
use crate::crypto;
use crate::db::models::{User, STATUS_DISABLED, STATUS_ENABLED};
use crate::domain::{ClientInfo, Email, Invalidation, PasswordPolicy};
use crate::error::{kind, ApiError, Lang};
use crate::mail::{Kind, Letter, Mailer};
use crate::repo::{CodeChange, Guarded, RoleKey, UserChanges};
use crate::store::{Once, Store};

/// Wrong codes an address may be sent before its codes stop working (its link still does).
const CODE_ATTEMPTS: i64 = 5;
const HOUR: i64 = 3600;

/// What a verification link or code, or a reset link, stands for.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    uid: i64,
    email: String,
    /// A new address, which becomes the account's once verified.
    #[serde(default)]
    change: bool,
    /// A new account's first address: verifying it enables the account.
    #[serde(default)]
    signup: bool,
    /// Unix time it stops working (to put a reset token back with the time it had left).
    until: i64,
}

/// A new account, as `POST /auth/register` asks for it.
pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// The new account, as the answer shows it.
#[derive(Debug, Serialize, paperclip::actix::Apiv2Schema)]
pub struct SignedUp {
    pub uuid: String,
    pub username: String,
    pub email: String,
    /// False: the account signs in once the address is verified (the link or code mailed).
    pub enabled: bool,
}

#[derive(Clone)]
pub struct Accounts {
    mailer: Mailer,
    store: Store,
    repo: RepoHandle,
    admin: Admin,
    sessions: Sessions,
    invalidator: Invalidator,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    public_url: String,
    mail: MailSettings,
    registration: RegistrationSettings,
    clock: SharedClock,
}

#[allow(clippy::too_many_arguments)]
impl Accounts {
    pub fn new(
        mailer: Mailer,
        store: Store,
        repo: RepoHandle,
        admin: Admin,
        sessions: Sessions,
        invalidator: Invalidator,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        public_url: &str,
        mail: MailSettings,
        registration: RegistrationSettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            mailer,
            store,
            repo,
            admin,
            sessions,
            invalidator,
            hasher,
            policy,
            public_url: public_url.trim_end_matches('/').to_owned(),
            mail,
            registration,
            clock,
        }
    }

    pub fn registration(&self) -> &RegistrationSettings {
        &self.registration
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Counts a request that may send mail against the client's and the address's hourly
    /// limits: 429 with `Retry-After` past either.
    pub async fn count(&self, client: &ClientInfo, address: Option<&str>) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let over = |n: i64, max: i64| n > max;
        let by_client = self
            .store
            .incr(&format!("mail:client:{}", client.key), HOUR, now)
            .await?;
        if over(by_client, self.mail.per_client_per_hour) {
            tracing::info!(ip = %client.ip, "mail refused: this client's hourly limit");
            return Err(ApiError::new(kind::RATE_LIMITED).with_retry_after(HOUR as u64));
        }
        if let Some(address) = address {
            let key = format!(
                "mail:address:{}",
                crypto::digest(&address.trim_ascii().to_lowercase())
            );
            if over(
                self.store.incr(&key, HOUR, now).await?,
                self.mail.per_address_per_hour,
            ) {
                tracing::info!(ip = %client.ip, "mail refused: this address's hourly limit");
                return Err(ApiError::new(kind::RATE_LIMITED).with_retry_after(HOUR as u64));
            }
        }
        Ok(())
    }

    /// Mails `email` a link and a code that prove it is the user's.
    async fn send_verification(
        &self,
        user: &User,
        email: &str,
        change: bool,
        signup: bool,
        lang: Lang,
    ) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let ttl = self.mail.verify_ttl_seconds;
        let pending = Pending {
            uid: user.id,
            email: email.to_owned(),
            change,
            signup,
            until: now + ttl,
        };
        let value = serde_json::to_string(&pending).map_err(ApiError::internal)?;
        let token = crypto::random_token();
        let code = format!("{:06}", rand::random_range(0..1_000_000u32));
        self.store
            .put_once(Once::EmailLink, &crypto::digest(&token), &value, ttl, now)
            .await?;
        self.store
            .put_once(Once::EmailCode, &code_key(email, &code), &value, ttl, now)
            .await?;
        let link = format!("{}/verify-email?token={token}", self.public_url);
        self.mailer.send(
            Letter::new(Kind::VerifyEmail, email, lang)
                .var("username", user.username.as_str())
                .var("email", email)
                .var("code", code)
                .var("hours", (ttl + HOUR - 1) / HOUR)
                .link(link),
        )?;
        tracing::info!(target: "security", uid = user.id, change, signup, "verification mailed");
        Ok(())
    }

    /// Mails a verification to the address an administrator or a social login gave the user,
    /// if it is not verified. Never fails the caller: a message that cannot be queued is logged.
    pub async fn verify_new_address(&self, uid: i64, lang: Lang) {
        if self.mailer.require().is_err() {
            return;
        }
        let user = match self.user(uid).await {
            Ok(Some(u)) => u,
            Ok(None) => return,
            Err(e) => {
                return tracing::warn!(uid, error = %e, "verification not sent: lookup failed")
            }
        };
        let Some(email) = user.email.clone().filter(|_| !user.email_verified) else {
            return;
        };
        if let Err(e) = self
            .send_verification(&user, &email, false, false, lang)
            .await
        {
            tracing::error!(uid, error = %e, "verification not sent");
        }
    }

    /// Proves an address by the token of its link.
    pub async fn verify_link(&self, token: &str, lang: Lang) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let taken = self
            .store
            .take_once(Once::EmailLink, &crypto::digest(token.trim()), now)
            .await?;
        let pending = parse(taken, now).ok_or_else(|| ApiError::new(kind::EMAIL_LINK_INVALID))?;
        self.verified(pending, lang).await
    }

    /// Proves an address by the code mailed to it; a few wrong codes and its codes stop working.
    pub async fn verify_code(&self, email: &str, code: &str, lang: Lang) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let email = email.trim_ascii().to_lowercase();
        let failures = format!("mail:code-failures:{}", crypto::digest(&email));
        let refused = || ApiError::new(kind::EMAIL_LINK_INVALID);
        if self.store.get_number(&failures, now).await?.unwrap_or(0) >= CODE_ATTEMPTS {
            return Err(refused());
        }
        let taken = self
            .store
            .take_once(Once::EmailCode, &code_key(&email, code.trim()), now)
            .await?;
        let Some(pending) = parse(taken, now) else {
            self.store
                .incr(&failures, self.mail.verify_ttl_seconds, now)
                .await?;
            return Err(refused());
        };
        self.verified(pending, lang).await
    }

    async fn verified(&self, p: Pending, lang: Lang) -> Result<(), ApiError> {
        let refused = || ApiError::new(kind::EMAIL_LINK_INVALID);
        let user = self.user(p.uid).await?.ok_or_else(refused)?;
        let mut changes = UserChanges {
            email_verified: Some(true),
            updated_at: Some(self.clock.naive()),
            ..UserChanges::default()
        };
        if p.change {
            if let Some(other) = self.by_email(&p.email).await? {
                if other.id != user.id {
                    return Err(ApiError::new(kind::EMAIL_TAKEN));
                }
            }
            changes.email = Some(Some(p.email.clone()));
        } else if user.email.as_deref() != Some(p.email.as_str()) {
            // The account's address changed since this was mailed.
            return Err(refused());
        }
        if p.signup && user.status == STATUS_DISABLED && user.last_login_at.is_none() {
            changes.status = Some(STATUS_ENABLED);
        }
        match self
            .repo
            .send(ChangeUser {
                id: user.id,
                changes,
            })
            .await
        {
            Ok(Guarded::Done(_)) => {}
            Ok(_) => return Err(refused()),
            Err(e) if e.is_unique_violation() => return Err(ApiError::new(kind::EMAIL_TAKEN)),
            Err(e) => return Err(ApiError::unavailable(e)),
        }
        self.invalidator
            .invalidate(Invalidation::User(user.id))
            .await?;
        tracing::info!(target: "security", uid = user.id, change = p.change, "email address verified");
        if p.change {
            if let Some(old) = user.email.as_deref().filter(|_| user.email_verified) {
                self.notify_address(
                    &user,
                    old,
                    Notice::EmailChanged {
                        new_email: p.email.clone(),
                    },
                    lang,
                );
            }
        }
        Ok(())
    }

    /// Mails a verification link to the account `username_or_email` names, if its address is
    /// not verified yet. Answers the same either way, at once: the work is done after.
    pub fn resend_verification(&self, username_or_email: String, lang: Lang) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let user = match this.find(&username_or_email).await {
                Ok(Some(u)) => u,
                Ok(None) => return,
                Err(e) => return tracing::warn!(error = %e, "verification resend: lookup failed"),
            };
            let Some(email) = user.email.clone().filter(|_| !user.email_verified) else {
                return;
            };
            let signup = user.status == STATUS_DISABLED && user.last_login_at.is_none();
            if let Err(e) = this
                .send_verification(&user, &email, false, signup, lang)
                .await
            {
                tracing::warn!(error = %e, uid = user.id, "verification resend failed");
            }
        });
    }

    /// Mails a reset link to the account `username_or_email` names, if it has an address and
    /// may sign in. Answers the same either way, at once: the work is done after.
    pub fn forgot(&self, username_or_email: String, lang: Lang) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = this.mail_reset(&username_or_email, lang).await {
                tracing::warn!(error = %e, "password reset mail failed");
            }
        });
    }

    async fn mail_reset(&self, username_or_email: &str, lang: Lang) -> Result<(), ApiError> {
        let Some(user) = self.find(username_or_email).await? else {
            tracing::info!(target: "security", "password reset asked for an unknown account");
            return Ok(());
        };
        let Some(email) = user.email.clone().filter(|_| user.is_enabled()) else {
            tracing::info!(target: "security", uid = user.id, "password reset asked for an account without an address or disabled");
            return Ok(());
        };
        let now = self.clock.unix();
        let ttl = self.mail.reset_ttl_seconds;
        let pending = Pending {
            uid: user.id,
            email: email.clone(),
            change: false,
            signup: false,
            until: now + ttl,
        };
        let value = serde_json::to_string(&pending).map_err(ApiError::internal)?;
        let token = crypto::random_token();
        self.store
            .put_once(
                Once::PasswordReset,
                &crypto::digest(&token),
                &value,
                ttl,
                now,
            )
            .await?;
        let link = format!("{}/reset?token={token}", self.public_url);
        self.mailer.send(
            Letter::new(Kind::PasswordReset, &email, lang)
                .var("username", user.username.as_str())
                .var("minutes", (ttl + 59) / 60)
                .link(link),
        )?;
        tracing::info!(target: "security", uid = user.id, "password reset mailed");
        Ok(())
    }

    /// Sets the password the reset link's owner chose: every session of the user ends, on
    /// every node; second factors stay. A password the policy refuses leaves the link usable.
    pub async fn reset(&self, token: &str, password: String, lang: Lang) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let key = crypto::digest(token.trim());
        let taken = self.store.take_once(Once::PasswordReset, &key, now).await?;
        let refused = || ApiError::new(kind::RESET_LINK_INVALID);
        let p = parse(taken, now).ok_or_else(refused)?;
        let user = self
            .user(p.uid)
            .await?
            .filter(|u| u.is_enabled())
            .ok_or_else(refused)?;
        if let Err(e) = self
            .policy
            .check_for(&password, &user.username, user.email.as_deref())
        {
            if p.until > now {
                let value = serde_json::to_string(&p).map_err(ApiError::internal)?;
                self.store
                    .put_once(Once::PasswordReset, &key, &value, p.until - now, now)
                    .await?;
            }
            return Err(e.policy_error());
        }
        let hash = self.hasher.hash(password).await?;
        let at = self.clock.naive();
        self.repo
            .send(SetPasswordHash {
                user_id: user.id,
                hash,
                changed_at: Some(at),
                now: at,
            })
            .await
            .map_err(ApiError::unavailable)?;
        // The link reached the address: it is the user's.
        if user.email.as_deref() == Some(p.email.as_str()) && !user.email_verified {
            let changes = UserChanges {
                email_verified: Some(true),
                updated_at: Some(at),
                ..UserChanges::default()
            };
            self.repo
                .send(ChangeUser {
                    id: user.id,
                    changes,
                })
                .await
                .map_err(ApiError::unavailable)?;
        }
        let ended = self.sessions.end_all(user.id, None).await?;
        self.invalidator
            .invalidate(Invalidation::User(user.id))
            .await?;
        tracing::info!(target: "security", uid = user.id, ended, "password reset by mailed link");
        self.notify_address(
            &user,
            &p.email,
            Notice::PasswordChanged { by_reset: true },
            lang,
        );
        Ok(())
    }

    /// Makes an account for whoever asks (`registration.enabled`), disabled until its address
    /// is verified when `registration.require_verified_email`, and mails the verification.
    pub async fn sign_up(&self, s: SignUp, lang: Lang) -> Result<SignedUp, ApiError> {
        let email = Email::parse(&s.email)
            .map_err(|e| ApiError::new(kind::INVALID_BODY).with_detail(e.to_string()))?;
        if !self.registration.allows(email.as_str()) {
            return Err(ApiError::new(kind::EMAIL_DOMAIN_NOT_ALLOWED));
        }
        if self.by_email(email.as_str()).await?.is_some() {
            return Err(ApiError::new(kind::EMAIL_TAKEN));
        }
        let pending = self.registration.require_verified_email;
        let user = self
            .admin
            .create_user(UserSpec {
                username: s.username,
                password: s.password,
                email: Some(email.as_str().to_owned()),
                disabled: pending,
                ..UserSpec::default()
            })
            .await
            .map_err(ApiError::from)?;
        for role in &self.registration.default_roles {
            let found = self
                .repo
                .send(FindRole {
                    key: RoleKey::Name(role.clone()),
                })
                .await
                .map_err(ApiError::unavailable)?;
            match found {
                Some(r) => self
                    .repo
                    .send(ChangeUserRoles {
                        user_id: user.id,
                        change: CodeChange::Add,
                        role_ids: vec![r.id],
                    })
                    .await
                    .map_err(ApiError::unavailable)?,
                None => tracing::warn!(role, "registration.default_roles names no role"),
            }
        }
        tracing::info!(target: "security", uid = user.id, username = %user.username, "account signed up");
        self.send_verification(&user, email.as_str(), false, pending, lang)
            .await?;
        Ok(SignedUp {
            uuid: user.uuid,
            username: user.username,
            email: email.into_inner(),
            enabled: !pending,
        })
    }

    /// Mails a verification to `new_email`, which becomes the user's address once verified
    /// (the old one is told then). The caller has re-authenticated.
    pub async fn change_email(
        &self,
        uid: i64,
        new_email: &str,
        lang: Lang,
    ) -> Result<String, ApiError> {
        let email = Email::parse(new_email)
            .map_err(|e| ApiError::new(kind::INVALID_BODY).with_detail(e.to_string()))?;
        let user = self
            .user(uid)
            .await?
            .ok_or_else(|| ApiError::new(kind::INVALID_TOKEN))?;
        if user.email.as_deref() == Some(email.as_str()) && user.email_verified {
            return Err(
                ApiError::new(kind::CONFLICT).with_detail("it is the account's address already")
            );
        }
        if let Some(other) = self.by_email(email.as_str()).await? {
            if other.id != uid {
                return Err(ApiError::new(kind::EMAIL_TAKEN));
            }
        }
        let change = user.email.as_deref() != Some(email.as_str());
        self.send_verification(&user, email.as_str(), change, false, lang)
            .await?;
        Ok(email.into_inner())
    }

    /// Tells the user, at their verified address, what happened to the account. Never fails the
    /// request: a notice that cannot be queued is logged.
    pub async fn notify(&self, uid: i64, notice: Notice, lang: Lang) {
        match self.user(uid).await {
            Ok(Some(user)) => {
                if let Some(email) = user.email.clone().filter(|_| user.email_verified) {
                    self.notify_address(&user, &email, notice, lang);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(uid, error = %e, "security notice not sent: lookup failed"),
        }
    }

    fn notify_address(&self, user: &User, email: &str, notice: Notice, lang: Lang) {
        if self.mailer.require().is_err() {
            return;
        }
        let at = self.clock.naive().format("%Y-%m-%d %H:%M UTC").to_string();
        let letter = notice.letter(email, lang, &user.username, at);
        let kind = letter.kind.name();
        match self.mailer.send(letter) {
            Ok(()) => {
                tracing::info!(target: "security", uid = user.id, kind, "security notice mailed")
            }
            Err(e) => tracing::error!(uid = user.id, kind, error = %e, "security notice not sent"),
        }
    }

    async fn user(&self, uid: i64) -> Result<Option<User>, ApiError> {
        self.repo
            .send(FindUserById { id: uid })
            .await
            .map_err(ApiError::unavailable)
    }

    async fn by_email(&self, email: &str) -> Result<Option<User>, ApiError> {
        self.repo
            .send(FindUserByEmail {
                email: email.to_owned(),
            })
            .await
            .map_err(ApiError::unavailable)
    }

    /// The account a username or an email address names.
    async fn find(&self, username_or_email: &str) -> Result<Option<User>, ApiError> {
        let s = username_or_email.trim_ascii();
        if s.is_empty() || s.len() > 254 {
            return Ok(None);
        }
        let by_name = self
            .repo
            .send(FindUserByName {
                username: s.to_owned(),
            })
            .await
            .map_err(ApiError::unavailable)?;
        match by_name {
            Some(u) => Ok(Some(u)),
            None if s.contains('@') => self.by_email(&s.to_lowercase()).await,
            None => Ok(None),
        }
    }
}

fn code_key(email: &str, code: &str) -> String {
    crypto::digest_parts(&[&email.trim_ascii().to_lowercase(), code])
}

/// What a taken token stood for, if it has not expired (the store's own expiry may lag).
fn parse(taken: Option<String>, now: i64) -> Option<Pending> {
    taken
        .and_then(|v| serde_json::from_str::<Pending>(&v).ok())
        .filter(|p| p.until > now)
}
