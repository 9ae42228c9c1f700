//! Proving an address: a single-use link and one six-digit code per address (a new mail
//! replaces the address's code and its count of tries), a few wrong codes and that address's
//! code stops working (guesses are bounded by the mail limits times the tries per code); the
//! address change; the sign-up's mark that lets its verification enable the account.

use super::{mailable, parse, Accounts, Notice, Pending, HOUR};
use crate::actors::repo::ChangeUser;
use crate::crypto;
use crate::db::models::{User, STATUS_DISABLED, STATUS_ENABLED};
use crate::domain::Invalidation;
use crate::error::{kind, ApiError, Lang};
use crate::mail::{Kind, Letter};
use crate::repo::{Guarded, UserChanges};
use crate::store::Once;

/// Tries at an address's code (right or wrong) before it stops working; its link still works.
const CODE_ATTEMPTS: i64 = 5;
/// How long a sign-up waits for its address to be verified before only an administrator can
/// enable it.
const SIGNUP_MARK_SECONDS: i64 = 30 * 24 * HOUR;

fn signup_mark(uid: i64) -> String {
    format!("mail:signup:{uid}")
}

fn code_record(email: &str) -> String {
    crypto::digest(&email.trim_ascii().to_lowercase())
}

/// The count of tries at an address's code; a new code starts it again.
fn code_tries(record: &str) -> String {
    format!("mail:code-tries:{record}")
}

fn code_digest(email: &str, code: &str) -> String {
    crypto::digest_parts(&[&email.trim_ascii().to_lowercase(), code.trim()])
}

impl Accounts {
    /// Marks a new account as a sign-up waiting for its address: only then may a verification
    /// enable it (an account an administrator disabled never has the mark).
    pub(super) async fn mark_signup(&self, uid: i64) -> Result<(), ApiError> {
        let now = self.clock.unix();
        self.store
            .set_number(&signup_mark(uid), 1, SIGNUP_MARK_SECONDS, now)
            .await?;
        Ok(())
    }

    async fn is_signup(&self, uid: i64) -> Result<bool, ApiError> {
        let now = self.clock.unix();
        Ok(self
            .store
            .get_number(&signup_mark(uid), now)
            .await?
            .is_some())
    }

    /// Mails `email` a link and a code that prove it is the user's.
    pub(super) async fn send_verification(
        &self,
        user: &User,
        email: &str,
        change: bool,
        signup: bool,
        lang: Lang,
    ) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let ttl = self.mail.verify_ttl_seconds;
        let token = crypto::random_token();
        let code = format!("{:06}", rand::random_range(0..1_000_000u32));
        let mut pending = Pending {
            uid: user.id,
            email: email.to_owned(),
            change,
            signup,
            until: now + ttl,
            code: None,
            password: None,
        };
        let link_value = serde_json::to_string(&pending).map_err(ApiError::internal)?;
        pending.code = Some(code_digest(email, &code));
        let code_value = serde_json::to_string(&pending).map_err(ApiError::internal)?;
        self.store
            .put_once(
                Once::EmailLink,
                &crypto::digest(&token),
                &link_value,
                ttl,
                now,
            )
            .await?;
        let record = code_record(email);
        self.store
            .put_once(Once::EmailCode, &record, &code_value, ttl, now)
            .await?;
        self.store.remove_numbers(&[code_tries(&record)]).await?;
        let link = format!("{}/verify-email?token={token}", self.public_url);
        self.mailer.send(
            Letter::new(Kind::VerifyEmail, email, lang)
                .var("username", user.username.as_str())
                .var("email", email)
                .var("code", code)
                .var("hours", (ttl + HOUR - 1) / HOUR)
                .link(link)
                .valid_for(ttl),
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

    /// Proves an address by the code mailed to it. Every try counts before the code is looked
    /// at (parallel guesses cannot share one count), and a wrong one puts the code back.
    pub async fn verify_code(&self, email: &str, code: &str, lang: Lang) -> Result<(), ApiError> {
        let now = self.clock.unix();
        let refused = || ApiError::new(kind::EMAIL_LINK_INVALID);
        let record = code_record(email);
        let tries = code_tries(&record);
        let ttl = self.mail.verify_ttl_seconds;
        if self.store.incr(&tries, ttl, now).await? > CODE_ATTEMPTS {
            return Err(refused());
        }
        let taken = self.store.take_once(Once::EmailCode, &record, now).await?;
        let pending = parse(taken, now).ok_or_else(refused)?;
        let wanted = code_digest(email, code);
        let right = pending
            .code
            .as_deref()
            .is_some_and(|c| crypto::ct_eq(c.as_bytes(), wanted.as_bytes()));
        if !right {
            pending
                .put_back(&self.store, Once::EmailCode, &record, now)
                .await?;
            return Err(refused());
        }
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
        let enables = p.signup && user.status == STATUS_DISABLED && self.is_signup(user.id).await?;
        if enables {
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
        if enables {
            self.store.remove_numbers(&[signup_mark(user.id)]).await?;
        }
        self.invalidator
            .invalidate(Invalidation::User(user.id))
            .await?;
        tracing::info!(target: "security", uid = user.id, change = p.change, enables, "email address verified");
        if p.change {
            if let Some(old) = user.email.as_deref().filter(|_| user.email_verified) {
                let notice = Notice::EmailChanged {
                    new_email: p.email.clone(),
                };
                self.notify_address(&user, old, notice, lang);
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
            let sent = match this.is_signup(user.id).await {
                Ok(signup) => {
                    this.send_verification(&user, &email, false, signup, lang)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::warn!(error = %e, uid = user.id, "verification resend failed");
            }
        });
    }

    /// Mails a verification to `new_email`, which becomes the user's address once verified
    /// (the old one is told then). The caller has re-authenticated.
    pub async fn change_email(
        &self,
        uid: i64,
        new_email: &str,
        lang: Lang,
    ) -> Result<String, ApiError> {
        let email = mailable(new_email)?;
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
}
