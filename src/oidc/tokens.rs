//! What the provider signs: ID tokens (RS256 by default, or EdDSA for a client that registered
//! it) and the access tokens of the code flow (RFC 9068: `typ: at+jwt`, `aud` the client,
//! `client_id`, `scope`), which are signed like every other access token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::clients::IdTokenAlg;
use super::keys::{RsaKey, RsaPublicPart};
use crate::domain::{Amr, AuthUser};

/// `acr` values: what a session's `amr` amounts to.
pub const ACR_ONE_FACTOR: &str = "urn:portcullis:acr:1fa";
pub const ACR_MFA: &str = "urn:portcullis:acr:mfa";

pub fn acr_of(amr: Amr) -> &'static str {
    match amr.is_mfa() {
        true => ACR_MFA,
        false => ACR_ONE_FACTOR,
    }
}

/// OpenID Connect Core §3.1.3.6: the left half of the SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The claims a user's scopes grant, as the ID token and userinfo both give them.
pub fn user_claims(user: &AuthUser, scopes: &[&str]) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), user.uuid.clone().into());
    if scopes.contains(&"profile") {
        c.insert("preferred_username".into(), user.username.clone().into());
        c.insert("name".into(), user.nickname.clone().into());
        if let Some(avatar) = &user.avatar {
            c.insert("picture".into(), avatar.clone().into());
        }
        c.insert("updated_at".into(), user.created_at.timestamp().into());
    }
    if scopes.contains(&"email") {
        if let Some(email) = &user.email {
            c.insert("email".into(), email.clone().into());
            c.insert("email_verified".into(), user.email_verified.into());
        }
    }
    if scopes.contains(&"roles") {
        c.insert("roles".into(), user.roles.clone().into());
        c.insert("permissions".into(), user.permissions.clone().into());
    }
    c
}

/// The keys ID tokens are signed with.
pub struct IdTokenKeys {
    pub rsa: RsaKey,
    /// Earlier RSA keys (`oidc.previous_rsa_public_key_files`): published, and what ID tokens
    /// they signed still verify with.
    pub previous_rsa: Vec<RsaPublicPart>,
    /// The access tokens' Ed25519 key when they use EdDSA: `(kid, key)`, and its public half.
    pub ed25519: Option<(String, EncodingKey, DecodingKey)>,
}

/// What an ID token presented back (`id_token_hint`) says, once its signature and issuer are
/// checked (its expiry is not: a hint may be old).
#[derive(Debug, Deserialize)]
pub struct Hint {
    pub aud: String,
    pub sub: String,
    pub sid: Option<String>,
}

/// What goes into one ID token besides the user's claims.
pub struct IdToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub sid: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub amr: Amr,
    pub access_token: Option<&'a str>,
    pub now: i64,
    pub ttl: i64,
}

#[derive(Serialize)]
struct Registered<'a> {
    iss: &'a str,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    sid: &'a str,
    amr: Amr,
    acr: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
}

impl IdTokenKeys {
    /// Whether tokens can be signed with `alg`.
    pub fn offers(&self, alg: IdTokenAlg) -> bool {
        alg == IdTokenAlg::Rs256 || self.ed25519.is_some()
    }

    /// An ID token this provider signed for `issuer`, whatever its age.
    pub fn read_hint(&self, token: &str, issuer: &str) -> Option<Hint> {
        let header = decode_header(token).ok()?;
        let key = match (header.alg, header.kid.as_deref(), &self.ed25519) {
            (Algorithm::RS256, Some(kid), _) if kid == self.rsa.kid => &self.rsa.decoding,
            (Algorithm::RS256, Some(kid), _) => {
                &self.previous_rsa.iter().find(|k| k.kid == kid)?.decoding
            }
            (Algorithm::EdDSA, Some(kid), Some((ed_kid, _, key))) if kid == ed_kid => key,
            _ => return None,
        };
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        v.set_issuer(&[issuer]);
        decode::<Hint>(token, key, &v).ok().map(|d| d.claims)
    }

    pub fn sign(
        &self,
        alg: IdTokenAlg,
        t: &IdToken<'_>,
        mut claims: Map<String, Value>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let registered = Registered {
            iss: t.issuer,
            aud: t.client_id,
            azp: t.client_id,
            iat: t.now,
            exp: t.now + t.ttl,
            auth_time: t.auth_time,
            sid: t.sid,
            amr: t.amr,
            acr: acr_of(t.amr),
            nonce: t.nonce,
            at_hash: t.access_token.map(at_hash),
        };
        if let Value::Object(r) = serde_json::to_value(&registered)? {
            claims.extend(r);
        }
        let (header, key) = match (alg, &self.ed25519) {
            (IdTokenAlg::EdDsa, Some((kid, key, _))) => {
                let mut h = Header::new(Algorithm::EdDSA);
                h.kid = Some(kid.clone());
                (h, key)
            }
            _ => {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some(self.rsa.kid.clone());
                (h, &self.rsa.encoding)
            }
        };
        let mut header = header;
        header.typ = Some("JWT".into());
        encode(&header, &Value::Object(claims), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenID Connect Core §A.3's example: this access token's `at_hash`.
    #[test]
    fn at_hash_is_the_left_half_of_the_sha256() {
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(token), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
