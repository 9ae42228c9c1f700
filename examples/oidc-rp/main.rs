//! A minimal web app that signs its users in through Portcullis (OpenID Connect, with the
//! `openidconnect` crate): the code flow with PKCE, the ID token verified, RP-initiated logout.
//!
//! ```sh
//! cargo run                                   # Portcullis, on http://127.0.0.1:8000
//! cargo run -- oidc-client create --id example-rp --first-party \
//!     --redirect-uri http://127.0.0.1:9000/callback \
//!     --post-logout-redirect-uri http://127.0.0.1:9000/   # prints the secret
//! CLIENT_SECRET=… cargo run --example oidc-rp  # then open http://127.0.0.1:9000/
//! ```
//!
//! Settings from the environment: `PORTCULLIS_ISSUER` (default http://127.0.0.1:8000),
//! `CLIENT_ID` (default example-rp), `CLIENT_SECRET` (required), `LISTEN` (default
//! 127.0.0.1:9000). Sessions live in this process's memory: it is an example, not a framework.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

const COOKIE: &str = "example_rp";

/// A signed-in user, as the ID token said.
struct Signed {
    username: String,
    email: Option<String>,
    id_token: String,
}

struct State {
    client: Client,
    http: reqwest::Client,
    end_session: Option<String>,
    base: String,
    /// `state` -> (PKCE verifier, nonce), until the callback.
    pending: Mutex<HashMap<String, (String, String)>>,
    sessions: Mutex<HashMap<String, Signed>>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Example app</title></head>\
             <body><h1>Example app</h1>{body}</body></html>"
        ))
}

fn found(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", to))
        .finish()
}

async fn home(req: HttpRequest, state: web::Data<Arc<State>>) -> HttpResponse {
    let sessions = state.sessions.lock().unwrap();
    match req.cookie(COOKIE).and_then(|c| sessions.get(c.value())) {
        Some(s) => page(&format!(
            "<p>Signed in as <strong id=\"who\">{}</strong>{}</p><p><a id=\"signout\" href=\"/logout\">Sign out</a></p>",
            escape(&s.username),
            s.email
                .as_deref()
                .map(|e| format!(" (<span id=\"email\">{}</span>)", escape(e)))
                .unwrap_or_default(),
        )),
        None => page("<p id=\"anonymous\">Not signed in.</p><p><a id=\"signin\" href=\"/login\">Sign in with Portcullis</a></p>"),
    }
}

async fn login(state: web::Data<Arc<State>>) -> HttpResponse {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = state
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    state.pending.lock().unwrap().insert(
        csrf.secret().clone(),
        (verifier.secret().clone(), nonce.secret().clone()),
    );
    found(url.as_str())
}

#[derive(serde::Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(q: web::Query<Callback>, state: web::Data<Arc<State>>) -> HttpResponse {
    if let Some(error) = &q.error {
        return page(&format!(
            "<p id=\"error\">Portcullis said: {}</p>",
            escape(error)
        ));
    }
    let pending = q
        .state
        .as_ref()
        .and_then(|s| state.pending.lock().unwrap().remove(s));
    let (Some(code), Some((verifier, nonce))) = (&q.code, pending) else {
        return page("<p id=\"error\">This sign-in is unknown or was used; start again.</p>");
    };
    let exchanged = match state
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
    {
        Ok(request) => {
            request
                .set_pkce_verifier(PkceCodeVerifier::new(verifier))
                .request_async(&state.http)
                .await
        }
        Err(e) => return page(&format!("<p id=\"error\">{}</p>", escape(&e.to_string()))),
    };
    let tokens = match exchanged {
        Ok(t) => t,
        Err(e) => return page(&format!("<p id=\"error\">{}</p>", escape(&e.to_string()))),
    };
    let Some(id_token) = tokens.id_token() else {
        return page("<p id=\"error\">No ID token.</p>");
    };
    let claims = match id_token.claims(&state.client.id_token_verifier(), &Nonce::new(nonce)) {
        Ok(c) => c,
        Err(e) => return page(&format!("<p id=\"error\">{}</p>", escape(&e.to_string()))),
    };
    let signed = Signed {
        username: claims
            .preferred_username()
            .map(|u| u.to_string())
            .unwrap_or_else(|| claims.subject().to_string()),
        email: claims.email().map(|e| e.to_string()),
        id_token: id_token.to_string(),
    };
    let sid = uuid::Uuid::new_v4().simple().to_string();
    state.sessions.lock().unwrap().insert(sid.clone(), signed);
    HttpResponse::Found()
        .insert_header(("location", "/"))
        .cookie(
            Cookie::build(COOKIE, sid)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .finish(),
        )
        .finish()
}

async fn logout(req: HttpRequest, state: web::Data<Arc<State>>) -> HttpResponse {
    let signed = req
        .cookie(COOKIE)
        .and_then(|c| state.sessions.lock().unwrap().remove(c.value()));
    match (signed, &state.end_session) {
        (Some(s), Some(end)) => {
            let mut url = url::Url::parse(end).expect("the end-session endpoint is a URL");
            url.query_pairs_mut()
                .append_pair("id_token_hint", &s.id_token)
                .append_pair("post_logout_redirect_uri", &format!("{}/", state.base));
            found(url.as_str())
        }
        _ => found("/"),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let issuer = env("PORTCULLIS_ISSUER", "http://127.0.0.1:8000");
    let listen = env("LISTEN", "127.0.0.1:9000");
    let secret = std::env::var("CLIENT_SECRET").unwrap_or_else(|_| {
        eprintln!("set CLIENT_SECRET to the secret `portcullis oidc-client create` printed");
        std::process::exit(2)
    });
    let base = format!("http://{listen}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.clone()).expect("PORTCULLIS_ISSUER is a URL"),
        &http,
    )
    .await
    .unwrap_or_else(|e| {
        eprintln!("cannot read {issuer}/.well-known/openid-configuration: {e}");
        std::process::exit(1)
    });
    // RP-initiated logout's endpoint is not among the crate's core metadata.
    let end_session = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .ok()
        .map(|r| r.json::<serde_json::Value>());
    let end_session = match end_session {
        Some(json) => json
            .await
            .ok()
            .and_then(|d| d["end_session_endpoint"].as_str().map(String::from)),
        None => None,
    };
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(env("CLIENT_ID", "example-rp")),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base}/callback")).expect("a redirect URL"));
    let state = Arc::new(State {
        client,
        http,
        end_session,
        base: base.clone(),
        pending: Mutex::default(),
        sessions: Mutex::default(),
    });
    eprintln!("example app on {base}/, signing in through {issuer}");
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
            .route("/logout", web::get().to(logout))
    })
    .workers(1)
    .bind(&listen)?
    .run()
    .await
}
