//! Captcha, Swagger login, rate limits, lockout and the login log.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

async fn captcha_app() -> TestApp {
    let (mut s, dir) = test_settings().await;
    s.captcha.enabled = true;
    spawn_with(s, dir).await
}

impl TestApp {
    /// A captcha's uuid and its answer, as a person reads it from the image.
    pub async fn captcha(&self) -> (String, String) {
        let body: Value = self
            .client
            .get(self.url("/api/v1/auth/captcha"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let uuid = body["data"]["uuid"].as_str().unwrap().to_owned();
        let answer = self
            .captcha_answers
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a captcha was drawn");
        (uuid, answer)
    }

    pub async fn login_with_captcha(
        &self,
        user: &str,
        pw: &str,
        uuid: &str,
        answer: &str,
    ) -> reqwest::Response {
        self.post_login(&json!({"username": user, "password": pw, "uuid": uuid, "captcha": answer}))
            .await
    }

    /// Every login log row (as a superuser), waiting until at least `n` are there: the log is
    /// written off the response path.
    pub async fn login_log(&self, admin_token: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let body: Value = self
                .get_auth_json("/api/v1/logs/login?size=200", admin_token)
                .await;
            let items = body["data"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if items.len() >= n || Instant::now() > deadline {
                return items;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn assert_captcha_refused(res: reqwest::Response) {
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], 40001, "{body}");
    assert_eq!(body["slug"], "captcha_invalid");
    let retry = &body["data"];
    assert!(
        retry["uuid"].is_string() && retry["image"].as_str().is_some_and(|i| i.len() > 100),
        "a fresh captcha: {body}"
    );
}

#[actix_web::test]
async fn the_captcha_endpoint_serves_a_png() {
    let app = captcha_app().await;
    let body: Value = app.get_json("/api/v1/auth/captcha").await;
    let d = &body["data"];
    assert_eq!(d["is_enabled"], true);
    assert_eq!(d["image_type"], "png");
    assert_eq!(d["expire_seconds"], app.settings.captcha.ttl_seconds);
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(d["image"].as_str().unwrap())
        .expect("bare base64");
    assert_eq!(&png[..4], b"\x89PNG");
}

#[actix_web::test]
async fn a_captcha_works_once_and_a_mistyped_one_can_be_corrected() {
    let app = captcha_app().await;
    app.create_user("rita").await;

    let (uuid, answer) = app.captcha().await;
    let res = app
        .login_with_captcha("rita", PASSWORD, &uuid, &answer.to_uppercase())
        .await;
    assert_eq!(res.status(), 200, "case does not matter");
    assert_captcha_refused(
        app.login_with_captcha("rita", PASSWORD, &uuid, &answer)
            .await,
    )
    .await;

    // fba's frontend keeps showing the image it has: the right answer on the next try works.
    let (uuid, answer) = app.captcha().await;
    assert_captcha_refused(
        app.login_with_captcha("rita", PASSWORD, &uuid, "nope")
            .await,
    )
    .await;
    let res = app
        .login_with_captcha("rita", PASSWORD, &uuid, &answer)
        .await;
    assert_eq!(res.status(), 200, "corrected on the next try");

    // But a captcha takes `captcha.attempts` answers in all: then it is gone.
    let attempts = app.settings.captcha.attempts;
    let (uuid, answer) = app.captcha().await;
    for _ in 0..attempts {
        assert_captcha_refused(
            app.login_with_captcha("rita", PASSWORD, &uuid, "nope")
                .await,
        )
        .await;
    }
    assert_captcha_refused(
        app.login_with_captcha("rita", PASSWORD, &uuid, &answer)
            .await,
    )
    .await;

    // Answers at once are compared one at a time (each takes the captcha while it compares):
    // of eight right answers at once, one signs in.
    let (uuid, answer) = app.captcha().await;
    let answers = (0..8).map(|_| {
        let (uuid, answer) = (uuid.clone(), answer.clone());
        let app = &app;
        async move {
            app.login_with_captcha("rita", PASSWORD, &uuid, &answer)
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(answers).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);

    // A right captcha with a wrong password is used up too.
    let (uuid, answer) = app.captcha().await;
    let res = app
        .login_with_captcha("rita", "wrong password", &uuid, &answer)
        .await;
    assert_error(res, 400, "invalid_credentials").await;
    assert_captcha_refused(
        app.login_with_captcha("rita", PASSWORD, &uuid, &answer)
            .await,
    )
    .await;
}

#[actix_web::test]
async fn missing_unknown_and_expired_captchas_are_refused() {
    let app = captcha_app().await;
    app.create_user("sam").await;
    assert_captcha_refused(
        app.post_login(&json!({"username": "sam", "password": PASSWORD}))
            .await,
    )
    .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_captcha_refused(
        app.login_with_captcha("sam", PASSWORD, &unknown, "abcd")
            .await,
    )
    .await;
    let (uuid, answer) = app.captcha().await;
    app.clock.advance(app.settings.captcha.ttl_seconds + 1);
    assert_captcha_refused(
        app.login_with_captcha("sam", PASSWORD, &uuid, &answer)
            .await,
    )
    .await;
}

#[actix_web::test]
async fn parallel_wrong_passwords_hash_at_most_threshold_times_and_lock_the_account() {
    let (mut s, dir) = test_settings().await;
    s.lockout.threshold = 5;
    let app = spawn_with(s, dir).await;
    app.create_user("tom").await;
    let verifications = "portcullis_password_verifications_total";
    let before = app.metric(verifications).await;
    let wrong = json!({"username": "tom", "password": "guess guess"});
    let attempts = (0..100).map(|_| app.post_login(&wrong));
    let responses = futures_util::future::join_all(attempts).await;
    let mut bodies = std::collections::HashSet::new();
    for res in responses {
        assert_eq!(res.status(), 400);
        let mut body: Value = res.json().await.unwrap();
        body.as_object_mut().unwrap().remove("trace_id");
        bodies.insert(body.to_string());
    }
    let hashed = app.metric(verifications).await - before;
    assert!(hashed <= 5.0, "{hashed} hashes for 100 attempts");
    assert_eq!(
        bodies.len(),
        1,
        "locked and wrong look the same: {bodies:?}"
    );

    // Locked: even the right password is refused, with the same answer.
    let res = app
        .post_login(&json!({"username": "tom", "password": PASSWORD}))
        .await;
    let mut body: Value = res.json().await.unwrap();
    body.as_object_mut().unwrap().remove("trace_id");
    assert!(bodies.contains(&body.to_string()), "{body}");
    assert_eq!(
        app.metric(verifications).await - before,
        hashed,
        "no hash while locked"
    );

    // The lock ends after base_seconds; a success then resets the counters.
    app.clock.advance(app.settings.lockout.base_seconds + 1);
    app.login("tom", PASSWORD).await;
}

#[actix_web::test]
async fn the_lock_grows_with_each_lock() {
    let (mut s, dir) = test_settings().await;
    s.lockout.threshold = 2;
    s.lockout.account_threshold = 100;
    let app = spawn_with(s, dir).await;
    app.create_user("uma").await;
    let wrong = json!({"username": "uma", "password": "nope nope"});
    for _ in 0..3 {
        app.post_login(&wrong).await;
    }
    // First lock: base. After it, two more failures lock for twice as long.
    app.clock.advance(app.settings.lockout.base_seconds + 1);
    for _ in 0..3 {
        app.post_login(&wrong).await;
    }
    app.clock.advance(app.settings.lockout.base_seconds + 1);
    assert_error(
        app.post_login(&json!({"username": "uma", "password": PASSWORD}))
            .await,
        400,
        "invalid_credentials",
    )
    .await;
    app.clock.advance(app.settings.lockout.base_seconds);
    app.login("uma", PASSWORD).await;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[actix_web::test]
async fn unknown_wrong_and_disabled_take_the_same_time() {
    let (mut s, dir) = test_settings().await;
    s.lockout.threshold = 1000;
    s.lockout.account_threshold = 1000;
    let app = spawn_with(s, dir).await;
    app.create_user("vera").await;
    let off = app.create_user("walt").await;
    app.repo
        .set_status(off, 0, chrono::NaiveDateTime::default())
        .await
        .unwrap();

    let cases = [
        ("nobody-here", PASSWORD),
        ("vera", "wrong password"),
        ("walt", PASSWORD),
    ];
    let mut times = vec![Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..30 {
        for (i, (user, pw)) in cases.iter().enumerate() {
            let start = Instant::now();
            let res = app
                .post_login(&json!({"username": user, "password": pw}))
                .await;
            times[i].push(start.elapsed());
            assert_eq!(res.status(), 400);
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    let (min, max) = (medians.iter().min().unwrap(), medians.iter().max().unwrap());
    eprintln!(
        "medians: unknown {:?}, wrong {:?}, disabled {:?}",
        medians[0], medians[1], medians[2]
    );
    assert!(
        max.as_secs_f64() <= min.as_secs_f64() * 1.2,
        "medians differ by more than 20%: {medians:?}"
    );
}

#[actix_web::test]
async fn forwarded_headers_from_untrusted_peers_do_not_escape_the_limit() {
    let (mut s, dir) = test_settings().await;
    s.rate_limit.captcha.burst = 3;
    let app = spawn_with(s, dir).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let res = app
            .client
            .get(app.url("/api/v1/auth/captcha"))
            .header("x-forwarded-for", format!("10.0.0.{i}"))
            .header("x-real-ip", format!("10.1.0.{i}"))
            .header("forwarded", format!("for=10.2.0.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().get("retry-after").is_some());
            let body = assert_error(res, 429, "rate_limited").await;
            assert!(body["msg"].as_str().unwrap().contains("Too many"));
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_key() {
    let (mut s, dir) = test_settings().await;
    s.rate_limit.captcha.burst = 2;
    s.rate_limit.trusted_proxies = vec!["127.0.0.0/8".into()];
    let app = spawn_with(s, dir).await;
    let get = |xff: String| {
        app.client
            .get(app.url("/api/v1/auth/captcha"))
            .header("x-forwarded-for", xff)
            .send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(get("1.1.1.1".into()).await.unwrap()), 200);
    assert_eq!(status(get("9.9.9.9, 1.1.1.1".into()).await.unwrap()), 200);
    assert_eq!(status(get("1.1.1.1".into()).await.unwrap()), 429);
    assert_eq!(
        status(get("2.2.2.2".into()).await.unwrap()),
        200,
        "another client, another budget"
    );

    // Garbage is not a key: those requests count against the proxy itself.
    assert_eq!(status(get("garbage".into()).await.unwrap()), 200);
    assert_eq!(status(get("<script>".into()).await.unwrap()), 200);
    let thousand = vec!["x"; 1000].join(",");
    assert_eq!(status(get(thousand).await.unwrap()), 429);
    let thousand_ips = (0..1000)
        .map(|i| format!("3.3.{}.{}", i / 256, i % 256))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        status(get(thousand_ips).await.unwrap()),
        200,
        "the right-most hop is the client"
    );
}

#[actix_web::test]
async fn every_kind_of_attempt_is_in_the_login_log() {
    let (mut s, dir) = test_settings().await;
    s.captcha.enabled = true;
    s.lockout.threshold = 2;
    s.rate_limit.login.burst = 12;
    s.rate_limit.trusted_proxies = vec!["127.0.0.0/8".into()];
    let app = spawn_with(s, dir).await;
    app.create_user_with("root", PASSWORD, true).await;
    app.create_user("xena").await;
    let off = app.create_user("yuri").await;
    app.repo
        .set_status(off, 0, chrono::NaiveDateTime::default())
        .await
        .unwrap();

    let (uuid, answer) = app.captcha().await;
    let admin: Value = app
        .login_with_captcha("root", PASSWORD, &uuid, &answer)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["code"], 200, "{admin}");
    let admin_token = token(&admin["data"], "access_token");
    let app = &app;
    let attempt = |user: &'static str, pw: &'static str| async move {
        let (uuid, answer) = app.captcha().await;
        app.login_with_captcha(user, pw, &uuid, &answer)
            .await
            .status()
            .as_u16()
    };
    assert_eq!(attempt("xena", "wrong one").await, 400); // bad_password
    assert_eq!(attempt("nobody", PASSWORD).await, 400); // unknown_user
    assert_eq!(attempt("yuri", PASSWORD).await, 400); // disabled
    assert_eq!(attempt("xena", "wrong two").await, 400); // bad_password (second)
    assert_eq!(attempt("xena", PASSWORD).await, 400); // locked
    assert_eq!(
        app.login_with_captcha("xena", PASSWORD, "x", "y")
            .await
            .status(),
        400
    ); // captcha_invalid
    let mut last = 0;
    let mut refused = 0;
    for _ in 0..10 {
        last = app
            .post_login(&json!({"username": "xena", "password": PASSWORD}))
            .await
            .status()
            .as_u16();
        refused += u32::from(last == 429);
    }
    assert_eq!(last, 429); // rate_limited

    // Refusals by the rate limiter are one row per address and minute, written when the
    // minute is over.
    app.clock.advance(60);
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = app.login_log(&admin_token, 1).await;
        if rows.iter().any(|r| r["reason"] == "rate_limited") {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let limited: Vec<&Value> = rows
        .iter()
        .filter(|r| r["reason"] == "rate_limited")
        .collect();
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(limited[0]["attempts"], refused, "{limited:?}");
    let reasons: std::collections::HashSet<&str> =
        rows.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    for reason in [
        "success",
        "bad_password",
        "unknown_user",
        "disabled",
        "locked",
        "captcha_invalid",
        "rate_limited",
    ] {
        assert!(reasons.contains(reason), "no `{reason}` in {reasons:?}");
    }
    let success = rows.iter().find(|r| r["reason"] == "success").unwrap();
    assert_eq!(success["username"], "root");
    assert_eq!(success["success"], true);
    assert!(success["user_id"].as_i64().is_some());
    assert_eq!(success["method"], "password");
    assert_eq!(success["ip"], "127.0.0.1");
    let unknown = rows.iter().find(|r| r["reason"] == "unknown_user").unwrap();
    assert!(unknown["user_id"].is_null());

    // Filters and paging.
    let body: Value = app
        .get_auth(
            "/api/v1/logs/login?username=xen&status=failure&size=2&page=1",
            &admin_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["size"], 2);
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 2);
    assert!(body["data"]["total"].as_i64().unwrap() >= 4);
    for item in body["data"]["items"].as_array().unwrap() {
        assert!(item["username"].as_str().unwrap().contains("xen"));
        assert_eq!(item["success"], false);
    }
    let res = app
        .get_auth("/api/v1/logs/login?size=500", &admin_token)
        .await;
    assert_error(res, 400, "invalid_body").await;

    // Not for ordinary users. (From another address: the pair lock and the limit are per client.)
    let (uuid, answer) = app.captcha().await;
    let ordinary: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "4.4.4.4")
        .json(&json!({"username": "xena", "password": PASSWORD, "uuid": uuid, "captcha": answer}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .get_auth(
            "/api/v1/logs/login",
            &token(&ordinary["data"], "access_token"),
        )
        .await;
    assert_error(res, 403, "insufficient_scope").await;
}

#[actix_web::test]
async fn the_swagger_login_follows_the_specs_password_flow() {
    let app = captcha_app().await;
    app.create_user("zoe").await;
    let spec: Value = app.get_json("/api/v1/openapi.json").await;
    let scheme = &spec["securityDefinitions"]["bearer"];
    assert_eq!(scheme["type"], "oauth2");
    assert_eq!(scheme["flow"], "password");
    let token_url = scheme["tokenUrl"].as_str().unwrap();
    let res = app
        .client
        .post(app.url(token_url))
        .form(&[
            ("grant_type", "password"),
            ("username", "zoe"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let me: Value = app
        .me(body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "zoe");

    let res = app
        .client
        .post(app.url(token_url))
        .form(&[("username", "zoe"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_credentials").await;
}

#[actix_web::test]
async fn the_swagger_login_is_refused_in_production_and_absent_when_off() {
    let (mut s, dir) = test_settings().await;
    s.profile = portcullis::config::Profile::Production;
    if s.redis.url.is_empty() && s.redis.cluster_urls.is_empty() {
        s.redis.url = REDIS_URL.into();
    }
    let err = portcullis::startup::Application::builder(s.clone())
        .build()
        .await
        .err()
        .expect("production with the Swagger login refuses to start")
        .to_string();
    assert!(err.contains("PORTCULLIS__SWAGGER_LOGIN__ENABLED"), "{err}");

    let (mut s, dir2) = test_settings().await;
    s.swagger_login.enabled = false;
    let app = spawn_with(s, dir2).await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login/swagger"))
        .form(&[("username", "a"), ("password", "b")])
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    drop(dir);
}
