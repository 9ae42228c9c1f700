//! OpenID Connect (the `oidc` kind, and Google) with the `openidconnect` crate: discovery, the
//! provider's key set, and ID-token verification (signature by an asymmetric algorithm, `iss`,
//! `aud`, `azp`, `exp`, `iat`, `nonce`). Discovery is kept for an hour; a token signed with a
//! key the set does not have triggers one fresh discovery (the provider rotated its keys).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenClaims,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
};
use serde_json::Value;
use tokio::sync::RwLock;

use super::{get_json, Identity, OAuthError, Started};
use crate::config::{ProviderKind, ProviderSettings};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const GOOGLE: &str = "https://accounts.google.com";

/// Every asymmetric algorithm (never `none`, never a shared secret).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

pub struct Oidc {
    name: String,
    /// Google's ID tokens carry the profile; a generic provider's user-info endpoint may add to it.
    use_userinfo: bool,
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    scopes: Vec<String>,
    leeway: i64,
    http: reqwest::Client,
    discovered: RwLock<Option<(Arc<Client>, Instant)>>,
}

impl Oidc {
    pub fn new(name: &str, s: &ProviderSettings, http: reqwest::Client, leeway: i64) -> Self {
        let google = s.kind == ProviderKind::Google;
        Self {
            name: name.to_owned(),
            use_userinfo: !google,
            issuer: s.issuer.clone().unwrap_or_else(|| GOOGLE.to_owned()),
            client_id: s.client_id.clone(),
            client_secret: s.client_secret.clone(),
            redirect_uri: s.redirect_uri.clone(),
            scopes: s
                .scopes
                .clone()
                .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
            leeway,
            http,
            discovered: RwLock::new(None),
        }
    }

    /// The client from the provider's discovery document (fetched again when `fresh`).
    async fn client(&self, fresh: bool) -> Result<Arc<Client>, OAuthError> {
        if !fresh {
            if let Some((client, at)) = self.discovered.read().await.as_ref() {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(client.clone());
                }
            }
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| {
            tracing::error!(provider = self.name, error = %e, "issuer is not a URL");
            OAuthError::Internal
        })?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = self.name, error = %e, "discovery failed");
                OAuthError::Unreachable
            })?;
        let redirect =
            RedirectUrl::new(self.redirect_uri.clone()).map_err(|_| OAuthError::Internal)?;
        let client = Arc::new(
            CoreClient::from_provider_metadata(
                metadata,
                ClientId::new(self.client_id.clone()),
                Some(ClientSecret::new(self.client_secret.clone())),
            )
            .set_redirect_uri(redirect),
        );
        *self.discovered.write().await = Some((client.clone(), Instant::now()));
        Ok(client)
    }

    pub async fn start(&self, state: &str) -> Result<Started, OAuthError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let nonce = Nonce::new_random();
        let sent = nonce.clone();
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || sent,
            )
            .add_scopes(
                self.scopes
                    .iter()
                    .filter(|s| *s != "openid")
                    .cloned()
                    .map(Scope::new),
            )
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            verifier: verifier.secret().clone(),
            nonce: Some(nonce.secret().clone()),
        })
    }

    pub async fn identify(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Identity, OAuthError> {
        let client = self.client(false).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| OAuthError::Internal)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = self.name, error = %e, "code exchange failed");
                match e {
                    RequestTokenError::ServerResponse(_) => OAuthError::BadCode,
                    RequestTokenError::Parse(..) => OAuthError::InvalidIdToken,
                    _ => OAuthError::Unreachable,
                }
            })?;
        let id_token = tokens
            .extra_fields()
            .id_token()
            .ok_or(OAuthError::InvalidIdToken)?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match self.verify(&client, id_token, &nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps a key we have not seen: the provider may have rotated its keys.
                let client = self.client(true).await?;
                self.verify(&client, id_token, &nonce, now)
            }
            other => other,
        }
        .map_err(|e| {
            tracing::warn!(provider = self.name, error = %e, "ID token refused");
            OAuthError::InvalidIdToken
        })?;
        let mut identity = identity_of(&claims);
        if self.use_userinfo {
            if let Some(url) = client.user_info_url() {
                let access = tokens.access_token().secret();
                let info =
                    from_userinfo(&get_json(&self.http, &self.name, url.as_str(), access).await?)?;
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
        }
        Ok(identity)
    }

    fn verify(
        &self,
        client: &Client,
        token: &openidconnect::core::CoreIdToken,
        nonce: &Nonce,
        now: i64,
    ) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
        let leeway = self.leeway;
        let at = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALGORITHMS)
            // `exp` is compared with this time: the leeway lets a token expire this much later.
            .set_time_fn(move || at(now - leeway))
            .set_issue_time_verifier_fn(move |iat| {
                if iat.timestamp() <= now + leeway {
                    Ok(())
                } else {
                    Err("issued in the future".into())
                }
            });
        token.claims(&verifier, nonce).cloned()
    }
}

fn identity_of(c: &CoreIdTokenClaims) -> Identity {
    let email = c.email().map(|e| e.as_str().to_owned());
    let name = c
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    let _: Option<&CoreGenderClaim> = c.gender();
    Identity {
        provider_user_id: c.subject().as_str().to_owned(),
        login: c
            .preferred_username()
            .map(|u| u.as_str().to_owned())
            .or_else(|| {
                email
                    .as_deref()
                    .and_then(|e| e.split('@').next())
                    .map(str::to_owned)
            }),
        name,
        email_verified: c.email_verified().unwrap_or(false) && email.is_some(),
        email,
        avatar: c
            .picture()
            .and_then(|p| p.get(None))
            .map(|p| p.as_str().to_owned()),
    }
}

/// The user-info endpoint's answer (OpenID Connect's standard claims).
fn from_userinfo(v: &Value) -> Result<Identity, OAuthError> {
    let text = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let sub = text("sub").ok_or(OAuthError::InvalidUserinfo)?;
    let email = text("email");
    let verified = matches!(&v["email_verified"], Value::Bool(true))
        || matches!(&v["email_verified"], Value::String(s) if s == "true");
    Ok(Identity {
        provider_user_id: sub,
        login: text("preferred_username"),
        name: text("name"),
        email_verified: verified && email.is_some(),
        email,
        avatar: text("picture"),
    })
}
