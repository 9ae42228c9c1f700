//! Subcommands of the one binary. They share config loading with the server and run the same
//! validation as the API; what they change reaches running servers through the invalidation log.

mod clients;
mod import;
mod oidc_clients;
mod roles;
mod users;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::{redact, Profile, Settings};
use crate::startup::{Application, Tools};

const ENVIRONMENT: &str = "\
Configuration: config/default.toml (built in) -> config/{profile}.toml -> environment.
  PORTCULLIS_PROFILE         development (default) or production
  PORTCULLIS_CONFIG_DIR      where {profile}.toml is (default: config)
  PORTCULLIS__SECTION__KEY   any setting, e.g. PORTCULLIS__DATABASE__URL, PORTCULLIS__REDIS__URL,
                             PORTCULLIS__JWT__SECRET, PORTCULLIS__SERVER__PORT; lists are
                             comma-separated (PORTCULLIS__RATE_LIMIT__TRUSTED_PROXIES=10.0.0.0/8,::1)
  RUST_LOG                   log filter (default: info)";

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Authentication server for Rust web backends",
    after_help = ENVIRONMENT
)]
pub struct Cli {
    /// Folder holding {profile}.toml overrides.
    #[arg(
        long,
        env = "PORTCULLIS_CONFIG_DIR",
        default_value = "config",
        global = true
    )]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage roles and their permission codes.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage API clients (introspection, the event feed).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage OpenID Connect clients: the apps that sign their users in through Portcullis.
    #[command(subcommand, name = "oidc-client")]
    OidcClient(OidcClientCommand),
    /// Bring users over from another system.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Signing keys (EdDSA for access tokens, RSA for ID tokens).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 key pair: `jwt_ed25519_{kid}.pem` (private, mode 0600) and
    /// `jwt_ed25519_{kid}.pub.pem`, for jwt.private_key_file and, after a rotation,
    /// jwt.previous_public_key_files.
    Generate {
        /// Folder to write them to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Write a new RSA key pair for ID tokens: `oidc_rsa_{kid}.pem` (2048 bits, PKCS#8, mode
    /// 0600) for oidc.rsa_private_key_file, and `oidc_rsa_{kid}.pub.pem` for
    /// oidc.previous_rsa_public_key_files after the next rotation.
    GenerateRsa {
        /// Folder to write it to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import a fastapi-best-architecture database (PostgreSQL): users with their bcrypt
    /// passwords, roles with their menus' permission codes, role grants, social bindings.
    /// Running it again changes nothing; conflicts are reported and skipped.
    Fba {
        /// The fba database, e.g. postgres://user:password@host/fba
        #[arg(long, env = "FBA_DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Read both databases and print the summary, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// 3 to 64 letters, digits, `_`, `.`, `-` or `@`, starting with a letter or digit.
        #[arg(long)]
        username: String,
        /// The user's email address.
        #[arg(long)]
        email: Option<String>,
        /// The name shown (default: the username).
        #[arg(long)]
        nickname: Option<String>,
        /// A superuser holds every permission.
        #[arg(long)]
        superuser: bool,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Import users from CSV (header row: username,password[,email,nickname,superuser]) or JSON lines.
    Import { file: PathBuf },
    /// Set a user's password (read from standard input); ends the user's sessions.
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable an account and end its sessions on every node.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled account.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Give a user a role.
    Grant {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
    },
    /// Take a role from a user.
    Ungrant {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
    },
    /// A user's second factors.
    Mfa {
        #[command(subcommand)]
        command: UserMfaCommand,
    },
}

#[derive(Subcommand)]
pub enum UserMfaCommand {
    /// Remove the user's second factors (TOTP, passkeys, recovery codes), for one who lost them: the next
    /// login needs only the password. Ends the user's sessions on every node.
    Reset {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub enum RoleCommand {
    /// Create a role, with permission codes.
    Create {
        name: String,
        /// A permission code (repeatable), e.g. `--permission order:create`.
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// List roles: name, status, codes.
    List,
    /// Delete a role (its holders lose its codes on their next request).
    Delete { name: String },
    /// Add permission codes to a role.
    Permit {
        name: String,
        #[arg(required = true)]
        codes: Vec<String>,
    },
    /// Remove permission codes from a role.
    Forbid {
        name: String,
        #[arg(required = true)]
        codes: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Create an API client; its secret is printed once, alone, on standard output.
    Create {
        #[arg(long)]
        id: String,
        /// What its introspection answers hold, comma-separated, from: sub username sid exp
        /// iat nbf iss aud token_type scope email email_verified user amr auth_time. A guard
        /// (portcullis-guard) needs `user`.
        #[arg(long, default_value = "sub,username,scope,exp")]
        claims: String,
        /// Only tokens for this audience (`aud`) are active for the client.
        #[arg(long)]
        audience: Option<String>,
    },
    /// List API clients.
    List,
    /// Delete an API client.
    Delete {
        #[arg(long)]
        id: String,
    },
}

/// What an OpenID client may do; `create` and `update` take the same flags (an update replaces
/// them all).
#[derive(clap::Args)]
pub struct OidcClientSpec {
    /// Where users may be sent back with a code; exact match (repeat for several). A loopback
    /// IP literal (http://127.0.0.1/cb) matches any port, for native apps.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Grants it may use (repeat): authorization_code, refresh_token, client_credentials.
    /// Default: authorization_code and refresh_token.
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// Scopes it may ask for (repeat): openid, profile, email, roles, offline_access.
    /// Default: openid, profile, email, offline_access.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Where RP-initiated logout may send users afterwards (repeat; exact match).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where it is told that a session ended (OpenID Connect Back-Channel Logout).
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// An app of this deployment's own: its users are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    /// What signs its ID tokens: RS256 (default) or EdDSA.
    #[arg(long, default_value = "RS256")]
    pub id_token_alg: String,
    /// An API it may ask access tokens for with RFC 8707's `resource` (repeat; an absolute
    /// URI, e.g. https://api.example.com): the token's audience is then that URI, for an API
    /// client registered with `portcullis client create --audience URI`.
    #[arg(long = "resource")]
    pub resources: Vec<String>,
}

#[derive(Subcommand)]
pub enum OidcClientCommand {
    /// Register a client; a confidential client's secret is printed once, alone, on standard
    /// output.
    Create {
        #[arg(long)]
        id: String,
        /// A native or browser app that cannot keep a secret: no secret, PKCE required.
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        spec: OidcClientSpec,
    },
    /// List clients.
    List,
    /// Replace what a client may do (its secret stays).
    Update {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        spec: OidcClientSpec,
    },
    /// Delete a client and the consents its users gave it.
    Delete {
        #[arg(long)]
        id: String,
    },
    /// A new secret for a confidential client, printed once; the old one stops working at once.
    RotateSecret {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// End every session of a user on every node.
    Revoke {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, then print where things are.
    Check {
        /// Also connect to the database and the store, and report each.
        #[arg(long)]
        connect: bool,
    },
}

impl Cli {
    /// Whether this runs the server (the default command).
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }
}

/// Connects to the database and the store the settings name, each within its deadline; one
/// line per dependency. False if one cannot be reached.
async fn probe(settings: &Settings) -> bool {
    let mut ok = true;
    let mut report = |what: &str, result: Result<(), String>| match result {
        Ok(()) => println!("{what:<9} reachable"),
        Err(e) => {
            ok = false;
            println!("{what:<9} NOT reachable: {e}");
        }
    };
    let kind = settings.database_kind();
    let db = match crate::db::Db::open(&kind, 1, settings.db_deadline()) {
        Ok(db) => db.ping().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    report("database:", db);
    if settings.uses_redis() {
        let r = &settings.redis;
        let store = crate::store::RedisStore::connect(
            &r.url,
            &r.cluster_urls,
            &r.key_prefix,
            1,
            settings.redis_deadline(),
        )
        .await
        .map(drop)
        .map_err(|e| redact(&e.to_string()));
        report("store:", store);
    }
    ok
}

pub fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let profile = Profile::from_env()?;
    let settings = Settings::load(profile, &cli.config_dir)?;
    settings.validate()?;
    Ok(settings)
}

fn metrics_host(settings: &Settings) -> String {
    settings
        .metrics
        .listen
        .rsplit_once(':')
        .map_or_else(String::new, |(host, _)| host.to_owned())
}

async fn tools(settings: &Settings) -> anyhow::Result<Tools> {
    crate::startup::tools(settings, Arc::new(SystemClock)).await
}

fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

/// Writes a new Ed25519 key pair (needs no configuration).
fn generate_keys(out: &std::path::Path) -> anyhow::Result<()> {
    let (private, public, key) = crate::auth::keys::generate();
    let short: String = key.kid.chars().take(12).collect();
    let private_path = out.join(format!("jwt_ed25519_{short}.pem"));
    let public_path = out.join(format!("jwt_ed25519_{short}.pub.pem"));
    crate::startup::write_private(&private_path, &private)?;
    std::fs::write(&public_path, public)
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    println!("kid:         {}", key.kid);
    println!("private key: {}", private_path.display());
    println!("public key:  {}", public_path.display());
    Ok(())
}

/// Writes a new RSA private key for ID tokens (needs no configuration).
fn generate_rsa_key(out: &std::path::Path) -> anyhow::Result<()> {
    let private = crate::oidc::keys::generate();
    let key = crate::oidc::keys::RsaKey::from_pem(&private)?;
    let short: String = key.kid.chars().take(12).collect();
    let path = out.join(format!("oidc_rsa_{short}.pem"));
    let public = out.join(format!("oidc_rsa_{short}.pub.pem"));
    crate::startup::write_private(&path, &private)?;
    std::fs::write(&public, &key.public_pem)
        .with_context(|| format!("cannot write {}", public.display()))?;
    println!("kid:         {}", key.kid);
    println!("private key: {}", path.display());
    println!("public key:  {}", public.display());
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Keys(KeysCommand::Generate { out })) => return generate_keys(out),
        Some(Command::Keys(KeysCommand::GenerateRsa { out })) => return generate_rsa_key(out),
        _ => {}
    }
    let settings = load_settings(&cli)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::builder(settings.clone()).build().await?;
            tracing::info!(
                profile = settings.profile.name(),
                address = %format!("{}:{}", settings.server.host, app.port()),
                database = %settings.database_kind(),
                store = if settings.uses_redis() {
                    redact(&settings.redis.url)
                } else {
                    "embedded".into()
                },
                metrics = ?app.metrics_port().map(|p| format!("{}:{p}", metrics_host(&settings))),
                docs = if settings.docs_enabled() { "/docs" } else { "off (docs.enabled)" },
                "portcullis listening"
            );
            if settings.profile == Profile::Development
                && !settings.server.allow_public_in_development
            {
                tracing::info!(
                    "development profile: listening on loopback only \
                     (server.allow_public_in_development = true to listen elsewhere)"
                );
            }
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let ran = crate::db::migrate(&settings.database_kind()).await?;
            println!("applied {ran} migration(s) to {}", settings.database_kind());
        }
        Command::Config(ConfigCommand::Check { connect }) => {
            println!("profile:  {}", settings.profile.name());
            println!("database: {}", settings.database_kind());
            println!(
                "store:    {}",
                if settings.uses_redis() {
                    redact(&settings.redis.url)
                } else {
                    "embedded (sessions in the database, the rest in process memory)".into()
                }
            );
            println!(
                "listen:   {}:{}",
                settings.server.host, settings.server.port
            );
            println!("configuration is valid");
            if connect {
                anyhow::ensure!(probe(&settings).await, "a dependency cannot be reached");
            }
        }
        Command::Keys(_) => unreachable!("handled before the settings are loaded"),
        Command::User(cmd) => users::run(cmd, &settings).await?,
        Command::Role(cmd) => roles::run(cmd, &settings).await?,
        Command::Import(cmd) => import::run(cmd, &settings).await?,
        Command::Client(cmd) => clients::run(cmd, &settings).await?,
        Command::OidcClient(cmd) => oidc_clients::run(cmd, &settings).await?,
        Command::Sessions(SessionsCommand::Revoke { username }) => {
            let tools = tools(&settings).await?;
            let n = tools.admin.revoke_sessions_by_name(&username).await?;
            tools.queue_logout_notices().await?;
            println!("ended {n} session(s) of {username}");
        }
    }
    Ok(())
}
