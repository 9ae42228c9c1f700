//! The login's second step: tickets, codes, replay, skew, attempts, recovery codes, and the
//! ways in that lead to it (password, social login, Swagger).

use portcullis::clock::Clock;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::mfa::base32_decode;

#[actix_web::test]
async fn mfa_after_the_password_a_ticket_and_the_code_give_the_tokens() {
    let app = spawn_app().await;
    app.create_user("tess").await;
    // An enrolment not yet confirmed changes nothing: the login still gives tokens.
    let access = token(&app.login("tess", PASSWORD).await, "access_token");
    assert_eq!(
        app.post_auth("/api/v1/auth/mfa/totp", &access)
            .await
            .status(),
        200
    );
    assert!(app.login("tess", PASSWORD).await["access_token"].is_string());

    let e = app.enrol_totp("tess").await;
    let data = app.login("tess", PASSWORD).await;
    assert_eq!(data["mfa_required"], true, "{data}");
    assert_eq!(data["factors"], json!(["totp", "recovery"]));
    assert!(data.get("access_token").is_none(), "{data}");
    assert!(data.get("refresh_token").is_none() && data.get("user").is_none());
    let ticket = token(&data, "mfa_ticket");
    app.clock.advance(30);
    let res = app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(data["user"]["username"], "tess");
    assert!(data.get("recovery_codes_left").is_none());
    assert_eq!(app.me(&token(&data, "access_token")).await.status(), 200);
    let refreshed = app.refresh(&token(&data, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
}

#[actix_web::test]
async fn mfa_users_without_a_factor_get_the_tokens_at_once() {
    let app = spawn_app().await;
    app.create_user("plain").await;
    let data = app.login("plain", PASSWORD).await;
    assert!(data["access_token"].is_string(), "{data}");
    assert!(data.get("mfa_required").is_none(), "{data}");
    assert!(data.get("recovery_codes_left").is_none(), "{data}");
}

#[actix_web::test]
async fn mfa_login_steps_go_to_the_login_log_with_the_factor() {
    let app = spawn_app().await;
    app.create_user_with("root", PASSWORD, true).await;
    app.create_user("lena").await;
    let e = app.enrol_totp("lena").await;
    let ticket = app.mfa_ticket("lena").await;
    assert_error(app.mfa_verify(&ticket, "000000").await, 401, "mfa_failed").await;
    app.clock.advance(30);
    let res = app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await;
    assert_eq!(res.status(), 200);
    let admin = token(&app.login("root", PASSWORD).await, "access_token");
    let rows: Vec<Value> = app
        .login_log(&admin, 5)
        .await
        .into_iter()
        .filter(|r| r["username"] == "lena")
        .collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    for want in ["mfa_required", "mfa_failed", "success"] {
        assert!(reasons.contains(&want), "{rows:?}");
    }
    let text = serde_json::to_string(&rows).unwrap();
    assert!(text.contains("password+totp"), "{text}");
    assert!(text.contains("mfa:totp"), "{text}");
}

#[actix_web::test]
async fn mfa_a_code_is_accepted_once() {
    let app = spawn_app().await;
    app.create_user("rory").await;
    let e = app.enrol_totp("rory").await;
    // The confirming code's step is used already.
    let ticket = app.mfa_ticket("rory").await;
    assert_error(
        app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await,
        401,
        "mfa_failed",
    )
    .await;
    app.clock.advance(30);
    let code = app.code(&e.secret, 0);
    assert_eq!(app.mfa_verify(&ticket, &code).await.status(), 200);
    // The same code again, on a fresh ticket, within its window: refused.
    let ticket = app.mfa_ticket("rory").await;
    assert_error(app.mfa_verify(&ticket, &code).await, 401, "mfa_failed").await;
    // An older step's code after a newer one was used: refused too.
    app.clock.advance(30);
    assert_error(
        app.mfa_verify(&ticket, &app.code(&e.secret, -1)).await,
        401,
        "mfa_failed",
    )
    .await;
}

#[actix_web::test]
async fn mfa_one_step_of_skew_is_accepted_and_two_are_refused() {
    let app = spawn_app().await;
    app.create_user("skye").await;
    let e = app.enrol_totp("skye").await;
    app.clock.advance(300);
    let ticket = app.mfa_ticket("skye").await;
    for steps in [-2, 2] {
        let code = app.code(&e.secret, steps);
        assert_error(app.mfa_verify(&ticket, &code).await, 401, "mfa_failed").await;
    }
    assert_eq!(
        app.mfa_verify(&ticket, &app.code(&e.secret, -1))
            .await
            .status(),
        200
    );
    app.clock.advance(300);
    let ticket = app.mfa_ticket("skye").await;
    assert_eq!(
        app.mfa_verify(&ticket, &app.code(&e.secret, 1))
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn mfa_a_code_of_another_secret_is_refused_at_the_second_step() {
    let app = spawn_app().await;
    app.create_user("vic").await;
    app.enrol_totp("vic").await;
    app.clock.advance(30);
    let ticket = app.mfa_ticket("vic").await;
    let wrong = app.code(b"another secret of 20b", 0);
    assert_error(app.mfa_verify(&ticket, &wrong).await, 401, "mfa_failed").await;
}

#[actix_web::test]
async fn mfa_a_ticket_is_single_use_and_short_lived() {
    let app = spawn_app().await;
    app.create_user("tia").await;
    let e = app.enrol_totp("tia").await;
    app.clock.advance(30);
    let ticket = app.mfa_ticket("tia").await;
    assert_eq!(
        app.mfa_verify(&ticket, &app.code(&e.secret, 0))
            .await
            .status(),
        200
    );
    app.clock.advance(30);
    assert_error(
        app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await,
        401,
        "mfa_failed",
    )
    .await;

    let ticket = app.mfa_ticket("tia").await;
    app.clock.advance(app.settings.mfa.ticket_ttl_seconds + 1);
    assert_error(
        app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await,
        401,
        "mfa_failed",
    )
    .await;
    assert_error(
        app.mfa_verify("made-up-ticket", &app.code(&e.secret, 0))
            .await,
        401,
        "mfa_failed",
    )
    .await;
}

#[actix_web::test]
async fn mfa_wrong_codes_use_up_the_ticket() {
    let app = spawn_app().await;
    app.create_user("ash").await;
    let e = app.enrol_totp("ash").await;
    app.clock.advance(30);
    let ticket = app.mfa_ticket("ash").await;
    let right = app.code(&e.secret, 0);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    for _ in 0..app.settings.mfa.ticket_attempts {
        assert_error(app.mfa_verify(&ticket, wrong).await, 401, "mfa_failed").await;
    }
    assert_error(app.mfa_verify(&ticket, &right).await, 401, "mfa_failed").await;
    // The right code still works on a new ticket: only the ticket was used up.
    let ticket = app.mfa_ticket("ash").await;
    assert_eq!(app.mfa_verify(&ticket, &right).await.status(), 200);
}

#[actix_web::test]
async fn mfa_the_ticket_is_not_a_token() {
    let app = spawn_app().await;
    app.create_user("nia").await;
    app.enrol_totp("nia").await;
    let ticket = app.mfa_ticket("nia").await;
    assert_error(app.me(&ticket).await, 401, "invalid_token").await;
    let res = app.post_auth("/api/v1/auth/mfa/totp", &ticket).await;
    assert_error(res, 401, "invalid_token").await;
    assert_error(app.refresh(&ticket).await, 401, "invalid_refresh_token").await;
}

#[actix_web::test]
async fn mfa_a_recovery_code_works_once_and_says_how_many_remain() {
    let app = spawn_app().await;
    app.create_user("rex").await;
    let e = app.enrol_totp("rex").await;
    assert_eq!(e.recovery_codes.len(), 10);
    let code = e.recovery_codes[3].to_uppercase();
    let ticket = app.mfa_ticket("rex").await;
    let res = app.mfa_verify(&ticket, &code).await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(data["recovery_codes_left"], 9, "{data}");
    let access = token(&data, "access_token");
    assert_eq!(app.me(&access).await.status(), 200);

    let ticket = app.mfa_ticket("rex").await;
    assert_error(app.mfa_verify(&ticket, &code).await, 401, "mfa_failed").await;

    // A new set voids the old one (this session signed in just now).
    let res = app
        .post_auth("/api/v1/auth/mfa/recovery-codes", &access)
        .await;
    assert_eq!(res.status(), 200);
    let fresh = res.json::<Value>().await.unwrap()["data"]["recovery_codes"].clone();
    assert_eq!(fresh.as_array().unwrap().len(), 10);
    assert_error(
        app.mfa_verify(&ticket, &e.recovery_codes[0]).await,
        401,
        "mfa_failed",
    )
    .await;
    let res = app.mfa_verify(&ticket, fresh[0].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["recovery_codes_left"],
        9
    );
}

#[actix_web::test]
async fn mfa_the_swagger_login_refuses_a_user_with_a_factor() {
    let (mut settings, resources) = test_settings().await;
    settings.swagger_login.enabled = true;
    let app = spawn_with(settings, resources).await;
    app.create_user("sam").await;
    app.enrol_totp("sam").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login/swagger"))
        .form(&[("username", "sam"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "mfa_required").await;
}

#[actix_web::test]
async fn mfa_a_social_login_asks_for_the_second_factor_too() {
    let user =
        json!({"id": 77, "login": "octo", "name": "Octo", "email": null, "avatar_url": null});
    let emails = json!([{"email": "octo@example.com", "primary": true, "verified": true}]);
    let (app, _github) = crate::oauth2::github_app(user, emails, false).await;
    app.align_to_step();
    let access = token(&app.oauth_login("github").await, "access_token");
    let res = app.post_auth("/api/v1/auth/mfa/totp", &access).await;
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let secret = base32_decode(data["secret"].as_str().unwrap());
    let res = app
        .post_json_auth(
            "/api/v1/auth/mfa/totp/confirm",
            &access,
            &json!({"code": app.code(&secret, 0)}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let data = app.oauth_login("github").await;
    assert_eq!(data["mfa_required"], true, "{data}");
    assert!(data.get("access_token").is_none(), "{data}");
    app.clock.advance(30);
    let res = app
        .mfa_verify(&token(&data, "mfa_ticket"), &app.code(&secret, 0))
        .await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(data["user"]["username"], "octo");
}

#[actix_web::test]
async fn mfa_wrong_codes_count_against_the_user_on_every_ticket() {
    let (mut settings, resources) = test_settings().await;
    settings.mfa.max_failures_per_user = 3;
    let app = spawn_with(settings, resources).await;
    app.create_user("guess").await;
    let e = app.enrol_totp("guess").await;
    app.clock.advance(30);
    let right = app.code(&e.secret, 0);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    for _ in 0..3 {
        let ticket = app.mfa_ticket("guess").await;
        assert_error(app.mfa_verify(&ticket, wrong).await, 401, "mfa_failed").await;
    }
    // A fresh ticket does not bring fresh guesses: the right code fails too, until the window ends.
    let ticket = app.mfa_ticket("guess").await;
    assert_error(app.mfa_verify(&ticket, &right).await, 401, "mfa_failed").await;
    if production_mode() {
        // Redis ends the window by its own clock, which the test cannot move.
        return;
    }
    app.clock
        .advance(app.settings.mfa.failure_window_seconds + 1);
    let ticket = app.mfa_ticket("guess").await;
    assert_eq!(
        app.mfa_verify(&ticket, &app.code(&e.secret, 0))
            .await
            .status(),
        200
    );
}

async fn forward_auth(app: &TestApp, access: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/auth/verify{query}")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn mfa_tokens_say_how_the_user_signed_in_and_forward_auth_can_demand_a_second_factor() {
    let app = spawn_app().await;
    app.create_user("tess").await;
    let before = app.clock.unix();
    let password_only = token(&app.login("tess", PASSWORD).await, "access_token");
    let c = jwt_claims(&password_only);
    assert_eq!(c["amr"], json!(["pwd"]), "{c}");
    let at = c["auth_time"].as_i64().unwrap();
    assert!((before..=app.clock.unix()).contains(&at), "{c}");

    let res = forward_auth(&app, &password_only, "").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["remote-amr"], "pwd");
    let res = forward_auth(&app, &password_only, "?mfa=true").await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication", "{body}");
    assert_eq!(body["data"]["mfa"], true, "{body}");

    let e = app.enrol_totp("tess").await;
    let ticket = token(&app.login("tess", PASSWORD).await, "mfa_ticket");
    app.clock.advance(30);
    let before = app.clock.unix();
    let res = app.mfa_verify(&ticket, &app.code(&e.secret, 0)).await;
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let access = token(&data, "access_token");
    let c = jwt_claims(&access);
    assert_eq!(c["amr"], json!(["pwd", "otp", "mfa"]), "{c}");
    let signed_in = c["auth_time"].as_i64().unwrap();
    assert!((before..=app.clock.unix()).contains(&signed_in), "{c}");
    let res = forward_auth(&app, &access, "?mfa=true").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["remote-amr"], "pwd,otp,mfa");

    // A refresh keeps what the session proved, and when.
    app.clock.advance(60);
    let res = app.refresh(&token(&data, "refresh_token")).await;
    let refreshed = res.json::<Value>().await.unwrap()["data"].clone();
    let c = jwt_claims(&token(&refreshed, "access_token"));
    assert_eq!(c["amr"], json!(["pwd", "otp", "mfa"]), "{c}");
    assert_eq!(c["auth_time"], json!(signed_in));
    assert!(c["iat"].as_i64().unwrap() > signed_in);
}
