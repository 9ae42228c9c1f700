//! Subcommands of the one binary. They share config loading with the server and run the same
//! validation as the API.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::admin::{self, Admin, AdminError, UserSpec};
use crate::clock::SystemClock;
use crate::config::{redact, Profile, Settings};
use crate::startup::Application;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Authentication server for Rust web backends"
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
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        nickname: Option<String>,
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
    Check,
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

async fn admin(settings: &Settings) -> anyhow::Result<Admin> {
    crate::startup::admin(settings, Arc::new(SystemClock)).await
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
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
                "portcullis listening; API docs at /docs"
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
        Command::Config(ConfigCommand::Check) => {
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
        }
        Command::User(cmd) => user(cmd, &settings).await?,
        Command::Sessions(SessionsCommand::Revoke { username }) => {
            let n = admin(&settings)
                .await?
                .revoke_sessions_by_name(&username)
                .await?;
            println!("ended {n} session(s) of {username}");
        }
    }
    Ok(())
}

async fn user(cmd: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            email,
            nickname,
            superuser,
            password_stdin: _,
        } => {
            let password = read_password()?;
            let spec = UserSpec {
                username,
                password,
                email,
                nickname,
                superuser,
            };
            let user = admin(settings).await?.create_user(spec).await?;
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let a = admin(settings).await?;
            let (rows, mut errors) = admin::parse_import(&text);
            let total = rows.len() + errors.len();
            let (mut created, mut existing) = (0, 0);
            for (i, (line, spec)) in rows.into_iter().enumerate() {
                let name = spec.username.clone();
                match a.create_user(spec).await {
                    Ok(_) => created += 1,
                    Err(AdminError::Taken(_)) => {
                        existing += 1;
                        eprintln!("line {line}: `{name}` already exists, skipped");
                    }
                    Err(e @ AdminError::Invalid(_)) => errors.push(admin::RowError {
                        line,
                        message: e.to_string(),
                    }),
                    Err(e) => {
                        return Err(e).with_context(|| format!("line {line}: import stopped"))
                    }
                }
                if (i + 1) % 50 == 0 {
                    eprintln!("... {} of {total} rows", i + 1);
                }
            }
            errors.sort_by_key(|e| e.line);
            for e in &errors {
                eprintln!("line {}: {}", e.line, e.message);
            }
            println!(
                "imported {created} user(s); {existing} already existed; {} row(s) with errors",
                errors.len()
            );
            anyhow::ensure!(
                errors.is_empty(),
                "{} row(s) were not imported",
                errors.len()
            );
        }
        UserCommand::SetPassword { username, .. } => {
            let password = read_password()?;
            let n = admin(settings)
                .await?
                .set_password(&username, password)
                .await?;
            println!("password of {username} changed; ended {n} session(s)");
        }
        UserCommand::Disable { username } => {
            let n = admin(settings).await?.set_enabled(&username, false).await?;
            println!("disabled {username}; ended {n} session(s)");
        }
        UserCommand::Enable { username } => {
            admin(settings).await?.set_enabled(&username, true).await?;
            println!("enabled {username}");
        }
    }
    Ok(())
}
