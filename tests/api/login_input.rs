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
    assert_eq!(bodies[0]["error"], "invalid_credentials");
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
