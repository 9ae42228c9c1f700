//! Usernames, email addresses, nicknames and the password policy.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("username must be 3 to 64 characters of letters, digits, `_`, `.`, `-` or `@`, starting with a letter or digit")]
    Username,
    #[error("email address is not valid")]
    Email,
    #[error("password must be {min} to {max} characters and not only spaces")]
    PasswordLength { min: usize, max: usize },
    #[error("password must not equal the username")]
    PasswordIsUsername,
    #[error("nickname must be at most 64 characters")]
    Nickname,
}

impl Username {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let ok_len = (3..=64).contains(&s.chars().count());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'));
        let ok_start = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::Username)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(DomainError::Email)
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

pub fn parse_nickname(s: Option<&str>, fallback: &Username) -> Result<String, DomainError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(n) if n.chars().count() <= 64 && !n.chars().any(char::is_control) => Ok(n.to_owned()),
        Some(_) => Err(DomainError::Nickname),
        None => Ok(fallback.as_str().to_owned()),
    }
}

/// The password policy: length bounds from config, not blank, not the username.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PasswordPolicy {
    pub min: usize,
    pub max: usize,
}

impl PasswordPolicy {
    pub fn check(&self, password: &str, username: &str) -> Result<(), DomainError> {
        let len = password.chars().count();
        if len < self.min || len > self.max || password.trim().is_empty() {
            return Err(DomainError::PasswordLength {
                min: self.min,
                max: self.max,
            });
        }
        if password.eq_ignore_ascii_case(username) {
            return Err(DomainError::PasswordIsUsername);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["bob", "alice.smith", "a_1-2@x", &"x".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "_bob",
            "bob smith",
            "bób",
            "a;drop",
            &"x".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" A@Example.com ").unwrap().into_inner(),
            "a@example.com"
        );
        for bad in ["", "a", "a@b", "@b.c", "a@.c", "a@b.", "a b@c.d", "a@b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_policy() {
        let p = PasswordPolicy { min: 8, max: 16 };
        assert!(p.check("long enough", "bob").is_ok());
        assert!(p.check("short", "bob").is_err());
        assert!(p.check(&"x".repeat(17), "bob").is_err());
        assert!(p.check("          ", "bob").is_err());
        assert_eq!(
            p.check("BobTheUser", "bobtheuser"),
            Err(DomainError::PasswordIsUsername)
        );
        // length counts characters, not bytes
        assert!(p.check("密码密码密码密码", "bob").is_ok());
    }
}
