//! The API reference at `/docs`: the vendored Swagger UI 5 under a strict CSP, always on this
//! server's own document, off in production unless `docs.enabled`; in real Chromium, rendered
//! with no CSP violation and signing in through the OAuth2 password flow.

use portcullis::config::Profile;
use portcullis::web::docs::SWAGGER_UI_VERSION;
use serde_json::{json, Value};

use crate::browser::{browser, click, driver, fill, shot, until, Driver, WAIT};
use crate::helpers::*;

const EVIL: &str = "url=https://evil.example/spec.json&configUrl=https://evil.example/config.json";

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

fn pinned() -> &'static str {
    SWAGGER_UI_VERSION.trim()
}

#[actix_web::test]
async fn the_page_has_a_strict_csp_and_serves_the_pinned_swagger_ui_5() {
    let app = spawn_app().await;
    let res = app.get("/docs").await;
    assert_eq!(res.status(), 200);
    let csp = header(res.headers(), "content-security-policy")
        .expect("a CSP on /docs")
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let page = res.text().await.unwrap();
    // Every script comes from a file: an inline one would need 'unsafe-inline'.
    let scripts: Vec<&str> = page.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 2, "{page}");
    assert!(
        scripts.iter().all(|s| s.starts_with(" src=\"/docs/")),
        "{page}"
    );

    assert!(pinned().starts_with("5."), "{}", pinned());
    let on_disk = include_str!("../../ui/vendor/swagger-ui/VERSION").trim();
    assert_eq!(pinned(), on_disk);
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert_eq!(
        header(bundle.headers(), "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let etag = header(bundle.headers(), "etag").unwrap().to_owned();
    let js = bundle.text().await.unwrap();
    assert!(
        js.contains(&format!("PACKAGE_VERSION:\"{}\"", pinned())),
        "the bundle is not Swagger UI {}",
        pinned()
    );
    let again = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let css = app.get("/docs/swagger-ui.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(
        header(css.headers(), "content-type"),
        Some("text/css; charset=utf-8")
    );
}

#[actix_web::test]
async fn url_and_config_url_in_the_address_change_nothing_served() {
    let app = spawn_app().await;
    let plain = app.get("/docs").await.text().await.unwrap();
    let res = app.get(&format!("/docs?{EVIL}")).await;
    assert_eq!(
        res.status(),
        200,
        "no redirect to a page that reads the query"
    );
    let asked = res.text().await.unwrap();
    assert_eq!(asked, plain);
    assert!(!asked.contains("evil.example"));

    let init = app
        .get(&format!("/docs/docs.js?{EVIL}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("url: '/api/v1/openapi3.json'"), "{init}");
    assert!(init.contains("queryConfigEnabled: false"), "{init}");
    assert!(
        !init.contains("location"),
        "the page reads nothing from the address: {init}"
    );
    // And Swagger UI's own default, should the line above ever go.
    let bundle = app
        .get("/docs/swagger-ui-bundle.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(bundle.contains("queryConfigEnabled:!1"));
}

#[actix_web::test]
async fn unknown_paths_under_docs_are_404() {
    let app = spawn_app().await;
    for path in [
        "/docs/nope",
        "/docs/index.html",
        "/docs/swagger-initializer.js",
        "/docs/nope/deeper?url=x",
    ] {
        let res = app.get(path).await;
        assert_error(res, 404, "not_found").await;
    }
}

#[actix_web::test]
async fn docs_are_off_in_production_unless_enabled() {
    let (mut s, _res) = test_settings().await;
    assert_eq!(s.docs.enabled, None);
    assert!(s.docs_enabled(), "on in development");
    s.profile = Profile::Production;
    assert!(!s.docs_enabled(), "off in production");
    s.docs.enabled = Some(true);
    assert!(s.docs_enabled());

    if production_mode() {
        // A real production-profile server (PostgreSQL and Redis, as it requires).
        for (enabled, status) in [(None, 404), (Some(false), 404), (Some(true), 200)] {
            let (mut s, res) = test_settings().await;
            s.profile = Profile::Production;
            s.swagger_login.enabled = false;
            s.server.public_url = "https://auth.example.com".into();
            s.session.cookie_secure = true;
            s.mfa.encryption_key = portcullis::crypto::b64(&[7u8; 32]);
            s.docs.enabled = enabled;
            let app = spawn_with(s, res).await;
            assert_eq!(app.get("/docs").await.status(), status, "{enabled:?}");
            assert_eq!(app.get("/docs/swagger-ui-bundle.js").await.status(), status);
            // The document is the API's contract, served either way.
            assert_eq!(app.get("/api/v1/openapi.json").await.status(), 200);
        }
    }
    let (mut s, res) = test_settings().await;
    s.docs.enabled = Some(false);
    let app = spawn_with(s, res).await;
    assert_error(app.get("/docs").await, 404, "not_found").await;
    assert_eq!(app.get("/api/v1/openapi.json").await.status(), 200);
}

/// Records the page's CSP violations from before its first script (a DevTools script is not
/// subject to the page's CSP).
async fn record_csp_violations(d: &Driver, c: &fantoccini::Client) {
    let session = c.session_id().await.unwrap().unwrap();
    let source = "window.__violations = []; document.addEventListener('securitypolicyviolation', \
                  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));";
    let res = reqwest::Client::new()
        .post(format!("{}/session/{session}/goog/cdp/execute", d.url))
        .json(
            &json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": source}}),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

async fn eval(c: &fantoccini::Client, js: &str) -> Value {
    c.execute(&format!("return {js};"), vec![]).await.unwrap()
}

#[actix_web::test]
async fn in_chromium_the_page_renders_our_document_with_no_csp_violation_and_authorizes() {
    let app = spawn_app().await;
    app.create_user("ann").await;
    let d = driver();
    let c = browser(&d, "en-US").await;
    record_csp_violations(&d, &c).await;
    c.goto(&app.url(&format!("/docs?{EVIL}"))).await.unwrap();
    until(
        &c,
        "our document rendered",
        "document.querySelector('.info .title')?.textContent.includes('Portcullis') \
         && document.querySelectorAll('.opblock').length > 20",
        WAIT,
    )
    .await;
    assert_eq!(
        eval(&c, "window.versions.swaggerUI.version").await,
        pinned()
    );
    assert_eq!(
        eval(&c, "window.ui.specSelectors.url()").await,
        "/api/v1/openapi3.json"
    );
    assert!(
        eval(&c, "window.ui.specSelectors.isOAS3()").await == true,
        "Swagger UI reads it as OpenAPI 3"
    );
    let fetched = eval(
        &c,
        "performance.getEntriesByType('resource').map(e => e.name)",
    )
    .await;
    let fetched: Vec<String> = serde_json::from_value(fetched).unwrap();
    assert!(
        fetched.contains(&app.url("/api/v1/openapi3.json")),
        "{fetched:?}"
    );
    assert!(
        !fetched.iter().any(|u| u.contains("evil.example")),
        "{fetched:?}"
    );
    shot(&c, "docs").await;

    // The OAuth2 password flow (the `password` scheme): POST /api/v1/auth/login/swagger from the
    // Authorize dialog.
    click(&c, ".auth-wrapper .btn.authorize").await;
    until(
        &c,
        "the dialog",
        "document.querySelector('#oauth_username')",
        WAIT,
    )
    .await;
    fill(&c, "#oauth_username", "ann").await;
    fill(&c, "#oauth_password", PASSWORD).await;
    // The dialog lists every scheme (bearer, client, password); authorize the password flow's.
    click(
        &c,
        ".auth-container:has(#oauth_username) .auth-btn-wrapper .btn.modal-btn.auth.authorize",
    )
    .await;
    until(
        &c,
        "authorized",
        "window.ui.authSelectors.authorized().getIn(['password', 'token', 'access_token'])",
        WAIT,
    )
    .await;
    shot(&c, "docs-authorized").await;
    let token = eval(
        &c,
        "window.ui.authSelectors.authorized().getIn(['password', 'token', 'access_token'])",
    )
    .await;
    let me = app.me(token.as_str().unwrap()).await;
    assert_eq!(me.status(), 200);

    assert_eq!(eval(&c, "window.__violations").await, json!([]));
    // The recorder works: an inline style is refused and recorded.
    c.execute(
        "const d = document.createElement('div'); d.setAttribute('style', 'color: red'); \
         document.body.append(d);",
        vec![],
    )
    .await
    .unwrap();
    until(
        &c,
        "a violation recorded",
        "window.__violations.length === 1",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
}
