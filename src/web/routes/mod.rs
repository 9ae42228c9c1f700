//! Every route, registered once on the paperclip-wrapped app so the router and the spec agree.

pub mod admin_users;
pub mod auth;
pub mod health;
pub mod logs;
pub mod monitors;
pub mod monitors_fba;
pub mod oauth2;
pub mod oidc_clients;
pub mod roles;
pub mod users;
pub mod well_known;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::{from_fn, Next},
    web::Data,
};
use paperclip::actix::web;

use super::bearer::require_bearer;
use super::rate_limit::{limiter, Limits};
use super::Client;
use crate::clock::SharedClock;
use crate::login_log::{LoginLog, Reason};

/// Puts rate-limited login attempts in the login log (the limiter answers before the handler,
/// so the body, and with it the username, is never read).
async fn log_rate_limited(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = if req.path().ends_with("/swagger") {
        "swagger"
    } else {
        "password"
    };
    let res = next.call(req).await?;
    if res.status() == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
        let req = res.request();
        if let (Some(log), Some(clock)) = (
            req.app_data::<Data<LoginLog>>(),
            req.app_data::<Data<SharedClock>>(),
        ) {
            log.record(
                "",
                None,
                Reason::RateLimited,
                method,
                &Client::of(req),
                clock.naive(),
            );
        }
    }
    Ok(res)
}

/// `page` from 1 and `size` from 1 to 200, defaults 1 and 20. (A page far past the end is
/// simply empty: offsets saturate.)
pub fn paging(page: Option<i64>, size: Option<i64>) -> Result<(i64, i64), crate::error::ApiError> {
    let (page, size) = (page.unwrap_or(1), size.unwrap_or(20));
    if page < 1 || !(1..=200).contains(&size) {
        return Err(
            crate::error::ApiError::new(crate::error::kind::INVALID_BODY)
                .with_detail("page must be at least 1 and size 1 to 200"),
        );
    }
    Ok((page, size))
}

/// Registers the API. Protected resources are wrapped in the bearer middleware one by one, so a
/// public route is public because it says so here, not because a list forgot it.
pub fn configure(cfg: &mut web::ServiceConfig, limits: &Limits, swagger_login: bool) {
    // The hot path first, and outside the scope: routes are matched in order, and a resource at
    // the top needs one router instead of two.
    cfg.service(
        web::resource("/api/v1/sys/users/me")
            .wrap(require_bearer())
            .route(web::get().to(users::me)),
    );
    // Forward-auth is as hot: every request to a protected API passes it. It asks the gate
    // itself (no bearer middleware) and answers any method.
    let mut verify = web::resource("/api/v1/auth/verify");
    for method in [
        actix_web::http::Method::GET,
        actix_web::http::Method::HEAD,
        actix_web::http::Method::POST,
        actix_web::http::Method::PUT,
        actix_web::http::Method::PATCH,
        actix_web::http::Method::DELETE,
        actix_web::http::Method::OPTIONS,
    ] {
        verify = verify.route(web::method(method).to(auth::verify::verify));
    }
    cfg.service(verify);
    let mut api = web::scope("/api/v1")
        // public, rate limited
        .service(
            web::resource("/auth/captcha")
                .wrap(limiter(&limits.captcha))
                .route(web::get().to(auth::captcha::captcha)),
        )
        .service(
            web::resource("/auth/login")
                .wrap(limiter(&limits.login))
                .wrap(from_fn(log_rate_limited))
                .route(web::post().to(auth::login::login)),
        )
        .service(
            web::resource("/auth/refresh")
                .wrap(limiter(&limits.refresh))
                .route(web::post().to(auth::refresh::refresh)),
        )
        .service(
            web::resource("/auth/mfa/verify")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::mfa::verify)),
        )
        .service(
            web::resource("/auth/passkey/options")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::passkeys::login_options)),
        )
        .service(
            web::resource("/auth/passkey/login")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::passkeys::login)),
        )
        .service(
            web::resource("/auth/mfa/enrol/totp")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::mfa::enrol_totp_with_ticket)),
        )
        .service(
            web::resource("/auth/mfa/enrol/totp/confirm")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::mfa::confirm_totp_with_ticket)),
        )
        .service(
            web::resource("/auth/register")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::account::register)),
        )
        .service(
            web::resource("/auth/registration")
                .wrap(limiter(&limits.captcha))
                .route(web::get().to(auth::account::registration)),
        )
        .service(
            web::resource("/auth/password/forgot")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::account::forgot)),
        )
        .service(
            web::resource("/auth/password/reset")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::account::reset)),
        )
        .service(
            web::resource("/auth/email/verify")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::account::verify_email)),
        )
        .service(
            web::resource("/auth/email/verify/resend")
                .wrap(limiter(&limits.login))
                .route(web::post().to(auth::account::resend_verification)),
        );
    if swagger_login {
        api = api.service(
            web::resource("/auth/login/swagger")
                .wrap(limiter(&limits.login))
                .wrap(from_fn(log_rate_limited))
                .route(web::post().to(auth::swagger::swagger_login)),
        );
    }
    cfg.service(
        api
            // public
            .service(web::resource("/auth/logout").route(web::post().to(auth::logout::logout)))
            // bearer
            .service(
                web::resource("/auth/logout/all")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::logout::logout_all)),
            )
            .service(
                web::resource("/auth/introspect")
                    .route(web::post().to(auth::introspect::introspect)),
            )
            .service(web::resource("/auth/events").route(web::get().to(auth::events::events)))
            .service(
                web::resource("/sys/roles")
                    .wrap(require_bearer())
                    .route(web::get().to(roles::list))
                    .route(web::post().to(roles::create)),
            )
            .service(
                web::resource("/sys/roles/{id}")
                    .wrap(require_bearer())
                    .route(web::put().to(roles::update))
                    .route(web::delete().to(roles::delete)),
            )
            .service(
                web::resource("/sys/roles/{id}/permissions")
                    .wrap(require_bearer())
                    .route(web::put().to(roles::set_permissions)),
            )
            .service(
                web::resource("/sys/oidc-clients")
                    .wrap(require_bearer())
                    .route(web::get().to(oidc_clients::list))
                    .route(web::post().to(oidc_clients::create)),
            )
            .service(
                web::resource("/sys/oidc-clients/{id}")
                    .wrap(require_bearer())
                    .route(web::put().to(oidc_clients::update))
                    .route(web::delete().to(oidc_clients::delete)),
            )
            .service(
                web::resource("/sys/oidc-clients/{id}/secret")
                    .wrap(require_bearer())
                    .route(web::post().to(oidc_clients::rotate_secret)),
            )
            .service(
                web::resource("/sys/users/{id}/roles")
                    .wrap(require_bearer())
                    .route(web::put().to(roles::set_user_roles)),
            )
            .service(
                web::resource("/auth/mfa")
                    .wrap(require_bearer())
                    .route(web::get().to(auth::mfa::factors)),
            )
            .service(
                web::resource("/auth/mfa/totp")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::mfa::enrol_totp))
                    .route(web::delete().to(auth::mfa::remove_totp)),
            )
            .service(
                web::resource("/auth/mfa/totp/confirm")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::mfa::confirm_totp)),
            )
            .service(
                web::resource("/auth/mfa/passkeys")
                    .wrap(require_bearer())
                    .route(web::get().to(auth::passkeys::list)),
            )
            .service(
                web::resource("/auth/mfa/passkeys/register/start")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::passkeys::register_start)),
            )
            .service(
                web::resource("/auth/mfa/passkeys/register/finish")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::passkeys::register_finish)),
            )
            .service(
                web::resource("/auth/mfa/passkeys/{id}")
                    .wrap(require_bearer())
                    .route(web::delete().to(auth::passkeys::remove)),
            )
            .service(
                web::resource("/auth/mfa/recovery-codes")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::mfa::regenerate_recovery_codes)),
            )
            .service(
                web::resource("/auth/reauthenticate")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::reauth::reauthenticate)),
            )
            .service(
                web::resource("/auth/reauthenticate/options")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::reauth::options)),
            )
            .service(
                web::resource("/auth/sessions")
                    .wrap(require_bearer())
                    .route(web::get().to(auth::sessions::list)),
            )
            .service(
                web::resource("/auth/sessions/{sid}")
                    .wrap(require_bearer())
                    .route(web::delete().to(auth::sessions::end)),
            )
            .service(
                web::resource("/auth/apps")
                    .wrap(require_bearer())
                    .route(web::get().to(auth::apps::list)),
            )
            .service(
                web::resource("/auth/apps/{client_id}")
                    .wrap(require_bearer())
                    .route(web::delete().to(auth::apps::revoke)),
            )
            .service(
                web::resource("/auth/codes")
                    .wrap(require_bearer())
                    .route(web::get().to(auth::sessions::codes)),
            )
            .service(
                web::resource("/sys/users/me/password")
                    .wrap(require_bearer())
                    .route(web::put().to(users::change_password)),
            )
            .service(
                web::resource("/sys/users/me/email")
                    .wrap(require_bearer())
                    .route(web::put().to(auth::account::change_email)),
            )
            .service(
                web::resource("/logs/login")
                    .wrap(require_bearer())
                    .route(web::get().to(logs::login_logs))
                    .route(web::delete().to(logs::delete)),
            )
            .service(
                web::resource("/logs/login/all")
                    .wrap(require_bearer())
                    .route(web::delete().to(logs::clear)),
            )
            // administration; fixed paths (`/sys/users/me/...`) are registered above
            .service(
                web::resource("/sys/users")
                    .wrap(require_bearer())
                    .route(web::get().to(admin_users::list))
                    .route(web::post().to(admin_users::create)),
            )
            .service(
                web::resource("/sys/users/{id}")
                    .wrap(require_bearer())
                    .route(web::put().to(admin_users::update))
                    .route(web::delete().to(admin_users::delete)),
            )
            .service(
                web::resource("/sys/users/{id}/password")
                    .wrap(require_bearer())
                    .route(web::put().to(admin_users::reset_password)),
            )
            .service(
                web::resource("/sys/users/{id}/mfa")
                    .wrap(require_bearer())
                    .route(web::delete().to(admin_users::reset_mfa)),
            )
            .service(
                web::resource("/monitors/online")
                    .wrap(require_bearer())
                    .route(web::get().to(monitors::online)),
            )
            .service(
                web::resource("/monitors/online/{user_id}")
                    .wrap(require_bearer())
                    .route(web::delete().to(monitors::kick)),
            )
            .service(
                web::resource("/monitors/sessions")
                    .wrap(require_bearer())
                    .route(web::get().to(monitors_fba::sessions)),
            )
            .service(
                web::resource("/monitors/sessions/{user_id}")
                    .wrap(require_bearer())
                    .route(web::delete().to(monitors_fba::end)),
            )
            // social login; fixed paths before `/oauth2/{provider}`
            .service(
                web::resource("/oauth2/exchange").route(web::post().to(oauth2::flow::exchange)),
            )
            .service(
                web::resource("/oauth2/providers").route(web::get().to(oauth2::flow::providers)),
            )
            .service(
                web::resource("/oauth2/me/bindings")
                    .wrap(require_bearer())
                    .route(web::get().to(oauth2::bindings::list)),
            )
            .service(
                web::resource("/oauth2/me/bindings/{provider}")
                    .wrap(require_bearer())
                    .route(web::delete().to(oauth2::bindings::unbind)),
            )
            .service(
                web::resource("/oauth2/{provider}")
                    .wrap(limiter(&limits.oauth2_start))
                    .route(web::get().to(oauth2::flow::start)),
            )
            .service(
                web::resource("/oauth2/{provider}/callback")
                    .wrap(limiter(&limits.oauth2_callback))
                    .route(web::get().to(oauth2::flow::callback)),
            )
            .service(
                web::resource("/oauth2/{provider}/bind")
                    .wrap(require_bearer())
                    .wrap(limiter(&limits.oauth2_start))
                    .route(web::get().to(oauth2::flow::bind_start)),
            ),
    )
    .service(web::resource("/.well-known/jwks.json").route(web::get().to(well_known::jwks)))
    .service(
        web::resource("/.well-known/openid-configuration")
            .route(web::get().to(well_known::openid_configuration)),
    )
    .service(web::resource("/health/live").route(web::get().to(health::live)))
    .service(web::resource("/health/ready").route(web::get().to(health::ready)));
}
