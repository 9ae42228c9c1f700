//! The login log: every attempt, written off the response path. Entries go through an unbounded
//! channel to one writer task that inserts them in batches through the repository actor; a
//! failed insert is retried, and an entry that still cannot be written is logged in full at
//! error level — never dropped silently.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::actors::RepoHandle;
use crate::auth::client::ClientInfo;
use crate::db::models::NewLoginLog;

/// Why an attempt ended as it did. Stored as the slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Success,
    BadPassword,
    UnknownUser,
    Disabled,
    Locked,
    CaptchaInvalid,
    RateLimited,
    OAuthFailed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::BadPassword => "bad_password",
            Self::UnknownUser => "unknown_user",
            Self::Disabled => "disabled",
            Self::Locked => "locked",
            Self::CaptchaInvalid => "captcha_invalid",
            Self::RateLimited => "rate_limited",
            Self::OAuthFailed => "oauth2_failed",
        }
    }
}

/// How the user tried to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    Swagger,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Swagger => "swagger",
        }
    }
}

const MAX_USERNAME_LOGGED: usize = 128;

pub fn entry(
    username: &str,
    user_id: Option<i64>,
    reason: Reason,
    method: &str,
    client: &ClientInfo,
    at: chrono::NaiveDateTime,
) -> NewLoginLog {
    NewLoginLog {
        user_id,
        username: username.chars().take(MAX_USERNAME_LOGGED).collect(),
        success: reason == Reason::Success,
        reason: reason.as_str().to_owned(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        os: client.os.clone(),
        browser: client.browser.clone(),
        device: client.device.clone(),
        method: method.to_owned(),
        created_at: at,
    }
}

#[derive(Clone)]
pub struct LoginLog {
    tx: mpsc::UnboundedSender<NewLoginLog>,
}

const BATCH: usize = 256;
const RETRIES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

impl LoginLog {
    /// Starts the writer on the current arbiter.
    pub fn start(repo: RepoHandle) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<NewLoginLog>();
        actix_web::rt::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                write(&repo, std::mem::take(&mut batch)).await;
            }
        });
        Self { tx }
    }

    pub fn record(&self, entry: NewLoginLog) {
        if let Err(e) = self.tx.send(entry) {
            tracing::error!(target: "login_log", entry = ?e.0, "login log writer is gone; entry not stored");
        }
    }
}

async fn write(repo: &RepoHandle, batch: Vec<NewLoginLog>) {
    for (attempt, pause) in std::iter::once(Duration::ZERO).chain(RETRIES).enumerate() {
        actix_web::rt::time::sleep(pause).await;
        let rows = batch.clone();
        match repo
            .run(move |r| async move { r.insert_login_logs(rows).await })
            .await
        {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(target: "login_log", attempt, error = %e, "login log insert failed")
            }
        }
    }
    for entry in batch {
        tracing::error!(target: "login_log", entry = ?entry, "login log entry could not be stored");
    }
}
