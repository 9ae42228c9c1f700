//! The provider's tokens at the services behind it: a client acting for itself
//! (`client_credentials`), and a user's token for one app introspected by that app's API and
//! refused by any other's, at the introspection endpoint and in the guard crate.

use std::time::{Duration, Instant};

use actix_web::{test as atest, web, App, HttpResponse};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse, Scope};
use portcullis::config::JwtAlgorithm;
use portcullis::oidc::clients::{ClientSpec, Grant, IdTokenAlg};
use portcullis_guard::{Guard, User};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::protect::ALL_CLAIMS;
use crate::sso::{code_for, code_grant, exchange, oauth_error, register, sign_in_browser};

/// A confidential client that may only act for itself; its secret.
async fn register_service(app: &TestApp, id: &str) -> String {
    let spec = ClientSpec {
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grants: vec![Grant::ClientCredentials],
        scopes: ["openid", "profile", "roles", "offline_access"]
            .map(String::from)
            .into(),
        backchannel_logout_uri: None,
        first_party: false,
        id_token_alg: IdTokenAlg::Rs256,
        resources: Vec::new(),
    };
    let (_, secret) = app.oidc_clients.create(id, false, spec).await.unwrap();
    secret.unwrap()
}

async fn grant(app: &TestApp, id: &str, secret: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    exchange(app, id, secret, &form).await
}

async fn introspected(app: &TestApp, api: (&str, &str), token: &str) -> Value {
    let res = app.introspect(api, token).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn a_client_acting_for_itself_gets_a_token_naming_it_alone() {
    let app = spawn_app().await;
    let secret = register_service(&app, "reports").await;
    let discovery = app.get_json("/.well-known/openid-configuration").await;
    assert!(discovery["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("client_credentials")));

    let res = grant(&app, "reports", &secret, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let t: Value = res.json().await.unwrap();
    // All it may ask for but the scopes about users; no refresh token, no ID token.
    assert_eq!(t["scope"], "profile roles", "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_i64().unwrap() > 0);
    assert!(
        t.get("refresh_token").is_none() && t.get("id_token").is_none(),
        "{t}"
    );
    let access = t["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    for field in ["sub", "aud", "client_id"] {
        assert_eq!(claims[field], "reports", "{claims}");
    }
    assert!(
        claims.get("sid").is_none(),
        "no session stands behind it: {claims}"
    );
    // Not a user: Portcullis's own API and userinfo refuse it.
    assert_eq!(app.me(access).await.status(), 401);
    assert_eq!(app.get_auth("/oidc/userinfo", access).await.status(), 401);

    // The same through the `openidconnect` crate, from discovery.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(app.address.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("reports".into()),
        Some(ClientSecret::new(secret.clone())),
    );
    let narrowed = rp
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("roles".into()))
        .request_async(&http)
        .await
        .expect("a client_credentials grant");
    let scopes: Vec<&str> = narrowed
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(scopes, ["roles"]);
    assert!(narrowed.refresh_token().is_none());
    for scope in ["openid", "offline_access", "email", "roles admin"] {
        let res = grant(&app, "reports", &secret, &[("scope", scope)]).await;
        oauth_error(res, 400, "invalid_scope").await;
    }
    let res = grant(
        &app,
        "reports",
        &secret,
        &[("resource", "https://api.example")],
    )
    .await;
    oauth_error(res, 400, "invalid_target").await;
    oauth_error(
        grant(&app, "reports", "wrong", &[]).await,
        401,
        "invalid_client",
    )
    .await;

    // Its API, registered for its audience, sees it active; any other API does not.
    let api = app.api_client_with(
        "reports-api",
        &["--audience", "reports", "--claims", ALL_CLAIMS],
    );
    let seen = introspected(&app, ("reports-api", &api), access).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(
        (
            &seen["sub"],
            &seen["client_id"],
            &seen["aud"],
            &seen["scope"]
        ),
        (
            &json!("reports"),
            &json!("reports"),
            &json!("reports"),
            &json!("profile roles")
        )
    );
    assert!(
        seen.get("sid").is_none() && seen.get("user").is_none(),
        "{seen}"
    );
    let own = app.api_client("own-api");
    let other = app.api_client_with(
        "other-api",
        &["--audience", "billing", "--claims", ALL_CLAIMS],
    );
    for api in [("own-api", own.as_str()), ("other-api", other.as_str())] {
        assert_eq!(
            introspected(&app, api, access).await,
            json!({"active": false})
        );
    }

    // The grant is in the login log, under the client's name.
    app.create_user_with("root", PASSWORD, true).await;
    let admin = token(&app.login("root", PASSWORD).await, "access_token");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let rows = app
            .get_auth_json("/api/v1/logs/login?size=50", &admin)
            .await;
        let items = rows["data"]["items"].as_array().unwrap();
        if items
            .iter()
            .any(|r| r["method"] == "oidc:client_credentials" && r["username"] == "reports")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no client_credentials row in {rows}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // Deleting the client ends its tokens at once.
    app.oidc_clients.delete("reports").await.unwrap();
    let gone = introspected(&app, ("reports-api", &api), access).await;
    assert_eq!(gone, json!({"active": false}));
}

#[actix_web::test]
async fn only_a_confidential_client_registered_for_it_may_act_for_itself() {
    let app = spawn_app().await;
    // A code-flow client, not registered for client_credentials.
    let secret = register(&app, "wiki", false).await;
    oauth_error(
        grant(&app, "wiki", &secret, &[]).await,
        400,
        "unauthorized_client",
    )
    .await;
    // A public client proves nothing with its id alone.
    let mut public = crate::sso::spec(false);
    public.grants = vec![Grant::AuthorizationCode];
    app.oidc_clients.create("spa", true, public).await.unwrap();
    let res = app
        .client
        .post(app.url("/oidc/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "spa")])
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "unauthorized_client").await;
    // Taking the grant away, or a new secret, ends the tokens it gave.
    let service = register_service(&app, "batch").await;
    let t: Value = grant(&app, "batch", &service, &[])
        .await
        .json()
        .await
        .unwrap();
    let api = app.api_client_with(
        "batch-api",
        &["--audience", "batch", "--claims", ALL_CLAIMS],
    );
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(
        introspected(&app, ("batch-api", &api), access).await["active"],
        true
    );
    // A new secret (it leaked?) ends the tokens the old one got; the new one's work.
    let service = app.oidc_clients.rotate_secret("batch").await.unwrap();
    assert_eq!(
        introspected(&app, ("batch-api", &api), access).await,
        json!({"active": false})
    );
    let t: Value = grant(&app, "batch", &service, &[])
        .await
        .json()
        .await
        .unwrap();
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(
        introspected(&app, ("batch-api", &api), access).await["active"],
        true
    );
    let mut spec = crate::sso::spec(false);
    spec.grants = vec![Grant::AuthorizationCode];
    app.oidc_clients.update("batch", spec).await.unwrap();
    assert_eq!(
        introspected(&app, ("batch-api", &api), access).await,
        json!({"active": false})
    );
    oauth_error(
        grant(&app, "batch", &service, &[]).await,
        400,
        "unauthorized_client",
    )
    .await;
}

/// A user's access token for `client`, from a browser signed in as `user`; the user's own
/// (Portcullis) access token too.
async fn app_token(app: &TestApp, user: &str, client: &str, secret: &str) -> (String, String) {
    let login = sign_in_browser(app, user).await;
    let code = code_for(app, client, &[]).await;
    let tokens: Value = code_grant(app, client, secret, &code)
        .await
        .json()
        .await
        .unwrap();
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        token(&login, "access_token"),
    )
}

#[actix_web::test]
async fn an_apps_token_is_active_for_its_own_api_only_and_ends_with_its_session() {
    let app = spawn_app().await;
    let uid = app.create_user("hana").await;
    let secret = register(&app, "wiki", true).await;
    let (access, own) = app_token(&app, "hana", "wiki", &secret).await;

    let api = app.api_client_with("wiki-api", &["--audience", "wiki", "--claims", ALL_CLAIMS]);
    let seen = introspected(&app, ("wiki-api", &api), &access).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], uid.to_string());
    assert_eq!(
        (&seen["aud"], &seen["client_id"]),
        (&json!("wiki"), &json!("wiki"))
    );
    assert_eq!(
        seen["scope"], "openid profile email",
        "the scopes granted, not permissions"
    );
    assert_eq!(seen["user"]["username"], "hana");
    // Pinned to the log like an answer for Portcullis's own tokens, so the guard may cache it.
    let own_api = app.api_client("own-api");
    let own_api_seen = introspected(&app, ("own-api", &own_api), &own).await;
    assert_eq!(own_api_seen["active"], true);
    assert_eq!(
        seen.get("portcullis_log_position").is_some(),
        own_api_seen.get("portcullis_log_position").is_some(),
        "{seen} {own_api_seen}"
    );
    // Portcullis's own APIs, and another app's, do not take it.
    let billing = app.api_client_with(
        "billing-api",
        &["--audience", "billing", "--claims", ALL_CLAIMS],
    );
    for api in [
        ("own-api", own_api.as_str()),
        ("billing-api", billing.as_str()),
    ] {
        assert_eq!(
            introspected(&app, api, &access).await,
            json!({"active": false})
        );
    }
    // And the user's own token is not the app's.
    assert_eq!(
        introspected(&app, ("wiki-api", &api), &own).await,
        json!({"active": false})
    );

    let res = app.post_auth("/api/v1/auth/logout/all", &own).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        introspected(&app, ("wiki-api", &api), &access).await,
        json!({"active": false})
    );
}

async fn whoami(user: User) -> HttpResponse {
    HttpResponse::Ok().json(json!({"user": user.username}))
}

#[actix_web::test]
async fn a_guard_for_one_apps_audience_refuses_another_apps_tokens() {
    let app = spawn_app().await;
    app.create_user("ivo").await;
    let wiki = register(&app, "wiki", true).await;
    let chat = register(&app, "chat", true).await;
    let (for_wiki, _) = app_token(&app, "ivo", "wiki", &wiki).await;
    let (for_chat, own) = app_token(&app, "ivo", "chat", &chat).await;

    // The chat app's API: a guard requiring the audience `chat`, with an API client for it.
    let secret = app.api_client_with("chat-api", &["--audience", "chat", "--claims", "user"]);
    let mut builder = Guard::builder(app.url(""), "chat-api", secret).audience("chat");
    if app.settings.jwt.algorithm == JwtAlgorithm::HS256 {
        builder = builder.hs256_secret(app.secret());
    }
    let guard = builder.build().await.expect("the guard starts");
    let api = atest::init_service(
        App::new()
            .wrap(guard.middleware())
            .route("/whoami", web::get().to(whoami)),
    )
    .await;
    let call = |t: &str| {
        atest::TestRequest::get()
            .uri("/whoami")
            .insert_header(("authorization", format!("Bearer {t}")))
            .to_request()
    };
    let res = atest::call_service(&api, call(&for_chat)).await;
    assert_eq!(res.status(), 200);
    let body: Value = atest::read_body_json(res).await;
    assert_eq!(body["user"], "ivo");
    for refused in [&for_wiki, &own] {
        let res = atest::call_service(&api, call(refused)).await;
        assert_eq!(res.status(), 401, "a token for another audience");
    }

    // The session ending anywhere reaches the guard.
    let res = app.post_auth("/api/v1/auth/logout/all", &own).await;
    assert_eq!(res.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while atest::call_service(&api, call(&for_chat)).await.status() != 401 {
        assert!(
            Instant::now() < deadline,
            "the guard still lets the ended session in"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn verify(app: &TestApp, query: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(&format!("/api/v1/auth/verify{query}")));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

#[actix_web::test]
async fn forward_auth_for_an_apps_audience_takes_that_apps_tokens_alone() {
    let app = spawn_app().await;
    app.create_user("ines").await;
    let secret = register(&app, "wiki", true).await;
    register(&app, "chat", true).await;
    let (access, own) = app_token(&app, "ines", "wiki", &secret).await;

    let res = verify(&app, "?audience=wiki", Some(&access)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "remote-user"), Some("ines"));
    assert_eq!(header(&res, "remote-client-id"), Some("wiki"));
    assert_eq!(header(&res, "remote-scope"), Some("openid profile email"));
    assert_eq!(header(&res, "remote-amr"), Some("pwd"));

    // Another app's forward-auth, and Portcullis's own, refuse it; the app's refuses
    // Portcullis's own token.
    for (query, bearer) in [
        ("?audience=chat", access.as_str()),
        ("", access.as_str()),
        ("?audience=wiki", own.as_str()),
    ] {
        let res = verify(&app, query, Some(bearer)).await;
        assert_eq!(res.status(), 401, "{query}");
        assert!(header(&res, "remote-user").is_none());
        assert!(header(&res, "www-authenticate")
            .unwrap()
            .contains("invalid_token"));
    }
    // The rules of Portcullis's own tokens hold: a permission code, a second factor, the
    // header's form.
    let res = verify(
        &app,
        "?audience=wiki&permission=sys:user:add",
        Some(&access),
    )
    .await;
    assert_error(res, 403, "insufficient_scope").await;
    let res = verify(&app, "?audience=wiki&mfa=true", Some(&access)).await;
    assert_eq!(res.status(), 401);
    assert!(header(&res, "www-authenticate")
        .unwrap()
        .contains("insufficient_user_authentication"));
    assert_eq!(verify(&app, "?audience=wiki", None).await.status(), 401);
    let res = app
        .client
        .get(app.url("/api/v1/auth/verify?audience=wiki"))
        .header("authorization", "Bearer a b")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // A client acting for itself passes its own audience's forward-auth as itself, no user.
    let service = register_service(&app, "reports").await;
    let t: Value = grant(&app, "reports", &service, &[])
        .await
        .json()
        .await
        .unwrap();
    let own_token = t["access_token"].as_str().unwrap();
    let res = verify(&app, "?audience=reports", Some(own_token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "remote-client-id"), Some("reports"));
    assert!(header(&res, "remote-user").is_none());
    let res = verify(
        &app,
        "?audience=reports&permission=report:read",
        Some(own_token),
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = verify(&app, "?audience=wiki", Some(own_token)).await;
    assert_eq!(res.status(), 401);

    // The session ended anywhere: refused at once.
    let res = app.post_auth("/api/v1/auth/logout/all", &own).await;
    assert_eq!(res.status(), 200);
    let res = verify(&app, "?audience=wiki", Some(&access)).await;
    assert_eq!(res.status(), 401);
}

const API: &str = "https://api.example.test";

#[actix_web::test]
async fn a_client_registered_for_an_api_gets_tokens_for_it_that_that_api_alone_takes() {
    let app = spawn_app().await;
    app.create_user("ivo").await;
    let mut spec = crate::sso::spec(true);
    spec.grants = vec![
        Grant::AuthorizationCode,
        Grant::RefreshToken,
        Grant::ClientCredentials,
    ];
    spec.resources = vec![API.into()];
    let (_, secret) = app.oidc_clients.create("wiki", false, spec).await.unwrap();
    let secret = secret.unwrap();
    let api = app.api_client_with("api", &["--audience", API, "--claims", ALL_CLAIMS]);
    let wiki_api = app.api_client_with("wiki-api", &["--audience", "wiki", "--claims", ALL_CLAIMS]);

    // The client acting for itself, for the API.
    let t: Value = grant(&app, "wiki", &secret, &[("resource", API)])
        .await
        .json()
        .await
        .unwrap();
    let access = t["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(
        (&claims["aud"], &claims["client_id"]),
        (&json!(API), &json!("wiki"))
    );
    assert_eq!(
        introspected(&app, ("api", &api), access).await["active"],
        true
    );
    assert_eq!(
        introspected(&app, ("wiki-api", &wiki_api), access).await,
        json!({"active": false}),
        "a token for the API is not the app's own"
    );
    let encoded = format!("?audience={}", percent_encode(API));
    assert_eq!(verify(&app, &encoded, Some(access)).await.status(), 200);
    assert_eq!(
        verify(&app, "?audience=wiki", Some(access)).await.status(),
        401
    );

    // Only the APIs it was registered for, one per request.
    for resource in [
        "https://other.example.test",
        "wiki",
        "https://api.example.test/",
    ] {
        let res = grant(&app, "wiki", &secret, &[("resource", resource)]).await;
        oauth_error(res, 400, "invalid_target").await;
    }
    let res = app
        .client
        .post(app.url("/oidc/token"))
        .basic_auth("wiki", Some(&secret))
        .body(format!(
            "grant_type=client_credentials&resource={0}&resource={0}",
            percent_encode(API)
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "invalid_request").await;

    // A user's token for the API, from the code flow; a wrong resource leaves the code usable.
    sign_in_browser(&app, "ivo").await;
    let code = code_for(&app, "wiki", &[]).await;
    let form = |resource: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", crate::sso::REDIRECT),
            ("code_verifier", crate::sso::VERIFIER),
            ("resource", resource),
        ]
    };
    let res = exchange(&app, "wiki", &secret, &form("https://other.example.test")).await;
    oauth_error(res, 400, "invalid_target").await;
    let t: Value = exchange(&app, "wiki", &secret, &form(API))
        .await
        .json()
        .await
        .unwrap();
    let for_api = t["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(for_api)["aud"], API);
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["aud"], "wiki");
    let seen = introspected(&app, ("api", &api), for_api).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["user"]["username"], "ivo");
    // Userinfo is the app's, not the API's.
    assert_eq!(app.get_auth("/oidc/userinfo", for_api).await.status(), 401);
    // A refresh asks again for whom: the app itself when it names no resource.
    let refresh = t["refresh_token"].as_str().unwrap();
    let t: Value = exchange(
        &app,
        "wiki",
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
    .json()
    .await
    .unwrap();
    let for_app = t["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(for_app)["aud"], "wiki");
    assert_eq!(app.get_auth("/oidc/userinfo", for_app).await.status(), 200);
}

fn percent_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
