//! Back-channel logout: a receiver of the test's own plays the app's endpoint and checks each
//! `logout_token` as the spec says a relying party must (signature by a key in JWKS, `iss`,
//! `aud`, `iat`, `events`, `sid`/`sub` of the ID token, no `nonce`), after a logout, a kick-out,
//! a reused refresh token and a password reset; once per client however many nodes there are;
//! again after the app failed to take it.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use portcullis::oidc::clients::{ClientSpec, Grant, IdTokenAlg};
use serde_json::Value;

use crate::cli::portcullis;
use crate::helpers::*;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The app's back-channel endpoint: what it was sent, and how many answers to refuse first.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<String>>>,
    refuse: Arc<Mutex<usize>>,
    _server: actix_web::dev::ServerHandle,
}

fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let refuse = Arc::new(Mutex::new(0));
    let (g, r) = (got.clone(), refuse.clone());
    let server = HttpServer::new(move || {
        let (g, r) = (g.clone(), r.clone());
        App::new().route(
            "/backchannel",
            web::post().to(move |form: web::Form<Vec<(String, String)>>| {
                let (g, r) = (g.clone(), r.clone());
                async move {
                    let mut left = r.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return HttpResponse::InternalServerError().finish();
                    }
                    for (k, v) in form.into_inner() {
                        if k == "logout_token" {
                            g.lock().unwrap().push(v);
                        }
                    }
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Receiver {
        url,
        got,
        refuse,
        _server: handle,
    }
}

impl Receiver {
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} logout tokens",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn register(app: &TestApp, id: &str, backchannel: &str) -> String {
    let spec = ClientSpec {
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: Vec::new(),
        grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
        scopes: ["openid", "profile"].map(String::from).into(),
        backchannel_logout_uri: Some(backchannel.into()),
        first_party: true,
        id_token_alg: IdTokenAlg::Rs256,
        resources: Vec::new(),
    };
    app.oidc_clients
        .create(id, false, spec)
        .await
        .unwrap()
        .1
        .unwrap()
}

/// Signs `user` in at the provider (a fresh browser) and has `client` get tokens: the login and
/// the token answer.
async fn signed_in_app(app: &TestApp, user: &str, client: &str, secret: &str) -> (Value, Value) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let login: Value = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let login = login["data"].clone();
    let res = browser
        .post(app.url("/oidc/session"))
        .bearer_auth(token(&login, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = browser
        .get(app.url("/oidc/authorize"))
        .query(&[
            ("client_id", client),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let to = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = to
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = browser
        .post(app.url("/oidc/token"))
        .basic_auth(client, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (login, tokens)
}

/// What a relying party checks of a logout token (Back-Channel Logout 1.0 §2.6).
async fn check(app: &TestApp, logout_token: &str, client: &str, id_token: &str) {
    let header = decode_header(logout_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("signed with a published key");
    let key =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    let issuer = match app.settings.server.public_url.as_str() {
        "" => app.address.clone(),
        configured => configured.to_owned(),
    };
    v.set_issuer(&[&issuer]);
    v.set_audience(&[client]);
    v.validate_exp = false;
    let claims = decode::<Value>(logout_token, &key, &v)
        .expect("signature, iss and aud")
        .claims;
    let id = jwt_claims(id_token);
    assert_eq!(claims["sid"], id["sid"], "{claims}");
    assert_eq!(claims["sub"], id["sub"]);
    assert!(claims["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some());
    assert!(claims.get("nonce").is_none());
    assert!(claims["iat"].as_i64().is_some() && claims["jti"].as_str().is_some());
}

#[actix_web::test]
async fn ending_a_session_anywhere_tells_each_app_once() {
    let (mut s, dir) = test_settings().await;
    // Two nodes of one deployment: one issuer, whichever node sends a notice.
    s.server.public_url = "https://auth.example.test".into();
    let app = spawn_with(s.clone(), dir.clone()).await;
    let other_node = spawn_with(s, dir).await;
    let rx = receiver();
    let secret = register(&app, "wiki", &rx.url).await;
    app.create_user_with("lena", PASSWORD, true).await;

    // Logout of the browser's session.
    let (login, tokens) = signed_in_app(&app, "lena", "wiki", &secret).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let res = app
        .post_auth("/api/v1/auth/logout/all", &token(&login, "access_token"))
        .await;
    assert_eq!(res.status(), 200);
    let got = rx.wait_for(1).await;
    check(&app, &got[0], "wiki", &id_token).await;

    // One session ended from the account page, on the other node.
    let admin = app.login("lena", PASSWORD).await;
    let (_, tokens) = signed_in_app(&app, "lena", "wiki", &secret).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let sid = jwt_claims(&id_token)["sid"].as_str().unwrap().to_owned();
    let uid = jwt_claims(&token(&admin, "access_token"))["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = other_node
        .client
        .delete(other_node.url(&format!("/api/v1/auth/sessions/{sid}")))
        .bearer_auth(token(&admin, "access_token"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{} for {uid}", res.status());
    let got = rx.wait_for(2).await;
    check(&app, &got[1], "wiki", &id_token).await;

    // A reused refresh token ends the app's own session: its app hears of it.
    let (_, tokens) = signed_in_app(&app, "lena", "wiki", &secret).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotate = |r: String| {
        app.client
            .post(app.url("/oidc/token"))
            .basic_auth("wiki", Some(&secret))
            .form(&[
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", r),
            ])
            .send()
    };
    assert_eq!(rotate(refresh.clone()).await.unwrap().status(), 200);
    app.clock
        .advance(app.settings.session.refresh_grace_seconds + 1);
    other_node
        .clock
        .advance(app.settings.session.refresh_grace_seconds + 1);
    assert_eq!(rotate(refresh).await.unwrap().status(), 400);
    let got = rx.wait_for(3).await;
    check(&app, &got[2], "wiki", tokens["id_token"].as_str().unwrap()).await;

    // Two nodes poll the queue: still one notice each.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 3, "each app told once");
}

#[actix_web::test]
async fn a_notice_the_app_did_not_take_is_sent_again() {
    let app = spawn_app().await;
    let rx = receiver();
    *rx.refuse.lock().unwrap() = 1;
    let secret = register(&app, "wiki", &rx.url).await;
    app.create_user("mona").await;
    let (login, tokens) = signed_in_app(&app, "mona", "wiki", &secret).await;
    let res = app
        .post_auth("/api/v1/auth/logout/all", &token(&login, "access_token"))
        .await;
    assert_eq!(res.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while *rx.refuse.lock().unwrap() > 0 {
        assert!(Instant::now() < deadline, "the first try never came");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rx.got.lock().unwrap().is_empty());
    app.clock.advance(6);
    let got = rx.wait_for(1).await;
    check(&app, &got[0], "wiki", tokens["id_token"].as_str().unwrap()).await;
}

#[actix_web::test]
async fn sessions_ended_from_the_command_line_are_told_too() {
    let app = spawn_app().await;
    let rx = receiver();
    let secret = register(&app, "wiki", &rx.url).await;
    app.create_user("nils").await;
    let (_, tokens) = signed_in_app(&app, "nils", "wiki", &secret).await;
    let out = portcullis(&app, &["sessions", "revoke", "--username", "nils"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The command queued the notice with the machine's clock; the server's test clock
    // catches up with it.
    app.clock.advance(5);
    let got = rx.wait_for(1).await;
    check(&app, &got[0], "wiki", tokens["id_token"].as_str().unwrap()).await;

    // A new password set from the command line ends the sessions again: told again.
    let (_, tokens) = signed_in_app(&app, "nils", "wiki", &secret).await;
    let out = portcullis(
        &app,
        &[
            "user",
            "set-password",
            "--username",
            "nils",
            "--password-stdin",
        ],
        // The same password again, so the next sign-in can use it.
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.clock.advance(5);
    let got = rx.wait_for(2).await;
    check(&app, &got[1], "wiki", tokens["id_token"].as_str().unwrap()).await;

    // And so does disabling the user.
    let (_, tokens) = signed_in_app(&app, "nils", "wiki", &secret).await;
    let out = portcullis(&app, &["user", "disable", "--username", "nils"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.clock.advance(5);
    let got = rx.wait_for(3).await;
    check(&app, &got[2], "wiki", tokens["id_token"].as_str().unwrap()).await;
}

#[actix_web::test]
async fn revoking_an_app_on_the_account_ends_its_tokens_and_tells_it() {
    let app = spawn_app().await;
    let rx = receiver();
    let secret = register(&app, "wiki", &rx.url).await;
    app.create_user("olga").await;
    let (login, tokens) = signed_in_app(&app, "olga", "wiki", &secret).await;
    let me = token(&login, "access_token");
    let apps = app.get_auth_json("/api/v1/auth/apps", &me).await["data"].clone();
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps}");
    assert_eq!(apps[0]["client_id"], "wiki");
    assert_eq!(apps[0]["sessions"], 1);
    assert_eq!(apps[0]["scopes"], serde_json::json!(["openid", "profile"]));
    // A first-party app asks no consent.
    assert!(apps[0]["consented_at"].is_null(), "{apps}");

    let revoke = || {
        app.client
            .delete(app.url("/api/v1/auth/apps/wiki"))
            .bearer_auth(&me)
            .send()
    };
    let res = revoke().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["ended_sessions"], 1);
    let got = rx.wait_for(1).await;
    check(&app, &got[0], "wiki", tokens["id_token"].as_str().unwrap()).await;
    // Its tokens are refused at once; the user's own session lives on.
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get_auth("/oidc/userinfo", access).await.status(), 401);
    let refreshed = app
        .client
        .post(app.url("/oidc/token"))
        .basic_auth("wiki", Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 400);
    assert_eq!(app.me(&me).await.status(), 200);
    let apps = app.get_auth_json("/api/v1/auth/apps", &me).await["data"].clone();
    assert_eq!(apps, serde_json::json!([]));
    // Nothing left to revoke.
    assert_error(revoke().await.unwrap(), 404, "not_found").await;
}
