//! Mail, sent off the request path. A route puts a rendered message on a bounded queue and goes
//! on; one task takes them in order and hands each to the SMTP server (`mail.smtp_url`, with
//! `lettre`) or, in development without one, writes it to `{data.dir}/outbox/` as an `.eml` file
//! and logs its link. A message the server does not take is kept and tried again, waiting longer
//! each time (up to `mail.retry_max_seconds`); one it refuses for good (an address it will not
//! deliver to) is logged and counted. A full queue refuses new messages at once (503 with
//! `Retry-After`), so nothing is dropped silently; messages still queued when the server stops
//! are logged as not sent.

pub mod templates;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::mpsc;

pub use self::templates::{Kind, Rendered, Templates};
pub use minijinja::Value;

use crate::config::{MailSettings, Profile};
use crate::error::{kind, ApiError, Lang};
use crate::metrics::Metrics;

/// How long one try to hand a message to the SMTP server may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
const DEFAULT_VALID_FOR: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail is not set up on this server (mail.smtp_url)")]
    NotConfigured,
    #[error("too many messages are waiting to be sent")]
    Full,
    #[error("`{0}` is not an address mail can be sent to")]
    Address(String),
    #[error("the message could not be made: {0}")]
    Build(String),
}

impl From<MailError> for ApiError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::NotConfigured => ApiError::new(kind::MAIL_UNAVAILABLE),
            MailError::Full => ApiError::new(kind::BUSY).with_retry_after(30),
            MailError::Address(_) => ApiError::new(kind::INVALID_BODY).with_detail(e.to_string()),
            MailError::Build(_) => ApiError::internal(e),
        }
    }
}

/// A message to send: what kind, to whom, in which language, with what in it.
#[derive(Debug, Clone)]
pub struct Letter {
    pub kind: Kind,
    pub to: String,
    pub lang: Lang,
    pub vars: BTreeMap<&'static str, Value>,
    /// The link the message is for (a verification, a reset), if any.
    pub link: Option<String>,
    /// How long sending it is still worth trying (its link's life); a day by default.
    pub valid_for: Duration,
}

impl Letter {
    pub fn new(kind: Kind, to: &str, lang: Lang) -> Self {
        Self {
            kind,
            to: to.to_owned(),
            lang,
            vars: BTreeMap::new(),
            link: None,
            valid_for: DEFAULT_VALID_FOR,
        }
    }

    pub fn var(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.vars.insert(name, value.into());
        self
    }

    pub fn link(mut self, link: String) -> Self {
        self.link = Some(link);
        self
    }

    /// Gives up on it after `seconds` (a link that has expired by then is worth nothing).
    pub fn valid_for(mut self, seconds: i64) -> Self {
        self.valid_for = Duration::from_secs(seconds.max(1).unsigned_abs());
        self
    }
}

/// A message on the queue, with what the log says about it.
struct Outgoing {
    message: Message,
    kind: &'static str,
    to: String,
    /// Logged when the message goes to the outbox (development), never when it is mailed.
    link: Option<String>,
    /// Past this, it is dropped (and logged) rather than tried again.
    give_up_at: std::time::Instant,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>, std::path::PathBuf),
}

/// A cheap handle on the queue.
#[derive(Clone)]
pub struct Mailer {
    queue: mpsc::Sender<Outgoing>,
    templates: Arc<Templates>,
    from: Mailbox,
    available: bool,
    metrics: Metrics,
}

impl Mailer {
    /// Reads the templates, opens the transport and starts the task that sends (on the current
    /// runtime).
    pub fn start(
        settings: &MailSettings,
        profile: Profile,
        data_dir: &Path,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let dir = settings.templates_dir.trim();
        let templates = Templates::load((!dir.is_empty()).then(|| Path::new(dir)))
            .map_err(anyhow::Error::msg)?;
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("mail.from `{}`: {e}", settings.from))?;
        let transport = if settings.uses_outbox() {
            let outbox = data_dir.join("outbox");
            std::fs::create_dir_all(&outbox)
                .map_err(|e| anyhow::anyhow!("cannot make the outbox {}: {e}", outbox.display()))?;
            if profile == Profile::Development {
                tracing::info!(
                    outbox = %outbox.display(),
                    "no mail.smtp_url: messages are written to the outbox and their links logged"
                );
            }
            Transport::Outbox(AsyncFileTransport::new(&outbox), outbox)
        } else {
            let url = settings.smtp_url.trim();
            let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| {
                    anyhow::anyhow!("mail.smtp_url `{}`: {e}", crate::config::redact(url))
                })?
                .timeout(Some(SMTP_TIMEOUT))
                .build();
            tracing::info!(server = %crate::config::redact(url), "mail goes through SMTP");
            Transport::Smtp(smtp)
        };
        let (queue, waiting) = mpsc::channel(settings.queue_size.max(1));
        let max_wait = Duration::from_secs(settings.retry_max_seconds.max(1));
        actix_web::rt::spawn(deliver(waiting, transport, metrics.clone(), max_wait));
        Ok(Self {
            queue,
            templates: Arc::new(templates),
            from,
            available: settings.available(profile),
            metrics,
        })
    }

    /// Refuses (503 `mail_unavailable`) a flow that needs mail where none can be sent.
    pub fn require(&self) -> Result<(), MailError> {
        if self.available {
            Ok(())
        } else {
            Err(MailError::NotConfigured)
        }
    }

    /// Refuses at once when the queue could not take another message.
    pub fn require_room(&self) -> Result<(), MailError> {
        self.require()?;
        if self.queue.capacity() == 0 {
            return Err(MailError::Full);
        }
        Ok(())
    }

    /// Renders the letter and queues it; it is sent soon after, off this request.
    pub fn send(&self, letter: Letter) -> Result<(), MailError> {
        self.require()?;
        let to: Mailbox = letter
            .to
            .parse()
            .map_err(|_| MailError::Address(letter.to.clone()))?;
        let words = self
            .templates
            .render(
                letter.kind,
                letter.lang,
                &letter.vars,
                letter.link.as_deref(),
            )
            .map_err(|e| MailError::Build(format!("{}: {e}", letter.kind.name())))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(words.subject)
            .multipart(MultiPart::alternative_plain_html(words.text, words.html))
            .map_err(|e| MailError::Build(e.to_string()))?;
        let outgoing = Outgoing {
            message,
            kind: letter.kind.name(),
            to: letter.to,
            link: letter.link,
            give_up_at: std::time::Instant::now() + letter.valid_for,
        };
        match self.queue.try_send(outgoing) {
            Ok(()) => {
                self.metrics.mail_queued(1);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(m)) => {
                tracing::error!(kind = m.kind, "mail queue full: message refused");
                Err(MailError::Full)
            }
            Err(mpsc::error::TrySendError::Closed(m)) => {
                tracing::error!(kind = m.kind, "mail task is gone: message refused");
                Err(MailError::Full)
            }
        }
    }
}

/// Says, when the task is stopped (the server stops), how many messages were never sent.
struct Unsent<'a> {
    queue: &'a mpsc::Receiver<Outgoing>,
    later: &'a std::collections::VecDeque<Outgoing>,
    sending: bool,
}

impl Unsent<'_> {
    /// The await it guarded ended: nothing to say.
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        let messages = self.queue.len() + self.later.len() + usize::from(self.sending);
        if messages > 0 {
            tracing::error!(messages, "the server stopped with messages not yet sent");
        }
    }
}

/// Sends what is queued, in order. A message the server does not take yet goes to the back of
/// a line of its own, so one address the server keeps deferring holds up nobody else; the
/// waits between failed tries double (up to `max_wait`) while the server keeps failing, and
/// start again at a second once it takes one. A message past its `give_up_at` is dropped and
/// logged; one the server refuses for good is logged at once. The retry line holds as many as
/// the queue: while it is full only its messages are tried, so the queue fills and routes
/// answer 503.
async fn deliver(
    mut waiting: mpsc::Receiver<Outgoing>,
    transport: Transport,
    metrics: Metrics,
    max_wait: Duration,
) {
    let capacity = waiting.max_capacity();
    let mut later = std::collections::VecDeque::new();
    let mut wait = Duration::from_secs(1);
    loop {
        let m = if later.len() >= capacity {
            later.pop_front()
        } else if later.is_empty() {
            waiting.recv().await
        } else {
            match waiting.try_recv() {
                Ok(m) => Some(m),
                Err(_) => later.pop_front(),
            }
        };
        let Some(m) = m else { break };
        if std::time::Instant::now() >= m.give_up_at {
            metrics.mail_queued(-1);
            tracing::error!(kind = m.kind, to = %m.to, "mail given up: not sent while its link was good");
            continue;
        }
        let unsent = Unsent {
            queue: &waiting,
            later: &later,
            sending: true,
        };
        let sent = match &transport {
            Transport::Smtp(t) => t
                .send(m.message.clone())
                .await
                .map(drop)
                .map_err(|e| (e.to_string(), e.is_permanent())),
            Transport::Outbox(t, _) => t
                .send(m.message.clone())
                .await
                .map(drop)
                .map_err(|e| (e.to_string(), false)),
        };
        unsent.disarm();
        match sent {
            Ok(()) => {
                wait = Duration::from_secs(1);
                metrics.mail_sent();
                metrics.mail_queued(-1);
                match &transport {
                    Transport::Outbox(_, dir) => tracing::info!(
                        kind = m.kind,
                        to = %m.to,
                        link = m.link.as_deref().unwrap_or(""),
                        outbox = %dir.display(),
                        "mail written to the outbox"
                    ),
                    Transport::Smtp(_) => tracing::info!(kind = m.kind, to = %m.to, "mail sent"),
                }
            }
            Err((error, true)) => {
                metrics.mail_failed();
                metrics.mail_queued(-1);
                tracing::error!(kind = m.kind, to = %m.to, %error, "the mail server refused the message for good; not sent");
            }
            Err((error, false)) => {
                metrics.mail_failed();
                tracing::warn!(kind = m.kind, %error, retry_in = ?wait, "mail not sent yet; trying again");
                later.push_back(m);
                let stopping = Unsent {
                    queue: &waiting,
                    later: &later,
                    sending: false,
                };
                actix_web::rt::time::sleep(wait).await;
                stopping.disarm();
                wait = (wait * 2).min(max_wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter::new(Kind::PasswordChanged, "ann@example.com", Lang::En)
            .var("username", "ann")
            .var("at", "now")
            .var("by_reset", false)
    }

    #[actix_web::test]
    async fn production_without_a_server_refuses_what_needs_mail_and_development_writes_the_outbox()
    {
        let s = crate::config::Settings::defaults();
        let dir = tempfile::tempdir().unwrap();
        let prod =
            Mailer::start(&s.mail, Profile::Production, dir.path(), Metrics::default()).unwrap();
        assert!(matches!(prod.require(), Err(MailError::NotConfigured)));
        assert!(matches!(prod.send(letter()), Err(MailError::NotConfigured)));
        let err = ApiError::from(MailError::NotConfigured);
        assert_eq!((err.kind.status, err.kind.slug), (503, "mail_unavailable"));
        let dev = Mailer::start(
            &s.mail,
            Profile::Development,
            dir.path(),
            Metrics::default(),
        )
        .unwrap();
        dev.send(letter()).unwrap();
        assert!(matches!(
            dev.send(Letter::new(
                Kind::PasswordChanged,
                "not an address",
                Lang::En
            )),
            Err(MailError::Address(_))
        ));
    }

    #[actix_web::test]
    async fn a_full_queue_refuses_at_once_with_a_retry_after() {
        let mut s = crate::config::Settings::defaults().mail;
        // Nothing listens there: the first message stays in the task, retried.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        s.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.queue_size = 1;
        let dir = tempfile::tempdir().unwrap();
        let m = Mailer::start(&s, Profile::Production, dir.path(), Metrics::default()).unwrap();
        let mut refused = None;
        for _ in 0..3 {
            if let Err(e) = m.send(letter()) {
                refused = Some(e);
                break;
            }
            actix_web::rt::task::yield_now().await;
        }
        assert!(matches!(refused, Some(MailError::Full)), "{refused:?}");
        assert!(matches!(m.require_room(), Err(MailError::Full)));
        let err = ApiError::from(MailError::Full);
        assert_eq!((err.kind.status, err.retry_after), (503, Some(30)));
    }
}
