use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::*;

#[actix_web::test]
async fn fifty_parallel_refreshes_with_one_token_make_exactly_one_new_pair() {
    let app = spawn_app().await;
    app.create_user("grace").await;
    let data = app.login("grace", PASSWORD).await;
    let refresh = token(&data, "refresh_token");

    let attempts = (0..50).map(|_| app.refresh(&refresh));
    let responses = futures_util::future::join_all(attempts).await;
    let mut pairs = HashSet::new();
    for res in responses {
        assert_eq!(
            res.status(),
            200,
            "a retry inside the grace window gets the pair"
        );
        let body: Value = res.json().await.unwrap();
        pairs.insert((
            token(&body["data"], "access_token"),
            token(&body["data"], "refresh_token"),
        ));
    }
    assert_eq!(pairs.len(), 1, "exactly one new pair");
    let (access, new_refresh) = pairs.into_iter().next().unwrap();
    assert_eq!(app.me(&access).await.status(), 200);
    // The new refresh token is the live one.
    assert_eq!(app.refresh(&new_refresh).await.status(), 200);
}

#[actix_web::test]
async fn reuse_outside_the_grace_window_ends_the_session() {
    let app = spawn_app().await;
    app.create_user("heidi").await;
    let data = app.login("heidi", PASSWORD).await;
    let first = token(&data, "refresh_token");

    let body: Value = app.refresh(&first).await.json().await.unwrap();
    let access = token(&body["data"], "access_token");
    let second = token(&body["data"], "refresh_token");

    app.clock
        .advance(app.settings.session.refresh_grace_seconds + 1);
    let res = app.refresh(&first).await;
    assert_error(res, 401, "invalid_refresh_token").await;

    // The whole session is gone: its access token and its newest refresh token.
    assert_error(app.me(&access).await, 401, "invalid_token").await;
    assert_error(app.refresh(&second).await, 401, "invalid_refresh_token").await;
}

#[actix_web::test]
async fn bad_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    app.create_user("ivan").await;
    let data = app.login("ivan", PASSWORD).await;
    let refresh = token(&data, "refresh_token");
    let sid = refresh.split('.').next().unwrap();
    for bad in [
        "garbage".to_owned(),
        format!("{sid}.{}", "A".repeat(43)),
        token(&data, "access_token"),
        "x".repeat(10_000),
    ] {
        assert_error(app.refresh(&bad).await, 401, "invalid_refresh_token").await;
    }
    // None of that harmed the real session.
    assert_eq!(app.refresh(&refresh).await.status(), 200);
}

#[actix_web::test]
async fn refresh_after_the_session_expires_is_refused() {
    let app = spawn_app().await;
    app.create_user("judy").await;
    let data = app.login("judy", PASSWORD).await;
    app.clock
        .advance(app.settings.session.refresh_ttl_seconds + 1);
    assert_error(
        app.refresh(&token(&data, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}
