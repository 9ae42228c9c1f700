//! Passkeys in real Chromium, with WebDriver's virtual authenticator (the WebAuthn extension:
//! CTAP2, internal transport, resident keys, user verification): register on the account page,
//! sign in with it as the second factor and alone, remove it; a page on an origin the server
//! does not allow cannot register one.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{json, Value};

use crate::browser::{
    browser, click, driver, fill, password_step, second_origin, shot, sign_in, ui_settings, until,
    ON_LOGIN, SIGNED_IN, WAIT,
};
use crate::helpers::*;

/// A command of WebDriver's WebAuthn extension (`/session/{id}/webauthn/...`), which
/// fantoccini has no method for.
#[derive(Debug)]
struct WebAuthn {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthn {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

async fn webauthn(c: &Client, method: http::Method, path: &str, body: Option<Value>) -> Value {
    let cmd = WebAuthn {
        method,
        path: path.to_owned(),
        body,
    };
    c.issue_cmd(cmd)
        .await
        .unwrap_or_else(|e| panic!("webauthn/{path}: {e}"))
}

/// A platform authenticator that holds resident keys and verifies its user, answering without
/// a touch; its id.
async fn add_authenticator(c: &Client) -> String {
    let body = json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserVerified": true,
        "automaticPresenceSimulation": true,
    });
    let id = webauthn(c, http::Method::POST, "authenticator", Some(body)).await;
    id.as_str().expect("an authenticator id").to_owned()
}

async fn remove_authenticator(c: &Client, id: &str) {
    webauthn(
        c,
        http::Method::DELETE,
        &format!("authenticator/{id}"),
        None,
    )
    .await;
}

/// The credentials an authenticator holds (id, private key, rp id, user handle, counter).
async fn credentials(c: &Client, id: &str) -> Vec<Value> {
    let v = webauthn(
        c,
        http::Method::GET,
        &format!("authenticator/{id}/credentials"),
        None,
    )
    .await;
    v.as_array().cloned().unwrap_or_default()
}

/// A new authenticator holding a copy of `credential`; `resident`: discoverable (offered
/// without naming it: autofill, the passkey button) or not (only when the server names it,
/// as a second factor does).
async fn authenticator_with(c: &Client, credential: &Value, resident: bool) -> String {
    let id = add_authenticator(c).await;
    let mut credential = credential.clone();
    credential["isResidentCredential"] = resident.into();
    webauthn(
        c,
        http::Method::POST,
        &format!("authenticator/{id}/credential"),
        Some(credential),
    )
    .await;
    id
}

/// The server's address by name: browsers bind passkeys to names, never to IP addresses.
fn by_name(address: &str) -> String {
    address.replace("127.0.0.1", "localhost")
}

impl TestApp {
    /// The names of the user's passkeys and whether each was used, as stored.
    async fn stored_passkeys(&self, uid: i64) -> Vec<(String, bool)> {
        self.repo
            .passkeys_of(uid)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.last_used_at.is_some()))
            .collect()
    }
}

async fn add_passkey(c: &Client, name: &str) {
    click(c, "#passkey-add").await;
    until(
        c,
        "the name asked",
        "document.querySelector('#ask').open",
        WAIT,
    )
    .await;
    fill(c, "#ask-input", name).await;
    click(c, "#ask-ok").await;
}

#[actix_web::test]
async fn a_passkey_is_registered_and_signs_in_from_the_username_fields_autofill() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    let kate = app.create_user("kate").await;
    let base = by_name(&app.address);
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{base}/login")).await.unwrap();
    add_authenticator(&c).await;

    sign_in(&c, &base, "kate", PASSWORD).await;
    until(
        &c,
        "the passkeys",
        "document.querySelector('#passkey-add')",
        WAIT,
    )
    .await;
    add_passkey(&c, "Laptop").await;
    until(
        &c,
        "the passkey listed",
        "document.querySelector('[data-passkey=\"Laptop\"]')",
        WAIT,
    )
    .await;
    // The first factor: the recovery codes come with it.
    until(
        &c,
        "the recovery codes",
        "document.querySelectorAll('#recovery-codes li').length === 10",
        WAIT,
    )
    .await;
    shot(&c, "account-passkey").await;

    // Signed out, the login page asks the browser for a passkey in the username field's
    // autofill (conditional mediation); the virtual authenticator answers at once, so the
    // account page comes back (a new one: the old one is marked).
    c.execute(
        "document.querySelector('#whoami').dataset.old = 'yes'",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#sign-out").await;
    until(
        &c,
        "signed in from the autofill",
        "document.querySelector('#whoami') && !document.querySelector('#whoami').dataset.old",
        WAIT,
    )
    .await;
    assert_eq!(
        app.stored_passkeys(kate).await,
        [("Laptop".to_owned(), true)]
    );
    c.close().await.unwrap();
}

#[actix_web::test]
async fn a_passkey_is_the_second_factor_and_signs_in_alone_from_the_button_and_is_removed() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    let kate = app.create_user("kate").await;
    let base = by_name(&app.address);
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{base}/login")).await.unwrap();
    let first = add_authenticator(&c).await;
    sign_in(&c, &base, "kate", PASSWORD).await;
    until(
        &c,
        "the passkeys",
        "document.querySelector('#passkey-add')",
        WAIT,
    )
    .await;
    add_passkey(&c, "Laptop").await;
    until(
        &c,
        "registered",
        "document.querySelector('[data-passkey=\"Laptop\"]')",
        WAIT,
    )
    .await;
    let credential = credentials(&c, &first).await.remove(0);
    let user_handle = credential["userHandle"].clone();
    assert!(
        user_handle.is_string(),
        "a resident credential: {credential}"
    );
    // No authenticator while signing out and in: the autofill finds nothing to offer.
    remove_authenticator(&c, &first).await;

    // The password, then the passkey, held now as a credential only the server's naming of
    // it finds (the second step's options list it).
    click(&c, "#sign-out").await;
    password_step(&c, "kate", PASSWORD).await;
    until(
        &c,
        "the second step",
        "document.querySelector('#mfa-passkey')",
        WAIT,
    )
    .await;
    shot(&c, "login-mfa-passkey").await;
    let second = authenticator_with(&c, &credential, false).await;
    click(&c, "#mfa-passkey").await;
    until(&c, "signed in with the passkey", SIGNED_IN, WAIT).await;
    // Its signature counter moved on; the copy below carries it (and the user handle, which
    // a credential that is not resident does not hold).
    let mut credential = credentials(&c, &second).await.remove(0);
    credential["userHandle"] = user_handle;
    remove_authenticator(&c, &second).await;

    // The passkey alone, from the button.
    click(&c, "#sign-out").await;
    until(&c, "the login page", ON_LOGIN, WAIT).await;
    authenticator_with(&c, &credential, true).await;
    click(&c, "#passkey-login").await;
    until(&c, "signed in without a password", SIGNED_IN, WAIT).await;

    // Later, removing it needs a recent sign-in: the page confirms it with the passkey (no
    // password asked), then removes it.
    until(
        &c,
        "the list",
        "document.querySelector('[data-passkey=\"Laptop\"]')",
        WAIT,
    )
    .await;
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    click(&c, "[data-passkey=\"Laptop\"]").await;
    until(
        &c,
        "removed",
        "!document.querySelector('[data-passkey]') && document.querySelector('#passkey-add')",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
    assert!(app.stored_passkeys(kate).await.is_empty());
}

#[actix_web::test]
async fn a_page_on_an_origin_the_server_does_not_allow_cannot_register_a_passkey() {
    let origin = second_origin();
    let other = by_name(&origin.url);
    let (mut s, res) = ui_settings().await;
    s.cors.allowed_origins = vec![other.clone()];
    let app = spawn_with(s, res).await;
    // The page's API calls go to the server by name too (the cookie's site).
    *origin.api.lock().unwrap() = by_name(&app.address);
    let mal = app.create_user("mal").await;
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{other}/login")).await.unwrap();
    add_authenticator(&c).await;

    sign_in(&c, &other, "mal", PASSWORD).await;
    until(
        &c,
        "the passkeys",
        "document.querySelector('#passkey-add')",
        WAIT,
    )
    .await;
    add_passkey(&c, "Phished").await;
    until(
        &c,
        "refused",
        "document.querySelector('#factors-message')?.textContent.includes('not accepted')",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
    assert!(app.stored_passkeys(mal).await.is_empty());
}
