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
    #[error("phone must be up to 32 digits, spaces and `+-()`, with at least one digit")]
    Phone,
    #[error("avatar must be an http(s) URL of at most 1024 characters")]
    Avatar,
    #[error("status must be 0 (disabled) or 1 (enabled)")]
    Status,
}

// Input is trimmed of ASCII whitespace only (`str::trim_ascii`), and lengths count the text as
// sent: the OpenAPI document states these rules as patterns (`web::spec`), and the two must
// agree character for character.

impl Username {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim_ascii();
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
        let short = s.chars().count() <= 254;
        let s = s.trim_ascii();
        let valid = short
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

/// The name shown: up to 64 characters, no control characters; blank means the username.
pub fn parse_nickname(s: Option<&str>, username: &str) -> Result<String, DomainError> {
    let Some(s) = s else {
        return Ok(username.to_owned());
    };
    if s.chars().count() > 64 || s.chars().any(char::is_control) {
        return Err(DomainError::Nickname);
    }
    Ok(match s.trim_ascii() {
        "" => username.to_owned(),
        n => n.to_owned(),
    })
}

/// A phone number as people write them; empty means none.
pub fn parse_phone(s: &str) -> Result<Option<String>, DomainError> {
    let short = s.chars().count() <= 32;
    let s = s.trim_ascii();
    let ok = short
        && s.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
        && s.chars().any(|c| c.is_ascii_digit());
    match s {
        "" => Ok(None),
        s if ok => Ok(Some(s.to_owned())),
        _ => Err(DomainError::Phone),
    }
}

/// An avatar image's address; empty means none.
pub fn parse_avatar(s: &str) -> Result<Option<String>, DomainError> {
    let short = s.chars().count() <= 1024;
    let s = s.trim_ascii();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let ok = short
        && rest.is_some_and(|r| !r.is_empty())
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    match s {
        "" => Ok(None),
        s if ok => Ok(Some(s.to_owned())),
        _ => Err(DomainError::Avatar),
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
    fn phones_and_avatars() {
        assert_eq!(
            parse_phone(" +86 (10) 1234-5678 ").unwrap().as_deref(),
            Some("+86 (10) 1234-5678")
        );
        assert_eq!(parse_phone("").unwrap(), None);
        for bad in ["abc", "+", "1;2", &"1".repeat(33)] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
        assert!(parse_avatar("https://cdn.example.com/a.png")
            .unwrap()
            .is_some());
        assert_eq!(parse_avatar(" ").unwrap(), None);
        assert!(parse_avatar("http://x").unwrap().is_some());
        for bad in ["javascript:alert(1)", "https://", "http://a b", "ftp://x/y"] {
            assert!(parse_avatar(bad).is_err(), "{bad}");
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
