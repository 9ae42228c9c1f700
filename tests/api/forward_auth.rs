//! Forward-auth's rules against what a client can say about itself: only the header set the
//! proxy writes, only from a trusted proxy; paths judged as the backend routes them; a request
//! that cannot be read is a 400, never "no rule matched". (tests/api/nginx.rs drives the same
//! cases through a real nginx.)

use portcullis::config::{AccessRule, DefaultAccess, ForwardedHeaders, Settings};
use reqwest::header::HeaderValue;

use crate::helpers::*;

fn rule(methods: &[&str], host: Option<&str>, path: &str, need: Option<&str>) -> AccessRule {
    AccessRule {
        methods: methods.iter().map(|m| m.to_string()).collect(),
        host: host.map(Into::into),
        path: path.into(),
        permission: need.filter(|n| *n != "public").map(Into::into),
        public: need == Some("public"),
        mfa: false,
    }
}

/// The rules of docs/protecting-an-api.md's example.
fn documented_rules(s: &mut Settings) {
    s.forward_auth.rules = vec![
        rule(&[], None, "/healthz", Some("public")),
        rule(&[], None, "/public/**", Some("public")),
        rule(&["POST", "DELETE"], None, "/orders/**", Some("order:write")),
        rule(&[], Some("admin.example.com"), "/**", Some("admin:access")),
    ];
}

async fn app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (mut s, dir) = test_settings().await;
    configure(&mut s);
    spawn_with(s, dir).await
}

impl TestApp {
    /// Asks forward-auth about `method path`, as the proxy would in the given header set.
    async fn ask(&self, token: Option<&str>, headers: &[(&str, &[u8])]) -> reqwest::Response {
        let mut req = self.client.get(self.url("/api/v1/auth/verify"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(*name, HeaderValue::from_bytes(value).unwrap());
        }
        req.send().await.unwrap()
    }

    async fn ask_original(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
    ) -> reqwest::Response {
        self.ask(
            token,
            &[
                ("x-original-method", method.as_bytes()),
                ("x-original-uri", uri.as_bytes()),
                ("x-original-host", b"api.example.com"),
            ],
        )
        .await
    }
}

#[actix_web::test]
async fn the_headers_of_the_other_set_are_never_believed() {
    let app = app_with(documented_rules).await;
    app.create_user("quinn").await;
    let t = token(&app.login("quinn", PASSWORD).await, "access_token");

    // The proxy (nginx: x-original) says what it holds; the client adds the other set.
    let spoofed = app
        .ask(
            None,
            &[
                ("x-original-method", b"GET"),
                ("x-original-uri", b"/orders/7"),
                ("x-original-host", b"api.example.com"),
                ("x-forwarded-uri", b"/healthz"),
                ("x-forwarded-method", b"GET"),
            ],
        )
        .await;
    assert_error(spoofed, 401, "unauthorized").await;
    let spoofed_method = app
        .ask(
            Some(&t),
            &[
                ("x-original-method", b"DELETE"),
                ("x-original-uri", b"/orders/7"),
                ("x-original-host", b"api.example.com"),
                ("x-forwarded-method", b"GET"),
            ],
        )
        .await;
    assert_error(spoofed_method, 403, "insufficient_scope").await;

    // Only the other set: the request cannot be judged.
    let other_only = app
        .ask(
            None,
            &[
                ("x-forwarded-uri", b"/healthz"),
                ("x-forwarded-method", b"GET"),
                ("x-forwarded-host", b"api.example.com"),
            ],
        )
        .await;
    assert_error(other_only, 400, "invalid_forwarded_request").await;
    assert_eq!(
        app.ask_original(None, "GET", "/healthz").await.status(),
        200,
        "public through the configured set"
    );
}

#[actix_web::test]
async fn the_x_forwarded_set_is_read_when_configured() {
    let app = app_with(|s| {
        documented_rules(s);
        s.forward_auth.headers = ForwardedHeaders::XForwarded;
    })
    .await;
    let public = app
        .ask(
            None,
            &[
                ("x-forwarded-method", b"GET"),
                ("x-forwarded-uri", b"/healthz"),
                ("x-forwarded-host", b"api.example.com"),
            ],
        )
        .await;
    assert_eq!(public.status(), 200);
    let spoofed = app
        .ask(
            None,
            &[
                ("x-forwarded-method", b"GET"),
                ("x-forwarded-uri", b"/orders/1"),
                ("x-forwarded-host", b"api.example.com"),
                ("x-original-uri", b"/healthz"),
            ],
        )
        .await;
    assert_error(spoofed, 401, "unauthorized").await;
}

#[actix_web::test]
async fn a_peer_that_is_not_a_trusted_proxy_is_not_believed() {
    // This test's requests come from loopback, which is not the listed proxy.
    let app = app_with(|s| {
        documented_rules(s);
        s.rate_limit.trusted_proxies = vec!["192.0.2.10/32".into()];
    })
    .await;
    let res = app.ask_original(None, "GET", "/healthz").await;
    assert_error(res, 400, "invalid_forwarded_request").await;
}

#[actix_web::test]
async fn a_request_that_cannot_be_read_is_a_400_not_a_missed_rule() {
    let app = app_with(documented_rules).await;
    app.create_user("rhea").await;
    let t = token(&app.login("rhea", PASSWORD).await, "access_token");
    let cases: [&[(&str, &[u8])]; 6] = [
        &[("x-original-uri", b"/orders/7")],
        &[("x-original-method", b"DELETE")],
        &[
            ("x-original-method", b"DELETE"),
            ("x-original-uri", b"/orders/\xff7"),
        ],
        &[("x-original-method", b"DELETE"), ("x-original-uri", b"")],
        &[
            ("x-original-method", b"DE LETE"),
            ("x-original-uri", b"/orders/7"),
        ],
        // A rule names a host: a request without one cannot be judged either.
        &[("x-original-method", b"GET"), ("x-original-uri", b"/x")],
    ];
    for headers in cases {
        let res = app.ask(Some(&t), headers).await;
        assert_error(res, 400, "invalid_forwarded_request").await;
    }
}

#[actix_web::test]
async fn paths_are_judged_as_the_backend_routes_them() {
    let app = app_with(documented_rules).await;
    app.create_user("sage").await;
    let t = token(&app.login("sage", PASSWORD).await, "access_token");
    for (method, uri) in [
        ("POST", "/orders"),
        ("POST", "/orders/"),
        ("DELETE", "/%6Frders/7"),
        ("DELETE", "//orders//7"),
        ("delete", "/orders/7?x=1"),
        // Tomcat and Spring drop path parameters before routing.
        ("DELETE", "/orders;jsessionid=1/7"),
    ] {
        let res = app.ask_original(Some(&t), method, uri).await;
        assert_error(res, 403, "insufficient_scope").await;
    }
    for uri in [
        "/public/../orders/7",
        "/public/%2e%2e/orders/7",
        "/public/%2Forders",
        "/public/%5Corders",
        "/public\\..\\orders",
        "/public/..;/orders/7",
        "/public/%2e%2e;x/orders/7",
    ] {
        let res = app.ask_original(None, "DELETE", uri).await;
        assert_error(res, 400, "invalid_forwarded_request").await;
    }
    assert_eq!(
        app.ask_original(None, "GET", "/public/%61pp.css")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.ask_original(Some(&t), "GET", "/orders/7")
            .await
            .status(),
        200
    );
}

#[actix_web::test]
async fn what_no_rule_matches_can_be_denied() {
    let app = app_with(|s| {
        s.forward_auth.rules = vec![rule(&[], None, "/public/**", Some("public"))];
        s.forward_auth.default = DefaultAccess::Deny;
    })
    .await;
    app.create_user_with("root2", PASSWORD, true).await;
    let t = token(&app.login("root2", PASSWORD).await, "access_token");
    assert_error(
        app.ask_original(Some(&t), "GET", "/other").await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.ask_original(None, "GET", "/public").await.status(), 200);
}
