//! Social login against fake GitHub and Google servers (wiremock) and a real OpenID Connect
//! provider (the npm package oidc-provider, on loopback).

use std::collections::BTreeMap;

use portcullis::config::{ProviderKind, ProviderSettings};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

pub const FRONTEND: &str = "http://localhost:5173/oauth2/callback";
const FRONTEND_ERROR: &str = "http://localhost:5173/login";
const FRONTEND_BIND: &str = "http://localhost:5173/profile";

pub fn provider(kind: ProviderKind, base: &str) -> ProviderSettings {
    ProviderSettings {
        kind,
        client_id: "test-client".into(),
        client_secret: "test-secret".into(),
        redirect_uri: "http://127.0.0.1:1/api/v1/oauth2/callback".into(),
        scopes: None,
        issuer: None,
        auth_url: Some(format!("{base}/authorize")),
        token_url: Some(format!("{base}/token")),
        userinfo_url: Some(format!("{base}/user")),
        emails_url: Some(format!("{base}/user/emails")),
        display_name: None,
    }
}

pub async fn oauth_app(
    providers: BTreeMap<String, ProviderSettings>,
    link_by_email: bool,
) -> TestApp {
    let (s, dir) = oauth_settings(providers, link_by_email).await;
    spawn_with(s, dir).await
}

/// Test settings with these providers and the frontend's addresses.
pub async fn oauth_settings(
    providers: BTreeMap<String, ProviderSettings>,
    link_by_email: bool,
) -> (portcullis::config::Settings, std::sync::Arc<Resources>) {
    let (mut s, dir) = test_settings().await;
    s.oauth2.providers = providers;
    s.oauth2.frontend_login_url = FRONTEND.into();
    s.oauth2.frontend_error_url = FRONTEND_ERROR.into();
    s.oauth2.frontend_bind_url = FRONTEND_BIND.into();
    s.oauth2.allowed_redirects = vec!["https://app.example.com/done".into()];
    s.oauth2.link_by_verified_email = link_by_email;
    (s, dir)
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

impl TestApp {
    /// Starts a flow; returns the provider's authorize URL.
    pub async fn oauth_start(&self, provider: &str, token: Option<&str>) -> String {
        let req = match token {
            Some(t) => self
                .client
                .get(self.url(&format!("/api/v1/oauth2/{provider}/bind")))
                .bearer_auth(t),
            None => self
                .client
                .get(self.url(&format!("/api/v1/oauth2/{provider}"))),
        };
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        body["data"].as_str().expect("authorize url").to_owned()
    }

    /// Calls the callback as the provider's redirect would; returns where it sends the browser.
    pub async fn oauth_callback(&self, provider: &str, query: &[(&str, &str)]) -> String {
        let res = self
            .client
            .get(self.url(&format!("/api/v1/oauth2/{provider}/callback")))
            .query(query)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "the callback always redirects");
        location(&res)
    }

    pub async fn oauth_exchange(&self, code: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/oauth2/exchange"))
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap()
    }

    /// start → callback → exchange; returns the login data.
    pub async fn oauth_login(&self, provider: &str) -> Value {
        let url = self.oauth_start(provider, None).await;
        let state = query_param(&url, "state").unwrap();
        let landing = self
            .oauth_callback(provider, &[("code", "good-code"), ("state", &state)])
            .await;
        assert!(landing.starts_with(FRONTEND), "{landing}");
        assert!(
            !landing.contains("token"),
            "no token in the redirect: {landing}"
        );
        let code = query_param(&landing, "code").expect("one-time code");
        let res = self.oauth_exchange(&code).await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["data"].clone()
    }
}

pub async fn fake_github(user: Value, emails: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(emails))
        .mount(&server)
        .await;
    server
}

pub async fn github_app(user: Value, emails: Value, link: bool) -> (TestApp, MockServer) {
    let server = fake_github(user, emails).await;
    let app = oauth_app(
        BTreeMap::from([(
            "github".into(),
            provider(ProviderKind::Github, &server.uri()),
        )]),
        link,
    )
    .await;
    (app, server)
}

#[actix_web::test]
async fn github_user_with_a_null_name_and_a_private_email() {
    let user = json!({"id": 583231, "login": "octocat", "name": null, "email": null, "avatar_url": "https://avatars.example/u/583231"});
    let emails = json!([
        {"email": "old@example.com", "primary": false, "verified": true},
        {"email": "octocat@private.example", "primary": true, "verified": true}
    ]);
    let (app, _server) = github_app(user, emails, false).await;
    let url = app.oauth_start("github", None).await;
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("code_challenge="),
        "{url}"
    );
    let first = app.oauth_login("github").await;
    let u = &first["user"];
    assert_eq!(u["username"], "octocat");
    assert_eq!(u["nickname"], "octocat");
    assert_eq!(u["email"], "octocat@private.example");
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["has_password"], false);
    assert_eq!(u["avatar"], "https://avatars.example/u/583231");
    let me: Value = app
        .me(&token(&first, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "octocat");
    let sessions: Value = app
        .get_auth("/api/v1/auth/sessions", &token(&first, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["data"][0]["method"], "oauth2:github");

    let second = app.oauth_login("github").await;
    assert_eq!(
        second["user"]["id"], first["user"]["id"],
        "the same identity is the same user"
    );
}

/// A fake OpenID Connect provider: discovery, a key set, and a token endpoint that answers an
/// ID token signed with a test Ed25519 key (a real signature, checked by the server).
pub struct FakeIdp {
    pub server: MockServer,
}

/// A key made for these tests only.
const IDP_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIIonv822YwEJXE35n/Jkt742lxrEepM9O+MIGf3LXU4t
-----END PRIVATE KEY-----
";

impl FakeIdp {
    pub async fn start() -> Self {
        use openidconnect::core::CoreEdDsaPrivateSigningKey;
        use openidconnect::{JsonWebKeyId, PrivateSigningKey};
        let server = MockServer::start().await;
        let uri = server.uri();
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": uri,
                "authorization_endpoint": format!("{uri}/authorize"),
                "token_endpoint": format!("{uri}/token"),
                "jwks_uri": format!("{uri}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["EdDSA"],
            })))
            .mount(&server)
            .await;
        let key = CoreEdDsaPrivateSigningKey::from_ed25519_pem(
            IDP_KEY,
            Some(JsonWebKeyId::new("k1".into())),
        )
        .unwrap();
        let jwk = serde_json::to_value(key.as_verification_key()).unwrap();
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": [jwk] })))
            .mount(&server)
            .await;
        Self { server }
    }

    pub fn issuer(&self) -> String {
        self.server.uri()
    }

    /// The provider settings that point at it.
    pub fn settings(&self, kind: ProviderKind) -> ProviderSettings {
        ProviderSettings {
            kind,
            client_id: "test-client".into(),
            client_secret: "test-secret".into(),
            redirect_uri: "http://127.0.0.1:1/api/v1/oauth2/callback".into(),
            scopes: None,
            issuer: Some(self.issuer()),
            auth_url: None,
            token_url: None,
            userinfo_url: None,
            emails_url: None,
            display_name: None,
        }
    }

    /// A signed ID token with exactly these claims.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        let key = jsonwebtoken::EncodingKey::from_ed_pem(IDP_KEY.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// The usual claims for `sub`, with the nonce the flow sent.
    pub fn claims(&self, sub: &str, nonce: &str) -> Value {
        #[allow(clippy::disallowed_methods)] // the fake provider's own clock
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer(), "aud": "test-client", "sub": sub, "nonce": nonce,
            "iat": now, "exp": now + 300,
        })
    }

    /// The next code exchange answers this ID token (once).
    pub async fn answer(&self, id_token: &str) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "at-test", "token_type": "Bearer", "expires_in": 3599,
                "id_token": id_token,
            })))
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }
}

impl TestApp {
    /// start → the provider answers `claims` (plus the flow's nonce) → callback; returns where
    /// the browser lands.
    pub async fn oidc_round(
        &self,
        provider: &str,
        idp: &FakeIdp,
        claims: impl FnOnce(&str) -> Value,
    ) -> String {
        let url = self.oauth_start(provider, None).await;
        let state = query_param(&url, "state").unwrap();
        let nonce = query_param(&url, "nonce").expect("a nonce in the authorize URL");
        idp.answer(&idp.sign(&claims(&nonce))).await;
        self.oauth_callback(provider, &[("code", "good-code"), ("state", &state)])
            .await
    }
}

#[actix_web::test]
async fn google_signs_in_with_its_verified_id_token() {
    let idp = FakeIdp::start().await;
    let app = oauth_app(
        BTreeMap::from([("google".into(), idp.settings(ProviderKind::Google))]),
        false,
    )
    .await;
    let landing = app
        .oidc_round("google", &idp, |nonce| {
            let mut c = idp.claims("110169484474386276334", nonce);
            c["name"] = json!("Jane Roe");
            c["email"] = json!("jane.roe@gmail.example");
            c["email_verified"] = json!(true);
            c["picture"] = json!("https://lh3.example/photo.jpg");
            c
        })
        .await;
    let code = query_param(&landing, "code").unwrap_or_else(|| panic!("{landing}"));
    let res = app.oauth_exchange(&code).await;
    assert_eq!(res.status(), 200);
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(data["user"]["username"], "jane.roe");
    assert_eq!(data["user"]["nickname"], "Jane Roe");
    assert_eq!(data["user"]["email_verified"], true);
}

#[actix_web::test]
async fn bad_states_and_reused_codes_are_refused() {
    let (app, _server) = github_app(json!({"id": 1, "login": "stateful"}), json!([]), false).await;
    let error_of = |landing: String| {
        assert!(landing.starts_with(FRONTEND_ERROR), "{landing}");
        query_param(&landing, "error").unwrap()
    };
    // missing
    assert_eq!(
        error_of(app.oauth_callback("github", &[("code", "c")]).await),
        "invalid_state"
    );
    // unknown
    assert_eq!(
        error_of(
            app.oauth_callback("github", &[("code", "c"), ("state", "made-up")])
                .await
        ),
        "invalid_state"
    );
    // reused
    let state = query_param(&app.oauth_start("github", None).await, "state").unwrap();
    let landing = app
        .oauth_callback("github", &[("code", "c"), ("state", &state)])
        .await;
    assert!(landing.starts_with(FRONTEND));
    assert_eq!(
        error_of(
            app.oauth_callback("github", &[("code", "c"), ("state", &state)])
                .await
        ),
        "invalid_state"
    );
    // the one-time login code works once
    let code = query_param(&landing, "code").unwrap();
    assert_eq!(app.oauth_exchange(&code).await.status(), 200);
    assert_error(app.oauth_exchange(&code).await, 401, "invalid_login_code").await;
    // expired
    let state = query_param(&app.oauth_start("github", None).await, "state").unwrap();
    app.clock.advance(app.settings.oauth2.state_ttl_seconds + 1);
    assert_eq!(
        error_of(
            app.oauth_callback("github", &[("code", "c"), ("state", &state)])
                .await
        ),
        "invalid_state"
    );
    // from another browser (no cookie of the one that started it)
    let state = query_param(&app.oauth_start("github", None).await, "state").unwrap();
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/api/v1/oauth2/github/callback"))
        .query(&[("code", "c"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(location(&res)), "invalid_state");
    // ... and that attempt used the state up: the right browser cannot finish it either.
    assert_eq!(
        error_of(
            app.oauth_callback("github", &[("code", "c"), ("state", &state)])
                .await
        ),
        "invalid_state"
    );
    // a login code that expired
    let state = query_param(&app.oauth_start("github", None).await, "state").unwrap();
    let code = query_param(
        &app.oauth_callback("github", &[("code", "c"), ("state", &state)])
            .await,
        "code",
    )
    .unwrap();
    app.clock.advance(app.settings.oauth2.code_ttl_seconds + 1);
    assert_error(app.oauth_exchange(&code).await, 401, "invalid_login_code").await;
}

#[actix_web::test]
async fn redirect_targets_come_only_from_the_allow_list() {
    let (app, _server) = github_app(json!({"id": 2, "login": "redirecty"}), json!([]), false).await;
    for evil in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://app.example.com.evil.example/done",
        "https://app.example.com/done/../../evil",
        "https://app.example.com/done?x=1",
        "http://localhost:5173.evil.example/oauth2/callback",
        "HTTPS://APP.EXAMPLE.COM/done",
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/oauth2/github"))
            .query(&[("redirect_to", evil)])
            .send()
            .await
            .unwrap();
        assert_error(res, 400, "invalid_redirect").await;
    }
    let res = app
        .client
        .get(app.url("/api/v1/oauth2/github"))
        .query(&[
            ("redirect_to", "https://app.example.com/done"),
            ("redirect", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let state = query_param(&location(&res), "state").unwrap();
    let landing = app
        .oauth_callback("github", &[("code", "c"), ("state", &state)])
        .await;
    assert!(
        landing.starts_with("https://app.example.com/done?code="),
        "{landing}"
    );
}

#[actix_web::test]
async fn an_unverified_email_never_links_to_an_existing_account() {
    let user =
        json!({"id": 77, "login": "takeover", "name": "Taker", "email": "victim@example.com"});
    // GitHub says nothing verified: the profile email is only a claim.
    let (app, _server) = github_app(user, json!([]), true).await;
    let victim = app
        .create_user_full("victim", PASSWORD, Some("victim@example.com"), false)
        .await;
    let data = app.oauth_login("github").await;
    assert_ne!(data["user"]["id"], victim);
    assert_eq!(data["user"]["username"], "takeover");
    assert!(
        data["user"]["email"].is_null(),
        "the taken address is not copied"
    );
}

#[actix_web::test]
async fn a_verified_email_links_only_when_configured() {
    let user = json!({"id": 78, "login": "linker", "name": "Linker"});
    let emails = json!([{"email": "owner@example.com", "primary": true, "verified": true}]);
    for (link, expect_link) in [(false, false), (true, true)] {
        let (app, _server) = github_app(user.clone(), emails.clone(), link).await;
        let owner = app
            .create_user_full("owner", PASSWORD, Some("owner@example.com"), false)
            .await;
        app.repo.set_email_verified(owner, true).await.unwrap();
        let data = app.oauth_login("github").await;
        assert_eq!(
            data["user"]["id"] == owner,
            expect_link,
            "link_by_verified_email = {link}: {data}"
        );
    }
}

#[actix_web::test]
async fn binding_attaches_to_the_logged_in_user_and_unbinding_keeps_a_way_in() {
    let (app, server) = github_app(json!({"id": 90, "login": "binder"}), json!([]), false).await;
    app.create_user("pwuser").await;
    let t = token(&app.login("pwuser", PASSWORD).await, "access_token");
    let url = app.oauth_start("github", Some(&t)).await;
    let state = query_param(&url, "state").unwrap();
    let landing = app
        .oauth_callback("github", &[("code", "c"), ("state", &state)])
        .await;
    assert_eq!(landing, format!("{FRONTEND_BIND}?bound=github"));
    let list: Value = app.get_auth_json("/api/v1/oauth2/me/bindings", &t).await;
    assert_eq!(list["data"][0]["provider"], "github");
    assert_eq!(list["data"][0]["provider_user_id"], "90");
    // Logging in with that identity is now this user.
    let data = app.oauth_login("github").await;
    assert_eq!(data["user"]["username"], "pwuser");

    // Another user cannot bind the same identity.
    app.create_user("other").await;
    let t2 = token(&app.login("other", PASSWORD).await, "access_token");
    let state = query_param(&app.oauth_start("github", Some(&t2)).await, "state").unwrap();
    let landing = app
        .oauth_callback("github", &[("code", "c"), ("state", &state)])
        .await;
    assert_eq!(
        query_param(&landing, "error").as_deref(),
        Some("identity_taken")
    );

    // The password user may unbind; then the identity makes a new user.
    let res = app
        .client
        .delete(app.url("/api/v1/oauth2/me/bindings/github"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .delete(app.url("/api/v1/oauth2/me/bindings/github"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    drop(server);

    // A user created by social login has no password: its only binding cannot go.
    let (app, _server) =
        github_app(json!({"id": 91, "login": "socialonly"}), json!([]), false).await;
    let data = app.oauth_login("github").await;
    let t = token(&data, "access_token");
    let res = app
        .client
        .delete(app.url("/api/v1/oauth2/me/bindings/github"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "last_login_method").await;
}

#[actix_web::test]
async fn provider_failures_end_on_the_error_url_and_in_the_log() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": "bad_verification_code"})),
        )
        .mount(&server)
        .await;
    let mut providers = BTreeMap::from([(
        "github".into(),
        provider(ProviderKind::Github, &server.uri()),
    )]);
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "x", "token_type": "bearer"})),
        )
        .mount(&broken)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .mount(&broken)
        .await;
    providers.insert(
        "broken".into(),
        provider(ProviderKind::Github, &broken.uri()),
    );
    providers.insert(
        "down".into(),
        provider(ProviderKind::Github, "http://127.0.0.1:9"),
    );
    let app = oauth_app(providers, false).await;
    app.create_user_with("root", PASSWORD, true).await;

    let run = |p: &'static str, extra: Option<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let state = query_param(&app.oauth_start(p, None).await, "state").unwrap();
            let mut q = vec![("state", state.clone())];
            match extra {
                Some((k, v)) => q.push((k, v.to_owned())),
                None => q.push(("code", "some-code".to_owned())),
            }
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let landing = app.oauth_callback(p, &q).await;
            assert!(landing.starts_with(FRONTEND_ERROR), "{landing}");
            query_param(&landing, "error").unwrap()
        }
    };
    assert_eq!(
        run("github", Some(("error", "access_denied"))).await,
        "access_denied"
    );
    assert_eq!(run("github", None).await, "invalid_grant");
    assert_eq!(run("broken", None).await, "invalid_userinfo");
    assert_eq!(run("down", None).await, "provider_unreachable");

    let admin = token(&app.login("root", PASSWORD).await, "access_token");
    let rows = app.login_log(&admin, 5).await;
    let failures = rows
        .iter()
        .filter(|r| r["reason"] == "oauth2_failed")
        .count();
    assert_eq!(failures, 4, "{rows:?}");
    let unknown = app
        .client
        .get(app.url("/api/v1/oauth2/nope"))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "not_found").await;
}
