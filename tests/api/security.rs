//! The findings of the outside review, each closed with a test (issue "Security hardening").
//! Items covered elsewhere: unbounded metrics labels (metrics.rs), rate-limited refusals as one
//! row per address and minute (login_defence.rs), the grace record and the cache-fill race
//! (unit tests in auth::sessions::rules and actors::cache), amortised expiry (store::embedded),
//! an unknown `kid` (auth::jwt).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use portcullis::clock::Clock;

use crate::cli::portcullis;
use crate::helpers::*;
use crate::oauth2::{github_app, location, oauth_app, provider, query_param, FakeIdp, FRONTEND};

fn behind_a_proxy(s: &mut portcullis::config::Settings) {
    s.rate_limit.trusted_proxies = vec!["127.0.0.0/8".into()];
}

// 1. The client address comes from the header the proxy writes, right-most first.

#[actix_web::test]
async fn a_forwarded_header_the_client_made_up_changes_nothing() {
    let (mut s, dir) = test_settings().await;
    behind_a_proxy(&mut s);
    s.rate_limit.captcha.burst = 3;
    let app = spawn_with(s, dir).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let res = app
            .client
            .get(app.url("/api/v1/auth/captcha"))
            // What nginx would pass on: the client's own header, and XFF with the real peer.
            .header("forwarded", format!("for=203.0.113.{i}"))
            .header("x-real-ip", format!("203.0.114.{i}"))
            .header("x-forwarded-for", format!("10.9.9.{i}, 198.51.100.7"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429],
        "one client, one budget"
    );

    app.create_user("ivan").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("forwarded", "for=203.0.113.99")
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({"username": "ivan", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let data: Value = res.json().await.unwrap();
    let sessions = app
        .get_auth_json(
            "/api/v1/auth/sessions",
            &token(&data["data"], "access_token"),
        )
        .await;
    assert_eq!(sessions["data"][0]["ip"], "198.51.100.7", "{sessions}");
}

#[actix_web::test]
async fn ipv6_clients_share_their_network_s_budget() {
    let (mut s, dir) = test_settings().await;
    behind_a_proxy(&mut s);
    s.rate_limit.captcha.burst = 2;
    let app = spawn_with(s, dir).await;
    let get = |xff: &'static str| {
        app.client
            .get(app.url("/api/v1/auth/captcha"))
            .header("x-forwarded-for", xff)
            .send()
    };
    assert_eq!(get("2001:db8:1:2::a").await.unwrap().status(), 200);
    assert_eq!(get("2001:db8:1:2:ffff::b").await.unwrap().status(), 200);
    assert_eq!(
        get("2001:db8:1:2::c").await.unwrap().status(),
        429,
        "the same /64"
    );
    assert_eq!(
        get("2001:db8:1:3::1").await.unwrap().status(),
        200,
        "another /64"
    );
}

// 3. A one-time login code works only in the browser that ran the flow.

#[actix_web::test]
async fn a_login_code_works_only_in_the_browser_that_ran_the_flow() {
    let (app, _server) = github_app(json!({"id": 301, "login": "mallory"}), json!([]), false).await;
    // The attacker runs the flow in their browser and hands the code to the victim.
    let url = app.oauth_start("github", None).await;
    let state = query_param(&url, "state").unwrap();
    let res = app
        .client
        .get(app.url("/api/v1/oauth2/github/callback"))
        .query(&[("code", "c"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        !cookies.iter().any(|c| c.starts_with("portcullis_refresh=")),
        "no session before the exchange: {cookies:?}"
    );
    let landing = location(&res);
    assert!(landing.starts_with(FRONTEND));
    let code = query_param(&landing, "code").unwrap();
    let victim = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = victim
        .post(app.url("/api/v1/oauth2/exchange"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_login_code").await;

    // The browser that ran a flow exchanges its own code, and gets the refresh cookie then.
    let url = app.oauth_start("github", None).await;
    let state = query_param(&url, "state").unwrap();
    let landing = app
        .oauth_callback("github", &[("code", "c"), ("state", &state)])
        .await;
    let code = query_param(&landing, "code").unwrap();
    let res = app.oauth_exchange(&code).await;
    assert_eq!(res.status(), 200);
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("portcullis_refresh=") && c.contains("HttpOnly")),
        "{set:?}"
    );
    assert_eq!(
        app.post("/api/v1/auth/refresh").await.status(),
        200,
        "the cookie refreshes"
    );
}

// 4. Linking by email needs both sides verified, and never reaches a superuser.

#[actix_web::test]
async fn email_links_only_to_a_verified_local_address_and_never_to_a_superuser() {
    let emails = json!([{"email": "owner@example.com", "primary": true, "verified": true}]);
    let (app, _server) = github_app(json!({"id": 401, "login": "claimer"}), emails, true).await;
    // Someone registered the address without proving it: the provider's word does not hand
    // them the identity (pre-hijack), nor the identity to them.
    let squatter = app
        .create_user_full("squatter", PASSWORD, Some("owner@example.com"), false)
        .await;
    let data = app.oauth_login("github").await;
    assert_ne!(data["user"]["id"], squatter);
    assert_eq!(
        data["user"]["email_verified"], false,
        "an address already taken is not copied"
    );

    let emails = json!([{"email": "root@example.com", "primary": true, "verified": true}]);
    let (app, _server) = github_app(json!({"id": 402, "login": "rooter"}), emails, true).await;
    let root = app
        .create_user_full("rootuser", PASSWORD, Some("root@example.com"), true)
        .await;
    app.repo.set_email_verified(root, true).await.unwrap();
    let data = app.oauth_login("github").await;
    assert_ne!(data["user"]["id"], root, "never onto a superuser");
    assert_eq!(data["user"]["is_superuser"], false);
}

#[actix_web::test]
async fn an_unverified_provider_email_is_never_stored_as_verified() {
    let idp = FakeIdp::start().await;
    let app = oauth_app(
        std::collections::BTreeMap::from([(
            "corp".into(),
            idp.settings(portcullis::config::ProviderKind::Oidc),
        )]),
        true,
    )
    .await;
    let landing = app
        .oidc_round("corp", &idp, |nonce| {
            let mut c = idp.claims("u-501", nonce);
            c["email"] = json!("fresh@example.com");
            c["email_verified"] = json!(false);
            c
        })
        .await;
    let code = query_param(&landing, "code").unwrap();
    let data: Value = app.oauth_exchange(&code).await.json().await.unwrap();
    assert_eq!(data["data"]["user"]["email"], "fresh@example.com");
    assert_eq!(data["data"]["user"]["email_verified"], false);
}

// 5. A stolen access token alone cannot bind a provider or set a password.

#[actix_web::test]
async fn binding_needs_a_recent_sign_in_and_the_password_renews_it() {
    let (app, _server) = github_app(json!({"id": 601, "login": "binder2"}), json!([]), false).await;
    app.create_user("rhea").await;
    let t = token(&app.login("rhea", PASSWORD).await, "access_token");
    let bind = || {
        app.client
            .get(app.url("/api/v1/oauth2/github/bind"))
            .bearer_auth(&t)
            .send()
    };
    assert_eq!(bind().await.unwrap().status(), 200, "just signed in");
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = bind().await.unwrap();
    assert_eq!(
        www_authenticate(&res).as_deref(),
        Some("Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\", max_age=\"300\"")
    );
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication", "{body}");
    assert_eq!(
        body["data"]["max_age"], app.settings.security.reauth_seconds,
        "{body}"
    );
    let reauth = |pw: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/reauthenticate"))
            .bearer_auth(&t)
            .json(&json!({ "password": pw }))
            .send()
    };
    assert_error(
        reauth("not it at all").await.unwrap(),
        400,
        "invalid_credentials",
    )
    .await;
    assert_eq!(bind().await.unwrap().status(), 401);
    assert_eq!(reauth(PASSWORD).await.unwrap().status(), 200);
    assert_eq!(bind().await.unwrap().status(), 200, "confirmed again");
    // The token still works for everything else.
    assert_eq!(app.me(&t).await.status(), 200);
}

#[actix_web::test]
async fn setting_a_password_on_a_social_account_needs_a_recent_sign_in() {
    let (app, _server) =
        github_app(json!({"id": 602, "login": "socialite"}), json!([]), false).await;
    let data = app.oauth_login("github").await;
    let t = token(&data, "access_token");
    let set = || {
        app.client
            .put(app.url("/api/v1/sys/users/me/password"))
            .bearer_auth(&t)
            .json(&json!({"new_password": "a new password 1", "confirm_password": "a new password 1"}))
            .send()
    };
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = set().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication", "{body}");
    // A fresh social sign-in is a new session with a fresh authentication.
    let fresh = token(&app.oauth_login("github").await, "access_token");
    let res = app
        .client
        .put(app.url("/api/v1/sys/users/me/password"))
        .bearer_auth(&fresh)
        .json(&json!({"new_password": "a new password 1", "confirm_password": "a new password 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.login("socialite", "a new password 1").await;
}

/// Captures what the server logs, for the security event.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn the_reuse_event_lists_bindings_made_in_the_revoked_session() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The server logs from its worker threads: the whole process's log is captured (each test
    // runs in a process of its own under nextest).
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .try_init()
        .expect("no other subscriber in this test's process");
    let (app, _server) =
        github_app(json!({"id": 603, "login": "thief-bound"}), json!([]), false).await;
    app.create_user("sid").await;
    let data = app.login("sid", PASSWORD).await;
    let t = token(&data, "access_token");
    // A thief with this session binds their own identity...
    let url: Value = app.get_auth_json("/api/v1/oauth2/github/bind", &t).await;
    let state = query_param(url["data"].as_str().unwrap(), "state").unwrap();
    let landing = app
        .oauth_callback("github", &[("code", "c"), ("state", &state)])
        .await;
    assert!(landing.contains("bound=github"), "{landing}");
    // ...then the session is revoked for refresh-token reuse.
    let first = token(&data, "refresh_token");
    assert_eq!(app.refresh(&first).await.status(), 200);
    app.clock
        .advance(app.settings.session.refresh_grace_seconds + 1);
    assert_eq!(app.refresh(&first).await.status(), 401);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let event = log
        .lines()
        .find(|l| l.contains("refresh_token_reuse"))
        .unwrap_or_else(|| panic!("no reuse event in:\n{log}"));
    assert!(event.contains("github"), "{event}");
}

// 6. Password checks are limited per user; a full hash queue answers at once.

#[actix_web::test]
async fn wrong_old_passwords_are_limited_per_user() {
    let app = spawn_app().await;
    app.create_user("tess").await;
    let t = token(&app.login("tess", PASSWORD).await, "access_token");
    let change = |old: &'static str| {
        app.client
            .put(app.url("/api/v1/sys/users/me/password"))
            .bearer_auth(&t)
            .json(&json!({"old_password": old, "new_password": "next password 1", "confirm_password": "next password 1"}))
            .send()
    };
    let limit = app.settings.security.max_password_checks;
    for _ in 0..limit {
        assert_error(
            change("guess guess").await.unwrap(),
            400,
            "wrong_old_password",
        )
        .await;
    }
    let res = change(PASSWORD).await.unwrap();
    assert!(res.headers().get("retry-after").is_some());
    assert_error(res, 429, "rate_limited").await;
}

#[actix_web::test]
async fn a_full_hash_queue_answers_503_with_retry_after() {
    let (mut s, dir) = test_settings().await;
    s.password.max_parallel_hashes = 1;
    s.password.max_queued_hashes = 1;
    let app = spawn_with(s, dir).await;
    app.create_user("ulla").await;
    let wrong = json!({"username": "ulla", "password": "wrong wrong"});
    let attempts = (0..12).map(|_| app.post_login(&wrong));
    let responses = futures_util::future::join_all(attempts).await;
    let mut busy = 0;
    for res in responses {
        if res.status() == 503 {
            assert!(res.headers().get("retry-after").is_some());
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["slug"], "busy");
            busy += 1;
        }
    }
    assert!(busy > 0, "some attempts are refused at once");
    assert!(app.metric("portcullis_password_hash_refused_total").await >= busy as f64);
}

// 7. Failures from elsewhere slow an account down but never lock its owner out.

#[actix_web::test]
async fn failures_from_elsewhere_never_lock_out_the_owner() {
    let (mut s, dir) = test_settings().await;
    behind_a_proxy(&mut s);
    s.lockout.threshold = 3;
    s.lockout.account_threshold = 5;
    let app = spawn_with(s, dir).await;
    app.create_user("vera").await;
    let login_from = |ip: String, pw: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": "vera", "password": pw}))
            .send()
    };
    for i in 0..8 {
        let res = login_from(format!("203.0.113.{i}"), "wrong wrong")
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
    }
    // The owner, from an address that has not failed: slowed, not refused.
    let started = Instant::now();
    let res = login_from("198.51.100.7".into(), PASSWORD).await.unwrap();
    assert_eq!(res.status(), 200, "the owner gets in");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "but after a delay"
    );
}

#[actix_web::test]
async fn a_username_cannot_poison_another_account_s_lock() {
    let (mut s, dir) = test_settings().await;
    behind_a_proxy(&mut s);
    s.lockout.threshold = 2;
    let app = spawn_with(s, dir).await;
    app.create_user("alice").await;
    for _ in 0..5 {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"username": "alice|198.51.100.7", "password": "whatever"}))
            .send()
            .await
            .unwrap();
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.7")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

// 9. Starting a social login is rate limited.

#[actix_web::test]
async fn starting_social_logins_is_rate_limited() {
    let server = wiremock::MockServer::start().await;
    let (mut s, dir) = test_settings().await;
    s.rate_limit.oauth2_start.burst = 3;
    let p = provider(portcullis::config::ProviderKind::Github, &server.uri());
    s.oauth2.providers = std::collections::BTreeMap::from([("github".into(), p)]);
    let app = spawn_with(s, dir).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            app.client
                .get(app.url("/api/v1/oauth2/github"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

// 10. Refresh re-checks the user; the CLI reaches a running server.

#[actix_web::test]
async fn a_disabled_user_cannot_refresh_and_the_cli_reaches_the_running_server() {
    let app = spawn_app().await;
    app.create_user("wade").await;
    let data = app.login("wade", PASSWORD).await;
    let access = token(&data, "access_token");
    assert_eq!(app.me(&access).await.status(), 200, "cached on the server");
    let out = portcullis(&app, &["user", "disable", "--username", "wade"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    while app.me(&access).await.status() != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the server still accepts the token"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_error(
        app.refresh(&token(&data, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[actix_web::test]
async fn a_session_older_than_the_password_cannot_refresh() {
    let app = spawn_app().await;
    let uid = app.create_user("xavi").await;
    let data = app.login("xavi", PASSWORD).await;
    // The password changes behind the server's back (an import, another tool): no
    // invalidation reaches anyone, yet the old session must not live on.
    app.clock.advance(2);
    let now = chrono::DateTime::from_timestamp(app.clock.unix(), 0)
        .unwrap()
        .naive_utc();
    app.repo
        .set_password_hash(
            uid,
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            Some(now),
            now,
        )
        .await
        .unwrap();
    assert_error(
        app.refresh(&token(&data, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

// 12. ID tokens must name us and their issuer.

#[actix_web::test]
async fn id_tokens_without_iss_or_aud_or_with_a_foreign_azp_are_refused() {
    let idp = FakeIdp::start().await;
    let app = oauth_app(
        std::collections::BTreeMap::from([(
            "corp".into(),
            idp.settings(portcullis::config::ProviderKind::Oidc),
        )]),
        false,
    )
    .await;
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, Edit); 5] = [
        (
            "no iss",
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("iss"))),
        ),
        (
            "no aud",
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("aud"))),
        ),
        (
            "another aud",
            Box::new(|c| c["aud"] = json!("someone-else")),
        ),
        (
            "azp of another client",
            Box::new(|c| {
                c["aud"] = json!(["test-client", "other-client"]);
                c["azp"] = json!("other-client");
            }),
        ),
        (
            "another issuer",
            Box::new(|c| c["iss"] = json!("https://evil.example")),
        ),
    ];
    for (what, edit) in cases {
        let landing = app
            .oidc_round("corp", &idp, |nonce| {
                let mut c = idp.claims("u-1201", nonce);
                edit(&mut c);
                c
            })
            .await;
        assert_eq!(
            query_param(&landing, "error").as_deref(),
            Some("invalid_id_token"),
            "{what}: {landing}"
        );
    }
    // The same token, well formed, signs in.
    let landing = app
        .oidc_round("corp", &idp, |nonce| idp.claims("u-1201", nonce))
        .await;
    assert!(query_param(&landing, "code").is_some(), "{landing}");
}

// 14. Credentials never show in what the CLI prints.

#[actix_web::test]
async fn the_cli_never_prints_a_database_or_redis_password() {
    let app = spawn_app().await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    let out = cmd
        .env_clear()
        .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
        .env("PORTCULLIS__DATA__DIR", &app.settings.data.dir)
        .env(
            "PORTCULLIS__DATABASE__URL",
            "postgres://app:hunter2-db@127.0.0.1:5432/nowhere",
        )
        .env(
            "PORTCULLIS__REDIS__URL",
            "redis://:hunter2-redis@127.0.0.1:6379/0",
        )
        .args(["config", "check"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("postgres://app:***@127.0.0.1:5432/nowhere"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    if production_mode() {
        // Trust auth ignores the password: the migration runs, and says where, without it.
        let url = app
            .settings
            .database
            .url
            .replace("postgres@", "postgres:hunter2-db@");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_clear()
            .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
            .env("PORTCULLIS__DATABASE__URL", url)
            .args(["migrate"])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(text.contains("postgres:***@"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

// 15. Development listens on loopback unless told otherwise.

#[actix_web::test]
async fn development_refuses_a_public_address_unless_allowed() {
    let check = |extra: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.env_clear()
            .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
            .args(["config", "check"]);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = check(&[("PORTCULLIS__SERVER__HOST", "0.0.0.0")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PORTCULLIS__SERVER__ALLOW_PUBLIC_IN_DEVELOPMENT"),
        "{err}"
    );
    let out = check(&[
        ("PORTCULLIS__SERVER__HOST", "0.0.0.0"),
        ("PORTCULLIS__SERVER__ALLOW_PUBLIC_IN_DEVELOPMENT", "true"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// 16. The SQLite file holding password hashes is its owner's alone.

#[actix_web::test]
async fn the_sqlite_file_is_created_private() {
    if production_mode() {
        return; // PostgreSQL holds the data in production mode.
    }
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let path = app
        .settings
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{path}");
}
