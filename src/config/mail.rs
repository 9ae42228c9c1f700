//! `[mail]`: how messages leave (SMTP, or the development outbox), and `[registration]`: who may
//! make an account themselves.

use serde::Deserialize;

use super::Profile;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtp://host:25` (plain: a relay on the same host only). Empty: development
    /// writes each message to `{data.dir}/outbox/`; production refuses what needs mail.
    pub smtp_url: String,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// Messages waiting to be sent; when full, a route that would send answers 503.
    pub queue_size: usize,
    /// Longest wait between two tries of a message the server did not take (it is kept and
    /// tried again until it is).
    pub retry_max_seconds: u64,
    /// A folder whose files replace the built-in templates of the same name
    /// (`layout.html`, `en/verify_email.txt`, `zh-CN/password_reset.txt`, ...).
    pub templates_dir: String,
    /// How long a verification link or code works.
    pub verify_ttl_seconds: i64,
    /// How long a password reset link works.
    pub reset_ttl_seconds: i64,
    /// Messages a client address may cause per hour, over every route that sends.
    pub per_client_per_hour: i64,
    /// Messages one address (or username) may be sent per hour by the routes anyone can call.
    pub per_address_per_hour: i64,
}

impl MailSettings {
    /// Mail goes to the development outbox rather than a server.
    pub fn uses_outbox(&self) -> bool {
        self.smtp_url.trim().is_empty()
    }

    /// Whether flows that need mail can run: a server is set, or this is development.
    pub fn available(&self, profile: Profile) -> bool {
        !self.uses_outbox() || profile == Profile::Development
    }

    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let url = self.smtp_url.trim();
        if !(url.is_empty() || url.starts_with("smtp://") || url.starts_with("smtps://")) {
            p.push(format!(
                "mail.smtp_url `{}` is not an smtp:// or smtps:// URL (PORTCULLIS__MAIL__SMTP_URL), \
                 e.g. smtps://user:password@smtp.example.com:465",
                super::redact(url)
            ));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            p.push(format!(
                "mail.from `{}` is not an address, e.g. `Portcullis <no-reply@example.com>`",
                self.from
            ));
        }
        if self.queue_size == 0 {
            p.push("mail.queue_size must be at least 1".into());
        }
        for (key, v) in [
            ("verify_ttl_seconds", self.verify_ttl_seconds),
            ("reset_ttl_seconds", self.reset_ttl_seconds),
            ("per_client_per_hour", self.per_client_per_hour),
            ("per_address_per_hour", self.per_address_per_hour),
        ] {
            if v < 1 {
                p.push(format!("mail.{key} must be at least 1"));
            }
        }
        p
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    /// `POST /api/v1/auth/register` and the page's sign-up form.
    pub enabled: bool,
    /// Domains an address may have to sign up (`example.com`); empty: any.
    pub allowed_email_domains: Vec<String>,
    /// Roles (by name) a new account gets, those that exist.
    pub default_roles: Vec<String>,
    /// A new account signs in only once its address is verified (it is disabled until then).
    pub require_verified_email: bool,
}

impl RegistrationSettings {
    /// Whether an address (already parsed, lower case) may sign up.
    pub fn allows(&self, email: &str) -> bool {
        let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
        self.allowed_email_domains.is_empty()
            || self.allowed_email_domains.iter().any(|d| {
                d.trim()
                    .trim_start_matches('@')
                    .eq_ignore_ascii_case(domain)
            })
    }

    pub(super) fn problems(&self, mail: &MailSettings, profile: Profile) -> Vec<String> {
        if self.enabled && self.require_verified_email && !mail.available(profile) {
            vec![
                "registration.enabled with registration.require_verified_email needs mail: set \
                 mail.smtp_url (PORTCULLIS__MAIL__SMTP_URL)"
                    .into(),
            ]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Profile, Settings};

    #[test]
    fn sign_up_needing_verification_needs_mail_in_production_and_urls_are_checked() {
        let mut s = Settings::defaults();
        s.registration.enabled = true;
        assert!(s
            .registration
            .problems(&s.mail, Profile::Development)
            .is_empty());
        let p = s.registration.problems(&s.mail, Profile::Production);
        assert!(p[0].contains("PORTCULLIS__MAIL__SMTP_URL"), "{p:?}");
        s.mail.smtp_url = "smtps://u:secret@smtp.example.com:465".into();
        assert!(s
            .registration
            .problems(&s.mail, Profile::Production)
            .is_empty());
        assert!(s.mail.problems().is_empty());
        s.mail.smtp_url = "http://u:secret@smtp.example.com".into();
        let p = s.mail.problems();
        assert!(p.len() == 1 && !p[0].contains("secret"), "{p:?}");
        s.registration.allowed_email_domains = vec!["@Corp.example".into()];
        assert!(s.registration.allows("a@corp.example"));
        assert!(!s.registration.allows("a@evil.example"));
    }
}
