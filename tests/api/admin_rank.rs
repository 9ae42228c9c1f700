//! An administrator manages only users who hold no more than they do: a `sys:user:pwd:reset`
//! holder cannot reset, edit or delete a user holding codes the holder lacks (and sign in as
//! them); one's own password through the admin path needs a recent sign-in, as `/me/password`
//! needs the current password.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const HELPDESK: &[&str] = &["sys:user:pwd:reset", "sys:user:edit", "sys:user:del"];

#[actix_web::test]
async fn an_administrator_cannot_take_over_a_user_who_holds_more() {
    let app = spawn_app().await;
    let (_, helpdesk) = app.user_with_codes("helpdesk", HELPDESK).await;
    let (above, _) = app
        .user_with_codes("treasurer", &["sys:user:del", "order:refund"])
        .await;
    let (below, _) = app.user_with_codes("clerk", &["sys:user:edit"]).await;

    let reset = |id: i64| format!("/api/v1/sys/users/{id}/password");
    let new_password = json!({"password": "taken-over-1234"});
    let res = app
        .call(
            Method::PUT,
            &reset(above),
            &helpdesk,
            Some(new_password.clone()),
        )
        .await;
    let body = assert_error(res, 403, "insufficient_scope").await;
    assert!(
        body["msg"].as_str().unwrap().contains("order:refund"),
        "{body}"
    );
    assert_eq!(
        app.post_login(&json!({"username": "treasurer", "password": "taken-over-1234"}))
            .await
            .status(),
        400,
        "the password did not change"
    );
    let edit = app
        .call(
            Method::PUT,
            &format!("/api/v1/sys/users/{above}"),
            &helpdesk,
            Some(json!({"email": "helpdesk@example.com"})),
        )
        .await;
    assert_error(edit, 403, "insufficient_scope").await;
    let delete = app
        .call(
            Method::DELETE,
            &format!("/api/v1/sys/users/{above}"),
            &helpdesk,
            None,
        )
        .await;
    assert_error(delete, 403, "insufficient_scope").await;

    // A user holding a subset of the caller's codes is the caller's to manage.
    app.ok(
        Method::PUT,
        &reset(below),
        &helpdesk,
        Some(new_password.clone()),
    )
    .await;
    // A superuser manages anyone.
    let (_, root) = app.superuser("root").await;
    app.ok(Method::PUT, &reset(above), &root, Some(new_password))
        .await;
    app.login("treasurer", "taken-over-1234").await;
}

#[actix_web::test]
async fn ones_own_password_through_the_admin_path_needs_a_recent_sign_in() {
    let app = spawn_app().await;
    let (me, t) = app.user_with_codes("helpdesk", HELPDESK).await;
    let path = format!("/api/v1/sys/users/{me}/password");
    let body = json!({"password": "a-new-password-1"});
    // Later than security.reauth_seconds after the sign-in (the token itself still lives).
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = app.call(Method::PUT, &path, &t, Some(body.clone())).await;
    assert_eq!(res.status(), 401);
    let refused: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        refused["slug"], "insufficient_user_authentication",
        "{refused}"
    );
    assert_eq!(
        refused["data"]["max_age"],
        app.settings.security.reauth_seconds
    );
    assert_eq!(
        app.post_login(&json!({"username": "helpdesk", "password": "a-new-password-1"}))
            .await
            .status(),
        400
    );
    let confirmed = app
        .call(
            Method::POST,
            "/api/v1/auth/reauthenticate",
            &t,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    app.ok(Method::PUT, &path, &t, Some(body)).await;
    app.login("helpdesk", "a-new-password-1").await;
}
