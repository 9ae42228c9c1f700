//! Settings of the second factors' room (`auth::mfa`).

use serde::Deserialize;

use super::Profile;

/// TOTP secrets are sealed at rest with this key; the login's second step is a ticket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSettings {
    /// 32 bytes, URL-safe base64 without padding (43 characters). Empty: generated into
    /// `{data.dir}/mfa_key` in development; required in production.
    pub encryption_key: String,
    /// The issuer an authenticator app shows beside the account name.
    pub issuer: String,
    /// How long the ticket between the password and the second factor lives.
    pub ticket_ttl_seconds: i64,
    /// Wrong codes one ticket takes before it is gone.
    pub ticket_attempts: u32,
    /// Wrong second factors of one user, on all tickets, per window; past it every code fails
    /// until the window ends.
    pub max_failures_per_user: u32,
    pub failure_window_seconds: i64,
    /// Who must have a second factor: `superusers`, and role names. Such a user without one
    /// gets, after the password, only a ticket that can enrol one.
    pub required_for: Vec<String>,
}

/// The `mfa.required_for` entry naming every superuser.
pub const SUPERUSERS: &str = "superusers";

/// The key's length in bytes (ChaCha20-Poly1305).
pub const MFA_KEY_BYTES: usize = 32;

/// The configured key's bytes, if it is one.
pub fn decode_key(text: &str) -> Option<[u8; MFA_KEY_BYTES]> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.decode(text.trim()).ok()?.try_into().ok()
}

impl MfaSettings {
    pub(super) fn problems(&self, profile: Profile) -> Vec<String> {
        let mut p = Vec::new();
        if self.encryption_key.is_empty() {
            if profile == Profile::Production {
                p.push(
                    "mfa.encryption_key is missing; production never generates one (TOTP secrets \
                     are sealed with it). Set PORTCULLIS__MFA__ENCRYPTION_KEY to 32 random bytes \
                     in URL-safe base64, e.g. `openssl rand -base64 32 | tr '+/' '-_' | tr -d =`"
                        .into(),
                );
            }
        } else if decode_key(&self.encryption_key).is_none() {
            p.push(
                "mfa.encryption_key is not 32 bytes of URL-safe base64 without padding \
                 (43 characters); set PORTCULLIS__MFA__ENCRYPTION_KEY, e.g. \
                 `openssl rand -base64 32 | tr '+/' '-_' | tr -d =`"
                    .into(),
            );
        }
        if self.issuer.is_empty() || self.issuer.contains(':') {
            p.push("mfa.issuer must be non-empty and without `:` (PORTCULLIS__MFA__ISSUER)".into());
        }
        if !(30..=3600).contains(&self.ticket_ttl_seconds) {
            p.push(
                "mfa.ticket_ttl_seconds must be 30 to 3600 (PORTCULLIS__MFA__TICKET_TTL_SECONDS)"
                    .into(),
            );
        }
        if self.max_failures_per_user == 0 || self.failure_window_seconds < 60 {
            p.push(
                "mfa.max_failures_per_user must be at least 1 and mfa.failure_window_seconds at \
                 least 60 (PORTCULLIS__MFA__MAX_FAILURES_PER_USER, \
                 PORTCULLIS__MFA__FAILURE_WINDOW_SECONDS)"
                    .into(),
            );
        }
        if self.required_for.iter().any(|r| r.trim().is_empty()) {
            p.push(
                "mfa.required_for has an empty entry: name `superusers` or roles \
                 (PORTCULLIS__MFA__REQUIRED_FOR=superusers,admin)"
                    .into(),
            );
        }
        if !(1..=20).contains(&self.ticket_attempts) {
            p.push("mfa.ticket_attempts must be 1 to 20 (PORTCULLIS__MFA__TICKET_ATTEMPTS)".into());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(key: &str) -> MfaSettings {
        MfaSettings {
            encryption_key: key.into(),
            issuer: "Portcullis".into(),
            ticket_ttl_seconds: 300,
            ticket_attempts: 5,
            max_failures_per_user: 10,
            failure_window_seconds: 900,
            required_for: Vec::new(),
        }
    }

    #[test]
    fn production_needs_a_key_of_32_bytes() {
        assert!(!settings("").problems(Profile::Production).is_empty());
        assert!(settings("").problems(Profile::Development).is_empty());
        assert!(!settings("short").problems(Profile::Development).is_empty());
        let good = crate::crypto::b64(&[7u8; 32]);
        assert!(settings(&good).problems(Profile::Production).is_empty());
    }

    #[test]
    fn required_for_names_superusers_or_roles() {
        let mut s = settings("");
        s.required_for = vec!["superusers".into(), "admin".into()];
        assert!(s.problems(Profile::Development).is_empty());
        s.required_for.push(" ".into());
        assert!(s.problems(Profile::Development)[0].contains("required_for"));
    }
}
