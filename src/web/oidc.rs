//! The OpenID provider's endpoints under `/oidc`. They answer as their specifications say
//! (OAuth 2.0 and OpenID JSON and error objects, redirects, HTML pages), not in the API's
//! `{code, msg, data}` envelope, so they are plain actix routes outside the OpenAPI document.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::current_user::CurrentUser;
use super::rate_limit::{limiter, Limits};
use super::{Client, PublicUrl};
use crate::auth::sessions::Sessions;
use crate::config::SessionSettings;
use std::sync::Arc;

use crate::oidc::clients::ClientAuth;
use crate::oidc::flow::{params, Answer, PageError, Params};
use crate::oidc::logout::LogoutAnswer;
use crate::oidc::token::{TokenError, UserinfoError};
use crate::oidc::{OidcClient, Provider};

/// The browser's single sign-on cookie: HttpOnly, `SameSite=Lax` (sent on the top-level
/// navigation an app's redirect is, not on cross-site posts), only to `/oidc`.
pub const SSO_COOKIE: &str = "portcullis_sso";
const SSO_PATH: &str = "/oidc";

pub fn configure(cfg: &mut web::ServiceConfig, limits: &Limits) {
    cfg.service(
        web::resource("/oidc/authorize")
            .wrap(limiter(&limits.oidc_authorize))
            .route(web::get().to(authorize)),
    )
    .service(
        web::resource("/oidc/consent")
            .wrap(limiter(&limits.oidc_authorize))
            .route(web::post().to(consent)),
    )
    .service(
        web::resource("/oidc/token")
            .wrap(limiter(&limits.oidc_token))
            .route(web::post().to(token)),
    )
    .service(
        web::resource("/oidc/revoke")
            .wrap(limiter(&limits.oidc_token))
            .route(web::post().to(revoke)),
    )
    .service(
        web::resource("/oidc/logout")
            .wrap(limiter(&limits.oidc_authorize))
            .route(web::get().to(logout))
            .route(web::post().to(logout)),
    )
    .service(
        web::resource("/oidc/userinfo")
            .route(web::get().to(userinfo))
            .route(web::post().to(userinfo)),
    )
    .service(
        web::resource("/oidc/session")
            .wrap(super::bearer::require_bearer())
            .route(web::post().to(browser_session)),
    );
}

fn sso_cookie(value: &str, s: &SessionSettings) -> Cookie<'static> {
    Cookie::build(SSO_COOKIE, value.to_owned())
        .path(SSO_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(s.cookie_secure)
        .max_age(CookieDuration::seconds(s.absolute_ttl_seconds))
        .finish()
}

/// `POST /oidc/session` with the bearer token of a sign-in at the provider's page: the
/// browser's single sign-on cookie for that session.
async fn browser_session(who: CurrentUser, sessions: web::Data<Sessions>) -> HttpResponse {
    match sessions.browser_cookie(who.user.user.id, &who.sid).await {
        Ok(Some(cookie)) => HttpResponse::NoContent()
            .cookie(sso_cookie(&cookie, sessions.settings()))
            .finish(),
        Ok(None) => HttpResponse::Unauthorized().json(serde_json::json!({
            "error": "invalid_token", "error_description": "the session has ended"
        })),
        Err(e) => {
            tracing::warn!(error = %e, "cannot set the single sign-on cookie");
            unavailable_page()
        }
    }
}

async fn authorize(
    req: HttpRequest,
    provider: web::Data<Provider>,
    public_url: web::Data<PublicUrl>,
) -> HttpResponse {
    let browser = req.cookie(SSO_COOKIE).map(|c| c.value().to_owned());
    let answer = provider
        .authorize(req.query_string().as_bytes(), browser.as_deref())
        .await;
    respond(answer, &public_url.0)
}

async fn consent(
    req: HttpRequest,
    body: web::Bytes,
    provider: web::Data<Provider>,
    public_url: web::Data<PublicUrl>,
) -> HttpResponse {
    let Some(p) = params(&body) else {
        return page(400, "Consent", PageError::Repeated.message());
    };
    let (Some(resume), Some(decision)) = (p.get("resume"), p.get("decision")) else {
        return page(400, "Consent", PageError::Expired.message());
    };
    let browser = req.cookie(SSO_COOKIE).map(|c| c.value().to_owned());
    let answer = provider
        .consent(resume, decision == "allow", browser.as_deref())
        .await;
    respond(answer, &public_url.0)
}

fn respond(answer: Answer, base: &str) -> HttpResponse {
    match answer {
        Answer::Redirect(to) => found(&to),
        Answer::SignIn {
            resume,
            fresh,
            login_hint,
        } => {
            let mut to = format!("{base}/login?oidc={resume}");
            if fresh {
                to.push_str("&fresh=1");
            }
            if let Some(hint) = login_hint {
                to.push_str("&login_hint=");
                to.extend(url::form_urlencoded::byte_serialize(hint.as_bytes()));
            }
            found(&to)
        }
        Answer::Consent {
            resume,
            client,
            scopes,
        } => consent_page(&resume, &client, &scopes),
        Answer::Page(PageError::Unavailable) => unavailable_page(),
        Answer::Page(e) => page(400, "Cannot sign in", e.message()),
    }
}

fn found(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn unavailable_page() -> HttpResponse {
    let mut res = page(503, "Cannot sign in", PageError::Unavailable.message());
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

/// `&`, `<`, `>`, `"` and `'` as entities.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page of the provider's own: no scripts, never framed, never cached.
fn html(status: u16, title: &str, body: &str) -> HttpResponse {
    let doc = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Portcullis</title><link rel=\"stylesheet\" href=\"/ui/style.css\"></head>\
         <body><main id=\"view\" class=\"card narrow\">{body}</main></body></html>",
        escape(title)
    );
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .insert_header((header::X_FRAME_OPTIONS, "DENY"))
    .insert_header((
        header::CONTENT_SECURITY_POLICY,
        // No `form-action`: browsers apply it to the redirect a form's answer is (to the app),
        // which would stop the consent and sign-out forms there.
        "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    ))
    .insert_header((header::REFERRER_POLICY, "no-referrer"))
    .body(doc)
}

fn page(status: u16, title: &str, message: &str) -> HttpResponse {
    html(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\" role=\"alert\" id=\"oidc-error\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}

fn scope_text(scope: &str) -> Option<&'static str> {
    match scope {
        "profile" => Some("your username and name"),
        "email" => Some("your email address"),
        "roles" => Some("your roles and permissions"),
        "offline_access" => Some("access while you are signed out"),
        _ => None,
    }
}

fn consent_page(resume: &str, client: &str, scopes: &[String]) -> HttpResponse {
    let items: String = scopes
        .iter()
        .filter_map(|s| scope_text(s))
        .map(|t| format!("<li>{}</li>", escape(t)))
        .collect();
    let items = match items.is_empty() {
        true => "<li>who you are</li>".to_owned(),
        false => format!("<li>who you are</li>{items}"),
    };
    html(
        200,
        "Allow access",
        &format!(
            "<h1>Allow access</h1><p><strong id=\"oidc-client\">{}</strong> asks to see:</p>\
             <ul id=\"oidc-scopes\">{items}</ul>\
             <form method=\"post\" action=\"/oidc/consent\">\
             <input type=\"hidden\" name=\"resume\" value=\"{}\">\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"oidc-allow\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"oidc-deny\" class=\"secondary\">Deny</button>\
             </form>",
            escape(client),
            escape(resume),
        ),
    )
}

fn token_json(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .insert_header((header::PRAGMA, "no-cache"))
    .json(body)
}

fn token_error(e: TokenError, basic: bool) -> HttpResponse {
    let mut res = token_json(e.status, e.json());
    if e.status == 401 && basic {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"portcullis\""),
        );
    }
    if let Some(wait) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

/// RFC 6749 §2.3.1: HTTP Basic with the id and secret form-encoded, or both in the body (not
/// both ways at once); a public client sends only its `client_id`.
fn client_credentials(
    req: &HttpRequest,
    p: &crate::oidc::flow::Params,
) -> Result<(String, Option<String>, bool), TokenError> {
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    match basic {
        Some((_, encoded)) => {
            if p.contains_key("client_secret") {
                return Err(TokenError::new(
                    "invalid_request",
                    "the client authenticated in the header and the body",
                ));
            }
            let raw = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(TokenError::invalid_client)?;
            let (id, secret) = raw.split_once(':').ok_or_else(TokenError::invalid_client)?;
            let (id, secret) = (
                decode(id).ok_or_else(TokenError::invalid_client)?,
                decode(secret).ok_or_else(TokenError::invalid_client)?,
            );
            if p.get("client_id").is_some_and(|body_id| *body_id != id) {
                return Err(TokenError::new(
                    "invalid_request",
                    "client_id differs from the authenticated client",
                ));
            }
            Ok((id, Some(secret), true))
        }
        None => match p.get("client_id") {
            Some(id) => Ok((id.clone(), p.get("client_secret").cloned(), false)),
            None => Err(TokenError::invalid_client()),
        },
    }
}

/// The form of a token-endpoint request, and the client it authenticates; or the answer.
async fn form_and_client(
    req: &HttpRequest,
    body: &[u8],
    provider: &Provider,
) -> Result<(Params, Arc<OidcClient>), HttpResponse> {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(token_error(
            TokenError::new(
                "invalid_request",
                "send the parameters as application/x-www-form-urlencoded",
            ),
            false,
        ));
    }
    let Some(p) = params(body) else {
        return Err(token_error(
            TokenError::new("invalid_request", "a parameter is repeated"),
            false,
        ));
    };
    let (id, secret, basic) = client_credentials(req, &p).map_err(|e| token_error(e, false))?;
    let address = Client::key_of(req);
    match provider
        .clients
        .authenticate(&id, secret.as_deref(), &address)
        .await
    {
        Ok(ClientAuth::Client(c)) => Ok((p, c)),
        Ok(ClientAuth::Refused) => Err(token_error(TokenError::invalid_client(), basic)),
        Ok(ClientAuth::Limited(wait)) => {
            let mut e = TokenError::invalid_client();
            e.retry_after = Some(wait);
            e.status = 429;
            Err(token_error(e, basic))
        }
        Err(e) => Err(token_error(e.into(), basic)),
    }
}

async fn token(req: HttpRequest, body: web::Bytes, provider: web::Data<Provider>) -> HttpResponse {
    let (p, client) = match form_and_client(&req, &body, &provider).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match provider.token(&client, &p, &Client::of(&req)).await {
        Ok(tokens) => token_json(200, serde_json::to_value(tokens).unwrap_or_default()),
        Err(e) => token_error(e, false),
    }
}

/// RFC 7009: 200 whether or not the token was one (so nobody learns which are).
async fn revoke(req: HttpRequest, body: web::Bytes, provider: web::Data<Provider>) -> HttpResponse {
    let (p, client) = match form_and_client(&req, &body, &provider).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let Some(token) = p.get("token") else {
        return token_error(
            TokenError::new("invalid_request", "token is missing"),
            false,
        );
    };
    match provider.revoke(&client, token).await {
        Ok(()) => token_json(200, serde_json::json!({})),
        Err(e) => token_error(e.into(), false),
    }
}

/// RP-initiated logout: the query (GET) or the form (POST, also the confirmation's answer).
async fn logout(
    req: HttpRequest,
    body: web::Bytes,
    provider: web::Data<Provider>,
    sessions: web::Data<Sessions>,
) -> HttpResponse {
    let posted = req.method() == actix_web::http::Method::POST;
    let raw: &[u8] = if posted {
        &body
    } else {
        req.query_string().as_bytes()
    };
    let Some(p) = params(raw) else {
        return page(400, "Sign out", PageError::Repeated.message());
    };
    let confirmed = posted && p.get("confirm").is_some_and(|v| v == "yes");
    let browser = req.cookie(SSO_COOKIE).map(|c| c.value().to_owned());
    match provider.logout(&p, browser.as_deref(), confirmed).await {
        LogoutAnswer::Confirm => confirm_logout_page(&p),
        LogoutAnswer::Done(back) => {
            let mut res = match back {
                Some(to) => found(&to),
                None => page(200, "Signed out", "You are signed out."),
            };
            let mut gone = sso_cookie("", sessions.settings());
            gone.make_removal();
            let _ = res.add_cookie(&gone);
            res
        }
        LogoutAnswer::Page(PageError::Unavailable) => unavailable_page(),
        LogoutAnswer::Page(e) => page(400, "Sign out", e.message()),
    }
}

fn confirm_logout_page(p: &Params) -> HttpResponse {
    let hidden: String = ["client_id", "post_logout_redirect_uri", "state"]
        .iter()
        .filter_map(|k| p.get(*k).map(|v| (k, v)))
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            )
        })
        .collect();
    html(
        200,
        "Sign out",
        &format!(
            "<h1>Sign out</h1><p>Sign out of Portcullis and the apps you signed in to with it?</p>\
             <form method=\"post\" action=\"/oidc/logout\">{hidden}\
             <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
             <button type=\"submit\" id=\"oidc-logout\">Sign out</button></form>"
        ),
    )
}

/// OpenID Connect Core §5.3: the bearer token in the header (or, posted, in the form).
async fn userinfo(
    req: HttpRequest,
    body: web::Bytes,
    provider: web::Data<Provider>,
) -> HttpResponse {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let from_form = params(&body).and_then(|p| p.get("access_token").cloned());
    let refuse = |error: &str, status: u16| {
        let mut res = token_json(status, serde_json::json!({"error": error}));
        let challenge = match error {
            "invalid_token" => "Bearer error=\"invalid_token\"",
            _ => "Bearer",
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        res
    };
    let token = match (from_header, from_form) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(_), Some(_)) => return refuse("invalid_request", 400),
        (None, None) => return refuse("invalid_request", 401),
    };
    match provider.userinfo(&token).await {
        Ok(claims) => token_json(200, serde_json::Value::Object(claims)),
        Err(UserinfoError::InvalidToken) => refuse("invalid_token", 401),
        Err(UserinfoError::Unavailable) => {
            let mut res = token_json(503, serde_json::json!({"error": "temporarily_unavailable"}));
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
