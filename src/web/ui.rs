//! The reference frontend (`ui/`): plain HTML, CSS and JavaScript modules, compiled into the
//! binary and served at `/` when `ui.enabled`. Page paths all answer the one HTML page; the
//! script shows the view the path names.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

const INDEX: &str = include_str!("../../ui/index.html");
const STYLE_CSS: &str = include_str!("../../ui/style.css");

/// The script's modules, one per page over a few shared ones; `app.js` starts it.
pub const MODULES: &[(&str, &str)] = &[
    ("/ui/app.js", include_str!("../../ui/app.js")),
    ("/ui/api.js", include_str!("../../ui/api.js")),
    ("/ui/text.js", include_str!("../../ui/text.js")),
    ("/ui/dom.js", include_str!("../../ui/dom.js")),
    ("/ui/router.js", include_str!("../../ui/router.js")),
    ("/ui/login.js", include_str!("../../ui/login.js")),
    ("/ui/account.js", include_str!("../../ui/account.js")),
    ("/ui/factors.js", include_str!("../../ui/factors.js")),
    ("/ui/webauthn.js", include_str!("../../ui/webauthn.js")),
    ("/ui/admin.js", include_str!("../../ui/admin.js")),
    ("/ui/email.js", include_str!("../../ui/email.js")),
    ("/ui/sso.js", include_str!("../../ui/sso.js")),
];

/// Where the page lives; each answers the same document.
pub const PAGES: &[&str] = &[
    "/",
    "/login",
    "/account",
    "/admin",
    "/oauth2/callback",
    "/signup",
    "/forgot",
    "/reset",
    "/verify-email",
];

/// Scripts and styles from this server only, images also inline (the captcha); API calls to
/// this origin; never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A file compiled into the binary, revalidated on every use (`no-cache`), never sniffed.
pub fn asset(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .body(body)
}

async fn page() -> HttpResponse {
    let mut res = asset(INDEX.as_bytes(), "text/html; charset=utf-8");
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The page's routes, for a plain actix app (they are not part of the API's document).
pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in PAGES {
        cfg.route(path, web::get().to(page));
    }
    for (path, body) in MODULES {
        cfg.route(
            path,
            web::get().to(|| async { asset(body.as_bytes(), "text/javascript; charset=utf-8") }),
        );
    }
    cfg.route(
        "/ui/style.css",
        web::get().to(|| async { asset(STYLE_CSS.as_bytes(), "text/css; charset=utf-8") }),
    );
}

#[cfg(test)]
mod tests {
    use super::MODULES;

    #[test]
    fn every_module_in_ui_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".js") {
                let path = format!("/ui/{name}");
                assert!(
                    MODULES.iter().any(|(p, _)| *p == path),
                    "{path} is not in MODULES"
                );
            }
        }
    }
}
