//! Second factors: enrolling, listing and removing them (the login's second step is in
//! mfa_login.rs). Codes are computed here from the enrolment's base32 secret with HMAC-SHA-1
//! directly (RFC 6238), not with the server's crate.

use hmac::{Hmac, Mac};
use portcullis::clock::Clock;
use serde_json::{json, Value};

use crate::helpers::*;

/// RFC 4648 base32 without padding.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32") as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 with HMAC-SHA-1, 6 digits, 30-second steps.
pub fn totp_at(secret: &[u8], unix: i64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&((unix / 30) as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0xf) as usize;
    let bin = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]);
    format!("{:06}", bin % 1_000_000)
}

impl TestApp {
    /// Moves the server's clock to one second into a 30-second step, so a test has the rest
    /// of the step before a code changes.
    pub fn align_to_step(&self) {
        let now = self.clock.unix();
        self.clock.advance(30 - now.rem_euclid(30) + 1);
    }

    pub fn code(&self, secret: &[u8], steps_from_now: i64) -> String {
        totp_at(secret, self.clock.unix() + 30 * steps_from_now)
    }

    pub async fn post_json_auth(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

pub struct Enrolled {
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    pub async fn mfa_verify(&self, ticket: &str, code: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/mfa/verify"))
            .json(&json!({"ticket": ticket, "code": code}))
            .send()
            .await
            .unwrap()
    }

    /// Enrols and confirms TOTP for the user; the server's clock is left aligned to a step,
    /// and the confirming code's step is used.
    pub async fn enrol_totp(&self, username: &str) -> Enrolled {
        self.enrol_totp_with(username, PASSWORD).await
    }

    /// As `enrol_totp`, signing in with this password.
    pub async fn enrol_totp_with(&self, username: &str, password: &str) -> Enrolled {
        self.align_to_step();
        let access = token(&self.login(username, password).await, "access_token");
        let res = self.post_auth("/api/v1/auth/mfa/totp", &access).await;
        assert_eq!(res.status(), 200);
        let data = res.json::<Value>().await.unwrap()["data"].clone();
        let secret = base32_decode(data["secret"].as_str().unwrap());
        assert_eq!(secret.len(), 20);
        let code = self.code(&secret, 0);
        let res = self
            .post_json_auth(
                "/api/v1/auth/mfa/totp/confirm",
                &access,
                &json!({"code": code}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let recovery_codes = body["data"]["recovery_codes"]
            .as_array()
            .expect("recovery codes at the first factor")
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        Enrolled {
            secret,
            recovery_codes,
        }
    }

    /// Logs in with the password; the ticket of the MFA answer.
    pub async fn mfa_ticket(&self, username: &str) -> String {
        let data = self.login(username, PASSWORD).await;
        assert_eq!(data["mfa_required"], true, "{data}");
        assert!(data.get("access_token").is_none(), "{data}");
        token(&data, "mfa_ticket")
    }
}

#[actix_web::test]
async fn mfa_enrolment_shows_the_secret_once_and_confirming_gives_recovery_codes() {
    let app = spawn_app().await;
    app.create_user("tess").await;
    app.align_to_step();
    let access = token(&app.login("tess", PASSWORD).await, "access_token");
    let res = app.post_auth("/api/v1/auth/mfa/totp", &access).await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let b32 = data["secret"].as_str().unwrap();
    let uri = data["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Portcullis:tess?"), "{uri}");
    assert!(uri.contains(&format!("secret={b32}")), "{uri}");
    assert!(data["qr"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));

    let secret = base32_decode(b32);
    assert_eq!(secret.len(), 20);
    let code = app.code(&secret, 0);
    let res = app
        .post_json_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &access,
            &json!({"code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let codes = res.json::<Value>().await.unwrap()["data"]["recovery_codes"].clone();
    assert_eq!(codes.as_array().unwrap().len(), 10, "{codes}");
    // The same code cannot confirm twice, and a second enrolment while one is active is refused.
    let res = app
        .post_json_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &access,
            &json!({"code": code}),
        )
        .await;
    assert_error(res, 400, "invalid_mfa_code").await;
    let res = app.post_auth("/api/v1/auth/mfa/totp", &access).await;
    assert_error(res, 409, "conflict").await;

    let res = app
        .post_auth("/api/v1/auth/mfa/recovery-codes", &access)
        .await;
    assert_eq!(res.status(), 200);
    let fresh = res.json::<Value>().await.unwrap()["data"]["recovery_codes"].clone();
    assert_eq!(fresh.as_array().unwrap().len(), 10);
    assert_ne!(fresh, codes);
}

#[actix_web::test]
async fn mfa_a_code_of_another_secret_does_not_confirm() {
    let app = spawn_app().await;
    app.create_user("wren").await;
    app.align_to_step();
    let access = token(&app.login("wren", PASSWORD).await, "access_token");
    assert_eq!(
        app.post_auth("/api/v1/auth/mfa/totp", &access)
            .await
            .status(),
        200
    );
    let wrong = app.code(b"another secret of 20b", 0);
    let res = app
        .post_json_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &access,
            &json!({"code": wrong}),
        )
        .await;
    assert_error(res, 400, "invalid_mfa_code").await;
    // Without an enrolment under way, no code confirms anything.
    app.create_user("una").await;
    let other = token(&app.login("una", PASSWORD).await, "access_token");
    let res = app
        .post_json_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &other,
            &json!({"code": "123456"}),
        )
        .await;
    assert_error(res, 400, "invalid_mfa_code").await;
}

#[actix_web::test]
async fn mfa_changes_need_a_recent_sign_in() {
    let app = spawn_app().await;
    app.create_user("old").await;
    let access = token(&app.login("old", PASSWORD).await, "access_token");
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = app.post_auth("/api/v1/auth/mfa/totp", &access).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication");
    let res = app
        .post_auth("/api/v1/auth/mfa/recovery-codes", &access)
        .await;
    assert_eq!(res.status(), 401);
    // Without a factor there is nothing to regenerate.
    let fresh = token(&app.login("old", PASSWORD).await, "access_token");
    let res = app
        .post_auth("/api/v1/auth/mfa/recovery-codes", &fresh)
        .await;
    assert_error(res, 404, "not_found").await;
}

#[actix_web::test]
async fn mfa_factors_are_listed_and_removing_totp_ends_the_second_step() {
    let app = spawn_app().await;
    app.create_user("fay").await;
    let access = token(&app.login("fay", PASSWORD).await, "access_token");
    let listed = app.get_auth_json("/api/v1/auth/mfa", &access).await;
    assert_eq!(
        listed["data"],
        json!({"factors": [], "recovery_codes_left": 0})
    );
    let res = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;

    let e = app.enrol_totp("fay").await;
    let ticket = app.mfa_ticket("fay").await;
    let res = app.mfa_verify(&ticket, &e.recovery_codes[0]).await;
    let access = token(&res.json::<Value>().await.unwrap()["data"], "access_token");
    let listed = app.get_auth_json("/api/v1/auth/mfa", &access).await;
    assert_eq!(
        listed["data"],
        json!({"factors": ["totp", "recovery"], "recovery_codes_left": 9})
    );

    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let stale = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let ticket = app.mfa_ticket("fay").await;
    let res = app.mfa_verify(&ticket, &e.recovery_codes[1]).await;
    let access = token(&res.json::<Value>().await.unwrap()["data"], "access_token");
    let res = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // No factor left: tokens at once, and the recovery codes are gone with it.
    assert!(app.login("fay", PASSWORD).await["access_token"].is_string());
    let listed = app.get_auth_json("/api/v1/auth/mfa", &access).await;
    assert_eq!(
        listed["data"],
        json!({"factors": [], "recovery_codes_left": 0})
    );
}
