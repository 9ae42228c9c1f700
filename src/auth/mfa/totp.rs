//! TOTP (RFC 6238) with `totp-rs`: HMAC-SHA-1, 6 digits, 30-second steps, one step of skew
//! either way. Which step matched is returned, so the caller can accept each step once.

use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const DIGITS: u8 = 6;
pub const STEP_SECONDS: u64 = 30;
/// 160 bits, as RFC 4226 §4 recommends for HMAC-SHA-1.
pub const SECRET_BYTES: usize = 20;

fn build(secret: &[u8], digits: u8, issuer: &str, account: &str) -> Option<Totp> {
    // An authenticator's label is `issuer:account`; a `:` in the account name would split it.
    let account = account.replace(':', "_");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .ok()
}

/// A new random secret.
pub fn new_secret() -> [u8; SECRET_BYTES] {
    crate::crypto::random_bytes::<SECRET_BYTES>()
}

/// The secret as an authenticator app takes it by hand (base32, no padding).
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://totp/...` URI of the QR code.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> Option<String> {
    build(secret, DIGITS, issuer, account)?.to_url().ok()
}

/// The step (`unix / 30`) whose code `code` is, within one step of `unix`; `None` if none is.
pub fn matching_step(secret: &[u8], code: &str, unix: i64) -> Option<i64> {
    let t = build(secret, DIGITS, "x", "x")?;
    let unix = u64::try_from(unix).ok()?;
    t.check(code.trim(), unix)
        .and_then(|s| i64::try_from(s).ok())
}

/// The QR code of `text` as an SVG image in a `data:` URI, ready for an `<img src>`.
pub fn qr_svg_data_uri(text: &str) -> Option<String> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, the SHA-1 rows (8 digits, the secret "12345678901234567890").
    #[test]
    fn rfc_6238_sha1_test_vectors() {
        let secret = b"12345678901234567890";
        let t = build(secret, 8, "x", "x").unwrap();
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time).to_string(), code, "T = {time}");
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_and_two_are_not() {
        let secret = [42u8; SECRET_BYTES];
        let t = build(&secret, DIGITS, "x", "x").unwrap();
        let now = 1_800_000_000i64;
        let code = t.generate(now as u64).to_string();
        let step = now / 30;
        assert_eq!(matching_step(&secret, &code, now), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(step));
        assert_eq!(matching_step(&secret, &code, now - 30), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 60), None);
        assert_eq!(matching_step(&secret, &code, now - 60), None);
        assert_eq!(matching_step(&[1u8; SECRET_BYTES], &code, now), None);
        assert_eq!(matching_step(&secret, "+12345", now), None);
    }

    #[test]
    fn the_uri_carries_issuer_account_and_secret() {
        let secret = [1u8; SECRET_BYTES];
        let uri = otpauth_uri(&secret, "Portcullis", "ali:ce").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Portcullis:ali_ce?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", base32(&secret))),
            "{uri}"
        );
        assert!(uri.contains("issuer=Portcullis"), "{uri}");
        assert!(qr_svg_data_uri(&uri)
            .unwrap()
            .starts_with("data:image/svg+xml;base64,"));
    }
}
