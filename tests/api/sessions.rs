use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn with_multi_login_off_a_second_login_ends_the_first_session() {
    let app = spawn_app().await;
    let id = app.create_user("kim").await;
    app.repo.set_multi_login(id, false).await.unwrap();
    let first = app.login("kim", PASSWORD).await;
    let access1 = token(&first, "access_token");
    assert_eq!(app.me(&access1).await.status(), 200);

    let second = app.login("kim", PASSWORD).await;
    assert_error(app.me(&access1).await, 401, "invalid_token").await;
    assert_error(
        app.refresh(&token(&first, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(app.me(&token(&second, "access_token")).await.status(), 200);
}

#[actix_web::test]
async fn with_multi_login_on_sessions_coexist_up_to_the_cap() {
    let app = spawn_app().await;
    app.create_user("lee").await;
    let cap = app.settings.session.max_sessions_per_user;
    let mut tokens = Vec::new();
    for _ in 0..cap {
        tokens.push(token(&app.login("lee", PASSWORD).await, "access_token"));
    }
    for t in &tokens {
        assert_eq!(app.me(t).await.status(), 200);
    }
    let newest = token(&app.login("lee", PASSWORD).await, "access_token");
    assert_eq!(
        app.me(&tokens[0]).await.status(),
        401,
        "the oldest made room"
    );
    assert_eq!(app.me(&tokens[1]).await.status(), 200);
    assert_eq!(app.me(&newest).await.status(), 200);
}

#[actix_web::test]
async fn sessions_are_listed_ended_one_by_one_and_all_at_once() {
    let app = spawn_app().await;
    app.create_user("mia").await;
    app.create_user("ned").await;
    let a = token(&app.login("mia", PASSWORD).await, "access_token");
    let b = app.login("mia", PASSWORD).await;
    let c = token(&app.login("mia", PASSWORD).await, "access_token");
    let other = token(&app.login("ned", PASSWORD).await, "access_token");

    let list: Value = app.get_auth_json("/api/v1/auth/sessions", &a).await;
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    // Someone else's session id is not found, not ended.
    let ned_sid = app.me(&other).await;
    assert_eq!(ned_sid.status(), 200);
    let b_sid = b["session_uuid"].as_str().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{b_sid}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "session_not_found").await;

    let res = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{b_sid}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.me(&token(&b, "access_token")).await.status(), 401);

    let res: Value = app
        .post_auth("/api/v1/auth/logout/all", &c)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["data"]["ended"], 2);
    assert_eq!(app.me(&a).await.status(), 401);
    assert_eq!(app.me(&c).await.status(), 401);
    assert_eq!(
        app.me(&other).await.status(),
        200,
        "other users keep theirs"
    );
}

#[actix_web::test]
async fn changing_the_password_ends_other_sessions_and_refreshes_the_user() {
    let app = spawn_app().await;
    app.create_user("olga").await;
    let keep = token(&app.login("olga", PASSWORD).await, "access_token");
    let other = token(&app.login("olga", PASSWORD).await, "access_token");

    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/sys/users/me/password"))
            .bearer_auth(&keep)
            .json(&body)
            .send()
    };
    let res = put(json!({"old_password": "not it at all", "new_password": "brand new secret", "confirm_password": "brand new secret"})).await.unwrap();
    assert_error(res, 400, "wrong_old_password").await;
    let res = put(
        json!({"old_password": PASSWORD, "new_password": "short", "confirm_password": "short"}),
    )
    .await
    .unwrap();
    assert_error(res, 400, "password_policy").await;
    let res = put(json!({"old_password": PASSWORD, "new_password": "brand new secret", "confirm_password": "different"})).await.unwrap();
    assert_error(res, 400, "password_mismatch").await;

    let before: Value = app.me(&keep).await.json().await.unwrap();
    let res = put(json!({"old_password": PASSWORD, "new_password": "brand new secret", "confirm_password": "brand new secret"})).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["ended_sessions"], 1);

    assert_eq!(app.me(&other).await.status(), 401);
    let after: Value = app.me(&keep).await.json().await.unwrap();
    assert_ne!(
        before["data"]["password_changed_at"], after["data"]["password_changed_at"],
        "the cached user was dropped and read again"
    );
    let res = app
        .post_login(&json!({"username": "olga", "password": PASSWORD}))
        .await;
    assert_eq!(res.status(), 400);
    app.login("olga", "brand new secret").await;
}

#[actix_web::test]
async fn codes_come_from_the_roles_permissions() {
    let app = spawn_app().await;
    let id = app.create_user("pat").await;
    let now = chrono::NaiveDateTime::default();
    app.repo
        .grant_role(id, "auditor", &["log:login:list", "sys:user:list"], now)
        .await
        .unwrap();
    let other = app.create_user("quinn").await;
    app.repo
        .grant_role(other, "editor", &["sys:user:edit"], now)
        .await
        .unwrap();

    let t = token(&app.login("pat", PASSWORD).await, "access_token");
    let codes: Value = app.get_auth_json("/api/v1/auth/codes", &t).await;
    assert_eq!(codes["data"], json!(["log:login:list", "sys:user:list"]));
    let me: Value = app.me(&t).await.json().await.unwrap();
    assert_eq!(me["data"]["roles"], json!(["auditor"]));

    // A superuser is answered every code the server knows, as fba answers it: those any role
    // names (a disabled role's too) and those Portcullis checks itself, with no role at all.
    let retired = app.create_user("rex").await;
    app.repo
        .grant_role(retired, "retired", &["order:refund"], now)
        .await
        .unwrap();
    let role = app
        .repo
        .find_role(&portcullis::repo::RoleKey::Name("retired".into()))
        .await
        .unwrap()
        .unwrap();
    app.repo.update_role(role.id, None, Some(0)).await.unwrap();
    let root = app.create_user_with("root", PASSWORD, true).await;
    assert!(root > 0);
    let t = token(&app.login("root", PASSWORD).await, "access_token");
    let codes: Value = app.get_auth_json("/api/v1/auth/codes", &t).await;
    let mut expected: Vec<&str> = portcullis::domain::codes::BUILT_IN.to_vec();
    expected.push("order:refund");
    expected.sort_unstable();
    assert_eq!(codes["data"], json!(expected));
}
