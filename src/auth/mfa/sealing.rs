//! TOTP secrets at rest: ChaCha20-Poly1305 under `mfa.encryption_key`, a random nonce per
//! secret, and the user's id as associated data, so a sealed secret copied onto another user's
//! row does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::config::MFA_KEY_BYTES;

const NONCE_BYTES: usize = 12;

pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

fn aad(uid: i64) -> String {
    format!("portcullis:mfa:totp:{uid}")
}

impl Sealer {
    pub fn new(key: &[u8; MFA_KEY_BYTES]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// `nonce || ciphertext`, URL-safe base64.
    pub fn seal(&self, uid: i64, secret: &[u8]) -> Option<String> {
        let nonce = crate::crypto::random_bytes::<NONCE_BYTES>();
        let aad = aad(uid);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Some(crate::crypto::b64(&out))
    }

    /// `None` for another key, another user, or altered bytes.
    pub fn open(&self, uid: i64, sealed: &str) -> Option<Vec<u8>> {
        let raw = crate::crypto::from_b64(sealed)?;
        if raw.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_BYTES);
        let aad = aad(uid);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_for_the_same_key_and_user() {
        let s = Sealer::new(&[1u8; 32]);
        let sealed = s.seal(7, b"secret bytes").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(7, &sealed).unwrap(), b"secret bytes");
        assert!(s.open(8, &sealed).is_none());
        assert!(Sealer::new(&[2u8; 32]).open(7, &sealed).is_none());
        assert_ne!(
            s.seal(7, b"secret bytes").unwrap(),
            sealed,
            "a nonce per seal"
        );
    }
}
