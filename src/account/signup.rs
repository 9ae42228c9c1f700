//! Sign-up: an account for whoever asks, when `registration.enabled`.

use serde::Serialize;

use super::{mailable, Accounts};
use crate::actors::repo::{ChangeUserRoles, FindRole};
use crate::admin::UserSpec;
use crate::error::{kind, ApiError, Lang};
use crate::repo::{CodeChange, RoleKey};

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

impl Accounts {
    /// Makes an account for whoever asks (`registration.enabled`), disabled until its address
    /// is verified when `registration.require_verified_email`, and mails the verification.
    pub async fn sign_up(&self, s: SignUp, lang: Lang) -> Result<SignedUp, ApiError> {
        let email = mailable(&s.email)?;
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
        if pending {
            self.mark_signup(user.id).await?;
        }
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
}
