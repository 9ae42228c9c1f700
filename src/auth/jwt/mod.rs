//! Access tokens (SPEC §3): `typ: at+jwt`, a `kid`, and `iss aud sub sid jti iat nbf exp`,
//! with the session's `amr` and `auth_time` (how and when its user proved who they are).
//! Time checks use the caller's clock with a leeway, not the library's, so they are testable.

mod client;

pub use client::ForClient;

use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::KeySet;
use crate::config::JwtSettings;
use crate::domain::{Amr, Proof};

pub const ACCESS_TYP: &str = "at+jwt";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    /// The session; empty (absent) only in a client's own `client_credentials` tokens, which
    /// no session backs and no check but `verify_client_credentials` accepts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// Absent from tokens issued before it was: read as no method.
    #[serde(default)]
    pub amr: Amr,
    /// Absent from tokens issued before it was: read as `iat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// RFC 9068: the OpenID client the token was issued to (its `aud` too). Absent from the
    /// tokens Portcullis issues for itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// RFC 9068: the scopes granted to that client, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl AccessClaims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok().filter(|id| *id > 0)
    }

    pub fn proof(&self) -> Proof {
        Proof {
            amr: self.amr,
            auth_time: self.auth_time.unwrap_or(self.iat),
        }
    }
}

/// Why a token was refused; logged, never shown beyond `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    WrongType,
    Expired,
    NotYetValid,
    BadSubject,
    UnknownKey,
}

impl TokenRejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_or_bad_signature",
            Self::WrongType => "wrong_type",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadSubject => "bad_subject",
            Self::UnknownKey => "unknown_key",
        }
    }
}

/// What a verified access token said, kept by its exact text so the next request with the same
/// token skips base64, JSON and HMAC. A hit means these very bytes verified before; expiry is
/// still checked against the clock, and the session is still checked by the caller.
#[derive(Clone)]
pub struct VerifiedToken {
    pub uid: i64,
    pub sid: std::sync::Arc<str>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub proof: Proof,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    /// By `kid`: the current key first, then earlier ones still accepted.
    decoding: Vec<(String, DecodingKey)>,
    jwks: serde_json::Value,
    header: Header,
    validation: Validation,
    /// `validation` without the audience: a client's tokens name the client.
    client_validation: Validation,
    issuer: String,
    audience: String,
    ttl: i64,
    leeway: i64,
    verified: quick_cache::sync::Cache<Box<[u8]>, VerifiedToken>,
}

impl JwtKeys {
    /// `remembered` bounds the verified-token cache (entries).
    pub fn new(
        settings: &JwtSettings,
        keys: &KeySet,
        remembered: usize,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let (algorithm, encoding, decoding) = match keys {
            KeySet::Hs256 { secret } => {
                let kid = hex::encode(&Sha256::digest(secret)[..8]);
                let decoding = vec![(kid, DecodingKey::from_secret(secret))];
                (Algorithm::HS256, EncodingKey::from_secret(secret), decoding)
            }
            KeySet::Ed25519 {
                private_pem,
                current,
                previous,
            } => {
                let decoding = std::iter::once(current)
                    .chain(previous)
                    .map(|k| Ok((k.kid.clone(), DecodingKey::from_ed_components(&k.x)?)))
                    .collect::<Result<_, jsonwebtoken::errors::Error>>()?;
                let encoding = EncodingKey::from_ed_pem(private_pem.as_bytes())?;
                (Algorithm::EdDSA, encoding, decoding)
            }
        };
        let mut header = Header::new(algorithm);
        header.typ = Some(ACCESS_TYP.to_owned());
        header.kid = Some(decoding[0].0.clone());
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&settings.issuer]);
        let mut client_validation = validation.clone();
        client_validation.validate_aud = false;
        validation.set_audience(&[&settings.audience]);
        Ok(Self {
            client_validation,
            encoding,
            decoding,
            jwks: keys.jwks(),
            header,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl: settings.access_ttl_seconds,
            leeway: settings.leeway_seconds as i64,
            verified: quick_cache::sync::Cache::new(remembered.max(1)),
        })
    }

    /// An HS256 set (tests, benches).
    pub fn hs256(settings: &JwtSettings, secret: &[u8], remembered: usize) -> Self {
        let keys = KeySet::Hs256 {
            secret: secret.to_vec(),
        };
        Self::new(settings, &keys, remembered).expect("an HS256 secret is always a key")
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// Publishes one more key beside the access tokens' (the ID tokens' RSA key).
    pub fn also_publish(&mut self, jwk: serde_json::Value) {
        if let Some(keys) = self.jwks["keys"].as_array_mut() {
            keys.push(jwk);
        }
    }

    /// `HS256` or `EdDSA`.
    pub fn algorithm(&self) -> &'static str {
        match self.header.alg {
            Algorithm::EdDSA => "EdDSA",
            _ => "HS256",
        }
    }

    /// The `kid` new tokens carry.
    pub fn current_kid(&self) -> &str {
        &self.decoding[0].0
    }

    /// What memory holds for exactly these bytes: `None` when they were never verified here
    /// (or have been forgotten). Expiry is checked against `now` either way.
    pub fn remembered(
        &self,
        token: &[u8],
        now: i64,
    ) -> Option<Result<VerifiedToken, TokenRejection>> {
        let v = self.verified.get(token)?;
        Some(if now > v.exp.saturating_add(self.leeway) {
            Err(TokenRejection::Expired)
        } else if now.saturating_add(self.leeway) < v.nbf {
            Err(TokenRejection::NotYetValid)
        } else {
            Ok(v)
        })
    }

    /// `verify`, remembering a good answer for the token's lifetime.
    pub fn verify_and_remember(
        &self,
        token: &str,
        now: i64,
    ) -> Result<VerifiedToken, TokenRejection> {
        let c = self.verify(token, now)?;
        let proof = c.proof();
        let v = VerifiedToken {
            uid: c.user_id().ok_or(TokenRejection::BadSubject)?,
            sid: std::sync::Arc::from(c.sid),
            iat: c.iat,
            nbf: c.nbf.max(c.iat),
            exp: c.exp,
            proof,
        };
        self.verified.insert(token.as_bytes().into(), v.clone());
        Ok(v)
    }

    pub fn access_ttl(&self) -> i64 {
        self.ttl
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Returns the token and its expiry (Unix seconds).
    pub fn issue(
        &self,
        user_id: i64,
        sid: &str,
        proof: Proof,
        now: i64,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        self.issue_as(
            user_id,
            sid,
            proof,
            now,
            &uuid::Uuid::new_v4().simple().to_string(),
        )
    }

    /// The token with these exact claims: the same arguments give the same token (the
    /// signature is deterministic), which lets a retried refresh get the very token it missed
    /// without the store keeping it.
    pub fn issue_as(
        &self,
        user_id: i64,
        sid: &str,
        proof: Proof,
        issued_at: i64,
        jti: &str,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            sid: sid.to_owned(),
            jti: jti.to_owned(),
            iat: issued_at,
            nbf: issued_at,
            exp: issued_at + self.ttl,
            amr: proof.amr,
            auth_time: Some(proof.auth_time),
            client_id: None,
            scope: None,
        };
        Ok((encode(&self.header, &claims, &self.encoding)?, claims.exp))
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejection> {
        let c = self.check(token, now, &self.validation)?;
        // A client's token is for that client, even one named like this server's audience.
        if c.client_id.is_some() {
            return Err(TokenRejection::WrongType);
        }
        Ok(c)
    }

    /// A user's token: `signed_and_in_time`, for a user and a session.
    fn check(
        &self,
        token: &str,
        now: i64,
        validation: &Validation,
    ) -> Result<AccessClaims, TokenRejection> {
        let c = self.signed_and_in_time(token, now, validation)?;
        if c.user_id().is_none() || c.sid.is_empty() {
            return Err(TokenRejection::BadSubject);
        }
        Ok(c)
    }

    fn signed_and_in_time(
        &self,
        token: &str,
        now: i64,
        validation: &Validation,
    ) -> Result<AccessClaims, TokenRejection> {
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        let key = match header.kid.as_deref() {
            Some(kid) => self.decoding.iter().find(|(k, _)| k == kid),
            None => None,
        };
        let (_, key) = key.ok_or(TokenRejection::UnknownKey)?;
        let data = decode::<AccessClaims>(token, key, validation)
            .map_err(|_| TokenRejection::Malformed)?;
        if data.header.typ.as_deref() != Some(ACCESS_TYP) {
            return Err(TokenRejection::WrongType);
        }
        let c = data.claims;
        if now > c.exp.saturating_add(self.leeway) {
            return Err(TokenRejection::Expired);
        }
        if now.saturating_add(self.leeway) < c.nbf || now.saturating_add(self.leeway) < c.iat {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(&Settings::defaults().jwt, &[7u8; 32], 16)
    }

    #[test]
    fn remembered_tokens_still_expire() {
        let k = keys();
        let (t, exp) = k.issue(5, "s", Proof::password(1_000), 1_000).unwrap();
        assert!(k.remembered(t.as_bytes(), 1_000).is_none());
        assert_eq!(k.verify_and_remember(&t, 1_000).unwrap().uid, 5);
        let again = |now| k.remembered(t.as_bytes(), now).expect("remembered");
        assert_eq!(again(1_001).unwrap().sid.as_ref(), "s");
        assert!(matches!(again(exp + 31), Err(TokenRejection::Expired)));
        assert!(matches!(
            again(1_000 - 31),
            Err(TokenRejection::NotYetValid)
        ));
        let mut forged = t.clone();
        forged.push('x');
        assert!(
            k.remembered(forged.as_bytes(), 1_000).is_none(),
            "only the exact bytes are remembered"
        );
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_header() {
        let k = keys();
        let (t, exp) = k.issue(5, "sid1", Proof::password(1_000), 1_000).unwrap();
        let c = k.verify(&t, 1_000).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str(), c.exp), ("5", "sid1", exp));
        assert_eq!(c.proof(), Proof::password(1_000));
        let mfa = Proof {
            amr: Amr::PWD.and_second(Amr::OTP),
            auth_time: 900,
        };
        let (t2, _) = k.issue(5, "sid1", mfa, 1_000).unwrap();
        assert_eq!(k.verify_and_remember(&t2, 1_000).unwrap().proof, mfa);
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert!(header.kid.is_some());
    }

    #[test]
    fn time_checks_use_the_leeway() {
        let k = keys();
        let (t, exp) = k.issue(5, "s", Proof::password(1_000), 1_000).unwrap();
        assert!(k.verify(&t, exp + 30).is_ok());
        assert_eq!(k.verify(&t, exp + 31), Err(TokenRejection::Expired));
        assert_eq!(k.verify(&t, 1_000 - 31), Err(TokenRejection::NotYetValid));
    }

    #[test]
    fn a_key_id_that_is_not_ours_is_refused() {
        let k = keys();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TYP.into());
        header.kid = Some("someone-else".into());
        let (t, _) = k.issue(5, "s", Proof::password(1_000), 1_000).unwrap();
        let claims = k.verify(&t, 1_000).unwrap();
        let forged = encode(&header, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
        assert_eq!(k.verify(&forged, 1_000), Err(TokenRejection::UnknownKey));
        header.kid = None;
        let forged = encode(&header, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
        assert_eq!(k.verify(&forged, 1_000), Err(TokenRejection::UnknownKey));
    }

    #[test]
    fn ed25519_tokens_verify_with_the_current_and_previous_keys_only() {
        use crate::auth::keys::{generate, KeySet};
        let settings = Settings::defaults().jwt;
        let set = |private: &str, current, previous: Vec<_>| {
            let keys = KeySet::Ed25519 {
                private_pem: private.to_owned(),
                current,
                previous,
            };
            JwtKeys::new(&settings, &keys, 16).unwrap()
        };
        let (old_private, _, old) = generate();
        let (new_private, _, new) = generate();
        let before = set(&old_private, old.clone(), vec![]);
        let (t_old, _) = before.issue(5, "s", Proof::password(1_000), 1_000).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&t_old).unwrap().alg,
            Algorithm::EdDSA
        );
        assert_eq!(before.current_kid(), old.kid);

        let rotated = set(&new_private, new.clone(), vec![old.clone()]);
        let (t_new, _) = rotated
            .issue(6, "s2", Proof::password(1_000), 1_000)
            .unwrap();
        assert!(
            rotated.verify(&t_old, 1_000).is_ok(),
            "the previous key still verifies"
        );
        assert!(rotated.verify(&t_new, 1_000).is_ok());
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(
            before.verify(&t_new, 1_000),
            Err(TokenRejection::UnknownKey)
        );

        let retired = set(&new_private, new, vec![]);
        assert_eq!(
            retired.verify(&t_old, 1_000),
            Err(TokenRejection::UnknownKey)
        );
        // An HS256 token with an EdDSA key's kid is not accepted (no algorithm confusion).
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TYP.into());
        header.kid = Some(old.kid.clone());
        let claims = before.verify(&t_old, 1_000).unwrap();
        let forged = encode(
            &header,
            &claims,
            &EncodingKey::from_secret(old.x.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            before.verify(&forged, 1_000),
            Err(TokenRejection::Malformed)
        );
    }

    #[test]
    fn another_secret_is_refused() {
        let (t, _) = keys().issue(5, "s", Proof::password(1_000), 1_000).unwrap();
        let other = JwtKeys::hs256(&Settings::defaults().jwt, &[8u8; 32], 16);
        // Another secret has another kid: refused before any signature is checked.
        assert_eq!(other.verify(&t, 1_000), Err(TokenRejection::UnknownKey));
    }
}
