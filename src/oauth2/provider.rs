//! One configured provider: its endpoints, the authorize URL, the code exchange (the `oauth2`
//! crate, with PKCE) and the identity it asserts.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::RwLock;

use super::oidc::{self, Discovery, KeyLookup};
use super::OAuthError;
use crate::config::{ProviderKind, ProviderSettings};

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

/// The token response, keeping `id_token` (the basic response drops it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default)]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type Tokens = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Debug, Clone)]
struct Endpoints {
    auth: String,
    token: String,
    userinfo: Option<String>,
    emails: Option<String>,
    jwks: Option<String>,
    issuer: Option<String>,
}

/// What a started flow must remember until the callback.
pub struct Started {
    pub url: String,
    pub verifier: String,
    pub nonce: Option<String>,
}

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    settings: ProviderSettings,
    http: reqwest::Client,
    leeway: i64,
    /// OIDC: discovery document and key set, fetched on first use and kept for an hour.
    discovered: RwLock<Option<(Endpoints, Option<JwkSet>, Instant)>>,
}

fn or(value: &Option<String>, default: &str) -> String {
    value.clone().unwrap_or_else(|| default.to_owned())
}

impl Provider {
    pub fn new(
        name: &str,
        settings: &ProviderSettings,
        http: reqwest::Client,
        leeway: i64,
    ) -> Self {
        Self {
            name: name.to_owned(),
            kind: settings.kind,
            settings: settings.clone(),
            http,
            leeway,
            discovered: RwLock::new(None),
        }
    }

    fn scopes(&self) -> Vec<String> {
        self.settings.scopes.clone().unwrap_or_else(|| {
            match self.kind {
                ProviderKind::Github => vec!["read:user", "user:email"],
                ProviderKind::Google | ProviderKind::Oidc => vec!["openid", "email", "profile"],
            }
            .into_iter()
            .map(String::from)
            .collect()
        })
    }

    async fn endpoints(&self) -> Result<(Endpoints, Option<JwkSet>), OAuthError> {
        let s = &self.settings;
        match self.kind {
            ProviderKind::Github => Ok((
                Endpoints {
                    auth: or(&s.auth_url, "https://github.com/login/oauth/authorize"),
                    token: or(&s.token_url, "https://github.com/login/oauth/access_token"),
                    userinfo: Some(or(&s.userinfo_url, "https://api.github.com/user")),
                    emails: Some(or(&s.emails_url, "https://api.github.com/user/emails")),
                    jwks: None,
                    issuer: None,
                },
                None,
            )),
            ProviderKind::Google => Ok((
                Endpoints {
                    auth: or(&s.auth_url, "https://accounts.google.com/o/oauth2/v2/auth"),
                    token: or(&s.token_url, "https://oauth2.googleapis.com/token"),
                    userinfo: Some(or(
                        &s.userinfo_url,
                        "https://openidconnect.googleapis.com/v1/userinfo",
                    )),
                    emails: None,
                    jwks: None,
                    issuer: None,
                },
                None,
            )),
            ProviderKind::Oidc => {
                if let Some((e, k, at)) = self.discovered.read().await.as_ref() {
                    if at.elapsed() < DISCOVERY_TTL {
                        return Ok((e.clone(), k.clone()));
                    }
                }
                let issuer = s.issuer.clone().unwrap_or_default();
                let Discovery {
                    issuer,
                    authorization_endpoint,
                    token_endpoint,
                    userinfo_endpoint,
                    jwks_uri,
                } = oidc::discover(&self.http, &issuer).await?;
                let endpoints = Endpoints {
                    auth: s.auth_url.clone().unwrap_or(authorization_endpoint),
                    token: s.token_url.clone().unwrap_or(token_endpoint),
                    userinfo: s.userinfo_url.clone().or(userinfo_endpoint),
                    emails: None,
                    jwks: Some(jwks_uri.clone()),
                    issuer: Some(issuer),
                };
                let keys = oidc::jwks(&self.http, &jwks_uri).await?;
                *self.discovered.write().await =
                    Some((endpoints.clone(), Some(keys.clone()), Instant::now()));
                Ok((endpoints, Some(keys)))
            }
        }
    }

    fn client(&self, e: &Endpoints) -> Result<OAuthClient, OAuthError> {
        let bad = |what: &str| {
            tracing::error!(provider = self.name, what, "provider endpoint is not a URL");
            OAuthError::Internal
        };
        Ok(
            oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
                .set_client_secret(ClientSecret::new(self.settings.client_secret.clone()))
                .set_auth_uri(AuthUrl::new(e.auth.clone()).map_err(|_| bad("auth"))?)
                .set_token_uri(TokenUrl::new(e.token.clone()).map_err(|_| bad("token"))?)
                .set_redirect_uri(
                    RedirectUrl::new(self.settings.redirect_uri.clone())
                        .map_err(|_| bad("redirect_uri"))?,
                ),
        )
    }

    /// The authorize URL for this `state`, with a fresh PKCE S256 challenge (and nonce for OIDC).
    pub async fn start(&self, state: &str) -> Result<Started, OAuthError> {
        let (endpoints, _) = self.endpoints().await?;
        let client = self.client(&endpoints)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.scopes().into_iter().map(Scope::new))
            .set_pkce_challenge(challenge);
        let nonce =
            (self.kind == ProviderKind::Oidc).then(|| uuid::Uuid::new_v4().simple().to_string());
        if let Some(n) = &nonce {
            request = request.add_extra_param("nonce", n.clone());
        }
        let (url, _) = request.url();
        Ok(Started {
            url: url.to_string(),
            verifier: verifier.secret().clone(),
            nonce,
        })
    }

    /// Exchanges the code and asks the provider who the user is.
    pub async fn identify(
        &self,
        code: &str,
        verifier: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Identity, OAuthError> {
        let (endpoints, keys) = self.endpoints().await?;
        let client = self.client(&endpoints)?;
        let tokens = client
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
        let access = tokens.access_token().secret().clone();
        match self.kind {
            ProviderKind::Github => self.github(&endpoints, &access).await,
            ProviderKind::Google => {
                let info = self.userinfo(&endpoints, &access).await?;
                from_openid_claims(&info)
            }
            ProviderKind::Oidc => {
                let id_token = tokens
                    .extra_fields()
                    .id_token
                    .clone()
                    .ok_or(OAuthError::InvalidIdToken)?;
                let claims = self
                    .verify_id_token(&endpoints, keys, &id_token, nonce.unwrap_or_default(), now)
                    .await?;
                let mut identity = Identity {
                    provider_user_id: claims.sub.clone(),
                    login: claims.preferred_username.clone(),
                    name: claims.name.clone(),
                    email: claims.email.clone(),
                    email_verified: claims.email_verified.unwrap_or(false)
                        && claims.email.is_some(),
                    avatar: claims.picture.clone(),
                };
                if endpoints.userinfo.is_some() {
                    let info = from_openid_claims(&self.userinfo(&endpoints, &access).await?)?;
                    if info.provider_user_id != identity.provider_user_id {
                        return Err(OAuthError::InvalidUserinfo);
                    }
                    identity.login = identity.login.or(info.login);
                    identity.name = identity.name.or(info.name);
                    identity.avatar = identity.avatar.or(info.avatar);
                    if identity.email.is_none() {
                        identity.email = info.email;
                        identity.email_verified = info.email_verified;
                    }
                }
                Ok(identity)
            }
        }
    }

    async fn verify_id_token(
        &self,
        endpoints: &Endpoints,
        keys: Option<JwkSet>,
        token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<oidc::IdClaims, OAuthError> {
        let issuer = endpoints.issuer.clone().unwrap_or_default();
        let mut keys = keys.unwrap_or_default();
        for attempt in 0..2 {
            match oidc::key_for(token, &keys)? {
                KeyLookup::Found(key, alg) => {
                    let expected = oidc::Expected {
                        issuer: &issuer,
                        client_id: &self.settings.client_id,
                        nonce,
                        now,
                        leeway: self.leeway,
                    };
                    return oidc::verify(token, &key, alg, &expected);
                }
                KeyLookup::UnknownKid if attempt == 0 => {
                    // The issuer may have rotated its keys: fetch the set once more.
                    let uri = endpoints.jwks.clone().unwrap_or_default();
                    keys = oidc::jwks(&self.http, &uri).await?;
                    if let Some((_, k, _)) = self.discovered.write().await.as_mut() {
                        *k = Some(keys.clone());
                    }
                }
                KeyLookup::UnknownKid => break,
            }
        }
        Err(OAuthError::InvalidIdToken)
    }

    async fn get_json(&self, url: &str, access: &str) -> Result<Value, OAuthError> {
        let res = self
            .http
            .get(url)
            .bearer_auth(access)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(provider = self.name, error = %e, "provider unreachable");
                OAuthError::Unreachable
            })?;
        if !res.status().is_success() {
            tracing::warn!(provider = self.name, status = %res.status(), url, "provider refused a user-info call");
            return Err(OAuthError::InvalidUserinfo);
        }
        res.json().await.map_err(|_| OAuthError::InvalidUserinfo)
    }

    async fn userinfo(&self, e: &Endpoints, access: &str) -> Result<Value, OAuthError> {
        let url = e.userinfo.as_deref().ok_or(OAuthError::InvalidUserinfo)?;
        self.get_json(url, access).await
    }

    /// GitHub: `/user`, then `/user/emails` for the primary verified address (the profile's
    /// public email says nothing about verification and is often null).
    async fn github(&self, e: &Endpoints, access: &str) -> Result<Identity, OAuthError> {
        let user = self.userinfo(e, access).await?;
        let id = match &user["id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(OAuthError::InvalidUserinfo),
        };
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let mut email = None;
        if let Some(url) = &e.emails {
            if let Ok(Value::Array(list)) = self.get_json(url, access).await {
                email = list
                    .iter()
                    .find(|m| m["primary"] == true && m["verified"] == true)
                    .and_then(|m| text(&m["email"]));
            }
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

/// Google's and OpenID Connect's user-info shape.
fn from_openid_claims(v: &Value) -> Result<Identity, OAuthError> {
    let text = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let sub = text("sub").ok_or(OAuthError::InvalidUserinfo)?;
    let email = text("email");
    let verified = matches!(&v["email_verified"], Value::Bool(true))
        || matches!(&v["email_verified"], Value::String(s) if s == "true");
    Ok(Identity {
        provider_user_id: sub,
        login: text("preferred_username").or_else(|| {
            email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .map(str::to_owned)
        }),
        name: text("name"),
        email_verified: verified && email.is_some(),
        email,
        avatar: text("picture"),
    })
}
