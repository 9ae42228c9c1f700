//! The API reference at `/docs` when `docs.enabled`: Swagger UI, vendored at a pinned release
//! (`ui/vendor/swagger-ui/`, refreshed by `scripts/refresh-swagger-ui.sh`) and compiled into the
//! binary, opened by a page of ours on this server's own document. Not part of the document.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use super::ui::asset;

/// The vendored Swagger UI release (`swagger-ui-dist` on npm).
pub const SWAGGER_UI_VERSION: &str = include_str!("../../ui/vendor/swagger-ui/VERSION");

const INDEX: &str = include_str!("../../ui/docs/index.html");
const DOCS_JS: &str = include_str!("../../ui/docs/docs.js");
const BUNDLE_JS: &[u8] = include_bytes!("../../ui/vendor/swagger-ui/swagger-ui-bundle.js");
const BUNDLE_CSS: &[u8] = include_bytes!("../../ui/vendor/swagger-ui/swagger-ui.css");

/// Scripts and styles from this server only (the page has no inline script; Swagger UI sets
/// styles through the DOM, which `style-src` does not govern), its icons as `data:` images, calls
/// to this origin only (no `?url=` document elsewhere, no validator badge), never framed. The
/// OAuth2 password flow posts with `fetch`, so `form-action` stays shut.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; form-action 'none'; \
                       base-uri 'none'; frame-ancestors 'none'";

/// A vendored file: validated by the release's version, so a reload costs no 1.7 MB.
fn vendored(req: &HttpRequest, body: &'static [u8], content_type: &'static str) -> HttpResponse {
    let etag = format!("\"swagger-ui-{}\"", SWAGGER_UI_VERSION.trim());
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified().finish()
    } else {
        asset(body, content_type)
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

async fn page() -> HttpResponse {
    let mut res = asset(INDEX.as_bytes(), "text/html; charset=utf-8");
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The page and its files, for the plain actix app; any other path under `/docs` is the
/// app's 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs", web::get().to(page))
        .route("/docs/", web::get().to(page))
        .route(
            "/docs/docs.js",
            web::get().to(|| async { asset(DOCS_JS.as_bytes(), "text/javascript; charset=utf-8") }),
        )
        .route(
            "/docs/swagger-ui-bundle.js",
            web::get().to(|req: HttpRequest| async move {
                vendored(&req, BUNDLE_JS, "text/javascript; charset=utf-8")
            }),
        )
        .route(
            "/docs/swagger-ui.css",
            web::get().to(|req: HttpRequest| async move {
                vendored(&req, BUNDLE_CSS, "text/css; charset=utf-8")
            }),
        );
}
