//! Signing keys: the HS256 secret, or Ed25519 key pairs (PKCS#8 / SPKI PEM) with their JWK form.
//! A key's `kid` is its RFC 7638 thumbprint, so every node (and every guard) names a key the
//! same way without being told.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What tokens are signed and checked with.
pub enum KeySet {
    Hs256 {
        secret: Vec<u8>,
    },
    Ed25519 {
        /// The current private key, PKCS#8 PEM.
        private_pem: String,
        current: PublicKey,
        /// Earlier keys: still accepted and published.
        previous: Vec<PublicKey>,
    },
}

/// An Ed25519 public key as JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// The raw 32-byte key, base64url.
    pub x: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl PublicKey {
    fn of(key: &VerifyingKey) -> Self {
        let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
        // RFC 7638: the required members, sorted, no spaces.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Self { kid, x }
    }

    /// A public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(|k| Self::of(&k))
            .map_err(|e| KeyError(format!("not an Ed25519 public key (SPKI PEM): {e}")))
    }

    pub fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "use": "sig", "alg": "EdDSA"})
    }
}

/// A new key pair: (private PKCS#8 PEM, public SPKI PEM, its public key).
pub fn generate() -> (String, String, PublicKey) {
    let key = SigningKey::from_bytes(&crate::crypto::random_bytes::<32>());
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes")
        .to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes");
    (private, public, PublicKey::of(&key.verifying_key()))
}

/// The public half of a private key in PKCS#8 PEM.
pub fn public_of(private_pem: &str) -> Result<PublicKey, KeyError> {
    SigningKey::from_pkcs8_pem(private_pem.trim())
        .map(|k| PublicKey::of(&k.verifying_key()))
        .map_err(|e| KeyError(format!("not an Ed25519 private key (PKCS#8 PEM): {e}")))
}

impl KeySet {
    /// `{"keys": [...]}`: the current and previous public keys (none for HS256, whose secret
    /// is never published).
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = match self {
            Self::Hs256 { .. } => Vec::new(),
            Self::Ed25519 {
                current, previous, ..
            } => std::iter::once(current)
                .chain(previous)
                .map(PublicKey::jwk)
                .collect(),
        };
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_back_with_the_same_kid() {
        let (private, public, key) = generate();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(public_of(&private).unwrap(), key);
        assert_eq!(PublicKey::from_pem(&public).unwrap(), key);
        assert_eq!(key.kid.len(), 43, "a base64url SHA-256");
        assert_ne!(generate().2.kid, key.kid);
        assert!(public_of("nonsense").is_err());
        assert!(
            PublicKey::from_pem(&private).is_err(),
            "a private key is not a public one"
        );
    }

    /// RFC 8037 appendix A.3: the thumbprint of its example key.
    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            PublicKey::of(&key).kid,
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
