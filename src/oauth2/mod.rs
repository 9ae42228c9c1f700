//! OAuth 2.0 / OpenID Connect social login: the configured providers, the authorization code
//! flow with PKCE (GitHub through the `oauth2` crate; Google and any OpenID Connect provider
//! through `openidconnect`), and what each provider says about the user.

pub mod accounts;
mod github;
mod oidc;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::{OAuth2Settings, ProviderKind};

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider_user_id: String,
    /// A login name to derive a local username from.
    pub login: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Only true when the provider asserts it.
    pub email_verified: bool,
    pub avatar: Option<String>,
}

/// What a started flow must remember until the callback.
pub struct Started {
    pub url: String,
    pub verifier: String,
    pub nonce: Option<String>,
}

/// One configured provider.
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    flow: Flow,
}

enum Flow {
    Github(Box<github::Github>),
    Oidc(Box<oidc::Oidc>),
}

impl Provider {
    /// The authorize URL for this `state`, with a fresh PKCE S256 challenge (and a nonce for
    /// OpenID Connect).
    pub async fn start(&self, state: &str) -> Result<Started, OAuthError> {
        match &self.flow {
            Flow::Github(g) => Ok(g.start(state)),
            Flow::Oidc(o) => o.start(state).await,
        }
    }

    /// Exchanges the code and learns who the user is.
    pub async fn identify(
        &self,
        code: &str,
        verifier: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Identity, OAuthError> {
        match &self.flow {
            Flow::Github(g) => g.identify(code, verifier).await,
            Flow::Oidc(o) => {
                let nonce = nonce.ok_or(OAuthError::InvalidState)?;
                o.identify(code, verifier, nonce, now).await
            }
        }
    }
}

/// A JSON document from the provider, with the access token.
async fn get_json(
    http: &reqwest::Client,
    provider: &str,
    url: &str,
    access: &str,
) -> Result<Value, OAuthError> {
    let res = http
        .get(url)
        .bearer_auth(access)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(provider, error = %e, "provider unreachable");
            OAuthError::Unreachable
        })?;
    if !res.status().is_success() {
        tracing::warn!(provider, status = %res.status(), url, "provider refused a user-info call");
        return Err(OAuthError::InvalidUserinfo);
    }
    res.json().await.map_err(|_| OAuthError::InvalidUserinfo)
}

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
        let mut by_name = BTreeMap::new();
        for (name, p) in &settings.providers {
            let flow = match p.kind {
                ProviderKind::Github => {
                    Flow::Github(Box::new(github::Github::new(name, p, http.clone())?))
                }
                ProviderKind::Google | ProviderKind::Oidc => {
                    Flow::Oidc(Box::new(oidc::Oidc::new(name, p, http.clone(), leeway)))
                }
            };
            let provider = Provider {
                name: name.clone(),
                kind: p.kind,
                flow,
            };
            by_name.insert(name.clone(), Arc::new(provider));
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.by_name.get(name).cloned()
    }
}
