//! OAuth 2.0 / OpenID Connect social login: the configured providers, the authorization code
//! flow with PKCE (built on the `oauth2` crate), and what each provider says about the user.

pub mod accounts;
mod oidc;
mod provider;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use provider::{Identity, Provider};

use crate::config::OAuth2Settings;

/// Why a social login failed; the slug travels to the frontend's error URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("the user refused consent at the provider")]
    AccessDenied,
    #[error("state missing, unknown, expired, used, or from another browser")]
    InvalidState,
    #[error("the provider refused the authorization code")]
    BadCode,
    #[error("the provider could not be reached")]
    Unreachable,
    #[error("the provider's user information is not usable")]
    InvalidUserinfo,
    #[error("the ID token did not verify")]
    InvalidIdToken,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("this identity is bound to another user")]
    IdentityTaken,
    #[error("the user already has an identity at this provider")]
    AlreadyBound,
    #[error("server error")]
    Internal,
}

impl OAuthError {
    pub fn slug(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InvalidState => "invalid_state",
            Self::BadCode => "invalid_grant",
            Self::Unreachable => "provider_unreachable",
            Self::InvalidUserinfo => "invalid_userinfo",
            Self::InvalidIdToken => "invalid_id_token",
            Self::AccountDisabled => "account_disabled",
            Self::IdentityTaken => "identity_taken",
            Self::AlreadyBound => "already_bound",
            Self::Internal => "server_error",
        }
    }
}

/// Every configured provider, by its configured name.
pub struct Providers {
    by_name: BTreeMap<String, Arc<Provider>>,
}

impl Providers {
    pub fn new(settings: &OAuth2Settings, leeway: i64) -> anyhow::Result<Self> {
        // Provider calls never follow redirects (no open SSRF through a provider) and never hang.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let by_name = settings
            .providers
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    Arc::new(Provider::new(name, p, http.clone(), leeway)),
                )
            })
            .collect();
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}
