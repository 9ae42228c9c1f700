//! The guard's memory against time and against nodes (issue 20, item 5): entries expire after
//! the guard's TTL, and an introspection answer from a node that has not yet applied what the
//! guard's feed delivered is used for its request but not remembered.
//!
//! The node that is behind is played by a forwarding proxy in front of the real server that
//! answers introspection, while told to, with an answer the real server gave earlier: exactly
//! what a node that has not applied the latest entry would say. Everything else (the feed, the
//! keys, later introspections) is the real server's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use portcullis::config::JwtAlgorithm;
use portcullis_guard::Guard;

use crate::cli::portcullis;
use crate::helpers::*;

async fn eddsa_app() -> TestApp {
    let (mut s, res) = test_settings().await;
    s.jwt.algorithm = JwtAlgorithm::EdDSA;
    spawn_with(s, res).await
}

/// A node behind the others: forwards everything, except that introspection answers with
/// `stale` while it is set.
struct LaggingNode {
    address: String,
    stale: Arc<Mutex<Option<String>>>,
    _server: actix_web::dev::ServerHandle,
}

async fn forward(
    req: HttpRequest,
    body: web::Bytes,
    target: web::Data<String>,
    stale: web::Data<Arc<Mutex<Option<String>>>>,
) -> HttpResponse {
    if req.path() == "/api/v1/auth/introspect" {
        if let Some(answer) = stale.lock().unwrap().clone() {
            return HttpResponse::Ok()
                .content_type("application/json")
                .body(answer);
        }
    }
    let url = format!("{}{}", target.as_str(), req.uri());
    let mut out = reqwest::Client::new()
        .request(req.method().as_str().parse().unwrap(), url)
        .body(body);
    for (k, v) in req.headers() {
        if k != "host" {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let res = out.send().await.unwrap();
    let mut answer =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(res.status().as_u16()).unwrap());
    for (k, v) in res.headers() {
        answer.insert_header((k.as_str(), v.as_bytes()));
    }
    answer.streaming(res.bytes_stream())
}

impl LaggingNode {
    async fn start(target: &str) -> Self {
        let stale: Arc<Mutex<Option<String>>> = Arc::default();
        let (t, s) = (target.to_owned(), stale.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(t.clone()))
                .app_data(web::Data::new(s.clone()))
                .default_service(web::to(forward))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            address: format!("http://127.0.0.1:{port}"),
            stale,
            _server: handle,
        }
    }
}

/// A log position (`a-b`) as a comparable pair.
fn position(p: &str) -> (u64, u64) {
    let (a, b) = p.split_once('-').expect("a-b");
    (a.parse().unwrap(), b.parse().unwrap())
}

async fn guard(app: &TestApp, base: &str, ttl: Duration) -> (Guard, String) {
    let secret = app.api_client_with("nodes-api", &["--claims", "sub,user"]);
    let guard = Guard::builder(base, "nodes-api", secret.clone())
        .ttl(ttl)
        .build()
        .await
        .expect("the guard starts");
    assert!(guard.is_following());
    (guard, secret)
}

#[actix_web::test]
async fn guard_entries_expire_after_the_guards_ttl() {
    let app = eddsa_app().await;
    app.create_user("tess").await;
    let (guard, _) = guard(&app, &app.address, Duration::from_millis(800)).await;
    let t = token(&app.login("tess", PASSWORD).await, "access_token");
    // Warm: the login's own change to the user may reach the feed after the first answer.
    let started = Instant::now();
    loop {
        guard.authenticate(&t).await.unwrap();
        let asked = guard.introspections();
        guard.authenticate(&t).await.unwrap();
        if guard.introspections() == asked {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(700),
            "never answered from memory"
        );
    }
    let asked = guard.introspections();
    actix_web::rt::time::sleep(Duration::from_millis(900)).await;
    guard.authenticate(&t).await.unwrap();
    assert_eq!(
        guard.introspections(),
        asked + 1,
        "asked again after the TTL"
    );
}

#[actix_web::test]
async fn a_guard_does_not_remember_an_answer_from_a_node_behind_its_feed() {
    let app = eddsa_app().await;
    app.wait_for_invalidation_link().await;
    app.create_user("noor").await;
    let node = LaggingNode::start(&app.address).await;
    let (guard, secret) = guard(&app, &node.address, Duration::from_secs(300)).await;
    let t = token(&app.login("noor", PASSWORD).await, "access_token");
    assert!(guard.authenticate(&t).await.unwrap().permissions.is_empty());

    // What the node behind says: the answer from before the change below, with its position.
    let before: serde_json::Value = app
        .introspect(("nodes-api", &secret), &t)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        before["portcullis_log_position"].is_string(),
        "active answers carry the log position: {before}"
    );
    *node.stale.lock().unwrap() = Some(before.to_string());

    let out = portcullis(
        &app,
        &["role", "create", "auditor", "--permission", "audit:read"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = portcullis(
        &app,
        &["user", "grant", "--username", "noor", "--role", "auditor"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Wait until the server has applied the grant (its log reader polls for the CLI's
    // entries) and the guard's feed has delivered as far: then the guard has heard of every
    // change here, the login's own included, and only the node playing one is behind.
    // (Without it, the guard could rightly remember the node's answer as current for what
    // it had heard so far.)
    let started = Instant::now();
    let applied = loop {
        let now: serde_json::Value = app
            .introspect(("nodes-api", &secret), &t)
            .await
            .json()
            .await
            .unwrap();
        if now["user"]["permissions"] == serde_json::json!(["audit:read"]) {
            break position(now["portcullis_log_position"].as_str().unwrap());
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server never applied the grant: {now}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    };
    while guard.log_position().map(|p| position(&p)) < Some(applied) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the feed never delivered {applied:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    // The guard forgot the user; it asks the node behind, which says "no codes": that
    // answer serves its request.
    let asked = guard.introspections();
    let user = guard.authenticate(&t).await.unwrap();
    assert_eq!(guard.introspections(), asked + 1, "the guard asked");
    assert!(
        user.permissions.is_empty(),
        "the node's stale answer served its request"
    );

    // The node catches up; the guard did not keep the stale answer, so it asks again.
    *node.stale.lock().unwrap() = None;
    let user = guard.authenticate(&t).await.unwrap();
    assert_eq!(
        user.permissions,
        ["audit:read"],
        "the stale codes were remembered"
    );
    assert_eq!(guard.introspections(), asked + 2);
}
