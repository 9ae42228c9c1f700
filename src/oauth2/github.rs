//! GitHub (and GitHub Enterprise, Gitea): plain OAuth 2.0 with PKCE through the `oauth2` crate,
//! then `/user` and `/user/emails` for who the user is.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use serde_json::Value;

use super::{get_json, Identity, OAuthError, Started};
use crate::config::ProviderSettings;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct Github {
    name: String,
    client: Client,
    userinfo: String,
    emails: String,
    scopes: Vec<String>,
    http: reqwest::Client,
}

fn or(value: &Option<String>, default: &str) -> String {
    value.clone().unwrap_or_else(|| default.to_owned())
}

impl Github {
    pub fn new(name: &str, s: &ProviderSettings, http: reqwest::Client) -> anyhow::Result<Self> {
        let client = BasicClient::new(ClientId::new(s.client_id.clone()))
            .set_client_secret(ClientSecret::new(s.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(or(
                &s.auth_url,
                "https://github.com/login/oauth/authorize",
            ))?)
            .set_token_uri(TokenUrl::new(or(
                &s.token_url,
                "https://github.com/login/oauth/access_token",
            ))?)
            .set_redirect_uri(RedirectUrl::new(s.redirect_uri.clone())?);
        Ok(Self {
            name: name.to_owned(),
            client,
            userinfo: or(&s.userinfo_url, "https://api.github.com/user"),
            emails: or(&s.emails_url, "https://api.github.com/user/emails"),
            scopes: s
                .scopes
                .clone()
                .unwrap_or_else(|| vec!["read:user".into(), "user:email".into()]),
            http,
        })
    }

    pub fn start(&self, state: &str) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let (url, _) = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Started {
            url: url.to_string(),
            verifier: verifier.secret().clone(),
            nonce: None,
        }
    }

    /// Exchanges the code, then asks `/user` and `/user/emails` (for the primary verified
    /// address: the profile's public email says nothing about verification and is often null).
    pub async fn identify(&self, code: &str, verifier: &str) -> Result<Identity, OAuthError> {
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = self.name, error = %e, "code exchange failed");
                match e {
                    RequestTokenError::ServerResponse(_) => OAuthError::BadCode,
                    RequestTokenError::Parse(..) => OAuthError::InvalidUserinfo,
                    _ => OAuthError::Unreachable,
                }
            })?;
        let access = tokens.access_token().secret();
        let user = get_json(&self.http, &self.name, &self.userinfo, access).await?;
        let id = match &user["id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(OAuthError::InvalidUserinfo),
        };
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let mut email = None;
        if let Ok(Value::Array(list)) = get_json(&self.http, &self.name, &self.emails, access).await
        {
            email = list
                .iter()
                .find(|m| m["primary"] == true && m["verified"] == true)
                .and_then(|m| text(&m["email"]));
        }
        let email_verified = email.is_some();
        Ok(Identity {
            provider_user_id: id,
            login: text(&user["login"]),
            name: text(&user["name"]),
            email: email.or_else(|| text(&user["email"])),
            email_verified,
            avatar: text(&user["avatar_url"]),
        })
    }
}
