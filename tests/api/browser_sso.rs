//! Single sign-on in real Chromium: the example relying party (`examples/oidc-rp`, on the
//! `openidconnect` crate) sends the browser to Portcullis's sign-in page, the consent page asks,
//! the app shows who signed in; a second sign-in needs neither page; signing out at the app
//! signs the browser out of Portcullis too; the account page lists the app and revokes it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis::oidc::clients::{ClientSpec, Grant, IdTokenAlg};

use crate::browser::{browser, click, driver, password_step, text, ui_settings, until, WAIT};
use crate::faults::free_port;
use crate::helpers::*;

/// The example app, killed with the test.
struct Rp(Child);

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_rp(issuer: &str, secret: &str, port: u16) -> Rp {
    let bin = Path::new(env!("CARGO_BIN_EXE_portcullis"))
        .parent()
        .unwrap()
        .join("examples/oidc-rp");
    let child = Command::new(&bin)
        .env("PORTCULLIS_ISSUER", issuer)
        .env("CLIENT_ID", "example-rp")
        .env("CLIENT_SECRET", secret)
        .env("LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{} (built with the tests): {e}", bin.display()));
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the example app did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Rp(child)
}

#[actix_web::test]
async fn the_example_app_signs_in_through_the_pages_and_signs_out_everywhere() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user_full("pia", PASSWORD, Some("pia@example.com"), false)
        .await;
    let port = free_port();
    let rp_base = format!("http://127.0.0.1:{port}");
    let spec = ClientSpec {
        redirect_uris: vec![format!("{rp_base}/callback")],
        post_logout_redirect_uris: vec![format!("{rp_base}/")],
        grants: vec![Grant::AuthorizationCode, Grant::RefreshToken],
        scopes: ["openid", "profile", "email"].map(String::from).into(),
        backchannel_logout_uri: None,
        first_party: false,
        id_token_alg: IdTokenAlg::Rs256,
        resources: Vec::new(),
    };
    let (_, secret) = app
        .oidc_clients
        .create("example-rp", false, spec)
        .await
        .unwrap();
    let _rp = start_rp(&app.address, &secret.unwrap(), port);
    let d = driver();
    let c = browser(&d, "en-US").await;

    c.goto(&format!("{rp_base}/")).await.unwrap();
    until(
        &c,
        "the app's sign-in link",
        "document.querySelector('#signin')",
        WAIT,
    )
    .await;
    click(&c, "#signin").await;
    password_step(&c, "pia", PASSWORD).await;
    until(
        &c,
        "the consent page",
        "document.querySelector('#oidc-allow')",
        WAIT,
    )
    .await;
    assert_eq!(text(&c, "#oidc-client").await, "example-rp");
    assert!(text(&c, "#oidc-scopes").await.contains("email"));
    click(&c, "#oidc-allow").await;
    until(
        &c,
        "signed in at the app",
        "document.querySelector('#who')",
        WAIT,
    )
    .await;
    assert_eq!(text(&c, "#who").await, "pia");
    assert_eq!(text(&c, "#email").await, "pia@example.com");

    // The app forgets its session (its cookie only): signing in again shows no page at all,
    // the browser's session at Portcullis and the consent answer it.
    c.delete_cookie("example_rp").await.unwrap();
    c.goto(&format!("{rp_base}/")).await.unwrap();
    until(
        &c,
        "signed out at the app",
        "document.querySelector('#anonymous')",
        WAIT,
    )
    .await;
    click(&c, "#signin").await;
    until(
        &c,
        "signed in again",
        "document.querySelector('#who')",
        WAIT,
    )
    .await;
    assert_eq!(
        c.current_url().await.unwrap().as_str(),
        format!("{rp_base}/")
    );

    // The account page lists the app; revoked there, the app's next sign-in asks again.
    c.goto(&format!("{}/account", app.address)).await.unwrap();
    let revoke = "[data-revoke-app=\"example-rp\"]";
    until(
        &c,
        "the app on the account page",
        &format!("document.querySelector('{revoke}')"),
        WAIT,
    )
    .await;
    assert!(text(&c, "#app-list").await.contains("email"));
    c.execute("document.getElementById('apps').scrollIntoView()", vec![])
        .await
        .unwrap();
    crate::browser::shot(&c, "account-apps").await;
    click(&c, revoke).await;
    until(
        &c,
        "no app left",
        "document.querySelector('#app-list .hint')",
        WAIT,
    )
    .await;
    c.delete_cookie("example_rp").await.unwrap();
    c.goto(&format!("{rp_base}/")).await.unwrap();
    until(
        &c,
        "signed out at the app",
        "document.querySelector('#signin')",
        WAIT,
    )
    .await;
    click(&c, "#signin").await;
    until(
        &c,
        "the consent page again",
        "document.querySelector('#oidc-allow')",
        WAIT,
    )
    .await;
    click(&c, "#oidc-allow").await;
    until(
        &c,
        "signed in at the app again",
        "document.querySelector('#who')",
        WAIT,
    )
    .await;

    click(&c, "#signout").await;
    until(
        &c,
        "signed out at the app",
        "document.querySelector('#anonymous')",
        WAIT,
    )
    .await;
    c.goto(&format!("{rp_base}/login")).await.unwrap();
    until(
        &c,
        "Portcullis asks to sign in again",
        "location.pathname === '/login' && document.querySelector('#login-form')",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
}
