//! What the browser relies on, over plain HTTP: CORS for the configured origins only, the
//! `Origin` check on cookie refresh and logout, the provider list, the page at `/`.

use std::collections::BTreeMap;

use portcullis::config::{Profile, ProviderKind};
use reqwest::header::{HeaderMap, ORIGIN};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth2::provider;

const FRONTEND: &str = "http://localhost:5173";
const EVIL: &str = "http://evil.example";

async fn cors_app() -> TestApp {
    let (mut s, res) = test_settings().await;
    s.cors.allowed_origins = vec![FRONTEND.into()];
    spawn_with(s, res).await
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header(ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        )
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let app = cors_app().await;
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/sys/users/7",
    ] {
        let res = preflight(&app, path, FRONTEND).await;
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let h = res.headers();
        assert_eq!(header(h, "access-control-allow-origin"), Some(FRONTEND));
        assert_eq!(header(h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(header(h, "access-control-max-age"), Some("600"));
        assert!(header(h, "access-control-allow-methods")
            .unwrap()
            .contains("POST"));
        let allowed = header(h, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    }
    let res = preflight(&app, "/api/v1/auth/login", EVIL).await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);

    // An answer (an error too) names the origin and lets the page read the trace id.
    let res = app
        .client
        .get(app.url("/api/v1/sys/users/me"))
        .header(ORIGIN, FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        header(res.headers(), "access-control-allow-origin"),
        Some(FRONTEND)
    );
    let exposed = header(res.headers(), "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-trace-id") && exposed.contains("retry-after"),
        "{exposed}"
    );
}

#[actix_web::test]
async fn without_allowed_origins_there_are_no_cors_headers() {
    let app = spawn_app().await;
    assert!(app.settings.cors.allowed_origins.is_empty());
    let res = preflight(&app, "/api/v1/auth/login", FRONTEND).await;
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
    let res = app
        .client
        .get(app.url("/health/live"))
        .header(ORIGIN, FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(header(res.headers(), "access-control-allow-origin"), None);
}

#[actix_web::test]
async fn cookie_refresh_and_logout_are_refused_from_other_origins() {
    let app = cors_app().await;
    app.create_user("ola").await;
    app.login("ola", PASSWORD).await; // the cookie is now in the client
    let refresh = |origin: Option<&'static str>| {
        let mut req = app.client.post(app.url("/api/v1/auth/refresh"));
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        req.send()
    };
    let res = refresh(Some(EVIL)).await.unwrap();
    let body = assert_error(res, 403, "origin_not_allowed").await;
    assert!(body["msg"].as_str().unwrap().contains(EVIL), "{body}");
    let res = refresh(Some("null")).await.unwrap();
    assert_error(res, 403, "origin_not_allowed").await;
    // The refused tries spent nothing: the allowed origin, this server's own and a client
    // without Origin still refresh (each rotating the cookie).
    assert_eq!(refresh(Some(FRONTEND)).await.unwrap().status(), 200);
    let own: &'static str = Box::leak(app.address.clone().into_boxed_str());
    assert_eq!(refresh(Some(own)).await.unwrap().status(), 200);
    assert_eq!(refresh(None).await.unwrap().status(), 200);
    // A token in the body is not a cookie: no ambient authority, no Origin check.
    let other = reqwest::Client::new();
    let login: Value = other
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "ola", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = other
        .post(app.url("/api/v1/auth/refresh"))
        .header(ORIGIN, EVIL)
        .json(&json!({"refresh_token": token(&login["data"], "refresh_token")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header(ORIGIN, EVIL)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "origin_not_allowed").await;
    assert_eq!(
        refresh(None).await.unwrap().status(),
        200,
        "still signed in"
    );
}

#[actix_web::test]
async fn the_login_page_lists_the_configured_providers() {
    let (mut s, res) = test_settings().await;
    let mut p = provider(ProviderKind::Oidc, "http://127.0.0.1:1");
    p.issuer = Some("http://127.0.0.1:1".into());
    p.display_name = Some("Corp SSO".into());
    s.oauth2.providers = BTreeMap::from([
        (
            "github".to_owned(),
            provider(ProviderKind::Github, "http://127.0.0.1:1"),
        ),
        ("corp".to_owned(), p),
    ]);
    let app = spawn_with(s, res).await;
    let body: Value = app.get_json("/api/v1/oauth2/providers").await;
    assert_eq!(
        body["data"],
        json!([
            {"name": "corp", "kind": "oidc", "display_name": "Corp SSO"},
            {"name": "github", "kind": "github", "display_name": "GitHub"},
        ])
    );
}

#[actix_web::test]
async fn the_page_is_served_in_development_and_not_in_production_by_default() {
    let (s, res) = test_settings().await;
    assert_eq!(s.ui.enabled, None);
    let app = spawn_with(s, res).await;
    for path in ["/", "/login", "/account", "/admin", "/oauth2/callback"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let csp = header(res.headers(), "content-security-policy")
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
        assert!(res
            .text()
            .await
            .unwrap()
            .contains(r#"<script type="module" src="/ui/app.js">"#));
    }
    let js = app.client.get(app.url("/ui/app.js")).send().await.unwrap();
    assert_eq!(
        header(js.headers(), "content-type"),
        Some("text/javascript; charset=utf-8")
    );

    let (mut s, res) = test_settings().await;
    s.profile = Profile::Production;
    assert!(!s.ui_enabled());
    s.profile = Profile::Development;
    s.ui.enabled = Some(false);
    let app = spawn_with(s, res).await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
