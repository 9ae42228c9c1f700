use crate::helpers::*;

#[actix_web::test]
async fn metrics_count_requests_auth_outcomes_and_cache_hits() {
    let app = spawn_app().await;
    app.create_user("mona").await;
    let t = token(&app.login("mona", PASSWORD).await, "access_token");
    app.settle_log().await;
    for _ in 0..3 {
        assert_eq!(app.me(&t).await.status(), 200);
    }
    assert_eq!(app.me("garbage").await.status(), 401);
    let text = app.metrics().await;
    let value = |series: &str| {
        metric_value(&text, series).unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
    };
    assert_eq!(value("portcullis_auth_total{outcome=\"ok\"}"), 3.0);
    assert_eq!(
        value("portcullis_auth_total{outcome=\"invalid_token\"}"),
        1.0
    );
    let (hits, misses) = (
        value("portcullis_cache_hits_total"),
        value("portcullis_cache_misses_total"),
    );
    assert_eq!(
        hits + misses,
        3.0,
        "every authenticated request asks the cache once"
    );
    if !production_mode() {
        // In production mode another test may cut every node's invalidation link for a moment,
        // and a node without its link reads through on purpose.
        assert_eq!(misses, 1.0, "only the first request reads through");
    }
    let me_ok = "portcullis_http_request_duration_seconds_count{route=\"/api/v1/sys/users/me\",method=\"GET\",status=\"200\"}";
    assert_eq!(value(me_ok), 3.0);
    assert_eq!(value("portcullis_password_hash_queue_depth"), 0.0);
    assert!(value("portcullis_password_verifications_total") >= 1.0);
}

#[actix_web::test]
async fn a_refresh_takes_its_user_from_the_cache_the_tokens_filled() {
    let app = spawn_app().await;
    app.create_user("nils").await;
    let data = app.login("nils", PASSWORD).await;
    app.settle_log().await;
    assert_eq!(app.me(&token(&data, "access_token")).await.status(), 200);
    let count = |text: &str, series: &str| metric_value(text, series).unwrap_or(0.0);
    let before = app.metrics().await;
    let res = app.refresh(&token(&data, "refresh_token")).await;
    assert_eq!(res.status(), 200);
    let rotated: serde_json::Value = res.json().await.unwrap();
    let after = app.metrics().await;
    let asked = |t: &str| {
        count(t, "portcullis_cache_hits_total") + count(t, "portcullis_cache_misses_total")
    };
    assert_eq!(
        asked(&after) - asked(&before),
        1.0,
        "the refresh asks the cache once"
    );
    if !production_mode() {
        assert_eq!(
            count(&after, "portcullis_cache_misses_total"),
            count(&before, "portcullis_cache_misses_total"),
            "and memory answers it"
        );
    }
    // What the cache holds follows the user: disabled, the next refresh is refused.
    app.admin.set_enabled("nils", false).await.unwrap();
    let res = app
        .refresh(rotated["data"]["refresh_token"].as_str().unwrap())
        .await;
    assert_error(res, 401, "invalid_refresh_token").await;
}

#[actix_web::test]
async fn metrics_are_not_on_the_api_listener() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_error(res, 404, "not_found").await;
    assert!(app
        .metrics()
        .await
        .contains("portcullis_http_request_duration_seconds"));
}

#[actix_web::test]
async fn made_up_methods_and_paths_add_no_series() {
    let app = spawn_app().await;
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    for i in 0..10 {
        let method = reqwest::Method::from_bytes(format!("WARM{i}").as_bytes()).unwrap();
        app.client
            .request(method, app.url(&format!("/nowhere/{i}")))
            .send()
            .await
            .unwrap();
    }
    let before = series(&app.metrics().await);
    for i in 0..1000 {
        let method = reqwest::Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
        let res = app
            .client
            .request(method, app.url(&format!("/x{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    assert_eq!(
        series(&app.metrics().await),
        before,
        "1,000 distinct methods and paths"
    );
}
