//! The whole flow against a real OpenID Connect provider: oidc-provider (npm) on loopback,
//! started from `tests/oidc/provider.mjs` (install it with `npm ci --prefix tests/oidc`;
//! `scripts/test.sh` does). The test drives its login and consent pages as a browser would.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use portcullis::config::{ProviderKind, ProviderSettings};
use serde_json::Value;

use crate::helpers::*;
use crate::oauth2::{location, oauth_app, query_param, FRONTEND};

const REDIRECT_URI: &str = "http://127.0.0.1:1/api/v1/oauth2/corp/callback";

pub struct OidcProvider {
    child: Child,
    pub issuer: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_provider() -> OidcProvider {
    start_provider_for(REDIRECT_URI)
}

/// oidc-provider with one client, `portcullis` / `portcullis-secret`, redirecting to `redirect_uri`.
pub fn start_provider_for(redirect_uri: &str) -> OidcProvider {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/oidc-provider")
            .exists(),
        "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (scripts/test.sh does)"
    );
    let port = free_port();
    let mut child = Command::new("node")
        .current_dir(dir)
        .args([
            "provider.mjs",
            &port.to_string(),
            "portcullis",
            "portcullis-secret",
            redirect_uri,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (Node.js) on PATH");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("ready") => break,
            Some(Ok(_)) => continue,
            _ => panic!("oidc-provider did not start"),
        }
    }
    // Keep reading: a closed pipe would kill the provider at its next log line.
    std::thread::spawn(move || lines.for_each(drop));
    OidcProvider {
        child,
        issuer: format!("http://127.0.0.1:{port}"),
    }
}

/// Portcullis' settings for the provider's one client.
pub fn provider_settings(idp: &OidcProvider, redirect_uri: &str) -> ProviderSettings {
    ProviderSettings {
        kind: ProviderKind::Oidc,
        client_id: "portcullis".into(),
        client_secret: "portcullis-secret".into(),
        redirect_uri: redirect_uri.into(),
        scopes: None,
        issuer: Some(idp.issuer.clone()),
        auth_url: None,
        token_url: None,
        userinfo_url: None,
        emails_url: None,
        display_name: None,
    }
}

/// The value of `name="..." value="..."` pairs and the form's action, from oidc-provider's
/// development pages.
fn form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[start..].split('"').next()?.to_owned())
    };
    let form_tag = html.split("<form").nth(1)?.split('>').next()?;
    let action = attr(form_tag, "action")?;
    let fields = html
        .split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = rest.split('>').next()?;
            let name = attr(tag, "name")?;
            let value = match name.as_str() {
                "login" => "carol-sso".to_owned(),
                "password" => "any password".to_owned(),
                _ => attr(tag, "value").unwrap_or_default(),
            };
            Some((name, value))
        })
        .collect();
    Some((action, fields))
}

/// Follows the provider's redirects and fills its login and consent forms until it sends the
/// browser to our redirect URI; returns that URL.
async fn sign_in_at_provider(app: &TestApp, issuer: &str, authorize: &str) -> String {
    let absolute = |u: &str| {
        if u.starts_with('/') {
            format!("{issuer}{u}")
        } else {
            u.to_owned()
        }
    };
    let mut res = app.client.get(authorize).send().await.unwrap();
    for _ in 0..20 {
        if res.status().is_redirection() {
            let next = absolute(&location(&res));
            if next.starts_with(REDIRECT_URI) {
                return next;
            }
            res = app.client.get(next).send().await.unwrap();
            continue;
        }
        let html = res.text().await.unwrap();
        let (action, fields) = form(&html).unwrap_or_else(|| panic!("no form in:\n{html}"));
        res = app
            .client
            .post(absolute(&action))
            .form(&fields)
            .send()
            .await
            .unwrap();
    }
    panic!("the provider never redirected back");
}

#[actix_web::test]
async fn login_through_a_real_openid_connect_provider() {
    let idp = start_provider();
    let settings = provider_settings(&idp, REDIRECT_URI);
    let app = oauth_app(BTreeMap::from([("corp".into(), settings)]), false).await;

    let mut ids = Vec::new();
    for _ in 0..2 {
        let authorize = app.oauth_start("corp", None).await;
        assert!(authorize.starts_with(&idp.issuer), "{authorize}");
        assert!(authorize.contains("nonce=") && authorize.contains("code_challenge="));
        let back = sign_in_at_provider(&app, &idp.issuer, &authorize).await;
        let code = query_param(&back, "code").expect("authorization code");
        let state = query_param(&back, "state").expect("state");
        let landing = app
            .oauth_callback("corp", &[("code", &code), ("state", &state)])
            .await;
        assert!(landing.starts_with(FRONTEND), "{landing}");
        let one_time = query_param(&landing, "code").unwrap();
        let res = app.oauth_exchange(&one_time).await;
        assert_eq!(res.status(), 200);
        let data: Value = res.json::<Value>().await.unwrap()["data"].clone();
        let me: Value = app
            .me(&token(&data, "access_token"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["data"]["username"], "carol-sso");
        assert_eq!(me["data"]["email"], "carol-sso@example.test");
        assert_eq!(me["data"]["email_verified"], true);
        assert_eq!(me["data"]["nickname"], "User carol-sso");
        ids.push(me["data"]["id"].clone());
        // The provider's code is single-use at the provider too: replaying our callback fails.
        let again = app
            .oauth_callback("corp", &[("code", &code), ("state", &state)])
            .await;
        assert_eq!(
            query_param(&again, "error").as_deref(),
            Some("invalid_state")
        );
    }
    assert_eq!(
        ids[0], ids[1],
        "a second login with the same identity reuses the user"
    );
}
