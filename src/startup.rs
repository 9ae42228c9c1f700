//! The composition root of the server: `Application::build(settings)` connects the database and
//! the store, starts the actors and the services, registers each as its own `web::Data`, and
//! binds the listeners (port 0 in tests), returning a server ready to run. The CLI composes the
//! same parts through `Backends` and `Services`.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::{from_fn, Condition};
use actix_web::{dev::Server, web, App, HttpServer};
use anyhow::Context;
use paperclip::actix::OpenApiExt;
use paperclip::v2::models::{DefaultApiRaw, Info};

use crate::actors::repo::CountUsers;
use crate::actors::{CacheHandle, Invalidator, RepoHandle};
use crate::admin::roles::Roles;
use crate::admin::{Admin, AdminError, UserSpec};
use crate::auth::access::ForwardAuth;
use crate::auth::captcha::{CaptchaGenerator, Captchas, ImageCaptcha};
use crate::auth::client_ip::ClientIpResolver;
use crate::auth::clients::ApiClients;
use crate::auth::credentials::Authenticator;
use crate::auth::gate::Gate;
use crate::auth::jwt::JwtKeys;
use crate::auth::keys::{self, KeySet};
use crate::auth::lockout::Lockout;
use crate::auth::mfa::{sealing::Sealer, Mfa};
use crate::auth::password::PasswordHasher;
use crate::auth::reauth::Reauth;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::{
    decode_mfa_key, DatabaseKind, JwtAlgorithm, Profile, Settings, MFA_KEY_BYTES, MIN_SECRET_BYTES,
};
use crate::crypto;
use crate::db::{self, Db};
use crate::domain::{Invalidation, PasswordPolicy};
use crate::error::{kind, ApiError};
use crate::login_log::LoginLog;
use crate::metrics::Metrics;
use crate::oauth2::Providers;
use crate::repo::Repo;
use crate::store::{EmbeddedStore, RedisStore, Store};
use crate::web::cors::{cors, AllowedOrigins};
use crate::web::drain::{close_when_draining, Draining};
use crate::web::envelope::{body_error, envelope};
use crate::web::rate_limit::Limits;
use crate::web::request_span::RequestSpan;
use crate::web::routes::auth::events::Streams;
use crate::web::routes::{self, health::Backend, oauth2::flow::Flow};
use crate::web::spec::Spec;
use crate::web::PublicUrl;

/// Largest JSON or form body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The database and the hot store, as configured: migrated and connected.
pub struct Backends {
    pub kind: DatabaseKind,
    pub repo: RepoHandle,
    pub store: Store,
}

impl Backends {
    /// Applies pending migrations, starts the repository actor and connects the store.
    pub async fn connect(settings: &Settings, metrics: &Metrics) -> anyhow::Result<Self> {
        let kind = settings.database_kind();
        let hint = "cannot open the database (database.url / PORTCULLIS__DATABASE__URL)";
        db::migrate(&kind).await.context(hint)?;
        let deadline = settings.db_deadline();
        let pool = Db::open(&kind, settings.database.max_connections, deadline).context(hint)?;
        let repo = RepoHandle::start(Repo::new(pool));
        let store = if settings.uses_redis() {
            let r = &settings.redis;
            let redis = RedisStore::connect(
                &r.url,
                &r.cluster_urls,
                &r.key_prefix,
                r.pool_size,
                settings.redis_deadline(),
            )
            .await
            .context(
                "cannot reach Redis (redis.url or redis.cluster_urls / PORTCULLIS__REDIS__URL)",
            )?;
            Store::redis(redis, metrics.clone(), settings.redis_deadline())
        } else {
            // Sessions and the invalidation log live in the database, on a small pool of their own.
            let pool = Db::open(&kind, 4, deadline).context(hint)?;
            Store::embedded(EmbeddedStore::new(pool), metrics.clone(), deadline)
        };
        Ok(Self { kind, repo, store })
    }
}

/// What the CLI administers with: the same parts as the server, composed the same way; what
/// they change reaches running servers through the invalidation log.
pub struct Tools {
    pub admin: Admin,
    pub roles: Roles,
    pub clients: ApiClients,
}

pub async fn tools(settings: &Settings, clock: SharedClock) -> anyhow::Result<Tools> {
    let metrics = Metrics::default();
    let backends = Backends::connect(settings, &metrics).await?;
    let hasher = PasswordHasher::new(
        settings.password.max_parallel_hashes,
        settings.password.max_queued_hashes,
        metrics,
    )
    .await?;
    let invalidator = Invalidator::log_only(backends.store.clone(), clock.clone());
    let jwt = Arc::new(JwtKeys::new(&settings.jwt, &resolve_keys(settings)?, 1)?);
    let sessions = Sessions::new(
        backends.store,
        invalidator.clone(),
        jwt,
        backends.repo.clone(),
        settings.session.clone(),
        clock.clone(),
    );
    Ok(Tools {
        roles: Roles::new(backends.repo.clone(), invalidator.clone(), clock.clone()),
        clients: ApiClients::new(
            backends.repo.clone(),
            clock.clone(),
            invalidator.clone(),
            None,
            &settings.api_clients,
        ),
        admin: Admin::new(
            backends.repo,
            hasher,
            sessions,
            invalidator,
            clock,
            password_policy(settings),
        ),
    })
}

/// The password policy the settings give.
pub fn password_policy(settings: &Settings) -> PasswordPolicy {
    PasswordPolicy {
        min: settings.password.min_length,
        max: settings.password.max_length,
    }
}

/// The signing keys the settings name: the HS256 secret, or the Ed25519 private key file and the
/// previous public keys; in development a missing secret or key is made in the data folder.
pub fn resolve_keys(settings: &Settings) -> anyhow::Result<KeySet> {
    let jwt = &settings.jwt;
    if jwt.algorithm == JwtAlgorithm::HS256 {
        return Ok(KeySet::Hs256 {
            secret: resolve_secret(settings)?,
        });
    }
    let read = |path: &Path, what: &str| {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    let read_private = |path: &Path, what: &str| {
        refuse_if_readable_by_others(path, what)?;
        read(path, what)
    };
    let private_pem = if jwt.private_key_file.is_empty() {
        anyhow::ensure!(
            settings.profile == Profile::Development,
            "jwt.private_key_file is missing: set PORTCULLIS__JWT__PRIVATE_KEY_FILE \
             (make one with `portcullis keys generate`)"
        );
        let path = settings.data.dir.join("jwt_ed25519.pem");
        if path.exists() {
            read_private(&path, "development key")?
        } else {
            let (private, _, key) = keys::generate();
            write_private(&path, &private)?;
            tracing::info!(path = %path.display(), kid = key.kid, "generated a development Ed25519 key");
            private
        }
    } else {
        read_private(Path::new(&jwt.private_key_file), "jwt.private_key_file")?
    };
    let current = keys::public_of(&private_pem).context("jwt.private_key_file")?;
    let previous = jwt
        .previous_public_key_files
        .iter()
        .map(|f| {
            let pem = read(Path::new(f), "previous public key")?;
            keys::PublicKey::from_pem(&pem).with_context(|| f.clone())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(KeySet::Ed25519 {
        private_pem,
        current,
        previous,
    })
}

/// The configured secret, or in development the one kept in the data folder (made on first use).
pub fn resolve_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if !settings.jwt.secret.is_empty() {
        return Ok(settings.jwt.secret.as_bytes().to_vec());
    }
    anyhow::ensure!(
        settings.profile == Profile::Development,
        "jwt.secret is missing: set PORTCULLIS__JWT__SECRET"
    );
    let path = settings.data.dir.join("jwt_secret");
    if path.exists() {
        refuse_if_readable_by_others(&path, "development JWT secret")?;
    }
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        anyhow::ensure!(
            existing.len() >= MIN_SECRET_BYTES,
            "{} is shorter than {MIN_SECRET_BYTES} bytes; delete it to have a new one generated",
            path.display()
        );
        return Ok(existing.as_bytes().to_vec());
    }
    let secret = crypto::b64(&crypto::random_bytes::<48>());
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a development JWT secret");
    Ok(secret.into_bytes())
}

/// `mfa.encryption_key`, or in development the one kept in `{data.dir}/mfa_key` (made on first
/// use, mode 0600). Production refuses to start without it (config validation).
pub fn resolve_mfa_key(settings: &Settings) -> anyhow::Result<[u8; MFA_KEY_BYTES]> {
    let configured = &settings.mfa.encryption_key;
    if !configured.is_empty() {
        return decode_mfa_key(configured).context(
            "mfa.encryption_key is not 32 bytes of URL-safe base64 (PORTCULLIS__MFA__ENCRYPTION_KEY)",
        );
    }
    anyhow::ensure!(
        settings.profile == Profile::Development,
        "mfa.encryption_key is missing: set PORTCULLIS__MFA__ENCRYPTION_KEY"
    );
    let path = settings.data.dir.join("mfa_key");
    if path.exists() {
        refuse_if_readable_by_others(&path, "development MFA key")?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return decode_mfa_key(&text).with_context(|| {
            format!(
                "{} is not 32 bytes of URL-safe base64; it seals the TOTP secrets, so restore it \
                 (deleting it voids every TOTP factor)",
                path.display()
            )
        });
    }
    let key = crypto::random_bytes::<MFA_KEY_BYTES>();
    write_private(&path, &crypto::b64(&key))?;
    tracing::info!(path = %path.display(), "generated a development MFA key");
    Ok(key)
}

/// A key or secret file that its group or others may read or write is refused: whoever can
/// read it can mint tokens.
pub fn refuse_if_readable_by_others(path: &Path, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?
        .permissions()
        .mode();
    anyhow::ensure!(
        mode & 0o077 == 0,
        "the {what} {} may be read or written by its group or others (mode {:o}); \
         only its owner may: chmod 600 {}",
        path.display(),
        mode & 0o777,
        path.display()
    );
    Ok(())
}

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

/// Writes a file only its owner may read (mode 0600), making its folder if needed.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
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
        let jwt = Arc::new(JwtKeys::new(
            &settings.jwt,
            &keys,
            settings.cache.max_sessions,
        )?);
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
        );
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
        let flow = Flow {
            providers: Providers::new(&settings.oauth2, settings.jwt.leeway_seconds as i64)?,
            settings: settings.oauth2.clone(),
            store: store.clone(),
            sessions: sessions.clone(),
            repo: repo.clone(),
            login_log: login_log.clone(),
            clock: clock.clone(),
        };
        let reauth = Reauth::new(
            sessions.clone(),
            repo.clone(),
            hasher.clone(),
            store.clone(),
            settings.security.clone(),
            clock.clone(),
        );
        let mfa = Mfa::new(
            repo.clone(),
            store.clone(),
            Sealer::new(&resolve_mfa_key(&settings)?),
            settings.mfa.clone(),
            clock.clone(),
        );
        let services = Services {
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

/// Every service the routes use, each registered as its own `web::Data`.
#[derive(Clone)]
struct Services {
    spec: web::Data<Spec>,
    draining: web::Data<Draining>,
    gate: web::Data<Gate>,
    reauth: web::Data<Reauth>,
    mfa: web::Data<Mfa>,
    forward_auth: web::Data<ForwardAuth>,
    public_url: web::Data<PublicUrl>,
    clients: web::Data<ApiClients>,
    streams: web::Data<Streams>,
    roles: web::Data<Roles>,
    authenticator: web::Data<Authenticator>,
    captchas: web::Data<Captchas>,
    sessions: web::Data<Sessions>,
    jwt: web::Data<JwtKeys>,
    cache: web::Data<CacheHandle>,
    repo: web::Data<RepoHandle>,
    store: web::Data<Store>,
    hasher: web::Data<PasswordHasher>,
    admin: web::Data<Admin>,
    login_log: web::Data<LoginLog>,
    client_ip: web::Data<ClientIpResolver>,
    policy: web::Data<PasswordPolicy>,
    clock: web::Data<SharedClock>,
    metrics: web::Data<Metrics>,
    flow: web::Data<Flow>,
    backend: web::Data<Backend>,
    origins: web::Data<AllowedOrigins>,
    cors_max_age: usize,
    /// The reference page at `/`.
    ui: bool,
    /// The Swagger UI at `/docs`.
    docs: bool,
}

fn spec() -> DefaultApiRaw {
    DefaultApiRaw {
        info: Info {
            title: "Portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: Some(
                "Authentication server: bearer JWT with cached users, sessions with refresh rotation. \
                 Every answer is an envelope `{code, msg, data}`; errors add `error` and `trace_id`."
                    .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The whole API app.
fn app(
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
