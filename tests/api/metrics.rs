use crate::helpers::*;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
}

#[actix_web::test]
async fn metrics_count_requests_auth_outcomes_and_cache_hits() {
    let app = spawn_app().await;
    app.create_user("mona").await;
    let t = token(&app.login("mona", PASSWORD).await, "access_token");
    for _ in 0..3 {
        assert_eq!(app.me(&t).await.status(), 200);
    }
    assert_eq!(app.me("garbage").await.status(), 401);
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(value(&text, "portcullis_auth_total{outcome=\"ok\"}"), 3.0);
    assert_eq!(
        value(&text, "portcullis_auth_total{outcome=\"invalid_token\"}"),
        1.0
    );
    let (hits, misses) = (
        value(&text, "portcullis_cache_hits_total"),
        value(&text, "portcullis_cache_misses_total"),
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
    assert_eq!(value(&text, me_ok), 3.0);
    assert_eq!(value(&text, "portcullis_password_hash_queue_depth"), 0.0);
    assert!(value(&text, "portcullis_password_verifications_total") >= 1.0);
}

#[actix_web::test]
async fn metrics_are_only_for_allowed_peers() {
    let (mut s, dir) = test_settings().await;
    s.metrics.allowed = vec!["10.0.0.0/8".into()];
    let app = spawn_with(s, dir).await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
}
