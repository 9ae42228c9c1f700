//! OpenID Connect: the issuer's discovery document and ID token verification against its JWKS.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::OAuthError;

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
}

pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, OAuthError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc: Discovery = fetch_json(http, &url).await?;
    if doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        tracing::warn!(
            expected = issuer,
            got = doc.issuer,
            "discovery document names another issuer"
        );
        return Err(OAuthError::InvalidIdToken);
    }
    Ok(doc)
}

pub async fn jwks(http: &reqwest::Client, uri: &str) -> Result<JwkSet, OAuthError> {
    fetch_json(http, uri).await
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, OAuthError> {
    let res = http.get(url).send().await.map_err(|e| {
        tracing::warn!(url, error = %e, "provider unreachable");
        OAuthError::Unreachable
    })?;
    if !res.status().is_success() {
        tracing::warn!(url, status = %res.status(), "provider answered an error");
        return Err(OAuthError::Unreachable);
    }
    res.json().await.map_err(|e| {
        tracing::warn!(url, error = %e, "provider sent unreadable JSON");
        OAuthError::InvalidUserinfo
    })
}

/// The ID token claims we use.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
}

const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

pub enum KeyLookup {
    Found(DecodingKey, Algorithm),
    /// The token names a key the set does not have (rotated keys: fetch the set again).
    UnknownKid,
}

/// Finds the key for this token: an asymmetric algorithm only (never `none` or a shared secret).
pub fn key_for(token: &str, set: &JwkSet) -> Result<KeyLookup, OAuthError> {
    let header = decode_header(token).map_err(|_| OAuthError::InvalidIdToken)?;
    if !ASYMMETRIC.contains(&header.alg) {
        return Err(OAuthError::InvalidIdToken);
    }
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    };
    let Some(jwk) = jwk else {
        return Ok(KeyLookup::UnknownKid);
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| OAuthError::InvalidIdToken)?;
    Ok(KeyLookup::Found(key, header.alg))
}

/// What an ID token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
    pub leeway: i64,
}

/// Verifies signature, `iss`, `aud`, `exp` (and `iat`) with a leeway, and the `nonce`.
pub fn verify(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    e: &Expected<'_>,
) -> Result<IdClaims, OAuthError> {
    let (issuer, client_id, nonce, now, leeway) = (e.issuer, e.client_id, e.nonce, e.now, e.leeway);
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.required_spec_claims.clear();
    v.set_issuer(&[issuer, issuer.trim_end_matches('/')]);
    v.set_audience(&[client_id]);
    let claims = decode::<IdClaims>(token, key, &v)
        .map_err(|e| {
            tracing::warn!(error = %e, "ID token refused");
            OAuthError::InvalidIdToken
        })?
        .claims;
    let fresh = now <= claims.exp.saturating_add(leeway)
        && claims
            .iat
            .is_none_or(|iat| iat <= now.saturating_add(leeway));
    if !fresh || claims.nonce.as_deref() != Some(nonce) || claims.sub.is_empty() {
        return Err(OAuthError::InvalidIdToken);
    }
    Ok(claims)
}
