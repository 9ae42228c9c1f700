//! The composition root of the server: `Application::build(settings)` connects the database and
//! the store, starts the actors and the services, registers each as its own `web::Data`, and
//! binds the listeners (port 0 in tests), returning a server ready to run. The CLI composes the
//! same parts through `Backends` and `Services`.

mod app;
mod backends;
mod provider;
mod secrets;

use app::{app, Services};
pub use backends::{password_policy, tools, Backends, Tools};
pub use secrets::{
    refuse_if_readable_by_others, resolve_keys, resolve_mfa_key, resolve_secret, write_private,
};

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{dev::Server, web, App, HttpServer};
use anyhow::Context;

use crate::account::{Accounts, Notice};
use crate::actors::repo::CountUsers;
use crate::actors::{CacheHandle, RepoHandle};
use crate::admin::roles::Roles;
use crate::admin::{Admin, AdminError, UserSpec};
use crate::auth::access::ForwardAuth;
use crate::auth::captcha::{CaptchaGenerator, Captchas, ImageCaptcha};
use crate::auth::client_ip::ClientIpResolver;
use crate::auth::clients::ApiClients;
use crate::auth::credentials::Authenticator;
use crate::auth::gate::Gate;
use crate::auth::jwt::JwtKeys;
use crate::auth::lockout::Lockout;
use crate::auth::mfa::{passkey, sealing::Sealer, Mfa};
use crate::auth::password::PasswordHasher;
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::{DatabaseKind, Profile, Settings};
use crate::crypto;
use crate::domain::Invalidation;
use crate::login_log::LoginLog;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::oauth2::Providers;
use crate::oidc::OidcClients;
use crate::web::cors::AllowedOrigins;
use crate::web::drain::Draining;
use crate::web::rate_limit::Limits;
use crate::web::routes::auth::events::Streams;
use crate::web::routes::{health::Backend, oauth2::flow::Flow, well_known::Discovery};
use crate::web::spec::Spec;
use crate::web::PublicUrl;

/// Largest JSON or form body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What an operator should know about how this server is exposed.
fn warn_about_exposure(settings: &Settings) {
    let host = settings.server.host.trim_matches(['[', ']']);
    if matches!(host, "0.0.0.0" | "::") {
        tracing::warn!(
            host,
            "listening on every interface: forward-auth, introspection and the event feed are \
             reachable around the reverse proxy; where the proxy shares a private network with \
             this server, set server.host to this server's address on that network"
        );
    }
    if !settings.forward_auth.rules.is_empty() && settings.rate_limit.trusted_proxies.is_empty() {
        tracing::warn!(
            "forward_auth.rules are set and rate_limit.trusted_proxies is empty: the original \
             request's headers are believed from loopback peers only; list your proxies' addresses \
             there if they reach this server over a network"
        );
    }
}

/// Development, empty database: an `admin` superuser with a random password, printed once.
/// Elsewhere an empty database gets a warning saying how to create the first administrator.
async fn bootstrap_admin(
    settings: &Settings,
    repo: &RepoHandle,
    admin: &Admin,
) -> anyhow::Result<()> {
    if repo.send(CountUsers {}).await? > 0 {
        return Ok(());
    }
    if settings.profile != Profile::Development || !settings.bootstrap.create_admin {
        tracing::warn!(
            "no users yet: create the first administrator with \
             `portcullis user create --username admin --superuser --password-stdin` \
             (same configuration as this server)"
        );
        return Ok(());
    }
    let password = crypto::b64(&crypto::random_bytes::<15>());
    let created = admin
        .create_user(UserSpec {
            username: "admin".into(),
            password: password.clone(),
            email: None,
            nickname: Some("Administrator".into()),
            superuser: true,
            ..UserSpec::default()
        })
        .await;
    match created {
        Ok(_) => {
            eprintln!(
                "\n  Created the superuser `admin` with password: {password}\n  \
                 It is shown only this once. Change it with PUT /api/v1/sys/users/me/password.\n"
            );
            Ok(())
        }
        // Another node or process created it first.
        Err(AdminError::Taken(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Builds an `Application`; tests and embedders may give their own clock and captcha drawing.
pub struct Builder {
    settings: Settings,
    clock: SharedClock,
    captcha: Arc<dyn CaptchaGenerator>,
}

impl Builder {
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn captcha(mut self, generator: Arc<dyn CaptchaGenerator>) -> Self {
        self.captcha = generator;
        self
    }

    pub async fn build(self) -> anyhow::Result<Application> {
        Application::assemble(self).await
    }
}

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    metrics_server: Option<actix_web::dev::ServerHandle>,
    draining: Draining,
    listening: TcpListener,
    shutdown: Duration,
}

/// How long a stopping server answers with `Connection: close` before it closes what is left.
const DRAIN: Duration = Duration::from_secs(1);

impl Application {
    pub fn builder(settings: Settings) -> Builder {
        Builder {
            settings,
            clock: Arc::new(crate::clock::SystemClock),
            captcha: Arc::new(ImageCaptcha),
        }
    }

    async fn assemble(b: Builder) -> anyhow::Result<Self> {
        let Builder {
            settings,
            clock,
            captcha,
        } = b;
        settings.validate()?;
        let keys = resolve_keys(&settings)?;
        let metrics = Metrics::default();
        let Backends { kind, repo, store } = Backends::connect(&settings, &metrics).await?;
        let hasher = PasswordHasher::new(
            settings.password.max_parallel_hashes,
            settings.password.max_queued_hashes,
            metrics.clone(),
        )
        .await?;
        let id_token_keys = provider::id_token_keys(&settings, &keys)?;
        let mut jwt = JwtKeys::new(&settings.jwt, &keys, settings.cache.max_sessions)?;
        if let Some(k) = &id_token_keys {
            jwt.also_publish(k.rsa.jwk());
            for previous in &k.previous_rsa {
                jwt.also_publish(previous.jwk());
            }
        }
        let jwt = Arc::new(jwt);
        let tombstone = settings.jwt.access_ttl_seconds + settings.jwt.leeway_seconds as i64;
        let cache = CacheHandle::start(
            &settings.cache,
            store.clone(),
            repo.clone(),
            clock.clone(),
            tombstone,
            metrics.clone(),
        );
        // Services that verify tokens themselves (the guard crate) fetch the public keys again:
        // this node may sign with a new one. Nodes ignore it.
        if let Err(e) = cache.invalidator().invalidate(Invalidation::Keys).await {
            tracing::warn!(error = %e, "could not announce this node's signing keys");
        }
        let sessions = Sessions::new(
            store.clone(),
            cache.invalidator(),
            jwt.clone(),
            repo.clone(),
            settings.session.clone(),
            clock.clone(),
        )
        .with_user_cache(cache.clone());
        let policy = password_policy(&settings);
        let admin = Admin::new(
            repo.clone(),
            hasher.clone(),
            sessions.clone(),
            cache.invalidator(),
            clock.clone(),
            policy,
        );
        bootstrap_admin(&settings, &repo, &admin).await?;

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{} (server.host / server.port)",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        warn_about_exposure(&settings);
        let public_url = PublicUrl(settings.server.public_url_for(port));
        let r = &settings.rate_limit;
        let client_ip =
            ClientIpResolver::new(&r.trusted_proxies, &r.client_ip_header, r.ipv6_prefix);
        let limits = Limits::new(r, &client_ip).map_err(anyhow::Error::msg)?;
        limits.prune_every_minute();
        let login_log = LoginLog::start(
            repo.clone(),
            clock.clone(),
            settings.login_log.retention_days,
        );
        let lockout = Lockout::new(store.clone(), settings.lockout, clock.clone());
        let mailer = Mailer::start(
            &settings.mail,
            settings.profile,
            &settings.data.dir,
            metrics.clone(),
        )?;
        let accounts = Accounts::new(
            mailer,
            store.clone(),
            repo.clone(),
            admin.clone(),
            sessions.clone(),
            cache.invalidator(),
            hasher.clone(),
            policy,
            &public_url.0,
            settings.mail.clone(),
            settings.registration.clone(),
            clock.clone(),
        );
        // The user hears of a refresh token's reuse at their address (off the request).
        let told = accounts.clone();
        sessions.on_reuse(Box::new(move |uid| {
            let told = told.clone();
            actix_web::rt::spawn(async move {
                told.notify(uid, Notice::SessionRevoked, crate::error::Lang::En)
                    .await;
            });
        }));
        let flow = Flow {
            providers: Providers::new(&settings.oauth2, settings.jwt.leeway_seconds as i64)?,
            settings: settings.oauth2.clone(),
            store: store.clone(),
            sessions: sessions.clone(),
            repo: repo.clone(),
            login_log: login_log.clone(),
            clock: clock.clone(),
            accounts: accounts.clone(),
        };
        let relying_party = passkey::relying_party(&settings.webauthn, &public_url.0)
            .map_err(anyhow::Error::msg)?;
        let mfa = Mfa::new(
            repo.clone(),
            relying_party,
            store.clone(),
            cache.invalidator(),
            Sealer::new(&resolve_mfa_key(&settings)?),
            settings.mfa.clone(),
            clock.clone(),
        );
        let reauth = Reauth::new(
            sessions.clone(),
            repo.clone(),
            hasher.clone(),
            mfa.clone(),
            store.clone(),
            settings.security.clone(),
            clock.clone(),
        );
        let eddsa = id_token_keys.as_ref().map(|k| k.ed25519.is_some());
        let discovery = Discovery::new(&public_url.0, &jwt, eddsa);
        let oidc_clients = OidcClients::new(repo.clone(), clock.clone(), &settings.api_clients);
        let oidc = id_token_keys.map(|keys| {
            let parts = provider::Parts {
                issuer: public_url.0.clone(),
                store: store.clone(),
                repo: repo.clone(),
                jwt: jwt.clone(),
                sessions: sessions.clone(),
                cache: cache.clone(),
                clock: clock.clone(),
                login_log: login_log.clone(),
                clients: oidc_clients.clone(),
            };
            web::Data::new(provider::provider(&settings, keys, parts))
        });
        let services = Services {
            discovery: web::Data::new(discovery),
            oidc,
            oidc_clients: web::Data::new(oidc_clients),
            accounts: web::Data::new(accounts),
            mfa: web::Data::new(mfa),
            spec: web::Data::new(Spec::new(&public_url.0)),
            public_url: web::Data::new(public_url),
            draining: web::Data::new(Draining::default()),
            reauth: web::Data::new(reauth),
            forward_auth: web::Data::new(ForwardAuth::new(
                &settings.forward_auth,
                &settings.rate_limit.trusted_proxies,
            )),
            clients: web::Data::new(ApiClients::new(
                repo.clone(),
                clock.clone(),
                cache.invalidator(),
                Some(cache.clone()),
                &settings.api_clients,
            )),
            streams: web::Data::new(Streams::new(&settings.events)),
            roles: web::Data::new(Roles::new(repo.clone(), cache.invalidator(), clock.clone())),
            gate: web::Data::new(Gate::new(
                jwt.clone(),
                cache.clone(),
                clock.clone(),
                metrics.clone(),
            )),
            authenticator: web::Data::new(Authenticator::new(
                repo.clone(),
                lockout,
                hasher.clone(),
                login_log.clone(),
                clock.clone(),
            )),
            captchas: web::Data::new(Captchas::new(
                store.clone(),
                settings.captcha.clone(),
                clock.clone(),
                captcha,
            )),
            sessions: web::Data::new(sessions),
            jwt: web::Data::from(jwt),
            cache: web::Data::new(cache),
            repo: web::Data::new(repo),
            store: web::Data::new(store),
            hasher: web::Data::new(hasher),
            admin: web::Data::new(admin),
            login_log: web::Data::new(login_log),
            client_ip: web::Data::new(client_ip),
            policy: web::Data::new(policy),
            clock: web::Data::new(clock),
            metrics: web::Data::new(metrics.clone()),
            flow: web::Data::new(flow),
            backend: web::Data::new(Backend(match kind {
                DatabaseKind::Postgres(_) => "postgres",
                DatabaseKind::Sqlite(_) => "sqlite",
            })),
            origins: web::Data::new(AllowedOrigins(settings.cors.allowed_origins.clone())),
            cors_max_age: settings.cors.max_age_seconds,
            ui: settings.ui_enabled(),
            docs: settings.docs_enabled(),
        };
        let swagger_login = settings.swagger_login.enabled;
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let shutdown = settings.server.shutdown_timeout_seconds;
        let draining = services.draining.get_ref().clone();
        // A second handle on the listening socket: stopping shuts it at once (see `stop`).
        let listening = listener.try_clone()?;
        let api = HttpServer::new(move || app(&services, &limits, swagger_login))
            .workers(workers)
            .shutdown_timeout(shutdown)
            // Signals are ours (`run_until_stopped`): draining starts before the listener closes.
            .disable_signals()
            .listen(listener)?
            .run();
        let (metrics_port, metrics_server) = if settings.metrics.enabled {
            let listener = TcpListener::bind(&settings.metrics.listen).with_context(|| {
                format!(
                    "cannot listen on {} (metrics.listen)",
                    settings.metrics.listen
                )
            })?;
            let port = listener.local_addr()?.port();
            let metrics = web::Data::new(metrics);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(metrics.clone())
                    .route("/metrics", web::get().to(crate::web::metrics::render))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
            (Some(port), Some(server))
        } else {
            (None, None)
        };
        let metrics_server = metrics_server.map(|m| {
            let handle = m.handle();
            actix_web::rt::spawn(m);
            handle
        });
        Ok(Self {
            port,
            metrics_port,
            server: api,
            metrics_server,
            draining,
            listening,
            shutdown: Duration::from_secs(shutdown),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until SIGTERM or SIGINT, then stops without dropping a request: the listener
    /// closes, every answer from then on closes its connection, and in-flight requests finish
    /// (within `server.shutdown_timeout_seconds`). The metrics listener stops with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let shutdown = self.shutdown;
        let draining = self.draining.clone();
        let listening = self.listening;
        actix_web::rt::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping: finishing the requests in flight");
            // First no new connection: the socket stops listening, so a client that connects
            // now is refused (it knows nothing was sent) rather than queued and then reset.
            // Then each open connection closes after the request it is serving.
            stop_listening(&listening);
            handle.pause().await;
            draining.start();
            // actix closes idle keep-alive connections the moment it stops, racing a client that
            // is sending on one: first let every busy connection close after its next answer.
            actix_web::rt::time::sleep(DRAIN.min(shutdown)).await;
            handle.stop(true).await;
        });
        let result = self.server.await;
        if let Some(m) = self.metrics_server {
            m.stop(false).await;
        }
        tracing::info!("stopped");
        result
    }
}

/// Shuts the listening socket (all handles on it): new connections are refused from now on.
fn stop_listening(listener: &TcpListener) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: shutdown(2) on a socket this process owns; it changes the socket's state only.
        unsafe {
            libc::shutdown(listener.as_raw_fd(), libc::SHUT_RD);
        }
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
