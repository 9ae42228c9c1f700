//! `mfa.required_for`: a user it names who has no second factor gets, after the password, a
//! ticket that can do nothing but enrol one; confirming the first code signs them in.

use serde_json::{json, Value};

use crate::cli::portcullis;
use crate::helpers::*;
use crate::mfa::base32_decode;

async fn policy_app() -> TestApp {
    let (mut settings, resources) = test_settings().await;
    settings.mfa.required_for = vec!["superusers".into(), "ops".into()];
    settings.mfa.ticket_attempts = 3;
    settings.swagger_login.enabled = true;
    spawn_with(settings, resources).await
}

impl TestApp {
    async fn enrol_with_ticket(&self, ticket: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/mfa/enrol/totp"))
            .json(&json!({"ticket": ticket}))
            .send()
            .await
            .unwrap()
    }

    async fn confirm_with_ticket(&self, ticket: &str, code: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/mfa/enrol/totp/confirm"))
            .json(&json!({"ticket": ticket, "code": code}))
            .send()
            .await
            .unwrap()
    }

    /// The login answer of a user the policy names and who has no factor: only a ticket.
    async fn enrolment_ticket(&self, username: &str) -> String {
        let data = self.login(username, PASSWORD).await;
        assert_eq!(data["mfa_required"], true, "{data}");
        assert_eq!(data["enrolment_required"], true, "{data}");
        assert_eq!(data["factors"], json!([]), "{data}");
        assert!(data.get("access_token").is_none() && data.get("user").is_none());
        token(&data, "mfa_ticket")
    }
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[actix_web::test]
async fn mfa_a_policy_user_without_a_factor_can_only_enrol_and_then_signs_in_with_it() {
    let app = policy_app().await;
    app.create_user_with("root", PASSWORD, true).await;
    app.align_to_step();
    let ticket = app.enrolment_ticket("root").await;

    // The ticket is nothing else: not a token, not a second factor.
    assert_error(app.me(&ticket).await, 401, "invalid_token").await;
    assert_error(app.mfa_verify(&ticket, "123456").await, 401, "mfa_failed").await;

    let res = app.enrol_with_ticket(&ticket).await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let secret = base32_decode(data["secret"].as_str().unwrap());
    let code = app.code(&secret, 0);
    assert_error(
        app.confirm_with_ticket(&ticket, &wrong(&code)).await,
        401,
        "mfa_failed",
    )
    .await;
    let res = app.confirm_with_ticket(&ticket, &code).await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(data["user"]["username"], "root");
    assert_eq!(data["recovery_codes"].as_array().map(Vec::len), Some(10));
    let access = token(&data, "access_token");
    assert_eq!(jwt_claims(&access)["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(app.me(&access).await.status(), 200);
    // Used: it finished the login.
    app.clock.advance(30);
    let again = app
        .confirm_with_ticket(&ticket, &app.code(&secret, 0))
        .await;
    assert_error(again, 401, "mfa_failed").await;

    // From now on the ordinary second step.
    let data = app.login("root", PASSWORD).await;
    assert_eq!(data["factors"], json!(["totp", "recovery"]), "{data}");
    assert!(data.get("enrolment_required").is_none(), "{data}");
    let res = app
        .mfa_verify(&token(&data, "mfa_ticket"), &app.code(&secret, 0))
        .await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn mfa_the_policy_names_roles_and_leaves_everyone_else_alone() {
    let app = policy_app().await;
    app.create_user("olga").await;
    app.create_user("pete").await;
    let out = portcullis(
        &app,
        &["role", "create", "ops", "--permission", "ops:deploy"],
        None,
    );
    assert!(out.status.success());
    let out = portcullis(
        &app,
        &["user", "grant", "--username", "olga", "--role", "ops"],
        None,
    );
    assert!(out.status.success());

    app.enrolment_ticket("olga").await;
    assert!(app.login("pete", PASSWORD).await["access_token"].is_string());
    // The Swagger login has no second step: such a user is sent to the real one.
    for (user, status) in [("olga", 403), ("pete", 200)] {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login/swagger"))
            .form(&[("username", user), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{user}");
    }
}

#[actix_web::test]
async fn mfa_an_enrolment_ticket_takes_few_wrong_codes_and_a_second_factor_ticket_cannot_enrol() {
    let app = policy_app().await;
    app.create_user_with("root", PASSWORD, true).await;
    app.align_to_step();
    let ticket = app.enrolment_ticket("root").await;
    let data = app
        .enrol_with_ticket(&ticket)
        .await
        .json::<Value>()
        .await
        .unwrap()["data"]
        .clone();
    let secret = base32_decode(data["secret"].as_str().unwrap());
    let code = app.code(&secret, 0);
    for _ in 0..3 {
        let res = app.confirm_with_ticket(&ticket, &wrong(&code)).await;
        assert_error(res, 401, "mfa_failed").await;
    }
    // The third wrong code took the ticket away: the right one is too late.
    assert_error(
        app.confirm_with_ticket(&ticket, &code).await,
        401,
        "mfa_failed",
    )
    .await;
    assert_error(app.enrol_with_ticket(&ticket).await, 401, "mfa_failed").await;

    // A user with a factor holds a second-factor ticket, which enrols nothing.
    app.create_user("ann").await;
    app.enrol_totp("ann").await;
    let second = app.mfa_ticket("ann").await;
    assert_error(app.enrol_with_ticket(&second).await, 401, "mfa_failed").await;
    assert_error(
        app.confirm_with_ticket(&second, "123456").await,
        401,
        "mfa_failed",
    )
    .await;
}

#[actix_web::test]
async fn mfa_an_enrolment_ticket_enrols_nothing_once_the_user_has_a_factor() {
    let app = policy_app().await;
    app.create_user_with("root", PASSWORD, true).await;
    app.align_to_step();
    let first = app.enrolment_ticket("root").await;
    let second = app.enrolment_ticket("root").await;
    let data = app
        .enrol_with_ticket(&first)
        .await
        .json::<Value>()
        .await
        .unwrap()["data"]
        .clone();
    let secret = base32_decode(data["secret"].as_str().unwrap());
    let res = app.confirm_with_ticket(&first, &app.code(&secret, 0)).await;
    assert_eq!(res.status(), 200);
    // The other ticket came from the password alone: it must not replace the factor.
    assert_error(app.enrol_with_ticket(&second).await, 401, "mfa_failed").await;
    app.clock.advance(30);
    let res = app
        .confirm_with_ticket(&second, &app.code(&secret, 0))
        .await;
    assert_error(res, 401, "mfa_failed").await;
}
