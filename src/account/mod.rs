//! The account's life by email: verifying an address (a single-use link, or its six-digit
//! code), a forgotten password (a single-use reset link), sign-up, changing the address, and the
//! security notices a user is sent. Tokens and codes live in the hot store under their SHA-256
//! only, single-use and expiring; every message goes through the mail queue, off the request.
//!
//! Who may cause how much mail is bounded per client address and per address asked about, in
//! fixed hourly windows (the counters count requests, whether an account exists or not, so a
//! refusal tells nothing), and no route lets a caller choose what a message says: only which of
//! its own links to resend.
//!
//! By verb: `verify` (links, codes, a new address), `reset` (a forgotten password), `signup`,
//! `notices`.

mod notices;
mod reset;
mod signup;
mod verify;

pub use notices::Notice;
pub use signup::{SignUp, SignedUp};

use serde::{Deserialize, Serialize};

use crate::actors::repo::{FindUserByEmail, FindUserById, FindUserByName, RepoHandle};
use crate::actors::Invalidator;
use crate::admin::Admin;
use crate::auth::password::PasswordHasher;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::{MailSettings, RegistrationSettings};
use crate::crypto;
use crate::db::models::User;
use crate::domain::{ClientInfo, Email, PasswordPolicy};
use crate::error::{kind, ApiError};
use crate::mail::Mailer;
use crate::store::{Once, Store};

const HOUR: i64 = 3600;

/// What a verification link or code, or a reset link, stands for.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    uid: i64,
    email: String,
    /// A new address, which becomes the account's once verified.
    #[serde(default)]
    change: bool,
    /// A new account's first address: verifying it enables the account (with its sign-up mark).
    #[serde(default)]
    signup: bool,
    /// Unix time it stops working (to put a token back with the time it had left).
    until: i64,
    /// A code's SHA-256 (the code record of an address).
    #[serde(default)]
    code: Option<String>,
    /// A reset link: a stamp of the password as it was mailed (a later change, or another
    /// reset, spends it).
    #[serde(default)]
    password: Option<String>,
}

impl Pending {
    /// Puts a taken token back with the time it had left.
    async fn put_back(&self, store: &Store, ns: Once, key: &str, now: i64) -> Result<(), ApiError> {
        if self.until > now {
            let value = serde_json::to_string(self).map_err(ApiError::internal)?;
            store
                .put_once(ns, key, &value, self.until - now, now)
                .await?;
        }
        Ok(())
    }
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

    /// Counts a request that may send mail against the client's and the address's limits, per
    /// hour of the clock (a fixed window: steady requests cannot keep one refused for ever):
    /// 429 with `Retry-After` (the rest of the hour) past either.
    pub async fn count(&self, client: &ClientInfo, address: Option<&str>) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let window = now / HOUR;
        let refused =
            || ApiError::new(kind::RATE_LIMITED).with_retry_after((HOUR - now % HOUR) as u64);
        let by_client = format!("mail:client:{}:{window}", client.key);
        if self.store.incr(&by_client, HOUR, now).await? > self.mail.per_client_per_hour {
            tracing::info!(ip = %client.ip, "mail refused: this client's hourly limit");
            return Err(refused());
        }
        if let Some(address) = address {
            let who = crypto::digest(&address.trim_ascii().to_lowercase());
            let by_address = format!("mail:address:{who}:{window}");
            if self.store.incr(&by_address, HOUR, now).await? > self.mail.per_address_per_hour {
                tracing::info!(ip = %client.ip, "mail refused: this address's hourly limit");
                return Err(refused());
            }
        }
        Ok(())
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

/// An address a new account or a change may take: valid as the admin API's, and one the mail
/// library reads the same way (it refuses `a,b@x` and `<a@x>`, which would go elsewhere or nowhere).
fn mailable(email: &str) -> Result<Email, ApiError> {
    let invalid = |e: String| ApiError::new(kind::INVALID_BODY).with_detail(e);
    let parsed = Email::parse(email).map_err(|e| invalid(e.to_string()))?;
    parsed
        .as_str()
        .parse::<lettre::Address>()
        .map_err(|_| invalid(crate::domain::DomainError::Email.to_string()))?;
    Ok(parsed)
}

/// What a taken token stood for, if it has not expired (the store's own expiry may lag).
fn parse(taken: Option<String>, now: i64) -> Option<Pending> {
    taken
        .and_then(|v| serde_json::from_str::<Pending>(&v).ok())
        .filter(|p| p.until > now)
}
