//! The HTTP app: every service as its own `web::Data`, the middleware in order, the routes.

use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App};
use paperclip::actix::OpenApiExt;
use paperclip::v2::models::{DefaultApiRaw, Info};

use super::BODY_LIMIT;
use crate::account::Accounts;
use crate::actors::{CacheHandle, RepoHandle};
use crate::admin::roles::Roles;
use crate::admin::Admin;
use crate::auth::access::ForwardAuth;
use crate::auth::captcha::Captchas;
use crate::auth::client_ip::ClientIpResolver;
use crate::auth::clients::ApiClients;
use crate::auth::credentials::Authenticator;
use crate::auth::gate::Gate;
use crate::auth::jwt::JwtKeys;
use crate::auth::mfa::Mfa;
use crate::auth::password::PasswordHasher;
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::domain::PasswordPolicy;
use crate::error::{kind, ApiError};
use crate::login_log::LoginLog;
use crate::metrics::Metrics;
use crate::oidc::{OidcClients, Provider};
use crate::store::Store;
use crate::web::cors::{cors, AllowedOrigins};
use crate::web::drain::{close_when_draining, Draining};
use crate::web::envelope::{body_error, envelope};
use crate::web::rate_limit::Limits;
use crate::web::request_span::RequestSpan;
use crate::web::routes::auth::events::Streams;
use crate::web::routes::well_known::Discovery;
use crate::web::routes::{self, health::Backend, oauth2::flow::Flow};
use crate::web::spec::Spec;
use crate::web::PublicUrl;

/// Every service the routes use, each registered as its own `web::Data`.
#[derive(Clone)]
pub(super) struct Services {
    pub(super) accounts: web::Data<Accounts>,
    pub(super) discovery: web::Data<Discovery>,
    /// The OpenID provider, when `oidc.enabled`.
    pub(super) oidc: Option<web::Data<Provider>>,
    /// Its clients, registered whether or not it is on (as from the command line).
    pub(super) oidc_clients: web::Data<OidcClients>,
    pub(super) spec: web::Data<Spec>,
    pub(super) draining: web::Data<Draining>,
    pub(super) gate: web::Data<Gate>,
    pub(super) reauth: web::Data<Reauth>,
    pub(super) mfa: web::Data<Mfa>,
    pub(super) forward_auth: web::Data<ForwardAuth>,
    pub(super) public_url: web::Data<PublicUrl>,
    pub(super) clients: web::Data<ApiClients>,
    pub(super) streams: web::Data<Streams>,
    pub(super) roles: web::Data<Roles>,
    pub(super) authenticator: web::Data<Authenticator>,
    pub(super) captchas: web::Data<Captchas>,
    pub(super) sessions: web::Data<Sessions>,
    pub(super) jwt: web::Data<JwtKeys>,
    pub(super) cache: web::Data<CacheHandle>,
    pub(super) repo: web::Data<RepoHandle>,
    pub(super) store: web::Data<Store>,
    pub(super) hasher: web::Data<PasswordHasher>,
    pub(super) admin: web::Data<Admin>,
    pub(super) login_log: web::Data<LoginLog>,
    pub(super) client_ip: web::Data<ClientIpResolver>,
    pub(super) policy: web::Data<PasswordPolicy>,
    pub(super) clock: web::Data<SharedClock>,
    pub(super) metrics: web::Data<Metrics>,
    pub(super) flow: web::Data<Flow>,
    pub(super) backend: web::Data<Backend>,
    pub(super) origins: web::Data<AllowedOrigins>,
    pub(super) cors_max_age: usize,
    /// The reference page at `/`.
    pub(super) ui: bool,
    /// The Swagger UI at `/docs`.
    pub(super) docs: bool,
}

pub(super) fn spec() -> DefaultApiRaw {
    DefaultApiRaw {
        info: Info {
            title: "Portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: Some(
                "Authentication server: bearer JWT with cached users, sessions with refresh rotation. \
                 Every answer is an envelope `{code, msg, data}`; errors add `slug` and `trace_id`."
                    .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The whole API app.
pub(super) fn app(
    s: &Services,
    limits: &Limits,
    swagger_login: bool,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(s.accounts.clone())
        .app_data(s.discovery.clone())
        .app_data(s.oidc_clients.clone())
        .app_data(s.spec.clone())
        .app_data(s.draining.clone())
        .app_data(s.gate.clone())
        .app_data(s.reauth.clone())
        .app_data(s.mfa.clone())
        .app_data(s.forward_auth.clone())
        .app_data(s.public_url.clone())
        .app_data(s.clients.clone())
        .app_data(s.streams.clone())
        .app_data(s.roles.clone())
        .app_data(s.authenticator.clone())
        .app_data(s.captchas.clone())
        .app_data(s.sessions.clone())
        .app_data(s.jwt.clone())
        .app_data(s.cache.clone())
        .app_data(s.repo.clone())
        .app_data(s.store.clone())
        .app_data(s.hasher.clone())
        .app_data(s.admin.clone())
        .app_data(s.login_log.clone())
        .app_data(s.client_ip.clone())
        .app_data(s.policy.clone())
        .app_data(s.clock.clone())
        .app_data(s.metrics.clone())
        .app_data(s.flow.clone())
        .app_data(s.backend.clone())
        .app_data(s.origins.clone())
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(body_error),
        )
        .app_data(
            web::FormConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(body_error),
        )
        .app_data(web::PathConfig::default().error_handler(body_error))
        .app_data(web::QueryConfig::default().error_handler(body_error))
        .wrap_api_with_spec(spec())
        // Before the routes (the `/api/v1` scope would swallow them): the documents as made exact.
        .route(
            "/api/v1/openapi.json",
            paperclip::actix::web::get().to(crate::web::spec::serve),
        )
        .route(
            "/api/v1/openapi3.json",
            paperclip::actix::web::get().to(crate::web::spec::serve_v3),
        )
        .configure(|cfg| routes::configure(cfg, limits, swagger_login))
        .with_raw_json_spec(|app, generated| {
            s.spec.fill(generated);
            app
        })
        .build()
        .configure(|cfg| {
            if let Some(provider) = &s.oidc {
                cfg.app_data(provider.clone());
                crate::web::oidc::configure(cfg, limits);
            }
        })
        .configure(|cfg| {
            if s.ui {
                crate::web::ui::configure(cfg)
            }
        })
        .configure(|cfg| {
            if s.docs {
                crate::web::docs::configure(cfg)
            }
        })
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(kind::NOT_FOUND))
        }))
        .wrap(from_fn(envelope))
        .wrap(from_fn(crate::web::metrics::record))
        .wrap(from_fn(close_when_draining))
        .wrap(Condition::new(
            !s.origins.0.is_empty(),
            cors(&s.origins.0, s.cors_max_age),
        ))
        .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
}
