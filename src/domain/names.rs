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
    #[error("password must not be the email address")]
    PasswordIsEmail,
    /// zxcvbn's estimate is below `password.min_score`; `hint` says why, in English.
    #[error("password is too easy to guess ({score} of 4, at least {min} needed){}", hint.map(|h| format!(": {}", h.en())).unwrap_or_default())]
    PasswordGuessable {
        score: u8,
        min: u8,
        hint: Option<PasswordHint>,
    },
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name shown: up to 64 characters, no control characters; blank means the username.
/// An API or OpenID client's id: 3 to 64 characters of lower-case letters, digits, `.`, `_`
/// and `-`, starting with a letter or digit.
pub fn valid_client_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

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

/// Characters of a password zxcvbn looks at.
const ZXCVBN_CHARS: usize = 64;

/// The password policy: length bounds from config, not blank, not the username or the email
/// address, and at least `min_score` (0 to 4) by zxcvbn's estimate of how hard it is to guess.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PasswordPolicy {
    pub min: usize,
    pub max: usize,
    pub min_score: u8,
}

impl PasswordPolicy {
    pub fn check(&self, password: &str, username: &str) -> Result<(), DomainError> {
        self.check_for(password, username, None)
    }

    /// As `check`, knowing the account's email address too.
    pub fn check_for(
        &self,
        password: &str,
        username: &str,
        email: Option<&str>,
    ) -> Result<(), DomainError> {
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
        if email.is_some_and(|e| password.trim_ascii().eq_ignore_ascii_case(e.trim_ascii())) {
            return Err(DomainError::PasswordIsEmail);
        }
        if self.min_score == 0 {
            return Ok(());
        }
        // What the account is known by makes a password weaker, not only equal to it.
        let local = email.and_then(|e| e.split('@').next()).unwrap_or_default();
        let inputs: Vec<&str> = [username, email.unwrap_or_default(), local]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        // zxcvbn's matching grows fast with length; past this many characters a password's
        // strength is its prefix's.
        let sample: String = password.chars().take(ZXCVBN_CHARS).collect();
        let estimate = zxcvbn::zxcvbn(&sample, &inputs);
        let score = u8::from(estimate.score());
        if score < self.min_score {
            return Err(DomainError::PasswordGuessable {
                score,
                min: self.min_score,
                hint: estimate
                    .feedback()
                    .and_then(|f| f.warning())
                    .map(PasswordHint),
            });
        }
        Ok(())
    }
}

/// Why zxcvbn finds a password easy to guess, in the user's language.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PasswordHint(zxcvbn::feedback::Warning);

// zxcvbn's warnings are a plain enum of unit variants: equality is total.
impl Eq for PasswordHint {}

impl PasswordHint {
    pub fn en(self) -> String {
        self.0.to_string()
    }

    pub fn zh(self) -> &'static str {
        use zxcvbn::feedback::Warning as W;
        match self.0 {
            W::StraightRowsOfKeysAreEasyToGuess => "键盘上连续的一排按键很容易被猜到。",
            W::ShortKeyboardPatternsAreEasyToGuess => "简短的键盘图案很容易被猜到。",
            W::RepeatsLikeAaaAreEasyToGuess => "像 “aaa” 这样的重复很容易被猜到。",
            W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
                "像 “abcabcabc” 这样的重复只比 “abc” 难猜一点。"
            }
            W::ThisIsATop10Password => "这是最常用的 10 个密码之一。",
            W::ThisIsATop100Password => "这是最常用的 100 个密码之一。",
            W::ThisIsACommonPassword => "这是一个非常常见的密码。",
            W::ThisIsSimilarToACommonlyUsedPassword => "这与一个常用密码相似。",
            W::SequencesLikeAbcAreEasyToGuess => "像 “abc” 或 “6543” 这样的序列很容易被猜到。",
            W::RecentYearsAreEasyToGuess => "最近的年份很容易被猜到。",
            W::AWordByItselfIsEasyToGuess => "单独一个词很容易被猜到。",
            W::DatesAreOftenEasyToGuess => "日期通常很容易被猜到。",
            W::NamesAndSurnamesByThemselvesAreEasyToGuess => "单独的名字或姓氏很容易被猜到。",
            W::CommonNamesAndSurnamesAreEasyToGuess => "常见的名字和姓氏很容易被猜到。",
        }
    }
}

impl DomainError {
    /// The detail in Chinese, where it is a password rule (the other details name fields).
    pub fn zh(&self) -> Option<String> {
        Some(match self {
            Self::PasswordLength { min, max } => {
                format!("密码须为 {min} 到 {max} 个字符，且不能全是空格")
            }
            Self::PasswordIsUsername => "密码不能与用户名相同".into(),
            Self::PasswordIsEmail => "密码不能是邮箱地址".into(),
            Self::PasswordGuessable { score, min, hint } => format!(
                "密码太容易被猜到（强度 {score}/4，至少需要 {min}）{}",
                hint.map(PasswordHint::zh).unwrap_or_default()
            ),
            _ => return None,
        })
    }

    /// 400 `password_policy`, with the rule the password broke in the client's language.
    pub fn policy_error(&self) -> crate::error::ApiError {
        crate::error::ApiError::new(crate::error::kind::PASSWORD_POLICY)
            .with_localized_detail(self.to_string(), self.zh())
    }

    pub fn is_password_rule(&self) -> bool {
        matches!(
            self,
            Self::PasswordLength { .. }
                | Self::PasswordIsUsername
                | Self::PasswordIsEmail
                | Self::PasswordGuessable { .. }
        )
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
        let p = PasswordPolicy {
            min: 8,
            max: 16,
            min_score: 0,
        };
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
        assert_eq!(
            p.check_for(" Nell@Ex.com", "nell", Some("nell@ex.com")),
            Err(DomainError::PasswordIsEmail)
        );
    }

    #[test]
    fn guessable_passwords_are_refused_with_the_reason_in_both_languages() {
        let p = PasswordPolicy {
            min: 8,
            max: 128,
            min_score: 3,
        };
        let err = p.check("password123", "bob").unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::PasswordGuessable {
                    min: 3,
                    hint: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("common password"), "{err}");
        assert!(err.zh().unwrap().contains("常见"), "{:?}", err.zh());
        // What the account is known by counts against the password.
        assert!(p.check_for("nellsworth2024", "nellsworth", None).is_err());
        assert!(p.check("correct horse battery", "bob").is_ok());
        assert!(p.check("v9#Lq2!mZt7@", "bob").is_ok());
        let off = PasswordPolicy { min_score: 0, ..p };
        assert!(off.check("password123", "bob").is_ok());
    }
}
