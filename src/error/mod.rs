//! One HTTP error type for the whole API: the `{code, msg, data, error, trace_id}` envelope,
//! RFC 6750 challenges for bearer failures, and English / Chinese messages.
//!
//! Handlers return `ApiError`, which keeps its cause (`source`) for the log and never shows it
//! to clients. Its `ResponseError` impl renders English without a trace id; the envelope
//! middleware (`web::envelope`) re-renders it once the request's language and trace id are
//! known, and logs a server error once, with its cause, inside the request's span.

mod envelope;

pub use envelope::{Envelope, Lang};

use std::fmt;

use actix_web::{
    http::{header, StatusCode},
    HttpResponse, ResponseError,
};
use paperclip::actix::api_v2_errors;
use serde_json::Value;

pub const REALM: &str = "portcullis";

/// How a failure shows in `WWW-Authenticate` (RFC 6750 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    None,
    /// `Bearer realm="portcullis"`: no credentials were sent.
    Plain,
    /// `Bearer realm="portcullis", error="..."`.
    Error(&'static str),
}

/// A kind of failure: its status, business code, slug and messages. Declared once below.
#[derive(Debug)]
pub struct ErrorKind {
    pub status: u16,
    pub code: u32,
    pub slug: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
    pub challenge: Challenge,
}

macro_rules! kinds {
    ($($name:ident = $status:literal, $code:literal, $slug:literal, $en:literal, $zh:literal, $ch:expr;)*) => {
        $(pub const $name: &ErrorKind = &ErrorKind {
            status: $status, code: $code, slug: $slug, en: $en, zh: $zh, challenge: $ch,
        };)*
        /// Every kind, for the docs and the tests.
        pub const ALL_KINDS: &[&ErrorKind] = &[$($name),*];
    };
}

pub mod kind {
    use super::{Challenge, ErrorKind};
    kinds! {
        UNAUTHORIZED = 401, 401, "unauthorized", "Authentication required", "请先登录", Challenge::Plain;
        INVALID_TOKEN = 401, 401, "invalid_token", "Token is invalid, expired or revoked", "Token 无效或已失效", Challenge::Error("invalid_token");
        MALFORMED_AUTHORIZATION = 400, 400, "invalid_request", "Malformed Authorization header", "Authorization 请求头格式错误", Challenge::Error("invalid_request");
        INSUFFICIENT_USER_AUTHENTICATION = 401, 401, "insufficient_user_authentication", "Please confirm it is you: sign in again or enter your password", "请重新验证身份：重新登录或输入密码", Challenge::Error("insufficient_user_authentication");
        INSUFFICIENT_SCOPE = 403, 403, "insufficient_scope", "Permission denied", "权限不足", Challenge::Error("insufficient_scope");
        ORIGIN_NOT_ALLOWED = 403, 403, "origin_not_allowed", "Requests from this origin may not use the session cookie", "此来源的请求不能使用会话 Cookie", Challenge::None;
        FORWARDED_REQUEST_INVALID = 400, 400, "invalid_forwarded_request", "The proxy did not say, readably, which request it is asking about", "代理未提供可读的原始请求信息", Challenge::None;
        FORBIDDEN = 403, 403, "forbidden", "Access denied", "禁止访问", Challenge::None;
        INVALID_CREDENTIALS = 400, 400, "invalid_credentials", "Username or password is incorrect", "用户名或密码有误", Challenge::None;
        INVALID_BODY = 400, 400, "invalid_body", "Request body is invalid", "请求参数非法", Challenge::None;
        PAYLOAD_TOO_LARGE = 413, 413, "payload_too_large", "Request body is too large", "请求体过大", Challenge::None;
        UNSUPPORTED_MEDIA_TYPE = 415, 415, "unsupported_media_type", "Unsupported content type", "不支持的内容类型", Challenge::None;
        NOT_FOUND = 404, 404, "not_found", "Not found", "资源不存在", Challenge::None;
        REFRESH_INVALID = 401, 401, "invalid_refresh_token", "Refresh token is invalid or expired, please log in again", "Refresh Token 已过期，请重新登录", Challenge::None;
        REFRESH_MISSING = 401, 401, "refresh_token_missing", "No refresh token was sent", "缺少 Refresh Token", Challenge::None;
        PASSWORD_POLICY = 400, 400, "password_policy", "The new password does not meet the password policy", "新密码不符合密码策略", Challenge::None;
        WRONG_OLD_PASSWORD = 400, 400, "wrong_old_password", "The current password is incorrect", "原密码错误", Challenge::None;
        PASSWORD_MISMATCH = 400, 400, "password_mismatch", "The two new passwords do not match", "两次密码输入不一致", Challenge::None;
        CONFLICT = 409, 409, "conflict", "It exists already", "已存在", Challenge::None;
        USER_NOT_FOUND = 404, 404, "user_not_found", "User not found", "用户不存在", Challenge::None;
        LAST_SUPERUSER = 409, 409, "last_superuser", "This would leave no enabled superuser", "不能移除最后一个可用的超级管理员", Challenge::None;
        SESSION_NOT_FOUND = 404, 404, "session_not_found", "Session not found", "会话不存在", Challenge::None;
        CAPTCHA_INVALID = 400, 40001, "captcha_invalid", "Captcha is wrong or expired, please try again", "验证码错误或已过期，请重试", Challenge::None;
        RATE_LIMITED = 429, 429, "rate_limited", "Too many requests, please try again later", "请求过于频繁，请稍后重试", Challenge::None;
        INVALID_REDIRECT = 400, 400, "invalid_redirect", "redirect_to is not an allowed address", "redirect_to 不在允许的地址中", Challenge::None;
        INVALID_LOGIN_CODE = 401, 401, "invalid_login_code", "The login code is invalid, used or expired", "登录码无效、已使用或已过期", Challenge::None;
        LAST_LOGIN_METHOD = 400, 400, "last_login_method", "This is the account's last way to log in; set a password or bind another provider first", "这是账号最后的登录方式，请先设置密码或绑定其他账号", Challenge::None;
        MFA_FAILED = 401, 401, "mfa_failed", "The code is wrong, or the sign-in ticket is invalid, used or expired", "验证码错误，或登录凭据无效、已使用或已过期", Challenge::None;
        MFA_REQUIRED = 403, 403, "mfa_required", "This account has (or must set up) a second factor: sign in with POST /api/v1/auth/login", "此账号已启用（或须设置）二次验证，请通过 POST /api/v1/auth/login 登录", Challenge::None;
        MFA_CODE_NEEDED = 401, 401, "mfa_code_required", "Enter the code from your authenticator app (or a recovery code) with the password", "请同时输入身份验证器应用中的验证码（或恢复码）", Challenge::Error("insufficient_user_authentication");
        PASSKEY_FAILED = 400, 400, "passkey_failed", "The passkey was not accepted; please try again", "通行密钥未通过验证，请重试", Challenge::None;
        PASSKEY_SIGN_IN_FAILED = 401, 401, "passkey_sign_in_failed", "The passkey was not accepted; please try again", "通行密钥未通过验证，请重试", Challenge::None;
        INVALID_MFA_CODE = 400, 400, "invalid_mfa_code", "The code is wrong or was used already", "验证码错误或已使用", Challenge::None;
        EMAIL_LINK_INVALID = 400, 400, "invalid_email_link", "The link or code is invalid, used or expired; ask for a new one", "链接或验证码无效、已使用或已过期，请重新获取", Challenge::None;
        RESET_LINK_INVALID = 400, 400, "invalid_reset_link", "The reset link is invalid, used or expired; ask for a new one", "重置链接无效、已使用或已过期，请重新申请", Challenge::None;
        REGISTRATION_CLOSED = 403, 403, "registration_closed", "Sign-up is not open on this server", "本服务未开放注册", Challenge::None;
        EMAIL_DOMAIN_NOT_ALLOWED = 400, 400, "email_domain_not_allowed", "Accounts cannot be made with an address of this domain", "不能使用该域名的邮箱注册", Challenge::None;
        EMAIL_TAKEN = 409, 409, "email_taken", "Another account has this email address", "该邮箱已被其他账号使用", Challenge::None;
        PROVIDER_UNAVAILABLE = 502, 502, "provider_unavailable", "The login provider could not be reached", "无法连接第三方登录服务", Challenge::None;
        BUSY = 503, 503, "busy", "The server is busy, please try again in a moment", "服务器繁忙，请稍后重试", Challenge::None;
        MAIL_UNAVAILABLE = 503, 503, "mail_unavailable", "Email is not set up on this server; ask an administrator", "本服务未配置邮件发送，请联系管理员", Challenge::None;
        STORE_UNAVAILABLE = 503, 503, "service_unavailable", "Service temporarily unavailable", "服务暂时不可用", Challenge::None;
        INTERNAL = 500, 500, "internal_error", "Internal server error", "服务器内部错误", Challenge::None;
    }
}

/// The error every handler returns.
#[api_v2_errors(
    code = 400,
    description = "Bad request: invalid body or malformed header (envelope with `error`)",
    code = 401,
    description = "Missing, invalid, expired or revoked credentials (RFC 6750 challenge)",
    code = 403,
    description = "Not allowed",
    code = 404,
    description = "Not found",
    code = 409,
    description = "Conflict: it exists already",
    code = 413,
    description = "Body too large",
    code = 415,
    description = "Unsupported content type",
    code = 429,
    description = "Too many requests (`Retry-After`)",
    code = 500,
    description = "Internal error (the cause is in the server log under the trace id)",
    code = 502,
    description = "A login provider could not be reached",
    code = 503,
    description = "Database or store unavailable, or busy (`Retry-After`)"
)]
#[derive(Debug)]
pub struct ApiError {
    pub kind: &'static ErrorKind,
    /// Detail appended to the message (a field name, a policy rule); boxed, as errors are rare
    /// and every `Result` carries their size.
    pub detail: Option<Box<Detail>>,
    pub data: Option<Value>,
    /// Seconds a client should wait before trying again (`Retry-After`).
    pub retry_after: Option<u64>,
    /// A step-up's `max_age` (RFC 9470 §3): how recent a sign-in would do, in seconds, as an
    /// auth-param of the challenge.
    pub max_age: Option<i64>,
    /// Why it happened, for the log only.
    source: Option<Cause>,
}

/// An error's detail: language-neutral, or with words in Chinese of its own (a password rule's
/// reason).
#[derive(Debug, Clone)]
pub struct Detail {
    pub en: String,
    pub zh: Option<String>,
}

/// The cause of an error, kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl ApiError {
    pub fn new(kind: &'static ErrorKind) -> Self {
        Self {
            kind,
            detail: None,
            data: None,
            retry_after: None,
            max_age: None,
            source: None,
        }
    }

    /// The same answer without the cause (the envelope middleware renders a copy).
    pub fn answer(&self) -> Self {
        Self {
            kind: self.kind,
            detail: self.detail.clone(),
            data: self.data.clone(),
            retry_after: self.retry_after,
            max_age: self.max_age,
            source: None,
        }
    }

    pub fn with_source(mut self, cause: impl Into<Cause>) -> Self {
        self.source = Some(cause.into());
        self
    }

    /// RFC 9470's `max_age` in the challenge (a step-up that wants a sign-in this recent).
    pub fn with_max_age(mut self, seconds: i64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The cause and its own causes, `: `-joined, for one log line.
    pub fn cause_chain(&self) -> Option<String> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|e| e as _);
        let mut parts = Vec::new();
        while let Some(e) = cause {
            parts.push(e.to_string());
            cause = e.source();
        }
        (!parts.is_empty()).then(|| parts.join(": "))
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(Box::new(Detail {
            en: detail.into(),
            zh: None,
        }));
        self
    }

    /// A detail with words in Chinese too (shown to clients asking in Chinese).
    pub fn with_localized_detail(mut self, en: impl Into<String>, zh: Option<String>) -> Self {
        self.detail = Some(Box::new(Detail { en: en.into(), zh }));
        self
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// A bare 500: the cause goes to the log with the trace id, never to the client.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::new(kind::INTERNAL).with_source(cause)
    }

    /// 503: the database or the store did not answer.
    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        Self::new(kind::STORE_UNAVAILABLE).with_source(cause)
    }

    fn message(&self, lang: Lang) -> String {
        let base = match lang {
            Lang::En => self.kind.en,
            Lang::Zh => self.kind.zh,
        };
        let detail = self.detail.as_deref().map(|d| match lang {
            Lang::Zh => d.zh.as_deref().unwrap_or(&d.en),
            Lang::En => d.en.as_str(),
        });
        match detail {
            Some(d) if lang == Lang::Zh => format!("{base}：{d}"),
            Some(d) => format!("{base}: {d}"),
            None => base.to_owned(),
        }
    }

    pub fn render(&self, lang: Lang, trace_id: Option<&str>) -> HttpResponse {
        let status = StatusCode::from_u16(self.kind.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = HttpResponse::build(status);
        let challenge = match self.kind.challenge {
            Challenge::None => None,
            Challenge::Plain => Some(format!("Bearer realm=\"{REALM}\"")),
            Challenge::Error(e) => Some(match self.max_age {
                Some(age) => format!("Bearer realm=\"{REALM}\", error=\"{e}\", max_age=\"{age}\""),
                None => format!("Bearer realm=\"{REALM}\", error=\"{e}\""),
            }),
        };
        if let Some(c) = challenge {
            res.insert_header((header::WWW_AUTHENTICATE, c));
        }
        if let Some(t) = trace_id {
            res.insert_header(("x-trace-id", t));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs));
        }
        Envelope {
            code: self.kind.code,
            msg: self.message(lang).into(),
            data: self.data.as_ref(),
            slug: Some(self.kind.slug),
            trace_id,
        }
        .respond(&mut res)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        self.render(Lang::En, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn slugs_are_unique_and_codes_match_status_or_are_business_codes() {
        let mut seen = HashSet::new();
        for k in kind::ALL_KINDS {
            assert!(seen.insert(k.slug), "duplicate slug {}", k.slug);
            assert!(k.code == k.status as u32 || k.code >= 10000, "{}", k.slug);
            assert!(!k.zh.is_empty() && !k.en.is_empty());
        }
    }

    #[test]
    fn bearer_errors_carry_rfc6750_challenges() {
        let res = ApiError::new(kind::INVALID_TOKEN).render(Lang::En, None);
        let h = res.headers().get(header::WWW_AUTHENTICATE).unwrap();
        assert_eq!(h, "Bearer realm=\"portcullis\", error=\"invalid_token\"");
        let res = ApiError::new(kind::UNAUTHORIZED).render(Lang::En, None);
        let h = res.headers().get(header::WWW_AUTHENTICATE).unwrap();
        assert!(!h.to_str().unwrap().contains("error="));
    }
}
