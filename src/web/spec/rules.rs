//! What the handlers enforce and paperclip cannot see, stated once for every document: rules on
//! properties, query parameters and bodies, text patterns held to the parsers, and the answers
//! that are not the envelope.

use serde_json::{json, Value};

/// Operations whose JSON body may be left out (a refresh token may come in the cookie instead).
pub(super) const OPTIONAL_BODIES: &[&str] = &["/api/v1/auth/logout", "/api/v1/auth/refresh"];

/// Simple rules the handlers enforce: (definition, property, schema).
pub(super) const PROPERTY_RULES: &[(&str, &str, &str)] = &[
    ("RoleUpdate", "status", STATUS),
    ("UserUpdate", "status", STATUS),
];

/// Rules on query parameters: (path, parameter, schema).
pub(super) const QUERY_RULES: &[(&str, &str, &str)] = &[
    ("/api/v1/logs/login", "page", PAGE),
    ("/api/v1/logs/login", "size", SIZE),
    (
        "/api/v1/logs/login",
        "status",
        r#"{"enum": ["", "success", "failure"]}"#,
    ),
    ("/api/v1/sys/users", "page", PAGE),
    ("/api/v1/sys/users", "size", SIZE),
    ("/api/v1/sys/users", "status", STATUS),
    ("/api/v1/monitors/online", "page", PAGE),
    ("/api/v1/monitors/online", "size", SIZE),
];

/// Rules on request bodies the handlers enforce before anything else: (definition, property,
/// schema).
pub(super) const BODY_RULES: &[(&str, &str, &str)] = &[
    ("LoginRequest", "username", NOT_EMPTY),
    ("LoginRequest", "password", NOT_EMPTY),
];

pub(super) const NOT_EMPTY: &str = r#"{"minLength": 1}"#;

/// What a 400 means where it means more than a malformed body: (path, method, description).
pub(super) const BAD_REQUESTS: &[(&str, &str, &str)] = &[(
    "/api/v1/auth/login",
    "post",
    "Bad request (envelope with `slug`): `invalid_body` (malformed, or an empty username or \
     password), `invalid_credentials` (one answer for an unknown user, a wrong password, a locked \
     or a disabled account), `captcha_invalid` (business code 40001, a fresh captcha in `data`)",
)];

pub(super) const PAGE: &str = r#"{"minimum": 1}"#;
pub(super) const SIZE: &str = r#"{"minimum": 1, "maximum": 200}"#;
pub(super) const STATUS: &str = r#"{"enum": [0, 1]}"#;

/// Request bodies that refuse fields they do not know (`deny_unknown_fields`).
pub(super) const CLOSED: &[&str] = &["NewUser", "UserUpdate", "PasswordReset", "LogIds"];

/// Control characters (Unicode Cc), inside a regex class.
pub(super) const CTRL: &str = r"\x00-\x1f\x7f-\x9f";
/// What the handlers trim: ASCII whitespace (`str::trim_ascii`).
pub(super) const WS: &str = r"[ \t\n\f\r]*";

/// A text field's rule: the pattern the handler's parser agrees with character for character
/// (a unit test holds them to it), and the length of the text as sent.
pub(super) struct TextRule {
    pub(super) pattern: String,
    pub(super) max_length: usize,
}

impl TextRule {
    pub(super) fn schema(&self) -> Value {
        json!({"pattern": self.pattern, "maxLength": self.max_length})
    }
}

pub(super) fn role_name() -> TextRule {
    TextRule {
        pattern: format!(r"^[^,{CTRL}]*[^ ,{CTRL}][^,{CTRL}]*$"),
        max_length: 64,
    }
}

pub(super) fn permission_code() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}[^\s,{CTRL}]+{WS}$"),
        max_length: 128,
    }
}

pub(super) fn username() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}[A-Za-z0-9][A-Za-z0-9_.@-]{{2,63}}{WS}$"),
        max_length: usize::MAX,
    }
}

pub(super) fn nickname() -> TextRule {
    TextRule {
        pattern: format!(r"^[^{CTRL}]*$"),
        max_length: 64,
    }
}

/// `local@domain` with a dot inside the domain.
fn address() -> String {
    let (c, edge) = (format!(r"[^\s@{CTRL}]*"), format!(r"[^\s@.{CTRL}]"));
    format!(r"[^\s@{CTRL}]+@{edge}{c}\.{c}{edge}")
}

/// Empty (none), or an address.
pub(super) fn email() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}({})?{WS}$", address()),
        max_length: 254,
    }
}

/// An address, where one is required (sign-up, a new address).
pub(super) fn email_required() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}{}{WS}$", address()),
        max_length: 254,
    }
}

/// Empty (none), or digits, spaces and `+-()` with at least one digit.
pub(super) fn phone() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}([0-9 +()-]*[0-9][0-9 +()-]*)?{WS}$"),
        max_length: 32,
    }
}

/// Empty (none), or an http(s) URL.
pub(super) fn avatar() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}(https?://[^\s{CTRL}]+)?{WS}$"),
        max_length: 1024,
    }
}

/// Text rules by (definition, property); `[]` after a property: each item of the array.
pub(super) fn text_rules() -> Vec<(&'static str, &'static str, TextRule)> {
    vec![
        ("NewRole", "name", role_name()),
        ("RoleUpdate", "name", role_name()),
        ("NewRole", "codes[]", permission_code()),
        ("Codes", "codes[]", permission_code()),
        ("NewUser", "username", username()),
        ("NewUser", "nickname", nickname()),
        ("NewUser", "email", email()),
        ("NewUser", "phone", phone()),
        ("NewUser", "avatar", avatar()),
        ("UserUpdate", "nickname", nickname()),
        ("UserUpdate", "email", email()),
        ("UserUpdate", "phone", phone()),
        ("UserUpdate", "avatar", avatar()),
        ("RegisterRequest", "username", username()),
        ("RegisterRequest", "email", email_required()),
        ("ChangeEmailRequest", "email", email_required()),
    ]
}

/// The forward-auth endpoint answers every method; its 200 has headers and no body.
pub(super) const VERIFY: &str = "/api/v1/auth/verify";

/// GET operations that answer 200 with a body of their own (not the envelope): (path, answer).
pub(super) const RAW_OK: &[(&str, &str)] = &[
    (
        "/.well-known/jwks.json",
        r#"{"description": "The JWK Set (RFC 7517) of the keys that verify access tokens", "schema": {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {"type": "object", "required": ["kty", "kid"], "properties": {"kty": {"type": "string"}, "kid": {"type": "string"}}}}}}}"#,
    ),
    (
        "/.well-known/openid-configuration",
        r#"{"description": "Where the keys and introspection are", "schema": {"type": "object", "required": ["issuer", "jwks_uri", "introspection_endpoint"], "properties": {"issuer": {"type": "string"}, "jwks_uri": {"type": "string"}, "introspection_endpoint": {"type": "string"}}}}"#,
    ),
    (
        "/api/v1/auth/events",
        r#"{"description": "A stream of server-sent events (`text/event-stream`): `ready`, `invalidation`, `heartbeat`, `reset`"}"#,
    ),
];

/// Operations that API clients call with HTTP Basic (`client_id:client_secret`, RFC 6749
/// §2.3.1); they answer a refused client `{"error": "invalid_client"}` and one that failed too
/// often `{"error": "rate_limited"}`, not the envelope.
pub(super) const CLIENT_AUTH: &[&str] = &["/api/v1/auth/events", "/api/v1/auth/introspect"];

/// Operations that answer a browser with a redirect.
pub(super) const REDIRECTS: &[(&str, &str)] = &[
    (
        "/api/v1/oauth2/{provider}/callback",
        "to the frontend: `?code=` on success, `?error=<slug>` on failure",
    ),
    (
        "/api/v1/oauth2/{provider}",
        "to the provider (with `?redirect=true`)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each stated rule accepts exactly what the handler's parser accepts, over inputs chosen
    /// to sit on every edge (trimming, control characters, Unicode spaces, lengths).
    #[test]
    fn the_stated_patterns_match_what_the_handlers_accept() {
        use crate::admin::roles::{check_codes, check_name};
        use crate::domain::{parse_avatar, parse_nickname, parse_phone, Email, Username};
        let mut corpus: Vec<String> = [
            "",
            " ",
            "\t",
            "\n ",
            "a",
            "ab",
            "abc",
            " abc ",
            "\tabc\r\n",
            "a b",
            "a,b",
            "x\u{7}y",
            "\u{85}",
            "\u{a0}",
            "\u{3000}abc",
            "abc\u{3000}",
            "\u{1c}abc",
            "审计",
            "_bob",
            "bob.smith",
            "a@b.c",
            " A@Example.com ",
            "a@b",
            "@b.c",
            "a@.c",
            "a@b.",
            "a@b@c.d",
            "a b@c.d",
            "a@b..c",
            "a\t@b.c",
            "+86 (10) 1234-5678",
            "12",
            "+",
            "1;2",
            " 7 ",
            "http://x",
            "https://",
            "https://cdn.example.com/a.png",
            "http://a b",
            "javascript:alert(1)",
            "ftp://x/y",
            "sys:user:add",
            " order:create ",
            "order:create\u{2003}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in [
            31, 32, 33, 62, 63, 64, 65, 127, 128, 129, 252, 253, 254, 255, 1023, 1024, 1025,
        ] {
            corpus.push("7".repeat(n));
            corpus.push(format!(" {} ", "a".repeat(n)));
            corpus.push(format!("{}@e.io", "a".repeat(n.saturating_sub(5))));
            corpus.push(format!("https://{}", "a".repeat(n.saturating_sub(8))));
        }
        type Parses = Box<dyn Fn(&str) -> bool>;
        let cases: Vec<(&str, TextRule, Parses)> = vec![
            (
                "role name",
                role_name(),
                Box::new(|s| check_name(s).is_ok()),
            ),
            (
                "code",
                permission_code(),
                Box::new(|s| check_codes(&[s.to_owned()]).is_ok()),
            ),
            (
                "username",
                username(),
                Box::new(|s| Username::parse(s).is_ok()),
            ),
            (
                "nickname",
                nickname(),
                Box::new(|s| parse_nickname(Some(s), "x").is_ok()),
            ),
            (
                "email",
                email(),
                Box::new(|s| s.trim_ascii().is_empty() || Email::parse(s).is_ok()),
            ),
            (
                "required email",
                email_required(),
                Box::new(|s| Email::parse(s).is_ok()),
            ),
            ("phone", phone(), Box::new(|s| parse_phone(s).is_ok())),
            ("avatar", avatar(), Box::new(|s| parse_avatar(s).is_ok())),
        ];
        for (what, rule, parses) in cases {
            let re = regex::Regex::new(&rule.pattern).unwrap();
            for s in &corpus {
                let stated = re.is_match(s) && s.chars().count() <= rule.max_length;
                assert_eq!(
                    stated,
                    parses(s),
                    "{what}: {s:?} (pattern {})",
                    rule.pattern
                );
            }
        }
    }
}
