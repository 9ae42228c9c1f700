//! Step-up: for a user with a second factor, a sensitive change of the account needs a recent
//! sign-in *with* that factor; the password alone, even just typed, is not enough.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::mfa::base32_decode;

impl TestApp {
    async fn reauthenticate(&self, access: &str, body: &Value) -> reqwest::Response {
        self.post_json_auth("/api/v1/auth/reauthenticate", access, body)
            .await
    }

    async fn regenerate_codes(&self, access: &str) -> reqwest::Response {
        self.post_auth("/api/v1/auth/mfa/recovery-codes", access)
            .await
    }

    async fn change_password(&self, access: &str, old: &str, new: &str) -> reqwest::Response {
        self.client
            .put(self.url("/api/v1/sys/users/me/password"))
            .bearer_auth(access)
            .json(&json!({"old_password": old, "new_password": new, "confirm_password": new}))
            .send()
            .await
            .unwrap()
    }
}

/// A 401 asking for a fresh sign-in (RFC 9470's challenge, with how recent); `data.mfa` says
/// whether it must include the code.
async fn assert_step_up(res: reqwest::Response, mfa: bool) {
    assert_eq!(res.status(), 401);
    assert_eq!(
        www_authenticate(&res).as_deref(),
        Some("Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\", max_age=\"300\"")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication", "{body}");
    assert_eq!(body["data"]["mfa"], mfa, "{body}");
}

#[actix_web::test]
async fn mfa_sensitive_changes_need_a_recent_sign_in_with_the_second_factor() {
    let app = spawn_app().await;
    app.create_user("sue").await;
    let before = app.login("sue", PASSWORD).await;
    let old = token(&before, "access_token");

    // Enrolling in one session makes that session multi-factor: it may go on at once.
    app.align_to_step();
    let enrolling = token(&app.login("sue", PASSWORD).await, "access_token");
    let res = app.post_auth("/api/v1/auth/mfa/totp", &enrolling).await;
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let secret = base32_decode(data["secret"].as_str().unwrap());
    let res = app
        .post_json_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &enrolling,
            &json!({"code": app.code(&secret, 0)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.regenerate_codes(&enrolling).await.status(), 200);

    // The session signed in before, with the password only, recent as it is, is not enough.
    assert_step_up(app.regenerate_codes(&old).await, true).await;
    // Nor is the password again, without the code, or with a wrong one.
    let res = app
        .reauthenticate(&old, &json!({"password": PASSWORD}))
        .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "mfa_code_required", "{body}");
    app.clock.advance(30);
    let wrong = format!(
        "{:06}",
        (app.code(&secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let res = app
        .reauthenticate(&old, &json!({"password": PASSWORD, "code": wrong}))
        .await;
    assert_error(res, 400, "invalid_mfa_code").await;
    let res = app
        .reauthenticate(
            &old,
            &json!({"password": "not-it", "code": app.code(&secret, 0)}),
        )
        .await;
    assert_error(res, 400, "invalid_credentials").await;
    assert_step_up(app.regenerate_codes(&old).await, true).await;

    // The password and the code: this session may now, and is multi-factor from its next token.
    let res = app
        .reauthenticate(
            &old,
            &json!({"password": PASSWORD, "code": app.code(&secret, 0)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.regenerate_codes(&old).await.status(), 200);
    let refreshed = app.refresh(&token(&before, "refresh_token")).await;
    let data = refreshed.json::<Value>().await.unwrap()["data"].clone();
    let amr = jwt_claims(&token(&data, "access_token"))["amr"].clone();
    assert_eq!(amr, json!(["pwd", "otp", "mfa"]));
}

#[actix_web::test]
async fn mfa_a_password_change_needs_the_second_factor_recently_not_only_the_old_password() {
    let app = spawn_app().await;
    app.create_user("pat").await;
    let e = app.enrol_totp("pat").await;
    app.clock.advance(30);
    let ticket = app.mfa_ticket("pat").await;
    let res = app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await;
    let access = token(&res.json::<Value>().await.unwrap()["data"], "access_token");

    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = app
        .change_password(&access, PASSWORD, "a-new-long-passphrase")
        .await;
    assert_step_up(res, true).await;
    // Refused means unchanged: the old password still leads to the second step.
    assert_eq!(app.login("pat", PASSWORD).await["mfa_required"], true);
    // A wrong old password is still told as that.
    let res = app
        .change_password(&access, "not-it", "a-new-long-passphrase")
        .await;
    assert_error(res, 400, "wrong_old_password").await;

    let res = app
        .reauthenticate(
            &access,
            &json!({"password": PASSWORD, "code": e.recovery_codes[0]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .change_password(&access, PASSWORD, "a-new-long-passphrase")
        .await;
    assert_eq!(res.status(), 200);
    let data = app.login("pat", "a-new-long-passphrase").await;
    assert_eq!(data["mfa_required"], true, "{data}");
}

#[actix_web::test]
async fn mfa_users_without_a_factor_confirm_with_the_password_alone() {
    let app = spawn_app().await;
    app.create_user("nora").await;
    let access = token(&app.login("nora", PASSWORD).await, "access_token");
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    assert_step_up(app.post_auth("/api/v1/auth/mfa/totp", &access).await, false).await;
    let res = app
        .reauthenticate(&access, &json!({"password": PASSWORD}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.post_auth("/api/v1/auth/mfa/totp", &access)
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn mfa_introspection_tells_how_the_user_signed_in_to_clients_granted_it() {
    let app = spawn_app().await;
    app.create_user("ida").await;
    let e = app.enrol_totp("ida").await;
    let ticket = app.mfa_ticket("ida").await;
    let res = app.mfa_verify(&ticket, &e.recovery_codes[0]).await;
    let access = token(&res.json::<Value>().await.unwrap()["data"], "access_token");

    let told = app.api_client_with("risk-api", &["--claims", "sub,amr,auth_time"]);
    let body: Value = app
        .introspect(("risk-api", &told), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["amr"], json!(["pwd", "otp", "mfa"]), "{body}");
    assert_eq!(
        body["auth_time"],
        jwt_claims(&access)["auth_time"],
        "{body}"
    );
    let plain = app.api_client_with("plain-api", &[]);
    let body: Value = app
        .introspect(("plain-api", &plain), &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true);
    assert!(
        body.get("amr").is_none() && body.get("auth_time").is_none(),
        "{body}"
    );
}

#[actix_web::test]
async fn mfa_a_reauthentication_names_what_it_offers() {
    let app = spawn_app().await;
    app.create_user("vic").await;
    let access = token(&app.login("vic", PASSWORD).await, "access_token");
    let res = app.reauthenticate(&access, &json!({})).await;
    assert_error(res, 400, "invalid_body").await;
    // Without a passkey there is nothing to answer with one.
    let res = app
        .post_auth("/api/v1/auth/reauthenticate/options", &access)
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .reauthenticate(
            &access,
            &json!({"challenge_id": "made-up", "webauthn": {"id": "x", "type": "public-key"}}),
        )
        .await;
    assert_error(res, 400, "passkey_failed").await;
}

#[actix_web::test]
async fn mfa_a_password_only_confirmation_says_password_only_from_then_on() {
    let app = spawn_app().await;
    app.create_user("rae").await;
    let e = app.enrol_totp("rae").await;
    let ticket = app.mfa_ticket("rae").await;
    let res = app.mfa_verify(&ticket, &e.recovery_codes[0]).await;
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let access = token(&data, "access_token");
    // Recent and multi-factor: the factor goes.
    let res = app
        .client
        .delete(app.url("/api/v1/auth/mfa/totp"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Later the password alone confirms it is her: the session no longer vouches for a second
    // factor it proved long ago.
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = app
        .reauthenticate(&access, &json!({"password": PASSWORD}))
        .await;
    assert_eq!(res.status(), 200);
    let refreshed = app.refresh(&token(&data, "refresh_token")).await;
    let data = refreshed.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(
        jwt_claims(&token(&data, "access_token"))["amr"],
        json!(["pwd"])
    );
}
