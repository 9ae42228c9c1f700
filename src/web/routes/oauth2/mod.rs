//! Social login routes: start (authorize URL), callback, the one-time code exchange, and
//! binding identities to a logged-in user.

pub mod bindings;
pub mod flow;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use serde::{Deserialize, Serialize};

pub const BROWSER_COOKIE: &str = "portcullis_oauth2";
const COOKIE_PATH: &str = "/api/v1/oauth2";

/// Why a flow was started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "purpose", rename_all = "lowercase")]
pub enum Purpose {
    Login,
    /// Binding to this user, started from this session.
    Bind {
        user_id: i64,
        sid: String,
    },
}

/// What the store keeps under the `state` until the callback (single use).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateRecord {
    pub provider: String,
    #[serde(flatten)]
    pub purpose: Purpose,
    pub verifier: String,
    pub nonce: Option<String>,
    /// SHA-256 of the browser cookie set when the flow started.
    pub browser: String,
    pub redirect_to: Option<String>,
}

/// The short-lived cookie that ties a flow to the browser that started it.
pub fn browser_cookie(value: &str, ttl: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(BROWSER_COOKIE, value.to_owned())
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(ttl))
        .finish()
}

pub fn clear_browser_cookie(secure: bool) -> Cookie<'static> {
    let mut c = browser_cookie("", 0, secure);
    c.make_removal();
    c
}

/// `url` with one more query parameter.
pub fn with_param(url: &str, key: &str, value: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair(key, value);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}
