//! Single sign-on with an OpenID-certified relying party: node's `openid-client` (installed
//! by scripts/test.sh into tests/oidc) runs discovery, the code flow with PKCE, ID-token and
//! `iss` validation, userinfo, refresh with rotation, revocation and RP-initiated logout
//! against Portcullis, while this test plays the signed-in browser.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use portcullis::oidc::clients::{ClientSpec, Grant, IdTokenAlg};
use serde_json::Value;

use crate::helpers::*;

const REDIRECT: &str = "http://127.0.0.1:9/rp/callback";
const BYE: &str = "http://127.0.0.1:9/rp/bye";

#[actix_web::test]
async fn openid_client_signs_in_refreshes_revokes_and_logs_out() {
    let app = spawn_app().await;
    app.create_user_full("olga", PASSWORD, Some("olga@example.com"), false)
        .await;
    let spec = ClientSpec {
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        grants: vec![
            Grant::AuthorizationCode,
            Grant::RefreshToken,
            Grant::ClientCredentials,
        ],
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .into(),
        backchannel_logout_uri: None,
        first_party: true,
        id_token_alg: IdTokenAlg::Rs256,
        resources: Vec::new(),
    };
    let (_, secret) = app
        .oidc_clients
        .create("nodeapp", false, spec)
        .await
        .unwrap();
    let secret = secret.unwrap();
    let mut rp = Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/rp.mjs"))
        .args([&app.address, "nodeapp", &secret, REDIRECT, BYE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (scripts/test.sh installs openid-client into tests/oidc)");
    let mut out = BufReader::new(rp.stdout.take().unwrap());
    let mut stdin = rp.stdin.take().unwrap();
    let read = |out: &mut BufReader<_>| -> Value {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    };
    let first = actix_web::rt::task::spawn_blocking(move || (read(&mut out), out))
        .await
        .unwrap();
    let (started, mut out) = first;
    let authorize = started["authorize"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();

    // The browser: signed in at the provider, it follows the app's authorization URL.
    let login = app.login("olga", PASSWORD).await;
    let res = app
        .client
        .post(app.url("/oidc/session"))
        .bearer_auth(token(&login, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.client.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    writeln!(stdin, "{callback}").unwrap();
    let seen = actix_web::rt::task::spawn_blocking(move || read(&mut out))
        .await
        .unwrap();
    assert!(seen.get("error").is_none(), "{seen}");
    let _ = rp.wait();

    assert_eq!(seen["username"], "olga");
    assert_eq!(seen["email"], "olga@example.com");
    assert_eq!(seen["userinfo_sub"], seen["sub"]);
    assert_eq!(seen["userinfo_username"], "olga");
    assert_eq!(seen["refreshed"], true, "{seen}");
    assert_eq!(
        seen["replayed_same"], true,
        "a retry in the grace window: {seen}"
    );
    assert_eq!(seen["after_revoke"], "invalid_grant", "{seen}");
    assert_eq!(seen["code_again"], "invalid_grant", "{seen}");
    let service = &seen["client_credentials"];
    assert_eq!(service["scope"], "profile", "{seen}");
    assert!(
        service["refresh"].is_null() && service["id_token"].is_null(),
        "{seen}"
    );
    let claims = jwt_claims(service["token"].as_str().unwrap());
    assert_eq!(claims["sub"], claims["client_id"]);

    // RP-initiated logout, as the library built it: back to the app, the browser signed out.
    let end = seen["end_session"].as_str().unwrap();
    let res = app.client.get(end).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let to = res.headers()["location"].to_str().unwrap();
    assert_eq!(to, format!("{BYE}?state=bye"));
    assert_eq!(app.me(&token(&login, "access_token")).await.status(), 401);
}
