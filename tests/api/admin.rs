//! Administration over REST: users, online sessions with kick-out, the login log; who may do
//! what; and the last enabled superuser.

use std::time::{Duration, Instant};

use portcullis::clock::Clock;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::cli::portcullis;
use crate::helpers::*;

impl TestApp {
    /// A request with a bearer token and, if given, a JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// The `data` of a 200 answer.
    pub async fn ok(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let res = self.call(method.clone(), path, token, body).await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{method} {path}: {body}");
        body["data"].clone()
    }

    /// A signed-in user holding a role with these codes; returns (id, access token).
    pub async fn user_with_codes(&self, username: &str, codes: &[&str]) -> (i64, String) {
        let uid = self.create_user(username).await;
        if !codes.is_empty() {
            self.repo
                .grant_role(uid, &format!("{username}-role"), codes, self.clock.naive())
                .await
                .unwrap();
        }
        let t = token(&self.login(username, PASSWORD).await, "access_token");
        (uid, t)
    }

    /// A page of the login log.
    pub async fn logs(&self, token: &str, query: &str) -> Value {
        self.ok(
            Method::GET,
            &format!("/api/v1/logs/login?{query}"),
            token,
            None,
        )
        .await
    }

    /// A signed-in superuser; returns (id, access token).
    pub async fn superuser(&self, username: &str) -> (i64, String) {
        let uid = self.create_user_with(username, PASSWORD, true).await;
        (
            uid,
            token(&self.login(username, PASSWORD).await, "access_token"),
        )
    }
}

/// Waits until `token` is refused (every node hears of a change within a second).
async fn refused_soon(app: &TestApp, token: &str) {
    let started = Instant::now();
    while app.me(token).await.status() != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the token still works"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_superuser_lists_creates_edits_resets_and_deletes_users() {
    let app = spawn_app().await;
    let (_, root) = app.superuser("root").await;

    let created = app
        .ok(
            Method::POST,
            "/api/v1/sys/users",
            &root,
            Some(json!({"username": "nell", "password": "nell-password-1", "email": "Nell@Example.com",
                        "phone": "+44 20 7946 0958"})),
        )
        .await;
    let id = created["id"].as_i64().expect("the new user's id");
    assert_eq!(created["email"], "nell@example.com");
    assert_eq!(
        created["nickname"], "nell",
        "the nickname defaults to the username"
    );
    assert!(created.get("password_hash").is_none() && created.get("password").is_none());
    assert!(
        created["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC: {created}"
    );

    // The same validation as `portcullis user create`, once each, no repeats.
    for (body, slug) in [
        (
            json!({"username": "nell", "password": "nell-password-1"}),
            "conflict",
        ),
        (
            json!({"username": "x", "password": "long-enough-1"}),
            "invalid_body",
        ),
        (
            json!({"username": "ok-name", "password": "short"}),
            "password_policy",
        ),
        (
            json!({"username": "ok-name", "password": "long-enough-1", "email": "nope"}),
            "invalid_body",
        ),
        (
            json!({"username": "ok-name", "password": "long-enough-1", "avatar": "javascript:alert(1)"}),
            "invalid_body",
        ),
        (
            json!({"username": "ok-name", "password": "long-enough-1", "role": "x"}),
            "invalid_body",
        ),
    ] {
        let res = app
            .call(Method::POST, "/api/v1/sys/users", &root, Some(body.clone()))
            .await;
        let err = assert_error(res, if slug == "conflict" { 409 } else { 400 }, slug).await;
        let msg = err["msg"].as_str().unwrap();
        if let Some((head, tail)) = msg.split_once(": ") {
            assert!(!tail.contains(head), "repeated: {msg}");
        }
    }

    let page = app
        .ok(
            Method::GET,
            "/api/v1/sys/users?username=nel&size=5",
            &root,
            None,
        )
        .await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["username"], "nell");
    assert_eq!(
        (page["page"].as_i64(), page["size"].as_i64()),
        (Some(1), Some(5))
    );
    let all = app
        .ok(Method::GET, "/api/v1/sys/users?size=1&page=2", &root, None)
        .await;
    assert_eq!(all["total"], 2);
    assert_eq!(all["items"][0]["username"], "nell", "ordered by id");
    assert_error(
        app.call(Method::GET, "/api/v1/sys/users?size=500", &root, None)
            .await,
        400,
        "invalid_body",
    )
    .await;

    // Edits: a subset of fields; an empty string clears; the user sees it at once.
    let nell = token(&app.login("nell", "nell-password-1").await, "access_token");
    let edited = app
        .ok(
            Method::PUT,
            &format!("/api/v1/sys/users/{id}"),
            &root,
            Some(json!({"nickname": "Nell G.", "phone": "", "multi_login": false})),
        )
        .await;
    assert_eq!(edited["nickname"], "Nell G.");
    assert_eq!(edited["phone"], Value::Null);
    assert_eq!(edited["email"], "nell@example.com", "untouched");
    let me = app.get_auth_json("/api/v1/sys/users/me", &nell).await;
    assert_eq!(
        me["data"]["nickname"], "Nell G.",
        "the cached copy was dropped"
    );
    assert_error(
        app.call(
            Method::PUT,
            &format!("/api/v1/sys/users/{id}"),
            &root,
            Some(json!({"status": 7})),
        )
        .await,
        400,
        "invalid_body",
    )
    .await;
    assert_error(
        app.call(
            Method::PUT,
            "/api/v1/sys/users/999999",
            &root,
            Some(json!({"nickname": "x"})),
        )
        .await,
        404,
        "user_not_found",
    )
    .await;

    // A password reset ends every session; the new password works.
    let reset = app
        .ok(
            Method::PUT,
            &format!("/api/v1/sys/users/{id}/password"),
            &root,
            Some(json!({"password": "nell-password-2", "confirm_password": "nell-password-2"})),
        )
        .await;
    assert_eq!(reset["ended_sessions"], 1);
    refused_soon(&app, &nell).await;
    assert_error(
        app.call(
            Method::PUT,
            &format!("/api/v1/sys/users/{id}/password"),
            &root,
            Some(json!({"password": "nell-password-3", "confirm_password": "other-password-3"})),
        )
        .await,
        400,
        "password_mismatch",
    )
    .await;
    let nell = token(&app.login("nell", "nell-password-2").await, "access_token");

    // Disabling ends the sessions and refuses logins; enabling lets the user back in.
    app.ok(
        Method::PUT,
        &format!("/api/v1/sys/users/{id}"),
        &root,
        Some(json!({"status": 0})),
    )
    .await;
    refused_soon(&app, &nell).await;
    let res = app
        .post_login(&json!({"username": "nell", "password": "nell-password-2"}))
        .await;
    assert_error(res, 400, "invalid_credentials").await;
    app.ok(
        Method::PUT,
        &format!("/api/v1/sys/users/{id}"),
        &root,
        Some(json!({"status": 1})),
    )
    .await;
    let nell = token(&app.login("nell", "nell-password-2").await, "access_token");

    // Deleting: the token dies, the user is gone, a second delete is a 404.
    let deleted = app
        .ok(
            Method::DELETE,
            &format!("/api/v1/sys/users/{id}"),
            &root,
            None,
        )
        .await;
    assert_eq!(deleted["ended_sessions"], 1);
    refused_soon(&app, &nell).await;
    let page = app
        .ok(Method::GET, "/api/v1/sys/users?username=nell", &root, None)
        .await;
    assert_eq!(page["total"], 0);
    assert_error(
        app.call(
            Method::DELETE,
            &format!("/api/v1/sys/users/{id}"),
            &root,
            None,
        )
        .await,
        404,
        "user_not_found",
    )
    .await;
}

#[actix_web::test]
async fn each_user_endpoint_needs_its_code_and_superusers_stay_out_of_reach() {
    let app = spawn_app().await;
    let (root_id, _) = app.superuser("root").await;
    let (_, editor) = app.user_with_codes("eddie", &["sys:user:edit"]).await;
    let (_, plain) = app.user_with_codes("pat", &[]).await;
    let (_, resetter) = app
        .user_with_codes(
            "rita",
            &["sys:user:pwd:reset", "sys:user:add", "sys:user:del"],
        )
        .await;
    let victim = app.create_user("vic").await;

    // Listing: any sys:user code; nothing else.
    app.ok(Method::GET, "/api/v1/sys/users", &editor, None)
        .await;
    assert_error(
        app.call(Method::GET, "/api/v1/sys/users", &plain, None)
            .await,
        403,
        "insufficient_scope",
    )
    .await;

    let user = |id: i64| format!("/api/v1/sys/users/{id}");
    let edit = Some(json!({"nickname": "Vic"}));
    app.ok(Method::PUT, &user(victim), &editor, edit.clone())
        .await;
    for (method, path, who, body) in [
        (Method::PUT, user(victim), &plain, edit.clone()),
        (
            Method::POST,
            "/api/v1/sys/users".to_owned(),
            &editor,
            Some(json!({"username": "newbie", "password": "newbie-password-1"})),
        ),
        (
            Method::PUT,
            format!("{}/password", user(victim)),
            &editor,
            Some(json!({"password": "another-pass-1"})),
        ),
        (Method::DELETE, user(victim), &editor, None),
        // A superuser's account and the superuser flag are out of reach without being one.
        (Method::PUT, user(root_id), &editor, edit.clone()),
        (
            Method::PUT,
            user(victim),
            &editor,
            Some(json!({"is_superuser": true})),
        ),
        (
            Method::PUT,
            format!("{}/password", user(root_id)),
            &resetter,
            Some(json!({"password": "taken-over-1"})),
        ),
        (Method::DELETE, user(root_id), &resetter, None),
        (
            Method::POST,
            "/api/v1/sys/users".to_owned(),
            &resetter,
            Some(
                json!({"username": "boss2", "password": "boss2-password-1", "is_superuser": true}),
            ),
        ),
    ] {
        let res = app.call(method.clone(), &path, who, body).await;
        assert_error(res, 403, "insufficient_scope").await;
    }
    // Holders of the right codes do the rest.
    app.ok(
        Method::PUT,
        &format!("{}/password", user(victim)),
        &resetter,
        Some(json!({"password": "another-pass-1"})),
    )
    .await;
    app.ok(
        Method::POST,
        "/api/v1/sys/users",
        &resetter,
        Some(json!({"username": "newbie", "password": "newbie-password-1"})),
    )
    .await;
    app.ok(Method::DELETE, &user(victim), &resetter, None).await;
    // The superuser's password is still the one it had.
    app.login("root", PASSWORD).await;
}

#[actix_web::test]
async fn the_last_enabled_superuser_cannot_be_removed() {
    let app = spawn_app().await;
    let (root_id, root) = app.superuser("root").await;
    let path = format!("/api/v1/sys/users/{root_id}");
    for (method, body) in [
        (Method::PUT, Some(json!({"is_superuser": false}))),
        (Method::PUT, Some(json!({"status": 0}))),
        (Method::DELETE, None),
    ] {
        let res = app.call(method, &path, &root, body).await;
        assert_error(res, 409, "last_superuser").await;
    }
    let out = portcullis(&app, &["user", "disable", "--username", "root"], None);
    assert!(!out.status.success(), "the CLI is held to the same rule");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no enabled superuser"));
    assert_eq!(app.me(&root).await.status(), 200, "nothing changed");

    // With a second superuser, the first may step down.
    let (second_id, second) = app.superuser("root2").await;
    app.ok(
        Method::PUT,
        &path,
        &second,
        Some(json!({"is_superuser": false})),
    )
    .await;
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/v1/sys/users/{second_id}"),
            &second,
            None,
        )
        .await;
    assert_error(res, 409, "last_superuser").await;
    // A disabled superuser does not count.
    let (third_id, _) = app.superuser("root3").await;
    app.ok(
        Method::PUT,
        &format!("/api/v1/sys/users/{third_id}"),
        &second,
        Some(json!({"status": 0})),
    )
    .await;
    let res = app
        .call(
            Method::PUT,
            &format!("/api/v1/sys/users/{second_id}"),
            &second,
            Some(json!({"status": 0})),
        )
        .await;
    assert_error(res, 409, "last_superuser").await;
}

#[actix_web::test]
async fn online_sessions_are_listed_and_a_kick_ends_the_refresh_token_too() {
    let app = spawn_app().await;
    let (_, root) = app.superuser("root").await;
    let (_, viewer) = app.user_with_codes("vera", &["monitor:online:list"]).await;
    let uid = app.create_user("otto").await;
    let first = app.login("otto", PASSWORD).await;
    let second = app.login("otto", PASSWORD).await;

    let page = app
        .ok(
            Method::GET,
            "/api/v1/monitors/online?username=otto",
            &viewer,
            None,
        )
        .await;
    assert_eq!(page["total"], 1, "one user online: {page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(item["user_id"], uid);
        assert_eq!(item["username"], "otto");
        assert_eq!(item["method"], "password");
        for field in [
            "session_uuid",
            "ip",
            "created_at",
            "last_refresh_at",
            "expires_at",
            "nickname",
        ] {
            assert!(item[field].is_string(), "{field} in {item}");
        }
    }
    let everyone = app
        .ok(Method::GET, "/api/v1/monitors/online?size=200", &root, None)
        .await;
    assert_eq!(everyone["total"], 3, "root, vera and otto: {everyone}");
    let by_one = app
        .ok(
            Method::GET,
            "/api/v1/monitors/online?size=1&page=3",
            &root,
            None,
        )
        .await;
    assert_eq!(by_one["items"][0]["username"], "otto", "paged by user id");

    // Kicking needs its own code.
    let sid = token(&first, "session_uuid");
    let kick = format!("/api/v1/monitors/online/{uid}?session_uuid={sid}");
    assert_error(
        app.call(Method::DELETE, &kick, &viewer, None).await,
        403,
        "insufficient_scope",
    )
    .await;
    let kicked = app.ok(Method::DELETE, &kick, &root, None).await;
    assert_eq!(kicked["ended_sessions"], 1);
    assert_eq!(app.me(&token(&first, "access_token")).await.status(), 401);
    assert_error(
        app.refresh(&token(&first, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        app.me(&token(&second, "access_token")).await.status(),
        200,
        "the other session lives"
    );
    assert_error(
        app.call(Method::DELETE, &kick, &root, None).await,
        404,
        "session_not_found",
    )
    .await;

    // Without a session id: every session of the user.
    let kicked = app
        .ok(
            Method::DELETE,
            &format!("/api/v1/monitors/online/{uid}"),
            &root,
            None,
        )
        .await;
    assert_eq!(kicked["ended_sessions"], 1);
    assert_error(
        app.refresh(&token(&second, "refresh_token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let page = app
        .ok(
            Method::GET,
            "/api/v1/monitors/online?username=otto",
            &root,
            None,
        )
        .await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["items"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}

#[actix_web::test]
async fn login_log_entries_are_deleted_cleared_and_pruned_past_retention() {
    let (mut settings, resources) = test_settings().await;
    settings.login_log.retention_days = 30;
    let app = spawn_with(settings.clone(), resources.clone()).await;
    let (_, root) = app.superuser("root").await;
    let (_, deleter) = app.user_with_codes("dora", &["log:login:del"]).await;
    app.create_user("lou").await;
    for _ in 0..3 {
        let res = app
            .post_login(&json!({"username": "lou", "password": "wrong-password"}))
            .await;
        assert_eq!(res.status(), 400);
    }
    let mut failures = Value::Null;
    for _ in 0..200 {
        failures = app.logs(&root, "username=lou&status=failure").await;
        if failures["total"] == 3 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(failures["total"], 3, "{failures}");
    let ids: Vec<i64> = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();

    let res = app
        .call(
            Method::DELETE,
            "/api/v1/logs/login",
            &deleter,
            Some(json!({"pks": &ids[..2]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["data"]["deleted"], 2);
    assert_eq!(app.logs(&root, "username=lou").await["total"], 1);
    assert_error(
        app.call(Method::DELETE, "/api/v1/logs/login/all", &deleter, None)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    let cleared = app
        .ok(Method::DELETE, "/api/v1/logs/login/all", &root, None)
        .await;
    assert!(cleared["deleted"].as_i64().unwrap() >= 1);
    assert_eq!(app.logs(&root, "").await["total"], 0);

    // Retention: a server deletes what is older than `login_log.retention_days` when it starts
    // (and hourly after).
    let now = app.clock.naive();
    let entry = |days_ago: i64, username: &str| portcullis::db::models::NewLoginLog {
        user_id: None,
        username: username.into(),
        success: false,
        reason: "bad_password".into(),
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
        os: None,
        browser: None,
        device: None,
        method: "password".into(),
        created_at: now - chrono::Duration::days(days_ago),
        attempts: 1,
    };
    app.repo
        .insert_login_logs(vec![entry(31, "ancient"), entry(29, "recent")])
        .await
        .unwrap();
    let _second = spawn_with(settings, resources).await;
    let started = Instant::now();
    loop {
        let left = app.logs(&root, "").await;
        let names: Vec<&str> = left["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["username"].as_str())
            .collect();
        if !names.contains(&"ancient") {
            assert!(names.contains(&"recent"), "{names:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "nothing was pruned: {names:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_new_login_shows_in_the_cached_user_at_once() {
    let app = spawn_app().await;
    app.create_user("lena").await;
    let first = token(&app.login("lena", PASSWORD).await, "access_token");
    let before =
        app.get_auth_json("/api/v1/sys/users/me", &first).await["data"]["last_login_at"].clone();
    app.clock.advance(120);
    app.login("lena", PASSWORD).await;
    let after =
        app.get_auth_json("/api/v1/sys/users/me", &first).await["data"]["last_login_at"].clone();
    assert_ne!(before, after, "last_login_at moved with the second login");
    assert!(after.as_str().unwrap().ends_with('Z'), "{after}");
}
