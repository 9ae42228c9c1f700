//! Portcullis as an OpenID Connect provider: a relying party built on the `openidconnect` crate
//! runs discovery, the code flow with PKCE, ID-token validation and userinfo; and the flow's
//! rules, each with a test: single-use codes bound to client, redirect URI and verifier,
//! errors shown on the page before the redirect URI is trusted, consent, `prompt`, client
//! authentication, and tokens that die with their session.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyAdditionalClaims, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use portcullis::oidc::clients::{ClientSpec, Grant, IdTokenAlg};
use reqwest::{Response, Url};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use crate::helpers::*;

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";
const BYE: &str = "http://127.0.0.1:9/signed-out";
/// RFC 7636 appendix B's pair.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn spec(first_party: bool) -> ClientSpec {
    ClientSpec {
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
        scopes: ["openid", "profile", "email", "roles", "offline_access"]
            .map(String::from)
            .into(),
        backchannel_logout_uri: None,
        first_party,
        id_token_alg: IdTokenAlg::Rs256,
        resources: Vec::new(),
    }
}

/// A confidential client; its secret.
pub(crate) async fn register(app: &TestApp, id: &str, first_party: bool) -> String {
    let (_, secret) = app
        .oidc_clients
        .create(id, false, spec(first_party))
        .await
        .expect("client registered");
    secret.expect("a confidential client has a secret")
}

/// Signs in at the provider as its page does: the login, then the browser's cookie.
pub(crate) async fn sign_in_browser(app: &TestApp, username: &str) -> Value {
    let data = app.login(username, PASSWORD).await;
    let res = app
        .client
        .post(app.url("/oidc/session"))
        .bearer_auth(token(&data, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["portcullis_sso=", "HttpOnly", "SameSite=Lax", "Path=/oidc"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    data
}

pub(crate) fn request<'a>(
    client: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut q = vec![
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        q.retain(|(qk, _)| qk != k);
        if !v.is_empty() {
            q.push((k, v));
        }
    }
    q
}

pub(crate) async fn authorize(app: &TestApp, query: &[(&str, &str)]) -> Response {
    app.client
        .get(app.url("/oidc/authorize"))
        .query(query)
        .send()
        .await
        .unwrap()
}

fn location(res: &Response) -> Url {
    let to = res
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in a {} answer", res.status()))
        .to_str()
        .unwrap();
    Url::parse(to).unwrap()
}

pub(crate) fn answer(res: &Response) -> HashMap<String, String> {
    assert_eq!(res.status(), 302);
    let url = location(res);
    assert!(url.as_str().starts_with(REDIRECT), "{url}");
    url.query_pairs().into_owned().collect()
}

/// A code for `client`, from a browser signed in as `user`.
pub(crate) async fn code_for(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> String {
    let res = authorize(app, &request(client, extra)).await;
    let q = answer(&res);
    q.get("code").cloned().unwrap_or_else(|| panic!("{q:?}"))
}

pub(crate) async fn exchange(
    app: &TestApp,
    client: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> Response {
    app.client
        .post(app.url("/oidc/token"))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn code_grant(app: &TestApp, client: &str, secret: &str, code: &str) -> Response {
    exchange(
        app,
        client,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

pub(crate) async fn oauth_error(res: Response, status: u16, error: &str) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

#[actix_web::test]
async fn a_relying_party_signs_in_with_discovery_pkce_an_id_token_and_userinfo() {
    let app = spawn_app().await;
    app.create_user_full("alice", PASSWORD, Some("alice@example.com"), false)
        .await;
    let secret = register(&app, "notes", true).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(app.address.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery passes the crate's checks (issuer, endpoints, keys)");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("notes".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    sign_in_browser(&app, "alice").await;
    let res = app.client.get(url.as_str()).send().await.unwrap();
    let q = answer(&res);
    assert_eq!(q["state"], *state.secret());
    assert_eq!(q["iss"], app.address, "RFC 9207");
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("signature (RS256, from JWKS), iss, aud, exp and nonce verify");
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "alice",
        "scope profile"
    );
    assert_eq!(claims.email().unwrap().as_str(), "alice@example.com");
    let raw = jwt_claims(&id_token.to_string());
    let header = jwt_header(&id_token.to_string());
    assert_eq!(header["alg"], "RS256");
    let digest = Sha256::digest(tokens.access_token().secret().as_bytes());
    let at_hash = base64_url(&digest[..16]);
    assert_eq!(raw["at_hash"], at_hash);
    for claim in ["sid", "auth_time", "acr"] {
        assert!(!raw[claim].is_null(), "{claim} in {raw}");
    }
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]));
    // The access token: RFC 9068's profile, for this client.
    let at = jwt_claims(tokens.access_token().secret());
    assert_eq!(at["aud"], "notes");
    assert_eq!(at["client_id"], "notes");
    assert_eq!(at["scope"], "openid profile email");
    assert_eq!(jwt_header(tokens.access_token().secret())["typ"], "at+jwt");
    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().unwrap().as_str(), "alice@example.com");
}

fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&base64_url_decode(part)).unwrap()
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[actix_web::test]
async fn a_browser_without_a_session_signs_in_first_and_comes_back() {
    let app = spawn_app().await;
    app.create_user("bob").await;
    let secret = register(&app, "wiki", true).await;
    let res = authorize(&app, &request("wiki", &[])).await;
    assert_eq!(res.status(), 302);
    let to = location(&res);
    assert_eq!(to.path(), "/login");
    let resume: HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert!(!resume.contains_key("fresh"));
    sign_in_browser(&app, "bob").await;
    let back = authorize(&app, &[("resume", &resume["oidc"])]).await;
    let q = answer(&back);
    assert_eq!(
        q["state"], "st-1",
        "the request's state survives the sign-in"
    );
    let tokens: Value = code_grant(&app, "wiki", &secret, &q["code"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-1"
    );
    // The waiting request was single use.
    let again = authorize(&app, &[("resume", &resume["oidc"])]).await;
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
    // A second app needs no second sign-in.
    register(&app, "chat", true).await;
    let q = answer(&authorize(&app, &request("chat", &[])).await);
    assert!(q.contains_key("code"), "{q:?}");
}

#[actix_web::test]
async fn prompt_none_login_and_max_age() {
    let app = spawn_app().await;
    app.create_user("carol").await;
    register(&app, "wiki", true).await;
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none")])).await);
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.address);
    sign_in_browser(&app, "carol").await;
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none")])).await);
    assert!(q.contains_key("code"), "{q:?}");
    for extra in [("prompt", "login"), ("max_age", "0")] {
        app.clock.advance(5);
        let res = authorize(&app, &request("wiki", &[extra])).await;
        let to = location(&res);
        assert_eq!(to.path(), "/login", "{extra:?} asks for a new sign-in");
        assert!(to.query().unwrap().contains("fresh=1"));
    }
    let q = answer(&authorize(&app, &request("wiki", &[("max_age", "3600")])).await);
    assert!(q.contains_key("code"), "a recent enough sign-in: {q:?}");
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none login")])).await);
    assert_eq!(q["error"], "invalid_request");
}

#[actix_web::test]
async fn problems_before_the_redirect_uri_is_trusted_are_shown_never_redirected() {
    let app = spawn_app().await;
    register(&app, "wiki", true).await;
    let cases: [Vec<(&str, &str)>; 4] = [
        request("nobody", &[]),
        request("wiki", &[("redirect_uri", "https://evil.example/callback")]),
        request(
            "wiki",
            &[("redirect_uri", "http://127.0.0.1:9/callback/../x")],
        ),
        request("wiki", &[("redirect_uri", "")]),
    ];
    for query in cases {
        let res = authorize(&app, &query).await;
        assert_eq!(res.status(), 400, "{query:?}");
        assert!(res.headers().get("location").is_none());
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        let page = res.text().await.unwrap();
        assert!(page.contains("oidc-error"), "{page}");
        assert!(!page.contains("evil.example"));
    }
    let repeated = app
        .client
        .get(app.url(
            "/oidc/authorize?client_id=wiki&client_id=wiki&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(repeated.status(), 400);
    assert!(repeated.headers().get("location").is_none());
}

#[actix_web::test]
async fn bad_requests_from_a_known_client_go_back_to_it_with_an_error() {
    let app = spawn_app().await;
    register(&app, "wiki", true).await;
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (
            &[("response_type", "code id_token")],
            "unsupported_response_type",
        ),
        (&[("scope", "profile")], "invalid_scope"),
        (&[("scope", "openid admin")], "invalid_scope"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("max_age", "soon")], "invalid_request"),
        (&[("request", "eyJ.x.y")], "request_not_supported"),
    ];
    for (extra, error) in cases {
        let q = answer(&authorize(&app, &request("wiki", extra)).await);
        assert_eq!(q["error"], error, "{extra:?}");
        assert_eq!(q["state"], "st-1");
        assert!(!q.contains_key("code"));
    }
}

#[actix_web::test]
async fn a_code_is_single_use_bound_to_its_client_redirect_and_verifier_and_short_lived() {
    let app = spawn_app().await;
    app.create_user("dave").await;
    let secret = register(&app, "wiki", true).await;
    let other = register(&app, "chat", true).await;
    sign_in_browser(&app, "dave").await;
    let code = code_for(&app, "wiki", &[]).await;
    let ok = code_grant(&app, "wiki", &secret, &code).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    assert_eq!(ok.headers()["pragma"], "no-cache");
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, &body).await, 200);
    oauth_error(
        code_grant(&app, "wiki", &secret, &code).await,
        400,
        "invalid_grant",
    )
    .await;
    // The replay ends what the code issued (RFC 6749 §4.1.2): its access and refresh tokens.
    assert_eq!(userinfo_status(&app, &body).await, 401, "{access}");
    let refresh = body["refresh_token"].as_str().unwrap();
    oauth_error(
        refresh_grant(&app, "wiki", &secret, refresh).await,
        400,
        "invalid_grant",
    )
    .await;
    // The browser's own session lives on: a new code still comes without a new sign-in.
    let code = code_for(&app, "wiki", &[]).await;
    assert_eq!(code_grant(&app, "wiki", &secret, &code).await.status(), 200);

    let code = code_for(&app, "wiki", &[]).await;
    oauth_error(
        code_grant(&app, "chat", &other, &code).await,
        400,
        "invalid_grant",
    )
    .await;
    oauth_error(
        code_grant(&app, "wiki", &secret, &code).await,
        400,
        "invalid_grant",
    )
    .await;

    for (field, value) in [
        ("redirect_uri", "http://127.0.0.1:9/other"),
        (
            "code_verifier",
            "wrong-wrong-wrong-wrong-wrong-wrong-wrong-wrong",
        ),
        ("code_verifier", ""),
    ] {
        let code = code_for(&app, "wiki", &[]).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        form.retain(|(k, _)| *k != field);
        if !value.is_empty() {
            form.push((field, value));
        }
        let res = exchange(&app, "wiki", &secret, &form).await;
        oauth_error(res, 400, "invalid_grant").await;
    }

    let code = code_for(&app, "wiki", &[]).await;
    app.clock.advance(61);
    oauth_error(
        code_grant(&app, "wiki", &secret, &code).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[actix_web::test]
async fn clients_authenticate_with_basic_or_the_form_and_public_ones_with_pkce_alone() {
    let app = spawn_app().await;
    app.create_user("erin").await;
    let secret = register(&app, "wiki", true).await;
    app.oidc_clients
        .create("mobile", true, spec(true))
        .await
        .unwrap();
    sign_in_browser(&app, "erin").await;

    let code = code_for(&app, "wiki", &[]).await;
    let wrong = code_grant(&app, "wiki", "not-the-secret", &code).await;
    assert!(www_authenticate(&wrong).unwrap().starts_with("Basic"));
    oauth_error(wrong, 401, "invalid_client").await;

    let form = |code: &str, secret: Option<&str>, id: &str| {
        let mut f = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".into(), code.to_owned()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("code_verifier".into(), VERIFIER.into()),
            ("client_id".into(), id.to_owned()),
        ];
        if let Some(s) = secret {
            f.push(("client_secret".into(), s.to_owned()));
        }
        f
    };
    let post = |f: Vec<(String, String)>| app.client.post(app.url("/oidc/token")).form(&f).send();
    let code = code_for(&app, "wiki", &[]).await;
    assert_eq!(
        post(form(&code, Some(&secret), "wiki"))
            .await
            .unwrap()
            .status(),
        200
    );
    let code = code_for(&app, "wiki", &[]).await;
    let res = post(form(&code, None, "wiki")).await.unwrap();
    oauth_error(res, 401, "invalid_client").await;

    let code = code_for(&app, "mobile", &[]).await;
    assert_eq!(
        post(form(&code, None, "mobile")).await.unwrap().status(),
        200
    );
    let q = answer(&authorize(&app, &request("mobile", &[("code_challenge", "")])).await);
    assert_eq!(
        q["error"], "invalid_request",
        "a public client must use PKCE"
    );

    let not_form = app
        .client
        .post(app.url("/oidc/token"))
        .basic_auth("wiki", Some(&secret))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    oauth_error(not_form, 400, "invalid_request").await;
    let res = exchange(&app, "wiki", &secret, &[("grant_type", "password")]).await;
    oauth_error(res, 400, "unsupported_grant_type").await;
}

#[actix_web::test]
async fn consent_is_asked_once_per_scope_and_can_be_refused() {
    let app = spawn_app().await;
    app.create_user("frank").await;
    register(&app, "shop", false).await;
    let frank = token(&sign_in_browser(&app, "frank").await, "access_token");
    let q = answer(&authorize(&app, &request("shop", &[("prompt", "none")])).await);
    assert_eq!(q["error"], "consent_required");

    let consent_page = |res: Response| async move {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        assert!(res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        let page = res.text().await.unwrap();
        assert!(page.contains("shop"), "{page}");
        regex::Regex::new(r#"name="resume" value="([^"]+)""#)
            .unwrap()
            .captures(&page)
            .unwrap()[1]
            .to_owned()
    };
    let decide = |resume: String, decision: &'static str| {
        app.client
            .post(app.url("/oidc/consent"))
            .form(&[("resume", resume.as_str()), ("decision", decision)])
            .send()
    };
    let resume = consent_page(authorize(&app, &request("shop", &[])).await).await;
    let q = answer(&decide(resume, "deny").await.unwrap());
    assert_eq!(q["error"], "access_denied");

    let resume = consent_page(authorize(&app, &request("shop", &[])).await).await;
    let q = answer(&decide(resume.clone(), "allow").await.unwrap());
    assert!(q.contains_key("code"), "{q:?}");
    let used = decide(resume, "allow").await.unwrap();
    assert_eq!(used.status(), 400, "a consent form answers once");

    let q = answer(&authorize(&app, &request("shop", &[])).await);
    assert!(q.contains_key("code"), "remembered: {q:?}");
    // The account page lists it; revoked, the consent is asked again.
    let apps = app.get_auth_json("/api/v1/auth/apps", &frank).await["data"].clone();
    assert_eq!(apps[0]["client_id"], "shop", "{apps}");
    assert_eq!(apps[0]["scopes"], json!(["email", "openid", "profile"]));
    assert!(apps[0]["consented_at"].is_string(), "{apps}");
    assert_eq!(apps[0]["sessions"], 0, "no code was exchanged");
    let res = app
        .client
        .delete(app.url("/api/v1/auth/apps/shop"))
        .bearer_auth(&frank)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    consent_page(authorize(&app, &request("shop", &[])).await).await;
    let resume = consent_page(authorize(&app, &request("shop", &[])).await).await;
    assert!(answer(&decide(resume, "allow").await.unwrap()).contains_key("code"));
    let more = request("shop", &[("scope", "openid profile email roles")]);
    consent_page(authorize(&app, &more).await).await;
    consent_page(authorize(&app, &request("shop", &[("prompt", "consent")])).await).await;

    // Someone else's browser cannot answer the page.
    let resume =
        consent_page(authorize(&app, &request("shop", &[("prompt", "consent")])).await).await;
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = stranger
        .post(app.url("/oidc/consent"))
        .form(&[("resume", resume.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[actix_web::test]
async fn a_session_ended_anywhere_refuses_its_tokens_and_its_cookie() {
    let app = spawn_app().await;
    app.create_user_with("gina", PASSWORD, true).await;
    let secret = register(&app, "wiki", true).await;
    let login = sign_in_browser(&app, "gina").await;
    let code = code_for(&app, "wiki", &[]).await;
    let tokens: Value = code_grant(&app, "wiki", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    // The app's sign-in is in the login log.
    let own = token(&login, "access_token");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let rows = app.get_auth_json("/api/v1/logs/login?size=50", &own).await;
        let found =
            rows["data"]["items"].as_array().unwrap().iter().any(|r| {
                r["method"] == "oidc:wiki" && r["username"] == "gina" && r["success"] == true
            });
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no oidc:wiki row in {rows}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let access = tokens["access_token"].as_str().unwrap();
    let info = app.get_auth("/oidc/userinfo", access).await;
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["preferred_username"], "gina");
    assert!(info.get("roles").is_none(), "scope roles was not asked");
    // A client's token is for that client, not for Portcullis's own API, and the reverse.
    assert_eq!(app.me(access).await.status(), 401);
    assert_eq!(app.get_auth("/oidc/userinfo", &own).await.status(), 401);

    let res = app.post_auth("/api/v1/auth/logout/all", &own).await;
    assert_eq!(res.status(), 200);
    let refused = app.get_auth("/oidc/userinfo", access).await;
    assert_eq!(refused.status(), 401);
    assert!(www_authenticate(&refused)
        .unwrap()
        .contains("invalid_token"));
    let res = authorize(&app, &request("wiki", &[])).await;
    assert_eq!(
        location(&res).path(),
        "/login",
        "the cookie's session ended"
    );
}

#[actix_web::test]
async fn discovery_and_the_keys_name_the_provider() {
    let app = spawn_app().await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], app.address);
    assert_eq!(doc["authorization_endpoint"], app.url("/oidc/authorize"));
    assert_eq!(doc["token_endpoint"], app.url("/oidc/token"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    let keys = app.get_json("/.well-known/jwks.json").await;
    let rsa: Vec<&Value> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .collect();
    assert_eq!(rsa.len(), 1, "{keys}");
    assert_eq!(rsa[0]["alg"], "RS256");
    assert_eq!(rsa[0]["e"], "AQAB");
}

#[actix_web::test]
async fn without_the_provider_its_endpoints_are_not_there() {
    let (mut s, dir) = test_settings().await;
    s.oidc.enabled = false;
    let app = spawn_with(s, dir).await;
    let res = authorize(&app, &request("wiki", &[])).await;
    assert_eq!(res.status(), 404);
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert!(doc.get("authorization_endpoint").is_none(), "{doc}");
    let keys = app.get_json("/.well-known/jwks.json").await;
    assert!(!keys.to_string().contains("RSA"));
}

pub(crate) async fn tokens_of(res: Response) -> Value {
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The ID token a signed-in browser's code for `client` is exchanged for.
async fn id_token_for(app: &TestApp, client: &str, secret: &str, extra: &[(&str, &str)]) -> String {
    let code = code_for(app, client, extra).await;
    let tokens = tokens_of(code_grant(app, client, secret, &code).await).await;
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// RP-initiated logout with `hint`, back to the registered page.
async fn logout_hinted(app: &TestApp, hint: &str) -> Response {
    app.client
        .get(app.url("/oidc/logout"))
        .query(&[("id_token_hint", hint), ("post_logout_redirect_uri", BYE)])
        .send()
        .await
        .unwrap()
}

async fn refresh_grant(app: &TestApp, client: &str, secret: &str, refresh: &str) -> Response {
    exchange(
        app,
        client,
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
}

async fn userinfo_status(app: &TestApp, tokens: &Value) -> u16 {
    app.get_auth("/oidc/userinfo", tokens["access_token"].as_str().unwrap())
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_only_that_apps_session() {
    let app = spawn_app().await;
    app.create_user("hank").await;
    let secret = register(&app, "wiki", true).await;
    let other = register(&app, "chat", true).await;
    let login = sign_in_browser(&app, "hank").await;
    let code = code_for(&app, "wiki", &[]).await;
    let first = tokens_of(code_grant(&app, "wiki", &secret, &code).await).await;
    let refresh = first["refresh_token"].as_str().expect("a refresh token");
    let id = jwt_claims(first["id_token"].as_str().unwrap());
    let at = jwt_claims(first["access_token"].as_str().unwrap());
    assert_ne!(
        at["sid"], id["sid"],
        "the app's own session, not the browser's"
    );

    let second = tokens_of(refresh_grant(&app, "wiki", &secret, refresh).await).await;
    let rotated = second["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh);
    assert_eq!(second["scope"], "openid profile email");
    assert_eq!(userinfo_status(&app, &second).await, 200);

    // Refresh tokens are for the client they were issued to, and for nobody's API but its.
    let res = refresh_grant(&app, "chat", &other, rotated).await;
    oauth_error(res, 400, "invalid_grant").await;
    assert_eq!(
        app.refresh(rotated).await.status(),
        401,
        "not at Portcullis's own refresh"
    );
    let own = token(&login, "refresh_token");
    let res = refresh_grant(&app, "wiki", &secret, &own).await;
    oauth_error(res, 400, "invalid_grant").await;
    let res = exchange(
        &app,
        "wiki",
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated),
            ("scope", "openid roles"),
        ],
    )
    .await;
    oauth_error(res, 400, "invalid_scope").await;

    app.clock
        .advance(app.settings.session.refresh_grace_seconds + 1);
    let res = refresh_grant(&app, "wiki", &secret, refresh).await;
    oauth_error(res, 400, "invalid_grant").await;
    assert_eq!(
        userinfo_status(&app, &second).await,
        401,
        "reuse ends the app's session"
    );
    let res = refresh_grant(&app, "wiki", &secret, rotated).await;
    oauth_error(res, 400, "invalid_grant").await;
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none")])).await);
    assert!(q.contains_key("code"), "the browser's session stays: {q:?}");
}

#[actix_web::test]
async fn an_apps_session_ends_with_the_browser_session_unless_it_has_offline_access() {
    let app = spawn_app().await;
    app.create_user("ivy").await;
    let secret = register(&app, "wiki", true).await;
    sign_in_browser(&app, "ivy").await;
    let code = code_for(&app, "wiki", &[]).await;
    let online = tokens_of(code_grant(&app, "wiki", &secret, &code).await).await;
    let code = code_for(&app, "wiki", &[("scope", "openid offline_access")]).await;
    let offline = tokens_of(code_grant(&app, "wiki", &secret, &code).await).await;

    // RP-initiated logout with the ID token as the hint: no question, back to the app.
    let hint = online["id_token"].as_str().unwrap();
    let res = app
        .client
        .get(app.url("/oidc/logout"))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", BYE),
            ("state", "s-9"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let cleared = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cleared.contains("portcullis_sso=;"), "{cleared}");
    let to = location(&res);
    assert!(to.as_str().starts_with(BYE), "{to}");
    assert_eq!(to.query(), Some("state=s-9"));

    assert_eq!(userinfo_status(&app, &online).await, 401);
    let res = refresh_grant(
        &app,
        "wiki",
        &secret,
        online["refresh_token"].as_str().unwrap(),
    )
    .await;
    oauth_error(res, 400, "invalid_grant").await;
    assert_eq!(
        userinfo_status(&app, &offline).await,
        200,
        "offline_access outlives it"
    );
    let res = refresh_grant(
        &app,
        "wiki",
        &secret,
        offline["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = authorize(&app, &request("wiki", &[])).await;
    assert_eq!(location(&res).path(), "/login", "the browser is signed out");
}

#[actix_web::test]
async fn logout_without_a_hint_asks_first_and_refuses_unregistered_destinations() {
    let app = spawn_app().await;
    app.create_user("jack").await;
    register(&app, "wiki", true).await;
    sign_in_browser(&app, "jack").await;
    let asked = app.get("/oidc/logout").await;
    assert_eq!(asked.status(), 200);
    assert_eq!(asked.headers()["x-frame-options"], "DENY");
    assert!(asked.text().await.unwrap().contains("oidc-logout"));
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none")])).await);
    assert!(q.contains_key("code"), "asking signed nobody out");

    for query in [
        vec![
            ("client_id", "wiki"),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![("post_logout_redirect_uri", BYE)],
        vec![("id_token_hint", "e30.e30.sig")],
    ] {
        let res = app
            .client
            .get(app.url("/oidc/logout"))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query:?}");
        assert!(res.headers().get("location").is_none());
    }
    let res = app
        .client
        .post(app.url("/oidc/logout"))
        .form(&[
            ("confirm", "yes"),
            ("client_id", "wiki"),
            ("post_logout_redirect_uri", BYE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert!(location(&res).as_str().starts_with(BYE));
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none")])).await);
    assert_eq!(q["error"], "login_required");
}

#[actix_web::test]
async fn revocation_ends_the_apps_session_and_tells_nobody_what_a_token_was() {
    let app = spawn_app().await;
    app.create_user("kim").await;
    let secret = register(&app, "wiki", true).await;
    let other = register(&app, "chat", true).await;
    sign_in_browser(&app, "kim").await;
    let revoke = |client: &'static str, secret: String, token: String| {
        app.client
            .post(app.url("/oidc/revoke"))
            .basic_auth(client, Some(secret))
            .form(&[("token", token)])
            .send()
    };
    let code = code_for(&app, "wiki", &[]).await;
    let a = tokens_of(code_grant(&app, "wiki", &secret, &code).await).await;
    let refresh = a["refresh_token"].as_str().unwrap().to_owned();
    let res = revoke("chat", other.clone(), refresh.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        userinfo_status(&app, &a).await,
        200,
        "another client's revocation does nothing"
    );
    let res = revoke("wiki", secret.clone(), refresh.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(userinfo_status(&app, &a).await, 401);
    let res = refresh_grant(&app, "wiki", &secret, &refresh).await;
    oauth_error(res, 400, "invalid_grant").await;

    let code = code_for(&app, "wiki", &[]).await;
    let b = tokens_of(code_grant(&app, "wiki", &secret, &code).await).await;
    let access = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        revoke("wiki", secret.clone(), access)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(userinfo_status(&app, &b).await, 401, "its session ended");
    assert_eq!(
        revoke("wiki", secret.clone(), "nonsense".into())
            .await
            .unwrap()
            .status(),
        200
    );
    let res = revoke("wiki", "wrong".into(), "nonsense".into())
        .await
        .unwrap();
    oauth_error(res, 401, "invalid_client").await;
    let q = answer(&authorize(&app, &request("wiki", &[("prompt", "none")])).await);
    assert!(q.contains_key("code"), "the browser's session stays: {q:?}");
}

/// The client's secret authenticates: a made-up code is then `invalid_grant`, not
/// `invalid_client`.
async fn secret_works(app: &TestApp, client: &str, secret: &str) -> bool {
    let res = exchange(
        app,
        client,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let body: Value = res.json().await.unwrap();
    match body["error"].as_str() {
        Some("invalid_grant") => true,
        Some("invalid_client") => false,
        _ => panic!("{body}"),
    }
}

#[actix_web::test]
async fn the_command_line_registers_updates_rotates_and_deletes_clients() {
    use crate::cli::portcullis;
    let app = spawn_app().await;
    let out = portcullis(
        &app,
        &[
            "oidc-client",
            "create",
            "--id",
            "wiki",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid",
            "--scope",
            "email",
            "--first-party",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap();
    let secret = secret.trim_end();
    assert_eq!(secret.len(), 43, "the secret alone on standard output");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown only now"));
    assert!(secret_works(&app, "wiki", secret).await);

    let list = portcullis(&app, &["oidc-client", "list"], None);
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(
        listed.contains("wiki  confidential, first party"),
        "{listed}"
    );
    assert!(listed.contains("email openid"), "{listed}");
    assert!(!listed.contains(secret));

    let out = portcullis(
        &app,
        &[
            "oidc-client",
            "update",
            "--id",
            "wiki",
            "--redirect-uri",
            "https://wiki.example.com/cb",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = authorize(&app, &request("wiki", &[])).await;
    assert_eq!(
        q.status(),
        400,
        "the old redirect URI is no longer registered"
    );
    assert!(
        secret_works(&app, "wiki", secret).await,
        "an update keeps the secret"
    );

    let out = portcullis(
        &app,
        &["oidc-client", "rotate-secret", "--id", "wiki"],
        None,
    );
    assert!(out.status.success());
    let rotated = String::from_utf8(out.stdout).unwrap();
    assert!(
        !secret_works(&app, "wiki", secret).await,
        "the old secret stops at once"
    );
    assert!(secret_works(&app, "wiki", rotated.trim_end()).await);

    for (args, says) in [
        (
            vec!["--id", "wiki", "--redirect-uri", REDIRECT],
            "exists already",
        ),
        (
            vec!["--id", "x", "--redirect-uri", REDIRECT],
            "client ids are 3 to 64",
        ),
        (
            vec![
                "--id",
                "app2",
                "--redirect-uri",
                "http://app.example.com/cb",
            ],
            "plain http only to a loopback host",
        ),
        (
            vec![
                "--id",
                "app2",
                "--redirect-uri",
                REDIRECT,
                "--grant",
                "implicit",
            ],
            "not a grant",
        ),
        (
            vec![
                "--id",
                "app2",
                "--redirect-uri",
                REDIRECT,
                "--scope",
                "admin",
            ],
            "not a scope",
        ),
        (
            vec!["--id", "app2", "--public", "--grant", "client_credentials"],
            "cannot use client_credentials",
        ),
        (
            vec!["--id", "app2"],
            "needs at least one redirect URI (--redirect-uri)",
        ),
    ] {
        let mut all = vec!["oidc-client", "create"];
        all.extend(args.iter().copied());
        let out = portcullis(&app, &all, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{all:?}");
        assert!(stderr.contains(says), "{all:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = portcullis(
        &app,
        &["oidc-client", "rotate-secret", "--id", "nobody"],
        None,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client `nobody`"));

    let out = portcullis(&app, &["oidc-client", "delete", "--id", "wiki"], None);
    assert!(out.status.success());
    assert!(!secret_works(&app, "wiki", rotated.trim_end()).await);
    let list = portcullis(&app, &["oidc-client", "list"], None);
    assert!(String::from_utf8_lossy(&list.stderr).contains("no OpenID clients"));
}

/// The operator's rotation: `keys generate-rsa` makes the new pair; the new private key signs,
/// the old public half (written beside the old key) stays in JWKS, and an ID token it signed is
/// still taken as `id_token_hint`.
#[actix_web::test]
async fn a_rotated_rsa_key_stays_published_and_its_id_tokens_are_still_known() {
    use std::os::unix::fs::PermissionsExt;
    let (mut s, dir) = test_settings().await;
    // Each restart is a new node on a new port: one issuer for all of them.
    s.server.public_url = "https://auth.example.test".into();
    let app = spawn_with(s.clone(), dir.clone()).await;
    app.create_user("rosa").await;
    let secret = register(&app, "wiki", true).await;
    sign_in_browser(&app, "rosa").await;
    let old_id = id_token_for(&app, "wiki", &secret, &[]).await;
    let old_kid = jsonwebtoken::decode_header(&old_id).unwrap().kid.unwrap();

    let keys = s.data.dir.join("keys");
    std::fs::create_dir(&keys).unwrap();
    let out = crate::cli::portcullis(
        &app,
        &["keys", "generate-rsa", "--out", keys.to_str().unwrap()],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let file = |label: &str| {
        let line = printed.lines().find(|l| l.starts_with(label)).unwrap();
        line[label.len()..].trim().to_owned()
    };
    let new_kid = file("kid:");
    let (private, public) = (file("private key:"), file("public key:"));
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the private key is the operator's alone");
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    // The old key's public half, as an operator keeps it (`openssl rsa -pubout`, or the
    // `.pub.pem` the command wrote beside it).
    let old_public = s.data.dir.join("old.pub.pem");
    let old_pem = std::fs::read_to_string(&s.oidc.rsa_private_key_file).unwrap();
    std::fs::write(
        &old_public,
        portcullis::oidc::keys::RsaKey::from_pem(&old_pem)
            .unwrap()
            .public_pem,
    )
    .unwrap();

    let mut rotated = s.clone();
    rotated.oidc.rsa_private_key_file = private;
    rotated.oidc.previous_rsa_public_key_files = vec![old_public.display().to_string()];
    let next = spawn_with(rotated, dir.clone()).await;
    let jwks = next.get_json("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    assert!(kids.contains(&new_kid.as_str()) && kids.contains(&old_kid.as_str()));

    // New ID tokens are signed with the new key.
    sign_in_browser(&next, "rosa").await;
    let new_id = id_token_for(&next, "wiki", &secret, &[]).await;
    assert_eq!(
        jsonwebtoken::decode_header(&new_id).unwrap().kid.unwrap(),
        new_kid
    );
    // The old one is still a known hint: logout goes straight back to the app.
    let res = logout_hinted(&next, &old_id).await;
    assert_eq!(res.status(), 302);
    assert!(location(&res).as_str().starts_with(BYE));

    // Without the old key listed, it is published no more and the hint is not trusted.
    let mut forgotten = s.clone();
    forgotten.oidc.rsa_private_key_file = next.settings.oidc.rsa_private_key_file.clone();
    let last = spawn_with(forgotten, dir).await;
    let jwks = last.get_json("/.well-known/jwks.json").await;
    assert!(!jwks.to_string().contains(&old_kid), "{jwks}");
    let res = logout_hinted(&last, &old_id).await;
    assert!(res.headers().get("location").is_none(), "{}", res.status());
}

/// `acr_values` asking for the second factor alone, and `login_hint`.
#[actix_web::test]
async fn an_app_asking_for_a_second_factor_gets_one_where_the_account_has_one() {
    let app = spawn_app().await;
    app.create_user("tess").await;
    let secret = register(&app, "vault", true).await;
    let mfa_only = [("acr_values", "urn:portcullis:acr:mfa")];

    // Nobody signed in: the sign-in page, with the hinted username, asked for afresh.
    let res = authorize(
        &app,
        &request("vault", &[mfa_only[0], ("login_hint", "tess")]),
    )
    .await;
    assert_eq!(res.status(), 302);
    let to = location(&res);
    assert_eq!(to.path(), "/login");
    let q: HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q["login_hint"], "tess");
    assert_eq!(q["fresh"], "1");
    let long = "x".repeat(257);
    let q = answer(&authorize(&app, &request("vault", &[("login_hint", long.as_str())])).await);
    assert_eq!(q["error"], "invalid_request");

    // An account with no second factor: a password session is all it can give, and the ID
    // token says so.
    sign_in_browser(&app, "tess").await;
    let id = id_token_for(&app, "vault", &secret, &mfa_only).await;
    assert_eq!(jwt_claims(&id)["acr"], "urn:portcullis:acr:1fa");

    // Now it has one: the password session is not enough for this app (but is for others).
    let enrolled = app.enrol_totp("tess").await;
    let res = authorize(&app, &request("vault", &mfa_only)).await;
    assert_eq!(location(&res).path(), "/login");
    let q = answer(&authorize(&app, &request("vault", &[mfa_only[0], ("prompt", "none")])).await);
    assert_eq!(q["error"], "login_required");
    let either = [(
        "acr_values",
        "urn:portcullis:acr:mfa urn:portcullis:acr:1fa",
    )];
    code_for(&app, "vault", &either).await;
    code_for(&app, "vault", &[]).await;

    // Signed in with the second factor: the code, and an ID token that says `mfa`.
    app.clock.advance(30);
    let ticket = app.mfa_ticket("tess").await;
    let res = app
        .mfa_verify(&ticket, &app.code(&enrolled.secret, 0))
        .await;
    let data = res.json::<Value>().await.unwrap()["data"].clone();
    let res = app
        .client
        .post(app.url("/oidc/session"))
        .bearer_auth(token(&data, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let id = id_token_for(&app, "vault", &secret, &mfa_only).await;
    let claims = jwt_claims(&id);
    assert_eq!(claims["acr"], "urn:portcullis:acr:mfa", "{claims}");
    assert!(claims["amr"].as_array().unwrap().contains(&json!("mfa")));
}
