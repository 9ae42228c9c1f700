pub mod captcha;
mod client_auth;
pub mod events;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod reauth;
pub mod refresh;
pub mod sessions;
pub mod swagger;
pub mod verify;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};

use crate::config::SessionSettings;

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
