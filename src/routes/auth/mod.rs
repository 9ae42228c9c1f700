pub mod captcha;
pub mod login;
pub mod logout;
pub mod refresh;
pub mod sessions;
pub mod swagger;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};

pub const REFRESH_COOKIE: &str = "portcullis_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

/// The refresh token cookie: HttpOnly, scoped to the auth routes, SameSite=Lax.
pub fn refresh_cookie(token: &str, max_age_seconds: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, token.to_owned())
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(max_age_seconds))
        .finish()
}

pub fn clear_refresh_cookie(secure: bool) -> Cookie<'static> {
    let mut c = refresh_cookie("", 0, secure);
    c.make_removal();
    c
}
