//! The account's life by email, against a real SMTP server: aiosmtpd (from PyPI, in the tests'
//! virtualenv that scripts/fastapi-venv.sh makes), writing what it receives to a Maildir this
//! test reads. Sign-up and verification, forgotten passwords, the address change, limits, the
//! outbox, a dead server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::*;

fn aiosmtpd() -> PathBuf {
    let venv = std::env::var_os("PORTCULLIS_FASTAPI_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/target/fastapi-venv").into());
    let bin = venv.join("bin/aiosmtpd");
    assert!(
        bin.exists(),
        "no aiosmtpd at {}: run scripts/fastapi-venv.sh (scripts/test.sh does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server on a port of its own, keeping every message in a Maildir.
pub struct Smtp {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// One received message, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The token of the link to `path` (`/reset`, `/verify-email`) in the message.
    pub fn token(&self, path: &str) -> String {
        let re = regex::Regex::new(&format!(r"{path}\?token=([A-Za-z0-9_-]+)")).unwrap();
        re.captures(&self.text)
            .unwrap_or_else(|| panic!("no {path} link in {:?}", self.text))[1]
            .to_owned()
    }

    /// The six-digit code in the message.
    pub fn code(&self) -> String {
        let re = regex::Regex::new(r"\b(\d{6})\b").unwrap();
        re.captures(&self.text).expect("a code")[1].to_owned()
    }
}

impl Smtp {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut smtp = Self {
            child: None,
            dir,
            port,
        };
        smtp.up();
        smtp
    }

    /// Starts (again) on the same port and folder.
    pub fn up(&mut self) {
        let child = Command::new(aiosmtpd())
            .args(["-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Mail> {
        let new = self.dir.path().join("maildir/new");
        let mut files: Vec<_> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| decode(&std::fs::read(p).unwrap()))
            .collect()
    }

    /// Waits (up to 10 s) until `n` messages have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages arrived: {got:?}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last message to `to`, waiting for the `n`th message in all.
    pub async fn last_to(&self, to: &str, n: usize) -> Mail {
        let got = self.wait_for(n).await;
        got.into_iter()
            .rev()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no message to {to}"))
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.down();
    }
}

pub fn decode(raw: &[u8]) -> Mail {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a message");
    Mail {
        to: m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        subject: m.subject().unwrap_or_default().to_owned(),
        text: m.body_text(0).unwrap_or_default().into_owned(),
        html: m.body_html(0).unwrap_or_default().into_owned(),
    }
}

/// An app that mails through `smtp`, with sign-up open and room for a test's many messages.
pub async fn mail_app(smtp: &Smtp) -> TestApp {
    let (mut s, res) = test_settings().await;
    s.mail.smtp_url = smtp.url();
    s.mail.retry_max_seconds = 1;
    s.mail.per_client_per_hour = 1000;
    s.mail.per_address_per_hour = 100;
    s.registration.enabled = true;
    spawn_with(s, res).await
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn sign_up(&self, username: &str, email: &str) -> Response {
        self.post_json(
            "/api/v1/auth/register",
            &json!({"username": username, "email": email, "password": PASSWORD}),
        )
        .await
    }

    async fn login_status(&self, username: &str, password: &str) -> u16 {
        self.post_login(&json!({"username": username, "password": password}))
            .await
            .status()
            .as_u16()
    }
}

#[actix_web::test]
async fn a_new_account_signs_in_once_the_mailed_link_verifies_its_address() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    let res = app.sign_up("nell", "Nell@Example.com").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["email"], "nell@example.com");
    assert_eq!(body["data"]["enabled"], false);
    assert_eq!(
        app.login_status("nell", PASSWORD).await,
        400,
        "no sign-in before the address is verified"
    );

    let mail = smtp.last_to("nell@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm your email address");
    assert!(mail.html.contains("verify-email?token="), "{}", mail.html);
    let token = mail.token("/verify-email");
    let res = app
        .post_json("/api/v1/auth/email/verify", &json!({"token": token}))
        .await;
    assert_eq!(res.status(), 200);
    let data = app.login("nell", PASSWORD).await;
    assert_eq!(data["user"]["email_verified"], true);

    let again = app
        .post_json("/api/v1/auth/email/verify", &json!({"token": token}))
        .await;
    assert_error(again, 400, "invalid_email_link").await;
    let taken = app.sign_up("nell2", "nell@example.com").await;
    assert_error(taken, 409, "email_taken").await;
    let taken = app.sign_up("nell", "other@example.com").await;
    assert_error(taken, 409, "conflict").await;
}

#[actix_web::test]
async fn the_mailed_code_verifies_too_and_wrong_codes_run_out_while_the_link_still_works() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    assert_eq!(app.sign_up("olga", "olga@example.com").await.status(), 200);
    let mail = smtp.last_to("olga@example.com", 1).await;
    let code = mail.code();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let res = app
            .post_json(
                "/api/v1/auth/email/verify",
                &json!({"email": "olga@example.com", "code": wrong}),
            )
            .await;
        assert_error(res, 400, "invalid_email_link").await;
    }
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"email": "OLGA@example.com", "code": code}),
        )
        .await;
    assert_error(res, 400, "invalid_email_link").await;
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"token": mail.token("/verify-email")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.login_status("olga", PASSWORD).await, 200);

    // A second account's right code works the first time.
    assert_eq!(app.sign_up("pia", "pia@example.com").await.status(), 200);
    let code = smtp.last_to("pia@example.com", 2).await.code();
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"email": "pia@example.com", "code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.login_status("pia", PASSWORD).await, 200);
}

#[actix_web::test]
async fn sign_up_refuses_what_the_admin_api_refuses_and_weak_passwords_in_the_clients_language() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    let weak = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("accept-language", "zh-CN")
        .json(&json!({"username": "quinn", "email": "q@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(weak, 400, "password_policy").await;
    assert!(body["msg"].as_str().unwrap().contains("常见"), "{body}");
    let as_email = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "quinn", "email": "quinn.long@example.com", "password": "quinn.long@example.com"}),
        )
        .await;
    let body = assert_error(as_email, 400, "password_policy").await;
    assert!(body["msg"].as_str().unwrap().contains("email"), "{body}");
    for bad in [
        json!({"username": "q q", "email": "q@example.com", "password": PASSWORD}),
        json!({"username": "quinn", "email": "not-an-address", "password": PASSWORD}),
    ] {
        let res = app.post_json("/api/v1/auth/register", &bad).await;
        assert_error(res, 400, "invalid_body").await;
    }
    assert!(smtp.received().is_empty());

    // Closed by default; a domain list holds.
    let (s, res) = test_settings().await;
    let closed = spawn_with(s, res).await;
    let res = closed.sign_up("rae", "rae@example.com").await;
    assert_error(res, 403, "registration_closed").await;
    let (mut s, res) = test_settings().await;
    s.mail.smtp_url = smtp.url();
    s.registration.enabled = true;
    s.registration.allowed_email_domains = vec!["corp.example".into()];
    let corp = spawn_with(s, res).await;
    let res = corp.sign_up("rae", "rae@example.com").await;
    assert_error(res, 400, "email_domain_not_allowed").await;
    assert_eq!(corp.sign_up("rae", "rae@CORP.example").await.status(), 200);
}

/// Forgot, on one node: the same answer for every account; reset through the mailed link on
/// that node; the user's sessions end on the other.
#[actix_web::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link_and_ends_every_session_everywhere() {
    let smtp = Smtp::start();
    let (mut s, res) = test_settings().await;
    s.mail.smtp_url = smtp.url();
    let a = spawn_with(s.clone(), res.clone()).await;
    let b = spawn_with(s, res).await;
    a.create_user_full("sam", PASSWORD, Some("sam@example.com"), false)
        .await;
    let on_b = b.login("sam", PASSWORD).await;
    let access = token(&on_b, "access_token");
    assert_eq!(b.me(&access).await.status(), 200);

    let known = a
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"username_or_email": "sam"}),
        )
        .await;
    let unknown = a
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"username_or_email": "nobody"}),
        )
        .await;
    assert_eq!(
        (known.status().as_u16(), unknown.status().as_u16()),
        (200, 200)
    );
    assert_eq!(
        known.text().await.unwrap(),
        unknown.text().await.unwrap(),
        "the same answer whether the account exists or not"
    );
    let mail = smtp.last_to("sam@example.com", 1).await;
    assert_eq!(mail.subject, "Reset your password");
    let reset_token = mail.token("/reset");

    let weak = a
        .post_json(
            "/api/v1/auth/password/reset",
            &json!({"token": reset_token, "password": "password123"}),
        )
        .await;
    assert_error(weak, 400, "password_policy").await;
    let res = a
        .post_json(
            "/api/v1/auth/password/reset",
            &json!({"token": reset_token, "password": "a fresh start 2026"}),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "the link still works after a refused password"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while b.me(&access).await.status() != 401 {
        assert!(
            Instant::now() < deadline,
            "the other node still takes the old token"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.login_status("sam", PASSWORD).await, 400);
    assert_eq!(a.login_status("sam", "a fresh start 2026").await, 200);
    let again = a
        .post_json(
            "/api/v1/auth/password/reset",
            &json!({"token": reset_token, "password": "another fresh start"}),
        )
        .await;
    assert_error(again, 400, "invalid_reset_link").await;

    // The reset proved the address, and the user is told there.
    let notice = smtp.last_to("sam@example.com", 2).await;
    assert_eq!(notice.subject, "Your password was reset");
    assert_eq!(
        smtp.wait_for(2).await.len(),
        2,
        "nothing was mailed for `nobody`"
    );
}

#[actix_web::test]
async fn reset_links_expire_and_messages_come_in_the_clients_language() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    app.create_user_full("tao", PASSWORD, Some("tao@example.com"), false)
        .await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/password/forgot"))
        .header("accept-language", "zh-CN,zh;q=0.9")
        .json(&json!({"username_or_email": "TAO@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mail = smtp.last_to("tao@example.com", 1).await;
    assert_eq!(mail.subject, "重置您的密码");
    assert!(mail.html.contains("设置新密码"), "{}", mail.html);
    app.clock.advance(app.settings.mail.reset_ttl_seconds + 1);
    let res = app
        .post_json(
            "/api/v1/auth/password/reset",
            &json!({"token": mail.token("/reset"), "password": "a fresh start 2026"}),
        )
        .await;
    assert_error(res, 400, "invalid_reset_link").await;
    assert_eq!(app.login_status("tao", PASSWORD).await, 200);
}

#[actix_web::test]
async fn mail_sending_routes_are_limited_per_address_and_per_client() {
    let smtp = Smtp::start();
    let (mut s, res) = test_settings().await;
    s.mail.smtp_url = smtp.url();
    s.mail.per_address_per_hour = 2;
    s.mail.per_client_per_hour = 4;
    let app = spawn_with(s, res).await;
    // The windows are the clock's hours: start at the top of one, so none ends mid-test.
    let now = portcullis::clock::Clock::unix(app.clock.as_ref());
    app.clock.advance(3600 - now.rem_euclid(3600) + 1);
    let forgot = |who: &'static str| {
        let body = json!({"username_or_email": who});
        let app = &app;
        async move { app.post_json("/api/v1/auth/password/forgot", &body).await }
    };
    assert_eq!(forgot("uma").await.status(), 200);
    assert_eq!(forgot("UMA").await.status(), 200);
    let res = forgot("uma").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "rate_limited").await;
    assert_eq!(forgot("vic").await.status(), 200);
    // The fifth request from this client, whatever it names.
    assert_error(forgot("wen").await, 429, "rate_limited").await;

    // A signed-in user's address change counts against the address it names too, so no one
    // can flood someone else's mailbox from their account page.
    let (mut s, res) = test_settings().await;
    s.mail.smtp_url = smtp.url();
    s.mail.per_address_per_hour = 2;
    let app = spawn_with(s, res).await;
    let now = portcullis::clock::Clock::unix(app.clock.as_ref());
    app.clock.advance(3600 - now.rem_euclid(3600) + 1);
    app.create_user_full("yan", PASSWORD, Some("yan@example.com"), false)
        .await;
    let access = token_of(&app.login("yan", PASSWORD).await);
    let change = || {
        app.client
            .put(app.url("/api/v1/sys/users/me/email"))
            .bearer_auth(&access)
            .json(&json!({"email": "victim@example.com"}))
            .send()
    };
    assert_eq!(change().await.unwrap().status(), 200);
    assert_eq!(change().await.unwrap().status(), 200);
    assert_error(change().await.unwrap(), 429, "rate_limited").await;
}

#[actix_web::test]
async fn a_dead_smtp_server_blocks_no_request_and_loses_no_message() {
    let mut smtp = Smtp::start();
    smtp.down();
    let app = mail_app(&smtp).await;
    app.create_user_full("xia", PASSWORD, Some("xia@example.com"), false)
        .await;
    let started = Instant::now();
    let res = app
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"username_or_email": "xia"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.login_status("xia", PASSWORD).await, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.metric("portcullis_mail_failures_total").await < 1.0 {
        assert!(Instant::now() < deadline, "no failed try was counted");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(smtp.received().is_empty());
    smtp.up();
    let mail = smtp.last_to("xia@example.com", 1).await;
    assert_eq!(mail.subject, "Reset your password");
    assert_eq!(app.metric("portcullis_mail_sent_total").await, 1.0);
}

#[actix_web::test]
async fn without_an_smtp_server_development_writes_the_messages_to_the_outbox() {
    let (s, res) = test_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user_full("yan", PASSWORD, Some("yan@example.com"), false)
        .await;
    let res = app
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"username_or_email": "yan"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let outbox = app.settings.data.dir.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(10);
    let file = loop {
        let eml = std::fs::read_dir(&outbox)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "eml"));
        if let Some(f) = eml {
            break f;
        }
        assert!(Instant::now() < deadline, "no .eml in {}", outbox.display());
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let mail = decode(&std::fs::read(file).unwrap());
    assert_eq!(mail.to, "yan@example.com");
    let res = app
        .post_json(
            "/api/v1/auth/password/reset",
            &json!({"token": mail.token("/reset"), "password": "a fresh start 2026"}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn an_address_change_needs_a_recent_sign_in_and_takes_effect_when_verified() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    assert_eq!(app.sign_up("zoe", "zoe@example.com").await.status(), 200);
    let token = smtp
        .last_to("zoe@example.com", 1)
        .await
        .token("/verify-email");
    app.post_json("/api/v1/auth/email/verify", &json!({"token": token}))
        .await;
    let data = app.login("zoe", PASSWORD).await;
    let access = token_of(&data);
    let change = |email: &'static str| {
        app.client
            .put(app.url("/api/v1/sys/users/me/email"))
            .bearer_auth(&access)
            .json(&json!({"email": email}))
            .send()
    };
    let res = change("zoe@new.example").await.unwrap();
    assert_eq!(res.status(), 200, "a fresh sign-in is recent");
    let mail = smtp.last_to("zoe@new.example", 2).await;
    let me = app.get_auth_json("/api/v1/sys/users/me", &access).await;
    assert_eq!(
        me["data"]["email"], "zoe@example.com",
        "not before it is verified"
    );
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"token": mail.token("/verify-email")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let me = app.get_auth_json("/api/v1/sys/users/me", &access).await;
    assert_eq!(me["data"]["email"], "zoe@new.example");
    assert_eq!(me["data"]["email_verified"], true);
    let told = smtp.last_to("zoe@example.com", 3).await;
    assert_eq!(told.subject, "Your email address was changed");
    assert!(told.text.contains("zoe@new.example"));

    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = change("zoe@third.example").await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication");
}

fn token_of(data: &Value) -> String {
    token(data, "access_token")
}

#[actix_web::test]
async fn the_user_is_told_at_the_verified_address_when_the_password_or_a_factor_changes() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    assert_eq!(app.sign_up("ada", "ada@example.com").await.status(), 200);
    let link = smtp
        .last_to("ada@example.com", 1)
        .await
        .token("/verify-email");
    app.post_json("/api/v1/auth/email/verify", &json!({"token": link}))
        .await;
    // An address nobody verified is told nothing.
    app.create_user_full("bea", PASSWORD, Some("bea@example.com"), false)
        .await;
    for (who, new) in [("ada", "a new secret 2026"), ("bea", "b new secret 2026")] {
        let access = token_of(&app.login(who, PASSWORD).await);
        let res = app
            .client
            .put(app.url("/api/v1/sys/users/me/password"))
            .bearer_auth(&access)
            .json(&json!({"old_password": PASSWORD, "new_password": new, "confirm_password": new}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let told = smtp.last_to("ada@example.com", 2).await;
    assert_eq!(told.subject, "Your password was changed");
    let enrolled = app.enrol_totp_with("ada", "a new secret 2026").await;
    assert!(!enrolled.secret.is_empty());
    let told = smtp.last_to("ada@example.com", 3).await;
    assert_eq!(told.subject, "A second factor was added to your account");
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.received().iter().all(|m| m.to != "bea@example.com"));
}

#[actix_web::test]
async fn an_address_an_administrator_or_a_provider_gives_gets_a_verification() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    app.create_user_with("root", PASSWORD, true).await;
    let admin = token_of(&app.login("root", PASSWORD).await);
    let res = app
        .client
        .post(app.url("/api/v1/sys/users"))
        .bearer_auth(&admin)
        .json(&json!({"username": "cai", "password": PASSWORD, "email": "cai@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let uid = res.json::<Value>().await.unwrap()["data"]["id"]
        .as_i64()
        .unwrap();
    let mail = smtp.last_to("cai@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm your email address");
    // An edit that leaves the (still unverified) address as it was mails nothing.
    let res = app
        .client
        .put(app.url(&format!("/api/v1/sys/users/{uid}")))
        .bearer_auth(&admin)
        .json(&json!({"email": "cai@example.com", "nickname": "Cai"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1);
    let res = app
        .client
        .put(app.url(&format!("/api/v1/sys/users/{uid}")))
        .bearer_auth(&admin)
        .json(&json!({"email": "cai@new.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let second = smtp.last_to("cai@new.example", 2).await;
    // The first address's link no longer proves anything: the account's address changed.
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"token": mail.token("/verify-email")}),
        )
        .await;
    assert_error(res, 400, "invalid_email_link").await;
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"token": second.token("/verify-email")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let data = app.login("cai", PASSWORD).await;
    assert_eq!(data["user"]["email_verified"], true);

    // A social login whose provider vouches for no address.
    use crate::oauth2::{fake_github, oauth_settings, provider};
    use portcullis::config::ProviderKind;
    let server = fake_github(
        json!({"id": 91, "login": "dana", "name": "Dana", "email": "dana@example.com"}),
        json!([]),
    )
    .await;
    let (mut s, res) = oauth_settings(
        std::collections::BTreeMap::from([(
            "github".into(),
            provider(ProviderKind::Github, &server.uri()),
        )]),
        false,
    )
    .await;
    s.mail.smtp_url = smtp.url();
    let social = spawn_with(s, res).await;
    let data = social.oauth_login("github").await;
    assert_eq!(data["user"]["email"], "dana@example.com");
    assert_eq!(data["user"]["email_verified"], false);
    let mail = smtp.last_to("dana@example.com", 3).await;
    assert_eq!(mail.subject, "Confirm your email address");
    // The next sign-in sends nothing more.
    social.oauth_login("github").await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 3);
}

#[actix_web::test]
async fn a_reset_keeps_the_second_factor_and_a_reused_refresh_token_is_told() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    assert_eq!(app.sign_up("eli", "eli@example.com").await.status(), 200);
    let link = smtp
        .last_to("eli@example.com", 1)
        .await
        .token("/verify-email");
    app.post_json("/api/v1/auth/email/verify", &json!({"token": link}))
        .await;
    app.enrol_totp("eli").await;
    smtp.wait_for(2).await; // the factor's notice
    let res = app
        .post_json(
            "/api/v1/auth/password/forgot",
            &json!({"username_or_email": "eli"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let reset = smtp.last_to("eli@example.com", 3).await;
    assert_eq!(reset.subject, "Reset your password");
    let res = app
        .post_json(
            "/api/v1/auth/password/reset",
            &json!({"token": reset.token("/reset"), "password": "a fresh start 2026"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let data = app.login("eli", "a fresh start 2026").await;
    assert_eq!(
        data["mfa_required"], true,
        "the second factor stays: {data}"
    );
    assert!(data.get("access_token").is_none());
    smtp.wait_for(4).await; // the reset's notice

    // A refresh token used twice ends its session, and the user hears of it.
    assert_eq!(app.sign_up("fay", "fay@example.com").await.status(), 200);
    let link = smtp
        .last_to("fay@example.com", 5)
        .await
        .token("/verify-email");
    app.post_json("/api/v1/auth/email/verify", &json!({"token": link}))
        .await;
    let login = app.login("fay", PASSWORD).await;
    let first = token(&login, "refresh_token");
    assert_eq!(app.refresh(&first).await.status(), 200);
    app.clock
        .advance(app.settings.session.refresh_grace_seconds + 1);
    assert_eq!(app.refresh(&first).await.status(), 401);
    let told = smtp.last_to("fay@example.com", 6).await;
    assert_eq!(
        told.subject,
        "A session of your account was ended for safety"
    );
}

/// The answer to "forgot password" takes as long whether the account exists or not: the
/// lookup and the mail come after it. Medians of alternating requests.
#[actix_web::test]
async fn forgot_for_known_and_unknown_accounts_take_the_same_time() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    app.create_user_full("gus", PASSWORD, Some("gus@example.com"), false)
        .await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..30 {
        for (who, times) in [("gus", &mut known), ("nobody-here", &mut unknown)] {
            let started = Instant::now();
            let res = app
                .post_json(
                    "/api/v1/auth/password/forgot",
                    &json!({"username_or_email": who}),
                )
                .await;
            let took = started.elapsed();
            assert_eq!(res.status(), 200, "request {i}");
            times.push(took);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    let gap = k.abs_diff(u);
    assert!(
        gap < Duration::from_millis(3) && gap.as_secs_f64() < 0.5 * k.max(u).as_secs_f64() + 0.001,
        "known {k:?}, unknown {u:?}"
    );
    assert_eq!(
        smtp.wait_for(30).await.len(),
        30,
        "only the known account was mailed"
    );
}

#[actix_web::test]
async fn a_new_mail_replaces_the_addresss_code_and_parallel_guesses_share_one_count() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    assert_eq!(app.sign_up("hal", "hal@example.com").await.status(), 200);
    let first = smtp.last_to("hal@example.com", 1).await.code();
    let res = app
        .post_json(
            "/api/v1/auth/email/verify/resend",
            &json!({"username_or_email": "hal"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let second = smtp.last_to("hal@example.com", 2).await.code();
    if first != second {
        let res = app
            .post_json(
                "/api/v1/auth/email/verify",
                &json!({"email": "hal@example.com", "code": first}),
            )
            .await;
        assert_error(res, 400, "invalid_email_link").await;
    }

    // Twenty guesses at once: at most five tries are looked at, so the right code, sent after
    // them, is refused too.
    let guesses = (0..20).map(|i| {
        let body = json!({"email": "hal@example.com", "code": format!("{:06}", 999_000 + i)});
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/email/verify", &body)
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"email": "hal@example.com", "code": second}),
        )
        .await;
    assert_error(res, 400, "invalid_email_link").await;
    assert_eq!(app.login_status("hal", PASSWORD).await, 400);

    // A new mail brings a new code with its own count: the owner who mistyped is not locked out.
    let res = app
        .post_json(
            "/api/v1/auth/email/verify/resend",
            &json!({"username_or_email": "hal@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let third = smtp.last_to("hal@example.com", 3).await.code();
    let res = app
        .post_json(
            "/api/v1/auth/email/verify",
            &json!({"email": "hal@example.com", "code": third}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.login_status("hal", PASSWORD).await, 200);
}

#[actix_web::test]
async fn only_a_sign_up_is_enabled_by_its_verification_never_an_account_an_administrator_disabled()
{
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    app.create_user_full("ivo", PASSWORD, Some("ivo@example.com"), false)
        .await;
    app.admin.set_enabled("ivo", false).await.unwrap();
    let res = app
        .post_json(
            "/api/v1/auth/email/verify/resend",
            &json!({"username_or_email": "ivo"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let link = smtp
        .last_to("ivo@example.com", 1)
        .await
        .token("/verify-email");
    let res = app
        .post_json("/api/v1/auth/email/verify", &json!({"token": link}))
        .await;
    assert_eq!(res.status(), 200, "the address is proved");
    assert_eq!(
        app.login_status("ivo", PASSWORD).await,
        400,
        "and the account stays disabled"
    );
}

#[actix_web::test]
async fn a_reset_link_is_spent_by_an_address_change_or_another_reset() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    app.create_user_with("root", PASSWORD, true).await;
    let jo = app
        .create_user_full("jodi", PASSWORD, Some("jo@example.com"), false)
        .await;
    let forgot_body = json!({"username_or_email": "jodi"});
    let forgot = || app.post_json("/api/v1/auth/password/forgot", &forgot_body);
    let reset = |token: String| {
        let body = json!({"token": token, "password": "a fresh start 2026"});
        let app = &app;
        async move { app.post_json("/api/v1/auth/password/reset", &body).await }
    };
    assert_eq!(forgot().await.status(), 200);
    let old_address = smtp.last_to("jo@example.com", 1).await.token("/reset");
    let admin = token_of(&app.login("root", PASSWORD).await);
    let res = app
        .client
        .put(app.url(&format!("/api/v1/sys/users/{jo}")))
        .bearer_auth(&admin)
        .json(&json!({"email": "jo@new.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_error(reset(old_address).await, 400, "invalid_reset_link").await;

    assert_eq!(forgot().await.status(), 200);
    let first = smtp.last_to("jo@new.example", 3).await.token("/reset");
    assert_eq!(forgot().await.status(), 200);
    let second = smtp.last_to("jo@new.example", 4).await.token("/reset");
    assert_eq!(reset(first).await.status(), 200);
    assert_error(reset(second).await, 400, "invalid_reset_link").await;
}

#[actix_web::test]
async fn an_address_the_mail_library_reads_otherwise_makes_no_account() {
    let smtp = Smtp::start();
    let app = mail_app(&smtp).await;
    for bad in ["a,b@example.com", "<kim@example.com>"] {
        let res = app.sign_up("kim", bad).await;
        assert_error(res, 400, "invalid_body").await;
    }
    assert_eq!(app.sign_up("kim", "kim@example.com").await.status(), 200);
}
