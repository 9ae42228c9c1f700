use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn malformed_login_bodies_get_400_or_413_with_the_envelope() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/auth/login");

    let res = app.post_login(&json!({"username": "x"})).await;
    let body = assert_error(res, 400, "invalid_body").await;
    assert!(body["msg"].as_str().unwrap().contains("password"), "{body}");

    let res = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_body").await;

    let res = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("username=a&password=b")
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_body").await;

    let huge = json!({"username": "a", "password": "x".repeat(1024 * 1024)});
    let res = app.post_login(&huge).await;
    assert_error(res, 413, "payload_too_large").await;

    let res = app
        .post_login(&json!({"username": ["a"], "password": 5}))
        .await;
    assert_error(res, 400, "invalid_body").await;
}

#[actix_web::test]
async fn unknown_user_wrong_password_and_disabled_account_look_the_same() {
    let app = spawn_app().await;
    app.create_user("dave").await;
    app.create_user("erin").await;
    let erin = app.repo.user_by_username("erin").await.unwrap().unwrap();
    app.repo
        .set_status(erin.id, 0, chrono::NaiveDateTime::default())
        .await
        .unwrap();

    let mut bodies = Vec::new();
    for (user, pw) in [
        ("nobody", PASSWORD),
        ("dave", "wrong password!"),
        ("erin", PASSWORD),
    ] {
        let res = app
            .post_login(&json!({"username": user, "password": pw}))
            .await;
        assert_eq!(res.status(), 400, "{user}");
        let mut body: Value = res.json().await.unwrap();
        body.as_object_mut().unwrap().remove("trace_id");
        bodies.push(body);
    }
    assert_eq!(bodies[0]["slug"], "invalid_credentials");
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
}

#[actix_web::test]
async fn a_bcrypt_hash_from_fba_logs_in_and_is_rehashed_to_argon2id() {
    let app = spawn_app().await;
    let id = app.create_user("frank").await;
    let bcrypt_hash = bcrypt::hash("fba-password-1", 4)
        .unwrap()
        .replacen("$2y$", "$2b$", 1);
    app.repo
        .set_password_hash(id, &bcrypt_hash, None, chrono::NaiveDateTime::default())
        .await
        .unwrap();
    app.login("frank", "fba-password-1").await;
    let stored = app
        .repo
        .user_by_id(id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    app.login("frank", "fba-password-1").await;
}

#[actix_web::test]
async fn an_empty_username_or_password_is_the_documented_400() {
    let app = spawn_app().await;
    app.create_user("dave").await;
    let spec = app.get_json("/api/v1/openapi.json").await;
    let request = &spec["definitions"]["LoginRequest"]["properties"];
    assert_eq!(request["username"]["minLength"], 1, "{request}");
    assert_eq!(request["password"]["minLength"], 1, "{request}");
    let bad = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["400"]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    for stated in [
        "invalid_body",
        "empty username",
        "invalid_credentials",
        "captcha_invalid",
    ] {
        assert!(bad.contains(stated), "{stated} in {bad}");
    }

    for body in [
        json!({"username": "", "password": PASSWORD}),
        json!({"username": "dave", "password": ""}),
        json!({"username": "", "password": ""}),
    ] {
        let res = app.post_login(&body).await;
        let answer = assert_error(res, 400, "invalid_body").await;
        assert!(
            answer["msg"]
                .as_str()
                .unwrap()
                .contains("must not be empty"),
            "{answer}"
        );
    }
    // A username of spaces is not empty: the one answer for refused credentials.
    let res = app
        .post_login(&json!({"username": " ", "password": PASSWORD}))
        .await;
    assert_error(res, 400, "invalid_credentials").await;
    app.login("dave", PASSWORD).await;
}

#[actix_web::test]
async fn a_logout_or_refresh_body_of_the_wrong_type_is_400_not_absent() {
    let app = spawn_app().await;
    app.create_user("erin").await;
    // Signed in with the refresh cookie in the client's jar: a body taken for absent would
    // end this session through the cookie.
    let login = app.login("erin", PASSWORD).await;
    let access = token(&login, "access_token");
    for path in ["/api/v1/auth/logout", "/api/v1/auth/refresh"] {
        for (content_type, body) in [
            ("application/json", "[null, null]"),
            ("application/json", "\"x\""),
            ("application/json", r#"{"refresh_token": 5}"#),
            ("application/json", "{"),
            ("text/plain", "x"),
        ] {
            let res = app
                .client
                .post(app.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_error(res, 400, "invalid_body").await;
        }
    }
    assert_eq!(app.me(&access).await.status(), 200, "still signed in");

    // No body at all is still "no body": the cookie names the session.
    let res = app.post("/api/v1/auth/logout").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["ended"], 1, "{body}");
    assert_eq!(app.me(&access).await.status(), 401);
}
