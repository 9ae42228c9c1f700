//! Access-token checks, as the server makes them: `typ: at+jwt`, a known `kid`, the signature,
//! `iss`, `aud`, and the times with a leeway.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The server's public keys by `kid` (EdDSA).
#[derive(Default)]
pub struct Keys {
    ed25519: HashMap<String, DecodingKey>,
}

impl Keys {
    /// From `/.well-known/jwks.json`; keys of other kinds are skipped.
    pub fn from_jwks(jwks: &serde_json::Value) -> Result<Self, String> {
        let list = jwks["keys"]
            .as_array()
            .ok_or("jwks.json has no `keys` array")?;
        let mut ed25519 = HashMap::new();
        for k in list {
            if k["kty"] != "OKP" || k["crv"] != "Ed25519" {
                continue;
            }
            let (Some(kid), Some(x)) = (k["kid"].as_str(), k["x"].as_str()) else {
                return Err("a key in jwks.json lacks `kid` or `x`".into());
            };
            let key = DecodingKey::from_ed_components(x).map_err(|e| e.to_string())?;
            ed25519.insert(kid.to_owned(), key);
        }
        Ok(Self { ed25519 })
    }

    pub fn is_empty(&self) -> bool {
        self.ed25519.is_empty()
    }
}

/// What a token must say.
pub struct Rules {
    pub issuer: String,
    pub audience: String,
    pub leeway: i64,
    pub hs256: Option<Vec<u8>>,
}

/// A verified token's claims that matter here.
#[derive(Clone)]
pub struct Verified {
    pub uid: i64,
    pub sid: Arc<str>,
    pub nbf: i64,
    pub exp: i64,
    /// How the session's user signed in, as the token says.
    pub amr: Arc<[String]>,
    pub auth_time: Option<i64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    UnknownKey,
    Invalid,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    /// Tokens from servers before second factors carry neither.
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    auth_time: Option<i64>,
}

impl Rules {
    pub fn verify(&self, keys: &Keys, token: &str, now: i64) -> Result<Verified, Failure> {
        let header = decode_header(token).map_err(|_| Failure::Invalid)?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(Failure::Invalid);
        }
        let hs256 = self.hs256.as_deref().map(DecodingKey::from_secret);
        let key = match header.alg {
            Algorithm::EdDSA => header
                .kid
                .as_deref()
                .and_then(|kid| keys.ed25519.get(kid))
                .ok_or(Failure::UnknownKey)?,
            Algorithm::HS256 => hs256.as_ref().ok_or(Failure::Invalid)?,
            _ => return Err(Failure::Invalid),
        };
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        let c = decode::<Claims>(token, key, &validation)
            .map_err(|_| Failure::Invalid)?
            .claims;
        let uid = c
            .sub
            .parse::<i64>()
            .ok()
            .filter(|u| *u > 0)
            .ok_or(Failure::Invalid)?;
        if c.sid.is_empty() {
            return Err(Failure::Invalid);
        }
        let v = Verified {
            uid,
            sid: Arc::from(c.sid),
            nbf: c.nbf.max(c.iat),
            exp: c.exp,
            amr: Arc::from(c.amr),
            auth_time: c.auth_time,
        };
        self.in_time(v, now).map_err(|_| Failure::Invalid)
    }

    /// Expiry and not-before, with the leeway.
    pub fn in_time(&self, v: Verified, now: i64) -> Result<Verified, crate::Refusal> {
        if now > v.exp.saturating_add(self.leeway) || now.saturating_add(self.leeway) < v.nbf {
            Err(crate::Refusal::InvalidToken)
        } else {
            Ok(v)
        }
    }
}
