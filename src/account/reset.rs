//! A forgotten password: a single-use link to the account's address, and the reset it allows.

use super::{parse, Accounts, Notice, Pending};
use crate::actors::repo::{ChangeUser, SetPasswordHash};
use crate::crypto;
use crate::db::models::User;
use crate::domain::Invalidation;
use crate::error::{kind, ApiError, Lang};
use crate::mail::{Kind, Letter};
use crate::repo::UserChanges;
use crate::store::Once;

/// The password as a reset link remembers it: a digest of its hash, which every change (a
/// reset among them) replaces, whatever the clock says.
fn password_stamp(user: &User) -> Option<String> {
    user.password_hash
        .as_deref()
        .map(|h| crypto::digest_parts(&["reset-stamp", h])[..16].to_owned())
}

impl Accounts {
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
            code: None,
            password: password_stamp(&user),
        };
        let value = serde_json::to_string(&pending).map_err(ApiError::internal)?;
        let token = crypto::random_token();
        let key = crypto::digest(&token);
        self.store
            .put_once(Once::PasswordReset, &key, &value, ttl, now)
            .await?;
        let link = format!("{}/reset?token={token}", self.public_url);
        self.mailer.send(
            Letter::new(Kind::PasswordReset, &email, lang)
                .var("username", user.username.as_str())
                .var("minutes", (ttl + 59) / 60)
                .link(link)
                .valid_for(ttl),
        )?;
        tracing::info!(target: "security", uid = user.id, "password reset mailed");
        Ok(())
    }

    /// Sets the password the reset link's owner chose: every session of the user ends, on
    /// every node; second factors stay. A password the policy refuses leaves the link usable;
    /// a link is spent for good once the account's address or password changed after it was
    /// mailed (another reset among them).
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
            .filter(|u| u.email.as_deref() == Some(p.email.as_str()))
            .filter(|u| password_stamp(u) == p.password)
            .ok_or_else(refused)?;
        if let Err(e) = self
            .policy
            .check_for(&password, &user.username, user.email.as_deref())
        {
            p.put_back(&self.store, Once::PasswordReset, &key, now)
                .await?;
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
        let ended = self.sessions.end_all(user.id, None).await?;
        // The link reached the address: it is the user's.
        if !user.email_verified {
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
        self.invalidator
            .invalidate(Invalidation::User(user.id))
            .await?;
        tracing::info!(target: "security", uid = user.id, ended, "password reset by mailed link");
        self.notify(user.id, Notice::PasswordChanged { by_reset: true }, lang)
            .await;
        Ok(())
    }
}
