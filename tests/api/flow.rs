use serde_json::Value;

use crate::helpers::*;

#[actix_web::test]
async fn login_me_refresh_me_logout_then_the_token_is_refused() {
    let app = spawn_app().await;
    app.create_user("alice").await;

    let data = app.login("alice", PASSWORD).await;
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["user"]["username"], "alice");
    assert!(data["user"].get("password_hash").is_none());
    let access = token(&data, "access_token");
    let refresh = token(&data, "refresh_token");

    let me: Value = app.me(&access).await.json().await.unwrap();
    assert_eq!(me["code"], 200);
    assert_eq!(me["data"]["username"], "alice");

    let res = app.refresh(&refresh).await;
    assert_eq!(res.status(), 200);
    let pair: Value = res.json().await.unwrap();
    let access2 = token(&pair["data"], "access_token");
    assert_ne!(access2, access);
    assert_ne!(token(&pair["data"], "refresh_token"), refresh);
    assert_eq!(pair["data"]["session_uuid"], data["session_uuid"]);
    assert_eq!(app.me(&access2).await.status(), 200);

    let res = app.post_auth("/api/v1/auth/logout", &access2).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["ended"], 1);

    let res = app.me(&access2).await;
    let challenge = www_authenticate(&res).expect("challenge");
    assert!(
        challenge.starts_with("Bearer realm=\"portcullis\""),
        "{challenge}"
    );
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_error(res, 401, "invalid_token").await;
    // The first access token belonged to the same session.
    assert_eq!(app.me(&access).await.status(), 401);
    // Logging out again is still 200.
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &access2)
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn no_credentials_get_a_plain_challenge() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/sys/users/me"))
        .send()
        .await
        .unwrap();
    let challenge = www_authenticate(&res).expect("challenge");
    assert_eq!(challenge, "Bearer realm=\"portcullis\"");
    assert_error(res, 401, "unauthorized").await;
}

#[actix_web::test]
async fn the_login_sets_the_refresh_cookie_and_the_cookie_alone_refreshes() {
    let app = spawn_app().await;
    app.create_user("carol").await;
    let res = app
        .post_login(&serde_json::json!({"username": "carol", "password": PASSWORD}))
        .await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis_refresh="))
        .expect("refresh cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/api/v1/auth"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    // The client's cookie store sends it back; no body needed.
    let res = app.post("/api/v1/auth/refresh").await;
    assert_eq!(res.status(), 200);
    // Logging out by cookie ends the session and clears the cookie.
    let res = app.post("/api/v1/auth/logout").await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["ended"], 1);
    let res = app.post("/api/v1/auth/refresh").await;
    assert_error(res, 401, "refresh_token_missing").await;
}

#[actix_web::test]
async fn chinese_messages_for_chinese_clients() {
    let app = spawn_app().await;
    for (accept, msg) in [
        ("zh-CN,zh;q=0.9,en;q=0.8", "请先登录"),
        ("en-US", "Authentication required"),
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/sys/users/me"))
            .header("Accept-Language", accept)
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 401, "unauthorized").await;
        assert_eq!(body["msg"], msg);
    }
}

#[actix_web::test]
async fn me_answers_in_the_clients_language_with_the_same_user() {
    let app = spawn_app().await;
    app.create_user("dora").await;
    let data = app.login("dora", PASSWORD).await;
    let access = token(&data, "access_token");
    let mut answers = Vec::new();
    // English twice: the second answer comes from the envelope cached with the user.
    for accept in ["en-US", "zh-CN,zh;q=0.9", "en-US"] {
        let res = app
            .client
            .get(app.url("/api/v1/sys/users/me"))
            .bearer_auth(&access)
            .header("Accept-Language", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/json");
        answers.push(res.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0]["msg"], "Success");
    assert_eq!(answers[1]["msg"], "请求成功");
    assert_eq!(answers[2], answers[0]);
    // The user, and how and when this session's user signed in, as its token says.
    let mut expected = data["user"].clone();
    expected["amr"] = serde_json::json!(["pwd"]);
    expected["auth_time"] = jwt_claims(&access)["auth_time"].clone();
    assert!(expected["auth_time"].is_i64());
    for answer in &answers {
        assert_eq!(answer["code"], 200);
        assert_eq!(answer["data"], expected);
        assert!(answer.get("error").is_none() && answer.get("trace_id").is_none());
    }
}

#[actix_web::test]
async fn health_and_unknown_paths() {
    let app = spawn_app().await;
    let live: Value = app.get_json("/health/live").await;
    assert_eq!(live["data"]["status"], "ok");
    let ready: Value = app.get_json("/health/ready").await;
    let expected = if production_mode() {
        ("postgres", "redis")
    } else {
        ("sqlite", "embedded")
    };
    assert_eq!(ready["data"]["database"], expected.0);
    assert_eq!(ready["data"]["store"], expected.1);
    let res = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
}
