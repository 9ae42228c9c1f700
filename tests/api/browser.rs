//! The reference frontend in real Chromium, driven over WebDriver (fantoccini + chromedriver):
//! served by Portcullis and from a second origin (CORS and the cookie across origins).
//! Each test saves screenshots under `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test.sh` installs them).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use portcullis::config::Settings;
use serde_json::{json, Value};

use crate::faults::free_port;
use crate::helpers::*;
use crate::oidc::{provider_settings, start_provider_for};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver of the test's own, on a free port; killed with the test.
pub(crate) struct Driver {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn driver() -> Driver {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: the browser tests drive Debian's Chromium. Install it with \
             `apt-get install chromium chromium-driver` (scripts/test.sh does this)"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A fresh headless Chromium (its own profile, so its own cookies) asking for `lang`.
pub(crate) async fn browser(driver: &Driver, lang: &str) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", format!("--lang={lang}"),
            ],
            "prefs": {"intl.accept_languages": lang},
        }
    });
    let caps = caps.as_object().unwrap().clone().into_iter().collect();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// How long a page may take to show what a step expects.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Waits until the page shows an element matching `css`.
async fn shown(c: &Client, what: &str, css: &str) {
    let js = format!("document.querySelector({css:?})");
    until(c, what, &js, WAIT).await;
}

/// Waits until `js` (an expression) is truthy in the page.
pub(crate) async fn until(c: &Client, what: &str, js: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let v = c
            .execute(&format!("return !!({js});"), vec![])
            .await
            .unwrap_or(Value::Bool(false));
        if v == Value::Bool(true) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn image(c: &Client) -> String {
    c.find(Locator::Css("#captcha-img"))
        .await
        .unwrap()
        .attr("src")
        .await
        .unwrap()
        .expect("an image")
}

pub(crate) async fn fill(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

pub(crate) const SIGNED_IN: &str = "document.querySelector('#whoami')";
pub(crate) const ON_LOGIN: &str =
    "location.pathname === '/login' && document.querySelector('#login-form')";
const CAPTCHA_SHOWN: &str =
    "document.querySelector('#captcha-img')?.src?.startsWith('data:') && !document.querySelector('#captcha-row').hidden";

pub(crate) async fn sign_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    password_step(c, user, password).await;
    until(c, "signed in", SIGNED_IN, WAIT).await;
}

/// On the login page (once it shows), the first step: username, password, submit.
pub(crate) async fn password_step(c: &Client, user: &str, password: &str) {
    until(c, "the login page", ON_LOGIN, WAIT).await;
    fill(c, "#username", user).await;
    fill(c, "#password", password).await;
    click(c, "#login-submit").await;
}

/// A second origin serving the same page, pointed at Portcullis by its `<meta>`.
pub(crate) struct Origin {
    pub(crate) url: String,
    pub(crate) api: Arc<Mutex<String>>,
    _server: actix_web::dev::ServerHandle,
}

pub(crate) fn second_origin() -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = Arc::new(Mutex::new(String::new()));
    let shared = api.clone();
    let server = actix_web::HttpServer::new(move || {
        let api = shared.clone();
        let mut app = actix_web::App::new();
        for (path, body) in portcullis::web::ui::MODULES {
            app = app.route(
                path,
                actix_web::web::get().to(|| async {
                    actix_web::HttpResponse::Ok()
                        .content_type("text/javascript")
                        .body(*body)
                }),
            );
        }
        app.route(
            "/ui/style.css",
            actix_web::web::get().to(|| async {
                actix_web::HttpResponse::Ok()
                    .content_type("text/css")
                    .body(include_str!("../../ui/style.css"))
            }),
        )
        .default_service(actix_web::web::to(move || {
            let api = api.lock().unwrap().clone();
            async move {
                let page = include_str!("../../ui/index.html").replace(
                    r#"<meta name="portcullis-api" content="">"#,
                    &format!(r#"<meta name="portcullis-api" content="{api}">"#),
                );
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Origin {
        url,
        api,
        _server: handle,
    }
}

pub(crate) async fn ui_settings() -> (Settings, Arc<Resources>) {
    let (mut s, res) = test_settings().await;
    s.ui.enabled = Some(true);
    (s, res)
}

#[actix_web::test]
async fn captcha_login_a_wrong_captcha_and_a_reload() {
    let (mut s, res) = ui_settings().await;
    s.captcha.enabled = true;
    let app = spawn_with(s, res).await;
    app.create_user("ann").await;
    let d = driver();
    let c = browser(&d, "en-US").await;

    c.goto(&app.address).await.unwrap();
    until(&c, "the captcha", CAPTCHA_SHOWN, WAIT).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    assert_eq!(text(&c, "h1").await, "Sign in");
    shot(&c, "login").await;

    // A wrong captcha: the message, and a fresh image to read.
    let drawn = app.captcha_answers.lock().unwrap().len();
    let first_image = image(&c).await;
    fill(&c, "#username", "ann").await;
    fill(&c, "#password", PASSWORD).await;
    fill(&c, "#captcha", "zzzz").await;
    click(&c, "#login-submit").await;
    until(
        &c,
        "the captcha message",
        "document.querySelector('#login-error').textContent.length > 0",
        WAIT,
    )
    .await;
    assert_eq!(
        text(&c, "#login-error").await,
        "Captcha is wrong or expired, please try again"
    );
    let second_image = image(&c).await;
    assert_ne!(first_image, second_image, "a fresh captcha is shown");
    assert_eq!(app.captcha_answers.lock().unwrap().len(), drawn + 1);
    shot(&c, "login-wrong-captcha").await;

    // Clicking the image draws another; the right answer signs in.
    click(&c, "#captcha-refresh").await;
    until(
        &c,
        "another captcha",
        &format!("document.querySelector('#captcha-img').src !== {second_image:?}"),
        WAIT,
    )
    .await;
    let answer = app.captcha_answers.lock().unwrap().last().cloned().unwrap();
    fill(&c, "#captcha", &answer).await;
    click(&c, "#login-submit").await;
    until(&c, "signed in", SIGNED_IN, WAIT).await;
    assert_eq!(text(&c, "#me-username").await, "ann");
    shown(&c, "my sessions", "#sessions table").await;
    shot(&c, "account").await;
    // A phone: one column, tables as stacked rows, nothing wider than the screen.
    c.set_window_size(390, 844).await.unwrap();
    let overflow: Value = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "no sideways scrolling on a phone"
    );
    shot(&c, "account-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // A reload forgets the access token (memory only); the cookie signs in again.
    c.refresh().await.unwrap();
    until(&c, "signed in after a reload", SIGNED_IN, WAIT).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/account");
    let stored: Value = c
        .execute(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        !stored.as_str().unwrap().contains("ey"),
        "no token in storage or readable cookies: {stored}"
    );
    c.close().await.unwrap();
}

#[actix_web::test]
async fn from_another_origin_the_token_is_renewed_unnoticed_and_a_reload_keeps_the_session() {
    let origin = second_origin();
    let (mut s, res) = ui_settings().await;
    s.cors.allowed_origins = vec![origin.url.clone()];
    s.jwt.access_ttl_seconds = 3;
    s.jwt.leeway_seconds = 0;
    let app = spawn_with(s, res).await;
    *origin.api.lock().unwrap() = app.address.clone();
    app.create_user("bob").await;
    let d = driver();
    let c = browser(&d, "en-US").await;

    sign_in(&c, &origin.url, "bob", PASSWORD).await;
    let before = c
        .execute("return window.portcullis.refreshes", vec![])
        .await
        .unwrap();
    // Three access token lifetimes later the page is still signed in, renewed by the cookie.
    actix_web::rt::time::sleep(Duration::from_secs(9)).await;
    let after = c
        .execute("return window.portcullis.refreshes", vec![])
        .await
        .unwrap();
    assert!(
        after.as_u64().unwrap() >= before.as_u64().unwrap() + 2,
        "renewed: {before} -> {after}"
    );
    click(&c, "#nav-account").await;
    shown(&c, "an authenticated call after expiry", "#sessions table").await;
    assert_eq!(
        c.current_url()
            .await
            .unwrap()
            .origin()
            .ascii_serialization(),
        origin.url
    );

    c.refresh().await.unwrap();
    until(&c, "signed in after a reload", SIGNED_IN, WAIT).await;
    c.close().await.unwrap();
}

#[actix_web::test]
async fn signing_out_everywhere_signs_out_the_other_browser() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user("cyd").await;
    let d = driver();
    let (a, b) = (browser(&d, "en-US").await, browser(&d, "en-US").await);
    sign_in(&a, &app.address, "cyd", PASSWORD).await;
    sign_in(&b, &app.address, "cyd", PASSWORD).await;

    click(&a, "#sign-out-everywhere").await;
    until(&a, "a signs out", ON_LOGIN, WAIT).await;
    let took = until(
        &b,
        "the other browser falls back to the login page",
        ON_LOGIN,
        WAIT,
    )
    .await;
    eprintln!("the other browser signed out after {took:?}");
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[actix_web::test]
async fn an_admin_kicks_a_session_out_and_that_page_returns_to_login() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user_with("root", PASSWORD, true).await;
    app.create_user("dee").await;
    let d = driver();
    let (admin, user) = (browser(&d, "en-US").await, browser(&d, "en-US").await);
    sign_in(&user, &app.address, "dee", PASSWORD).await;
    sign_in(&admin, &app.address, "root", PASSWORD).await;

    click(&admin, "#nav-admin").await;
    shown(&admin, "the users", "#user-list table").await;
    assert!(text(&admin, "#user-list").await.contains("dee"));
    shot(&admin, "admin").await;

    click(&admin, "#tab-online").await;
    shown(&admin, "the online sessions", "[data-kick=\"dee\"]").await;
    shot(&admin, "admin-online").await;
    click(&admin, "[data-kick=\"dee\"]").await;
    let took = until(
        &user,
        "the kicked page falls back to the login page",
        ON_LOGIN,
        WAIT,
    )
    .await;
    eprintln!("the kicked page showed the login page after {took:?}");
    // The kick ended the refresh token too: a reload stays signed out.
    user.refresh().await.unwrap();
    until(&user, "still signed out", ON_LOGIN, WAIT).await;

    click(&admin, "#tab-logins").await;
    shown(&admin, "the login log", "#login-log table").await;
    click(&admin, "#tab-roles").await;

    // OpenID clients: registered from the console, the secret shown once, then deleted.
    click(&admin, "#tab-clients").await;
    shown(&admin, "the client form", "#create-client").await;
    fill(&admin, "#client-id", "wiki").await;
    fill(&admin, "#client-redirects", "https://wiki.example/callback").await;
    click(&admin, "#create-client button[type=submit]").await;
    shown(&admin, "the new client", "[data-delete-client=\"wiki\"]").await;
    shot(&admin, "admin-clients").await;
    let notice = text(&admin, "#client-message").await;
    let secret = notice.rsplit(' ').next().unwrap().to_owned();
    let stored = app.oidc_clients.find("wiki").await.unwrap().unwrap();
    assert_eq!(stored.redirect_uris, ["https://wiki.example/callback"]);
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(portcullis::crypto::digest(&secret).as_str()),
        "the notice shows the secret: {notice}"
    );
    click(&admin, "[data-delete-client=\"wiki\"]").await;
    until(
        &admin,
        "the client is gone",
        "!document.querySelector('[data-delete-client=\"wiki\"]')",
        WAIT,
    )
    .await;
    assert!(app.oidc_clients.find("wiki").await.unwrap().is_none());
    admin.close().await.unwrap();
    user.close().await.unwrap();
}

#[actix_web::test]
async fn social_login_through_a_real_openid_connect_provider() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = start_provider_for(&format!("{base}/api/v1/oauth2/corp/callback"));
    let (mut s, res) = ui_settings().await;
    s.server.port = port;
    s.oauth2.frontend_login_url = format!("{base}/oauth2/callback");
    s.oauth2.frontend_error_url = format!("{base}/login");
    s.oauth2.frontend_bind_url = format!("{base}/account");
    let mut corp = provider_settings(&idp, &format!("{base}/api/v1/oauth2/corp/callback"));
    corp.display_name = Some("Corp SSO".into());
    s.oauth2.providers = BTreeMap::from([("corp".to_owned(), corp)]);
    let app = spawn_with(s, res).await;
    assert_eq!(app.address, base);
    let d = driver();
    let c = browser(&d, "en-US").await;

    c.goto(&format!("{base}/login")).await.unwrap();
    shown(&c, "the provider button", "[data-provider=\"corp\"]").await;
    assert_eq!(
        text(&c, "[data-provider=\"corp\"]").await,
        "Sign in with Corp SSO"
    );
    click(&c, "[data-provider=\"corp\"]").await;
    // oidc-provider's own login and consent pages.
    shown(&c, "the provider's login page", "input[name=\"login\"]").await;
    fill(&c, "input[name=\"login\"]", "dana-sso").await;
    fill(&c, "input[name=\"password\"]", "any password").await;
    click(&c, "button[type=\"submit\"]").await;
    until(
        &c,
        "the provider's consent page",
        "document.querySelector('button[type=\"submit\"]') || document.querySelector('#whoami')",
        WAIT,
    )
    .await;
    if c.find(Locator::Css("#whoami")).await.is_err() {
        click(&c, "button[type=\"submit\"]").await;
    }
    until(&c, "signed in socially", SIGNED_IN, Duration::from_secs(15)).await;
    assert_eq!(text(&c, "#me-username").await, "dana-sso");
    assert_eq!(c.current_url().await.unwrap().path(), "/account");
    until(
        &c,
        "the linked account",
        "document.querySelector('#bindings').textContent.includes('Linked: Corp SSO')",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
}

#[actix_web::test]
async fn a_browser_that_asks_for_chinese_gets_chinese() {
    let (mut s, res) = ui_settings().await;
    s.captcha.enabled = true;
    let app = spawn_with(s, res).await;
    app.create_user("fei").await;
    let d = driver();
    let c = browser(&d, "zh-CN").await;
    c.goto(&format!("{}/login", app.address)).await.unwrap();
    until(&c, "the captcha", CAPTCHA_SHOWN, WAIT).await;
    assert_eq!(text(&c, "h1").await, "登录");
    let answer = app.captcha_answers.lock().unwrap().last().cloned().unwrap();
    fill(&c, "#username", "fei").await;
    fill(&c, "#password", "not the password").await;
    fill(&c, "#captcha", &answer).await;
    click(&c, "#login-submit").await;
    until(
        &c,
        "the message",
        "document.querySelector('#login-error').textContent.length > 0",
        WAIT,
    )
    .await;
    assert_eq!(text(&c, "#login-error").await, "用户名或密码有误");
    assert_eq!(
        text(&c, "#login-hint").await,
        "多次失败后，此地址的登录将暂停一段时间。"
    );
    shot(&c, "login-zh").await;
    c.close().await.unwrap();
}
