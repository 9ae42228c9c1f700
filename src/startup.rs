//! `Application::build(settings)`: connects the database and the store, starts the actors and
//! binds the listener (port 0 in tests), returning a server ready to run.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::{dev::Server, middleware::from_fn, web, App, HttpServer};
use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use paperclip::actix::OpenApiExt;
use paperclip::v2::models::{DefaultApiRaw, Info};
use rand::RngCore;

use crate::actors::{CacheHandle, RepoHandle};
use crate::auth::client::ClientInfo;
use crate::auth::client_ip::ClientIpResolver;
use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasherPool;
use crate::auth::rate_limit::Limits;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::{Profile, Settings, MIN_SECRET_BYTES};
use crate::db::Db;
use crate::domain::PasswordPolicy;
use crate::error::{body_error, envelope, kind, ApiError};
use crate::login_log::LoginLog;
use crate::metrics::Metrics;
use crate::oauth2::Providers;
use crate::repo::Repo;
use crate::routes;
use crate::store::{RedisStore, Store};

/// Largest JSON or form body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub repo: RepoHandle,
    pub repo_backend: &'static str,
    pub cache: CacheHandle,
    pub store: Store,
    pub jwt: Arc<JwtKeys>,
    pub hasher: PasswordHasherPool,
    pub sessions: Sessions,
    pub clock: SharedClock,
    pub client_ip: ClientIpResolver,
    pub login_log: LoginLog,
    pub providers: Arc<Providers>,
    pub metrics: Metrics,
    /// Peers allowed to read `/metrics` (empty: the route is off).
    pub metrics_allowed: Vec<ipnet::IpNet>,
}

impl AppState {
    pub fn client_info(&self, req: &actix_web::HttpRequest) -> ClientInfo {
        ClientInfo::from_request(req, &self.client_ip)
    }

    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min: self.settings.password.min_length,
            max: self.settings.password.max_length,
        }
    }
}

/// The database and the hot store, as configured.
pub async fn connect_backends(settings: &Settings) -> anyhow::Result<(Db, Store)> {
    let db = Db::connect(&settings.database_kind(), settings.database.max_connections)
        .await
        .with_context(|| "cannot open the database (database.url / PORTCULLIS__DATABASE__URL)")?;
    let store = if settings.uses_redis() {
        Store::Redis(
            RedisStore::connect(
                &settings.redis.url,
                &settings.redis.key_prefix,
                settings.redis.pool_size,
            )
            .await
            .with_context(|| "cannot reach Redis (redis.url / PORTCULLIS__REDIS__URL)")?,
        )
    } else {
        Store::memory()
    };
    Ok((db, store))
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
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        anyhow::ensure!(
            existing.len() >= MIN_SECRET_BYTES,
            "{} is shorter than {MIN_SECRET_BYTES} bytes; delete it to have a new one generated",
            path.display()
        );
        return Ok(existing.as_bytes().to_vec());
    }
    let mut raw = [0u8; 48];
    rand::rng().fill_bytes(&mut raw);
    let secret = URL_SAFE_NO_PAD.encode(raw);
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a development JWT secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
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
async fn bootstrap_admin(
    settings: &Settings,
    repo: &Repo,
    hasher: &PasswordHasherPool,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    if settings.profile != Profile::Development || !settings.bootstrap.create_admin {
        return Ok(());
    }
    if repo.count_users().await? > 0 {
        return Ok(());
    }
    let mut raw = [0u8; 15];
    rand::rng().fill_bytes(&mut raw);
    let password = URL_SAFE_NO_PAD.encode(raw);
    let created = crate::admin::create_user(
        repo,
        hasher,
        clock,
        crate::admin::UserSpec {
            username: "admin".into(),
            password: password.clone(),
            email: None,
            nickname: Some("Administrator".into()),
            superuser: true,
        },
        PasswordPolicy { min: 8, max: 128 },
    )
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
        Err(crate::admin::AdminError::Taken(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        settings.validate()?;
        let secret = resolve_secret(&settings)?;
        let (db, store) = connect_backends(&settings).await?;
        let repo = Repo::new(db);
        let hasher = PasswordHasherPool::new(settings.password.max_parallel_hashes).await?;
        bootstrap_admin(&settings, &repo, &hasher, &clock).await?;

        let repo_backend = repo.db().backend_name();
        let repo = RepoHandle::start(repo);
        let jwt = Arc::new(JwtKeys::new(
            &settings.jwt,
            &secret,
            settings.cache.max_sessions,
        ));
        let tombstone = settings.jwt.access_ttl_seconds + settings.jwt.leeway_seconds as i64;
        let cache = CacheHandle::start(
            &settings.cache,
            store.clone(),
            repo.clone(),
            clock.clone(),
            tombstone,
        );
        let sessions = Sessions::new(
            store.clone(),
            cache.clone(),
            jwt.clone(),
            settings.session.clone(),
            clock.clone(),
        );
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{} (server.host / server.port)",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let client_ip = ClientIpResolver::new(&settings.rate_limit.trusted_proxies);
        let limits = Limits::new(&settings.rate_limit, &client_ip).map_err(anyhow::Error::msg)?;
        let login_log = LoginLog::start(repo.clone());
        let providers = Arc::new(Providers::new(
            &settings.oauth2,
            settings.jwt.leeway_seconds as i64,
        )?);
        let swagger_login = settings.swagger_login.enabled;
        let metrics_allowed = if settings.metrics.enabled {
            settings
                .metrics
                .allowed
                .iter()
                .filter_map(|c| crate::auth::client_ip::parse_cidr(c))
                .collect()
        } else {
            Vec::new()
        };
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let state = web::Data::new(AppState {
            settings: Arc::new(settings),
            repo,
            repo_backend,
            cache,
            store,
            jwt,
            hasher,
            sessions,
            clock,
            client_ip,
            login_log,
            providers,
            metrics: Metrics::default(),
            metrics_allowed,
        });
        let shared = state.clone();
        let server = HttpServer::new(move || app(shared.clone(), &limits, swagger_login))
            .workers(workers)
            .listen(listener)?
            .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    /// The running app's state: its store, hasher and clock (tests and tools).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// `GET /metrics`: Prometheus text, for allowed peers only (the socket address, never a header).
async fn metrics(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, ApiError> {
    let peer = req.peer_addr().map(|a| a.ip());
    let allowed = peer.is_some_and(|ip| {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        state.metrics_allowed.iter().any(|net| net.contains(&ip))
    });
    if !allowed {
        return Err(ApiError::new(kind::NOT_FOUND));
    }
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&state)))
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

/// The whole app; shared by the server and by in-process tests.
pub fn app(
    state: web::Data<AppState>,
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
        .app_data(state)
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
        // Before the routes: the `/api/v1` scope would otherwise swallow the spec's path.
        .with_json_spec_at("/api/v1/openapi.json")
        .with_swagger_ui_at("/docs")
        .configure(|cfg| routes::configure(cfg, limits, swagger_login))
        .build()
        .route("/metrics", web::get().to(metrics))
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(kind::NOT_FOUND))
        }))
        .wrap(from_fn(envelope))
        .wrap(from_fn(crate::metrics::record))
}
