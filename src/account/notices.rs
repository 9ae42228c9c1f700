//! What a user is told about their account, and the message each notice is.

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
