//! Protecting other APIs: forward-auth, introspection, roles and permission codes.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::portcullis;
use crate::helpers::*;

pub const ALL_CLAIMS: &str =
    "sub,username,sid,exp,iat,nbf,iss,aud,token_type,scope,email,email_verified,user";

pub fn remote(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

impl TestApp {
    pub async fn verify(
        &self,
        token: Option<&str>,
        query: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .get(self.url(&format!("/api/v1/auth/verify{query}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// A new API client through the CLI, told every claim; returns its secret.
    pub fn api_client(&self, id: &str) -> String {
        self.api_client_with(id, &["--claims", ALL_CLAIMS])
    }

    /// A new API client through the CLI with these further arguments; returns its secret.
    pub fn api_client_with(&self, id: &str, args: &[&str]) -> String {
        let mut all = vec!["client", "create", "--id", id];
        all.extend_from_slice(args);
        let out = portcullis(self, &all, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout.lines().count(),
            1,
            "the secret alone on standard output: {stdout:?}"
        );
        stdout.trim().to_owned()
    }

    pub async fn introspect(&self, client: (&str, &str), token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/introspect"))
            .basic_auth(client.0, Some(client.1))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .unwrap()
    }
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = portcullis(app, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn refused_within_a_second(app: &TestApp, token: &str, code: &str) {
    let started = Instant::now();
    loop {
        let res = app
            .verify(Some(token), &format!("?permission={code}"), &[])
            .await;
        if res.status() == 403 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{code} still granted"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_role_granted_with_the_cli_shows_everywhere() {
    let app = spawn_app().await;
    app.create_user("olga").await;
    let t = token(&app.login("olga", PASSWORD).await, "access_token");
    assert_eq!(
        app.get_auth_json("/api/v1/auth/codes", &t).await["data"],
        json!([])
    );
    let res = app.verify(Some(&t), "?permission=order:create", &[]).await;
    assert_eq!(
        www_authenticate(&res).as_deref(),
        Some("Bearer realm=\"portcullis\", error=\"insufficient_scope\"")
    );
    assert_error(res, 403, "insufficient_scope").await;

    cli_ok(
        &app,
        &[
            "role",
            "create",
            "clerk",
            "--permission",
            "order:create",
            "--permission",
            "order:read",
        ],
    );
    let listed = cli_ok(&app, &["role", "list"]);
    assert!(
        listed.contains("clerk") && listed.contains("order:create order:read"),
        "{listed}"
    );
    cli_ok(
        &app,
        &["user", "grant", "--username", "olga", "--role", "clerk"],
    );

    // The same session sees the new codes: the CLI's change reaches the running server.
    let started = Instant::now();
    loop {
        let codes = app.get_auth_json("/api/v1/auth/codes", &t).await;
        if codes["data"] == json!(["order:create", "order:read"]) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{codes}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    let res = app.verify(Some(&t), "?permission=order:create", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(remote(&res, "remote-user").as_deref(), Some("olga"));
    assert_eq!(remote(&res, "remote-groups").as_deref(), Some("clerk"));

    let secret = app.api_client("orders-api");
    let body: Value = app
        .introspect(("orders-api", &secret), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["scope"], "order:create order:read");
    assert_eq!(body["username"], "olga");

    cli_ok(&app, &["role", "forbid", "clerk", "order:create"]);
    refused_within_a_second(&app, &t, "order:create").await;
    cli_ok(
        &app,
        &["user", "ungrant", "--username", "olga", "--role", "clerk"],
    );
    refused_within_a_second(&app, &t, "order:read").await;
    cli_ok(&app, &["role", "delete", "clerk"]);
    assert!(!cli_ok(&app, &["role", "list"]).contains("clerk"));
}

#[actix_web::test]
async fn forward_auth_answers_like_the_validator_and_names_the_user() {
    let app = spawn_app().await;
    let uid = app
        .create_user_full("paula", PASSWORD, Some("paula@example.com"), false)
        .await;
    let t = token(&app.login("paula", PASSWORD).await, "access_token");

    for method in ["GET", "POST", "HEAD", "DELETE"] {
        let res = app
            .client
            .request(method.parse().unwrap(), app.url("/api/v1/auth/verify"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{method}");
    }
    let res = app.verify(Some(&t), "", &[]).await;
    assert_eq!(remote(&res, "remote-user").as_deref(), Some("paula"));
    assert_eq!(remote(&res, "remote-user-id"), Some(uid.to_string()));
    assert_eq!(remote(&res, "remote-name").as_deref(), Some("paula"));
    assert_eq!(
        remote(&res, "remote-email").as_deref(),
        Some(""),
        "an unverified address is not told"
    );
    assert_eq!(
        remote(&res, "remote-email-verified").as_deref(),
        Some("false")
    );
    assert_eq!(remote(&res, "remote-groups").as_deref(), Some(""));

    let vera = app
        .create_user_full("vera", PASSWORD, Some("vera@example.com"), false)
        .await;
    app.repo.set_email_verified(vera, true).await.unwrap();
    let v = token(&app.login("vera", PASSWORD).await, "access_token");
    let res = app.verify(Some(&v), "", &[]).await;
    assert_eq!(
        remote(&res, "remote-email").as_deref(),
        Some("vera@example.com")
    );
    assert_eq!(
        remote(&res, "remote-email-verified").as_deref(),
        Some("true")
    );

    let res = app.verify(None, "", &[]).await;
    assert_eq!(
        www_authenticate(&res).as_deref(),
        Some("Bearer realm=\"portcullis\"")
    );
    assert_error(res, 401, "unauthorized").await;
    let res = app.verify(Some("not.a.token"), "", &[]).await;
    assert_error(res, 401, "invalid_token").await;
    let res = app
        .verify(None, "", &[("authorization", "Bearer a b")])
        .await;
    assert_error(res, 400, "invalid_request").await;

    // A superuser passes every permission.
    app.create_user_with("root1", PASSWORD, true).await;
    let root = token(&app.login("root1", PASSWORD).await, "access_token");
    assert_eq!(
        app.verify(Some(&root), "?permission=anything:at:all", &[])
            .await
            .status(),
        200
    );

    // Logged out: refused on the next request.
    assert_eq!(app.post_auth("/api/v1/auth/logout", &t).await.status(), 200);
    assert_error(app.verify(Some(&t), "", &[]).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn introspection_answers_rfc_7662_to_api_clients_only() {
    let app = spawn_app().await;
    app.create_user("rosa").await;
    let data = app.login("rosa", PASSWORD).await;
    let t = token(&data, "access_token");
    let secret = app.api_client("billing");
    let client = ("billing", secret.as_str());

    let res = app.introspect(client, &t).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
    for field in [
        "sub",
        "username",
        "sid",
        "exp",
        "iat",
        "nbf",
        "iss",
        "aud",
        "token_type",
        "scope",
    ] {
        assert!(!body[field].is_null(), "{field} in {body}");
    }
    assert_eq!(body["sid"], data["session_uuid"]);
    assert!(body.get("code").is_none(), "not the envelope");

    for (what, token) in [
        ("unknown", "a.b.c".to_owned()),
        ("refresh token", token(&data, "refresh_token")),
        ("garbage", "\u{1}".to_owned()),
    ] {
        let body: Value = app.introspect(client, &token).await.json().await.unwrap();
        assert_eq!(body, json!({"active": false}), "{what}");
    }
    for bad in [("billing", "wrong secret"), ("nobody", secret.as_str())] {
        let res = app.introspect(bad, &t).await;
        assert_eq!(res.status(), 401);
        assert!(www_authenticate(&res).unwrap().starts_with("Basic"));
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/introspect"))
        .form(&[("token", t.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "no client credentials");

    // Revoked, then expired.
    assert_eq!(app.post_auth("/api/v1/auth/logout", &t).await.status(), 200);
    let body: Value = app.introspect(client, &t).await.json().await.unwrap();
    assert_eq!(body, json!({"active": false}), "revoked");
    let t2 = token(&app.login("rosa", PASSWORD).await, "access_token");
    app.clock
        .advance(app.settings.jwt.access_ttl_seconds + app.settings.jwt.leeway_seconds as i64 + 1);
    let body: Value = app.introspect(client, &t2).await.json().await.unwrap();
    assert_eq!(body, json!({"active": false}), "expired");

    let listed = cli_ok(&app, &["client", "list"]);
    assert!(listed.contains("billing"), "{listed}");
    assert!(!listed.contains(&secret), "the secret is never shown again");
    assert!(listed.contains("audience any"), "{listed}");
    cli_ok(&app, &["client", "delete", "--id", "billing"]);
    // The server hears of the deletion through the invalidation log (it kept the credentials).
    let started = Instant::now();
    while app.introspect(client, &t2).await.status() != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "deleted, still let in"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn superusers_manage_roles_over_rest() {
    let app = spawn_app().await;
    app.create_user_with("boss", PASSWORD, true).await;
    let uid = app.create_user("sam").await;
    let boss = token(&app.login("boss", PASSWORD).await, "access_token");
    let sam = token(&app.login("sam", PASSWORD).await, "access_token");
    let send = |method: &str, path: &str, who: &str, body: Value| {
        app.client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(who)
            .json(&body)
            .send()
    };

    let res = send("POST", "/api/v1/sys/roles", &sam, json!({"name": "x"}))
        .await
        .unwrap();
    assert_error(res, 403, "insufficient_scope").await;
    let created: Value = send(
        "POST",
        "/api/v1/sys/roles",
        &boss,
        json!({"name": "editor", "codes": ["doc:edit"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let rid = created["data"]["id"].as_i64().unwrap();
    assert_eq!(created["data"]["codes"], json!(["doc:edit"]));
    let res = send(
        "POST",
        "/api/v1/sys/roles",
        &boss,
        json!({"name": "editor"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
    let res = send(
        "POST",
        "/api/v1/sys/roles",
        &boss,
        json!({"name": "bad", "codes": ["has space"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);

    let res = send(
        "PUT",
        &format!("/api/v1/sys/users/{uid}/roles"),
        &boss,
        json!({"roles": [rid]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_auth_json("/api/v1/auth/codes", &sam).await["data"],
        json!(["doc:edit"])
    );
    let res = send(
        "PUT",
        &format!("/api/v1/sys/roles/{rid}/permissions"),
        &boss,
        json!({"codes": ["doc:edit", "doc:publish"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_auth_json("/api/v1/auth/codes", &sam).await["data"],
        json!(["doc:edit", "doc:publish"])
    );
    let res = send(
        "PUT",
        &format!("/api/v1/sys/roles/{rid}"),
        &boss,
        json!({"status": 0}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_auth_json("/api/v1/auth/codes", &sam).await["data"],
        json!([]),
        "a disabled role grants nothing"
    );
    let listed: Value = app.get_auth_json("/api/v1/sys/roles", &boss).await;
    assert_eq!(listed["data"][0]["status"], 0);
    let res = send(
        "DELETE",
        &format!("/api/v1/sys/roles/{rid}"),
        &boss,
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let res = send(
        "DELETE",
        &format!("/api/v1/sys/roles/{rid}"),
        &boss,
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn a_role_change_reaches_every_node_at_once() {
    if !production_mode() {
        eprintln!("two nodes share a store in production mode only");
        return;
    }
    let (settings, dir) = test_settings().await;
    let a = spawn_with(settings.clone(), dir.clone()).await;
    let b = spawn_with(settings, dir).await;
    a.create_user("tina").await;
    let t = token(&a.login("tina", PASSWORD).await, "access_token");
    cli_ok(
        &a,
        &["role", "create", "viewer", "--permission", "report:view"],
    );
    cli_ok(
        &a,
        &["user", "grant", "--username", "tina", "--role", "viewer"],
    );
    assert_eq!(
        b.verify(Some(&t), "?permission=report:view", &[])
            .await
            .status(),
        200,
        "cached on B"
    );
    cli_ok(&a, &["role", "forbid", "viewer", "report:view"]);
    let started = Instant::now();
    while b
        .verify(Some(&t), "?permission=report:view", &[])
        .await
        .status()
        != 403
    {
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "node B still grants the removed code"
        );
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
}
