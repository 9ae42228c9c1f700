//! The guard crate inside a test actix app, against a real Portcullis (in both modes): users let
//! in from memory, every change on the server seen on the next request, a key rotation, a feed
//! that goes silent and comes back.

use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{test as atest, web, App, HttpResponse};
use portcullis::config::JwtAlgorithm;
use portcullis_guard::{require, Guard, GuardError, User};

use crate::cli::portcullis;
use crate::faults::proxy::{Mode, Proxy};
use crate::faults::{free_port, spawn_node_with, wait_ready};
use crate::helpers::*;

type Resp = ServiceResponse<actix_web::body::EitherBody<actix_web::body::BoxBody>>;

async fn orders(user: User) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"user": user.username, "roles": user.roles}))
}

/// The example's shape: `/orders` for anyone signed in, `/orders/new` needs `order:create`.
async fn orders_api(
    guard: &Guard,
) -> impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error> {
    atest::init_service(
        App::new()
            .wrap(guard.middleware())
            .route("/public", web::get().to(HttpResponse::Ok))
            .route("/orders", web::get().to(orders))
            .service(
                web::resource("/orders/new")
                    .wrap(require("order:create"))
                    .route(web::post().to(orders)),
            ),
    )
    .await
}

/// Status of a request with these headers.
async fn call(
    api: &impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> Resp {
    let mut req = match method {
        "POST" => atest::TestRequest::post(),
        _ => atest::TestRequest::get(),
    }
    .uri(path);
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    atest::call_service(api, req.to_request()).await
}

async fn status(
    api: &impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
    method: &str,
    path: &str,
    token: &str,
) -> u16 {
    call(api, method, path, Some(token)).await.status().as_u16()
}

impl TestApp {
    /// A guard as a business API would build it, with an API client made by the CLI.
    async fn guard(&self, base: &str) -> Guard {
        // What the README tells operators a guard needs.
        let secret = self.api_client_with("orders-api", &["--claims", "user"]);
        let mut b = Guard::builder(base, "orders-api", secret);
        if self.settings.jwt.algorithm == JwtAlgorithm::HS256 {
            b = b.hs256_secret(self.secret());
        }
        b.build().await.expect("the guard starts")
    }
}

async fn eddsa_app() -> TestApp {
    let (mut s, res) = test_settings().await;
    s.jwt.algorithm = JwtAlgorithm::EdDSA;
    spawn_with(s, res).await
}

/// Polls until `f` holds, at most `limit`; how long it took.
async fn within<F, Fut>(what: &str, limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !f().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

#[actix_web::test]
async fn the_guard_answers_from_memory_and_sees_every_change_on_the_next_request() {
    let app = eddsa_app().await;
    app.create_user("eve").await;
    app.create_user("ivan").await;
    let guard = app.guard(&app.address).await;
    assert!(guard.is_following());
    let api = orders_api(&guard).await;

    // RFC 6750 answers, as the server's.
    let res = call(&api, "GET", "/public", None).await;
    assert_eq!(res.status(), 200, "no token, public route");
    let res = call(&api, "GET", "/orders", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"portcullis\""
    );
    let res = call(&api, "GET", "/orders", Some("not.a.token")).await;
    assert_eq!(res.status(), 401);
    assert!(res
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let req = atest::TestRequest::get()
        .uri("/orders")
        .insert_header(("authorization", "Basic abc"))
        .to_request();
    assert_eq!(atest::call_service(&api, req).await.status(), 400);
    // Characters outside RFC 6750's b64token: a malformed header, as on the server.
    let res = call(&api, "GET", "/orders", Some("abc!def")).await;
    assert_eq!(res.status(), 400);

    // Signed in: the first request asks the server once; then memory answers.
    let eve = token(&app.login("eve", PASSWORD).await, "access_token");
    let res = call(&api, "GET", "/orders", Some(&eve)).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = atest::read_body_json(res).await;
    assert_eq!(body["user"], "eve");
    // The login's own event (the user changed) may reach the guard after that first answer
    // and evict the user once; from then on memory answers.
    within("warm", Duration::from_secs(2), || async {
        let asked = guard.introspections();
        status(&api, "GET", "/orders", &eve).await == 200 && guard.introspections() == asked
    })
    .await;
    let asked = guard.introspections();
    for _ in 0..20 {
        assert_eq!(status(&api, "GET", "/orders", &eve).await, 200);
    }
    assert_eq!(guard.introspections(), asked, "warm: no network call");

    // A permission: refused, then granted on the server and allowed on the next request.
    assert_eq!(status(&api, "POST", "/orders/new", &eve).await, 403);
    let ok = |args: &[&str]| assert!(portcullis(&app, args, None).status.success(), "{args:?}");
    ok(&["role", "create", "clerk", "--permission", "order:create"]);
    ok(&["user", "grant", "--username", "eve", "--role", "clerk"]);
    // The command line is another process: the server picks its changes up from the database
    // (every 100 ms in embedded mode), then streams them to the guard. A shared, loaded machine
    // gets some slack; the benchmark reports the real latency.
    within(
        "the role reaches the guard",
        Duration::from_secs(3),
        || async { status(&api, "POST", "/orders/new", &eve).await == 200 },
    )
    .await;
    ok(&["role", "forbid", "clerk", "order:create"]);
    within(
        "the role change reaches the guard",
        Duration::from_secs(3),
        || async { status(&api, "POST", "/orders/new", &eve).await == 403 },
    )
    .await;

    // A disabled user and an ended session are refused on the next request.
    let ivan = token(&app.login("ivan", PASSWORD).await, "access_token");
    assert_eq!(status(&api, "GET", "/orders", &ivan).await, 200);
    ok(&["user", "disable", "--username", "ivan"]);
    within("a disabled user", Duration::from_secs(3), || async {
        status(&api, "GET", "/orders", &ivan).await == 401
    })
    .await;
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &eve).await.status(),
        200
    );
    let took = within("a logout", Duration::from_secs(1), || async {
        status(&api, "GET", "/orders", &eve).await == 401
    })
    .await;
    eprintln!("logout on the server → refused by the guard after {took:?}");
    let asked = guard.introspections();
    assert_eq!(status(&api, "GET", "/orders", &eve).await, 401);
    assert_eq!(
        guard.introspections(),
        asked,
        "an ended session is refused from memory"
    );
}

#[actix_web::test]
async fn with_hs256_the_guard_needs_the_shared_secret() {
    let app = spawn_app().await;
    assert_eq!(app.settings.jwt.algorithm, JwtAlgorithm::HS256);
    let secret = app.api_client("hs-api");
    let err = Guard::builder(&app.address, "hs-api", secret.clone())
        .build()
        .await
        .err()
        .expect("no keys are published");
    assert!(matches!(err, GuardError::NeedsSecret), "{err}");
    let err = Guard::builder(&app.address, "hs-api", "wrong-secret")
        .hs256_secret(app.secret())
        .build()
        .await
        .err()
        .expect("a bad client secret");
    assert!(matches!(err, GuardError::BadClient(_)), "{err}");

    let guard = Guard::builder(&app.address, "hs-api", secret)
        .hs256_secret(app.secret())
        .build()
        .await
        .unwrap();
    let api = orders_api(&guard).await;
    app.create_user("hal").await;
    let t = token(&app.login("hal", PASSWORD).await, "access_token");
    assert_eq!(status(&api, "GET", "/orders", &t).await, 200);
    let forged = Guard::builder(&app.address, "hs-api-2", app.api_client("hs-api-2"))
        .hs256_secret(vec![9u8; 48])
        .build()
        .await
        .unwrap();
    let other = orders_api(&forged).await;
    assert_eq!(
        status(&other, "GET", "/orders", &t).await,
        401,
        "another secret"
    );
}

#[actix_web::test]
async fn a_key_rotation_reaches_the_guard_without_signing_anyone_out() {
    let (mut s, res) = test_settings().await;
    let dir = s.data.dir.clone();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        // As `portcullis keys generate` writes keys: readable by their owner only.
        portcullis::startup::write_private(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (k1, k1_pub, _) = portcullis::auth::keys::generate();
    let (k2, _, _) = portcullis::auth::keys::generate();
    let (k1, k1_pub, k2) = (
        write("k1.pem", &k1),
        write("k1.pub.pem", &k1_pub),
        write("k2.pem", &k2),
    );
    s.jwt.algorithm = JwtAlgorithm::EdDSA;
    s.jwt.private_key_file = k1.clone();
    let app = spawn_with(s.clone(), res).await;
    app.create_user("kay").await;

    // The guard follows a node that is restarted with new keys, as an operator rotates them.
    let port = free_port();
    let node = |private: &str, previous: &str| {
        spawn_node_with(
            &s,
            port,
            &[
                ("PORTCULLIS__JWT__ALGORITHM", "EdDSA"),
                ("PORTCULLIS__JWT__PRIVATE_KEY_FILE", private),
                ("PORTCULLIS__JWT__PREVIOUS_PUBLIC_KEY_FILES", previous),
            ],
        )
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut running = node(&k1, "");
    wait_ready(port).await;
    let guard = app.guard(&base).await;
    let api = orders_api(&guard).await;
    let old = token(&app.login("kay", PASSWORD).await, "access_token");
    assert_eq!(status(&api, "GET", "/orders", &old).await, 200);

    // Rotated: the new key signs, the old one still verifies.
    drop(running);
    running = node(&k2, &k1_pub);
    wait_ready(port).await;
    within(
        "the guard follows the restarted node",
        Duration::from_secs(5),
        || async { guard.is_following() },
    )
    .await;
    let login: serde_json::Value = app
        .client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "kay", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = token(&login["data"], "access_token");
    assert_ne!(
        jsonwebtoken::decode_header(&new).unwrap().kid,
        jsonwebtoken::decode_header(&old).unwrap().kid
    );
    assert_eq!(
        status(&api, "GET", "/orders", &new).await,
        200,
        "the new key"
    );
    assert_eq!(
        status(&api, "GET", "/orders", &old).await,
        200,
        "the previous key, still"
    );

    // Retired: tokens of the old key are refused once the node says so.
    drop(running);
    let _running = node(&k2, "");
    wait_ready(port).await;
    within(
        "the retired key is refused",
        Duration::from_secs(5),
        || async { status(&api, "GET", "/orders", &old).await == 401 },
    )
    .await;
    assert_eq!(status(&api, "GET", "/orders", &new).await, 200);
}

#[actix_web::test]
async fn a_silent_feed_turns_memory_off_and_the_resumed_feed_misses_nothing() {
    let app = eddsa_app().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port).await;
    let guard = app.guard(&format!("http://127.0.0.1:{}", proxy.port)).await;
    let api = orders_api(&guard).await;
    app.create_user("sam").await;
    let first = token(&app.login("sam", PASSWORD).await, "access_token");
    let second = token(&app.login("sam", PASSWORD).await, "access_token");
    assert_eq!(status(&api, "GET", "/orders", &first).await, 200);
    assert_eq!(status(&api, "GET", "/orders", &second).await, 200);

    proxy.set(Mode::Silent);
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &first).await.status(),
        200
    );
    let detected = within(
        "the guard declares the feed down",
        Duration::from_secs(7),
        || async { !guard.is_following() },
    )
    .await;
    assert!(detected <= Duration::from_millis(5500), "{detected:?}");
    // Memory no longer answers: the server is asked (and cannot be reached through the proxy).
    assert_eq!(status(&api, "GET", "/orders", &first).await, 503);
    // Another session ends while the guard hears nothing.
    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &second).await.status(),
        200
    );

    proxy.set(Mode::Pass);
    within("the feed is back", Duration::from_secs(10), || async {
        guard.is_following()
    })
    .await;
    // Both endings were replayed: refused from memory, without asking the server.
    let asked = guard.introspections();
    within("the missed logouts", Duration::from_secs(1), || async {
        status(&api, "GET", "/orders", &second).await == 401
    })
    .await;
    assert_eq!(status(&api, "GET", "/orders", &first).await, 401);
    assert_eq!(
        guard.introspections(),
        asked,
        "the replayed events answered"
    );
    let fresh = token(&app.login("sam", PASSWORD).await, "access_token");
    assert_eq!(status(&api, "GET", "/orders", &fresh).await, 200);
    // The login's own event (the user changed) may reach the guard after the first answer and
    // evict the user once; after that, memory answers again.
    within("warm again", Duration::from_secs(2), || async {
        let asked = guard.introspections();
        status(&api, "GET", "/orders", &fresh).await == 200 && guard.introspections() == asked
    })
    .await;
    eprintln!("silent guard feed: memory off after {detected:?}");
}

async fn payouts(user: User) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "amr": user.amr.to_vec(),
        "auth_time": user.auth_time,
        "mfa": user.is_mfa(),
    }))
}

#[actix_web::test]
async fn the_guard_tells_how_a_user_signed_in_and_require_mfa_wants_a_second_factor() {
    use portcullis::clock::{Clock, SystemClock};
    use portcullis_guard::require_mfa;

    let app = eddsa_app().await;
    app.create_user("pam").await;
    app.create_user("mia").await;
    let e = app.enrol_totp("mia").await;
    // The guard reads the wall clock: tokens are issued at it, not ahead of it.
    app.clock.advance(SystemClock.unix() - app.clock.unix());
    let ticket = app.mfa_ticket("mia").await;
    let res = app.mfa_verify(&ticket, &e.recovery_codes[0]).await;
    let mfa = token(
        &res.json::<serde_json::Value>().await.unwrap()["data"],
        "access_token",
    );
    let password_only = token(&app.login("pam", PASSWORD).await, "access_token");

    let guard = app.guard(&app.address).await;
    let api = atest::init_service(
        App::new().wrap(guard.middleware()).service(
            web::resource("/payouts")
                .wrap(require_mfa())
                .route(web::get().to(payouts)),
        ),
    )
    .await;

    let res = call(&api, "GET", "/payouts", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"portcullis\""
    );
    let res = call(&api, "GET", "/payouts", Some(&password_only)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\""
    );
    let body: serde_json::Value = atest::read_body_json(res).await;
    assert_eq!(body["slug"], "insufficient_user_authentication");
    assert_eq!(body["data"]["mfa"], true);

    let res = call(&api, "GET", "/payouts", Some(&mfa)).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = atest::read_body_json(res).await;
    let claims = jwt_claims(&mfa);
    assert_eq!(body["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(body["auth_time"], claims["auth_time"]);
    assert_eq!(body["mfa"], true);
}
