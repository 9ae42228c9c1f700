//! Every route, registered once on the paperclip-wrapped app so the router and the spec agree.

pub mod auth;
pub mod health;
mod respond;
pub mod users;

use paperclip::actix::web;

pub use respond::ApiOk;

use crate::auth::bearer::require_bearer;

/// Registers the API. Protected resources are wrapped in the bearer middleware one by one, so a
/// public route is public because it says so here, not because a list forgot it.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            // public
            .service(web::resource("/auth/login").route(web::post().to(auth::login::login)))
            .service(web::resource("/auth/refresh").route(web::post().to(auth::refresh::refresh)))
            .service(web::resource("/auth/logout").route(web::post().to(auth::logout::logout)))
            // bearer
            .service(
                web::resource("/auth/logout/all")
                    .wrap(require_bearer())
                    .route(web::post().to(auth::logout::logout_all)),
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
                web::resource("/auth/codes")
                    .wrap(require_bearer())
                    .route(web::get().to(auth::sessions::codes)),
            )
            .service(
                web::resource("/sys/users/me")
                    .wrap(require_bearer())
                    .route(web::get().to(users::me)),
            )
            .service(
                web::resource("/sys/users/me/password")
                    .wrap(require_bearer())
                    .route(web::put().to(users::change_password)),
            ),
    )
    .service(web::resource("/health/live").route(web::get().to(health::live)))
    .service(web::resource("/health/ready").route(web::get().to(health::ready)));
}
