//! The few primitives secrets are made of: random tokens, digests, constant-time comparison,
//! and sealing a secret under another so that only its holder can open it.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `N` bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut raw = [0u8; N];
    rand::rng().fill_bytes(&mut raw);
    raw
}

/// 256 random bits, URL-safe base64 without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// SHA-256 of `text`, lower-case hex.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// SHA-256 of several parts, each length-prefixed, so that no choice of parts can produce the
/// same input as another (`("a|b", "c")` and `("a", "b|c")` differ).
pub fn digest_parts(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Equality that takes the same time wherever the inputs differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn pad(key: &str, purpose: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.finalize().into()
}

/// Seals 32 secret bytes under `key` (itself a secret of at least 256 bits that the store does
/// not keep): the bytes XOR a pad derived from the key. Only someone presenting `key` again
/// opens it; what is stored is no use on its own.
pub fn seal(key: &str, purpose: &str, secret: &[u8; 32]) -> String {
    let pad = pad(key, purpose);
    let sealed: Vec<u8> = secret.iter().zip(pad).map(|(s, p)| s ^ p).collect();
    hex::encode(sealed)
}

pub fn unseal(key: &str, purpose: &str, sealed: &str) -> Option<[u8; 32]> {
    let raw: [u8; 32] = hex::decode(sealed).ok()?.try_into().ok()?;
    let pad = pad(key, purpose);
    let mut out = [0u8; 32];
    for (o, (r, p)) in out.iter_mut().zip(raw.iter().zip(pad)) {
        *o = r ^ p;
    }
    Some(out)
}

/// URL-safe base64 without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn from_b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cannot_be_shifted_into_each_other() {
        assert_ne!(digest_parts(&["a|b", "c"]), digest_parts(&["a", "b|c"]));
        assert_eq!(digest_parts(&["a", "b"]), digest_parts(&["a", "b"]));
    }

    #[test]
    fn only_the_key_opens_a_seal() {
        let secret = random_bytes::<32>();
        let key = random_token();
        let sealed = seal(&key, "grace", &secret);
        assert_eq!(unseal(&key, "grace", &sealed), Some(secret));
        assert_ne!(unseal(&random_token(), "grace", &sealed), Some(secret));
        assert_ne!(unseal(&key, "other", &sealed), Some(secret));
        assert!(!sealed.contains(&hex::encode(secret)));
        assert_eq!(random_token().len(), 43);
    }
}
