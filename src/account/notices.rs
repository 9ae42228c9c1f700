//! What a user is told about their account, and the message each notice is.

use super::Accounts;
use crate::db::models::User;
use crate::error::Lang;
use crate::mail::{Kind, Letter};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged {
        by_reset: bool,
    },
    /// To the old address, once the new one is verified.
    EmailChanged {
        new_email: String,
    },
    /// `factor`: `totp` or `passkey`.
    FactorChanged {
        factor: &'static str,
        added: bool,
    },
    /// A refresh token was used twice and its session ended.
    SessionRevoked,
}

impl Notice {
    pub fn letter(self, to: &str, lang: Lang, username: &str, at: String) -> Letter {
        let letter = |kind| {
            Letter::new(kind, to, lang)
                .var("username", username)
                .var("at", at)
        };
        match self {
            Self::PasswordChanged { by_reset } => {
                letter(Kind::PasswordChanged).var("by_reset", by_reset)
            }
            Self::EmailChanged { new_email } => {
                letter(Kind::EmailChanged).var("new_email", new_email)
            }
            Self::FactorChanged { factor, added } => letter(Kind::FactorChanged)
                .var("factor", factor)
                .var("added", added),
            Self::SessionRevoked => letter(Kind::SessionRevoked),
        }
    }
}

impl Accounts {
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

    pub(super) fn notify_address(&self, user: &User, email: &str, notice: Notice, lang: Lang) {
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
}
