pub mod account;
pub mod apps;
pub mod captcha;
mod client_auth;
pub mod events;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod passkeys;
pub mod reauth;
pub mod refresh;
pub mod sessions;
pub mod swagger;
pub mod verify;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::HttpRequest;

use crate::config::{RefreshTokenInBody, SessionSettings};

pub const REFRESH_COOKIE: &str = "portcullis_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

fn cookie(token: &str, max_age_seconds: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, token.to_owned())
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_seconds))
        .finish()
}

/// The refresh token cookie: HttpOnly, scoped to the auth routes, SameSite=Lax.
pub fn refresh_cookie(token: &str, s: &SessionSettings) -> Cookie<'static> {
    cookie(token, s.refresh_ttl_seconds, s.cookie_secure)
}

pub fn clear_refresh_cookie(s: &SessionSettings) -> Cookie<'static> {
    let mut c = cookie("", 0, s.cookie_secure);
    c.make_removal();
    c
}

/// Whether an answer's JSON carries the refresh token too (`session.refresh_token_in_body`).
/// By default a browser page's request (it sends `Origin` or `Sec-Fetch-Site`) gets it in the
/// HttpOnly cookie only, out of reach of the page's scripts, as fba keeps it.
pub fn refresh_token_in_body(req: &HttpRequest, s: &SessionSettings) -> bool {
    match s.refresh_token_in_body {
        RefreshTokenInBody::Always => true,
        RefreshTokenInBody::Never => false,
        RefreshTokenInBody::ExceptBrowsers => {
            let h = req.headers();
            !(h.contains_key(header::ORIGIN) || h.contains_key("sec-fetch-site"))
        }
    }
}
