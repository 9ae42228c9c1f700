//! The RSA key that signs ID tokens with RS256 (OpenID Connect requires RS256, and most relying
//! parties expect it), whatever algorithm the access tokens use. Its `kid` is its RFC 7638
//! thumbprint, as the Ed25519 keys'. Rotated as they are: the new private key signs, the
//! previous public keys stay published (and accepted as `id_token_hint`) until what they signed
//! has expired.

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Bits of a generated key (RFC 7518 §3.3 asks at least 2048).
pub const RSA_BITS: usize = 2048;

pub struct RsaKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    n: String,
    e: String,
    /// The public half, SPKI PEM (for `oidc.previous_rsa_public_key_files` after a rotation).
    pub public_pem: String,
}

/// An earlier key's public half: still published, and still what its ID tokens verify with.
pub struct RsaPublicPart {
    pub kid: String,
    pub decoding: DecodingKey,
    n: String,
    e: String,
}

/// A new private key, PKCS#8 PEM.
pub fn generate() -> String {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS).expect("an RSA key");
    key.to_pkcs8_pem(LineEnding::LF)
        .expect("an RSA key encodes")
        .to_string()
}

/// RFC 7638: the SHA-256 of the required members, sorted, without spaces.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

impl RsaKey {
    /// From PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let pem = pem.trim();
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .context("not an RSA private key (PKCS#8 or PKCS#1 PEM)")?;
        anyhow::ensure!(
            key.size() * 8 >= RSA_BITS,
            "the RSA key has {} bits; RS256 needs at least {RSA_BITS}",
            key.size() * 8
        );
        let der = key.to_pkcs1_der().context("the RSA key encodes")?;
        let public = RsaPublicKey::from(&key);
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .context("the RSA public key encodes")?;
        let RsaPublicPart {
            kid,
            decoding,
            n,
            e,
        } = RsaPublicPart::of(&public)?;
        Ok(Self {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding,
            n,
            e,
            public_pem,
        })
    }

    pub fn jwk(&self) -> Value {
        jwk(&self.n, &self.e, &self.kid)
    }
}

impl RsaPublicPart {
    /// From SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let pem = pem.trim();
        let key = RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .context("not an RSA public key (SPKI or PKCS#1 PEM)")?;
        Self::of(&key)
    }

    fn of(key: &RsaPublicKey) -> anyhow::Result<Self> {
        anyhow::ensure!(
            key.size() * 8 >= RSA_BITS,
            "the RSA key has {} bits; RS256 needs at least {RSA_BITS}",
            key.size() * 8
        );
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        Ok(Self {
            kid: thumbprint(&n, &e),
            decoding: DecodingKey::from_rsa_components(&n, &e)?,
            n,
            e,
        })
    }

    pub fn jwk(&self) -> Value {
        jwk(&self.n, &self.e, &self.kid)
    }
}

fn jwk(n: &str, e: &str, kid: &str) -> Value {
    json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "use": "sig", "alg": "RS256"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_loads_signs_and_verifies() {
        let pem = generate();
        let key = RsaKey::from_pem(&pem).unwrap();
        assert_eq!(key.kid.len(), 43);
        assert_eq!(RsaKey::from_pem(&pem).unwrap().kid, key.kid, "the same kid");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &json!({"sub": "x"}), &key.encoding).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let back = jsonwebtoken::decode::<Value>(&token, &key.decoding, &v).unwrap();
        assert_eq!(back.claims["sub"], "x");
        assert!(RsaKey::from_pem("nonsense").is_err());
        // Its public half, as written for a rotation, is the same key.
        let public = RsaPublicPart::from_pem(&key.public_pem).unwrap();
        assert_eq!(public.kid, key.kid);
        assert_eq!(public.jwk(), key.jwk());
        jsonwebtoken::decode::<Value>(&token, &public.decoding, &v).unwrap();
        assert!(
            RsaPublicPart::from_pem(&pem).is_err(),
            "a private key is not taken as one"
        );
    }

    /// RFC 7638 §3.1's example key and thumbprint.
    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
