//! The OpenAPI document as served: paperclip's, made exact where OpenAPI 2 and paperclip fall
//! short. Optional properties may be `null` (`x-nullable`, which OpenAPI 2 lacks and tools such as
//! schemathesis read); bodies that may be left out are not required; redirects are documented.

use std::sync::{Arc, OnceLock};

use actix_web::{web::Data, HttpResponse};
use serde_json::{json, Value};

/// Filled once the app's routes are all registered; served at `/api/v1/openapi.json`.
#[derive(Clone, Default)]
pub struct Spec(Arc<OnceLock<Value>>);

/// Operations whose JSON body may be left out (a refresh token may come in the cookie instead).
const OPTIONAL_BODIES: &[&str] = &["/api/v1/auth/logout", "/api/v1/auth/refresh"];

/// Simple rules the handlers enforce: (definition, property, schema).
const PROPERTY_RULES: &[(&str, &str, &str)] = &[
    ("RoleUpdate", "status", STATUS),
    ("UserUpdate", "status", STATUS),
];

/// Rules on query parameters: (path, parameter, schema).
const QUERY_RULES: &[(&str, &str, &str)] = &[
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
const BODY_RULES: &[(&str, &str, &str)] = &[
    ("LoginRequest", "username", NOT_EMPTY),
    ("LoginRequest", "password", NOT_EMPTY),
];

const NOT_EMPTY: &str = r#"{"minLength": 1}"#;

/// What a 400 means where it means more than a malformed body: (path, method, description).
const BAD_REQUESTS: &[(&str, &str, &str)] = &[(
    "/api/v1/auth/login",
    "post",
    "Bad request (envelope with `slug`): `invalid_body` (malformed, or an empty username or \
     password), `invalid_credentials` (one answer for an unknown user, a wrong password, a locked \
     or a disabled account), `captcha_invalid` (business code 40001, a fresh captcha in `data`)",
)];

const PAGE: &str = r#"{"minimum": 1}"#;
const SIZE: &str = r#"{"minimum": 1, "maximum": 200}"#;
const STATUS: &str = r#"{"enum": [0, 1]}"#;

/// Request bodies that refuse fields they do not know (`deny_unknown_fields`).
const CLOSED: &[&str] = &["NewUser", "UserUpdate", "PasswordReset", "LogIds"];

/// Control characters (Unicode Cc), inside a regex class.
const CTRL: &str = r"\x00-\x1f\x7f-\x9f";
/// What the handlers trim: ASCII whitespace (`str::trim_ascii`).
const WS: &str = r"[ \t\n\f\r]*";

/// A text field's rule: the pattern the handler's parser agrees with character for character
/// (a unit test holds them to it), and the length of the text as sent.
struct TextRule {
    pattern: String,
    max_length: usize,
}

impl TextRule {
    fn schema(&self) -> Value {
        json!({"pattern": self.pattern, "maxLength": self.max_length})
    }
}

fn role_name() -> TextRule {
    TextRule {
        pattern: format!(r"^[^,{CTRL}]*[^ ,{CTRL}][^,{CTRL}]*$"),
        max_length: 64,
    }
}

fn permission_code() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}[^\s,{CTRL}]+{WS}$"),
        max_length: 128,
    }
}

fn username() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}[A-Za-z0-9][A-Za-z0-9_.@-]{{2,63}}{WS}$"),
        max_length: usize::MAX,
    }
}

fn nickname() -> TextRule {
    TextRule {
        pattern: format!(r"^[^{CTRL}]*$"),
        max_length: 64,
    }
}

/// Empty (none), or `local@domain` with a dot inside the domain.
fn email() -> TextRule {
    let (c, edge) = (format!(r"[^\s@{CTRL}]*"), format!(r"[^\s@.{CTRL}]"));
    TextRule {
        pattern: format!(r"^{WS}([^\s@{CTRL}]+@{edge}{c}\.{c}{edge})?{WS}$"),
        max_length: 254,
    }
}

/// Empty (none), or digits, spaces and `+-()` with at least one digit.
fn phone() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}([0-9 +()-]*[0-9][0-9 +()-]*)?{WS}$"),
        max_length: 32,
    }
}

/// Empty (none), or an http(s) URL.
fn avatar() -> TextRule {
    TextRule {
        pattern: format!(r"^{WS}(https?://[^\s{CTRL}]+)?{WS}$"),
        max_length: 1024,
    }
}

/// Text rules by (definition, property); `[]` after a property: each item of the array.
fn text_rules() -> Vec<(&'static str, &'static str, TextRule)> {
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
    ]
}

/// The forward-auth endpoint answers every method; its 200 has headers and no body.
const VERIFY: &str = "/api/v1/auth/verify";

/// GET operations that answer 200 with a body of their own (not the envelope): (path, answer).
const RAW_OK: &[(&str, &str)] = &[
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

/// Operations that answer a browser with a redirect.
const REDIRECTS: &[(&str, &str)] = &[
    (
        "/api/v1/oauth2/{provider}/callback",
        "to the frontend: `?code=` on success, `?error=<slug>` on failure",
    ),
    (
        "/api/v1/oauth2/{provider}",
        "to the provider (with `?redirect=true`)",
    ),
];

impl Spec {
    /// Keeps the generated document, made exact (the first call wins: every worker makes the same).
    pub fn fill(&self, generated: Value) {
        self.0.get_or_init(|| exact(generated));
    }
}

/// The OpenAPI document (left out of itself).
#[paperclip::actix::api_v2_operation(skip)]
pub async fn serve(spec: Data<Spec>) -> Result<HttpResponse, crate::error::ApiError> {
    Ok(match spec.0.get() {
        Some(doc) => HttpResponse::Ok().json(doc),
        None => HttpResponse::ServiceUnavailable().finish(),
    })
}

fn nullable_optionals(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for (name, prop) in props.iter_mut() {
                    if !required.contains(name) {
                        if let Value::Object(p) = prop {
                            p.insert("x-nullable".into(), Value::Bool(true));
                        }
                    }
                }
            }
            for child in map.values_mut() {
                nullable_optionals(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_optionals),
        _ => {}
    }
}

/// The generated document, made exact.
pub fn exact(mut doc: Value) -> Value {
    nullable_optionals(&mut doc);
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for path in OPTIONAL_BODIES {
            if let Some(Value::Array(params)) = paths
                .get_mut(*path)
                .and_then(|p| p.get_mut("post"))
                .and_then(|op| op.get_mut("parameters"))
            {
                for p in params.iter_mut().filter(|p| p["in"] == "body") {
                    p["required"] = Value::Bool(false);
                }
            }
        }
        if let Some(Value::Object(methods)) = paths.get_mut(VERIFY) {
            for op in methods.values_mut() {
                op["responses"]["200"] = json!({
                    "description": "Allowed: `Remote-User`, `Remote-User-Id`, `Remote-Name`, `Remote-Email` and `Remote-Groups` headers, no body"
                });
            }
        }
        for (path, param, rule) in QUERY_RULES {
            if let Some(Value::Array(params)) = paths
                .get_mut(*path)
                .and_then(|p| p.get_mut("get"))
                .and_then(|op| op.get_mut("parameters"))
            {
                for p in params.iter_mut().filter(|p| p["name"] == *param) {
                    merge(p, rule);
                }
            }
        }
        for (path, method, what) in BAD_REQUESTS {
            if let Some(Value::Object(responses)) = paths
                .get_mut(*path)
                .and_then(|p| p.get_mut(*method))
                .and_then(|op| op.get_mut("responses"))
            {
                responses.insert("400".into(), json!({ "description": what }));
            }
        }
        for (path, answer) in RAW_OK {
            if let Some(Value::Object(responses)) = paths
                .get_mut(*path)
                .and_then(|p| p.get_mut("get"))
                .and_then(|op| op.get_mut("responses"))
            {
                let answer: Value = serde_json::from_str(answer).expect("a JSON literal"); // ok: constant
                responses.insert("200".into(), answer);
            }
        }
        for (path, what) in REDIRECTS {
            if let Some(Value::Object(responses)) = paths
                .get_mut(*path)
                .and_then(|p| p.get_mut("get"))
                .and_then(|op| op.get_mut("responses"))
            {
                responses.insert(
                    "302".into(),
                    json!({ "description": format!("Found: a redirect {what}") }),
                );
            }
        }
    }
    if let Some(Value::Object(definitions)) = doc.get_mut("definitions") {
        for name in CLOSED {
            if let Some(Value::Object(d)) = definitions.get_mut(*name) {
                d.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
        for (definition, property, rule) in PROPERTY_RULES.iter().chain(BODY_RULES) {
            if let Some(prop) = definitions
                .get_mut(*definition)
                .and_then(|d| d["properties"].get_mut(*property))
            {
                merge(prop, rule);
            }
        }
        for (definition, property, rule) in text_rules() {
            let (property, items) = match property.strip_suffix("[]") {
                Some(p) => (p, true),
                None => (property, false),
            };
            let Some(mut prop) = definitions
                .get_mut(definition)
                .and_then(|d| d["properties"].get_mut(property))
            else {
                continue;
            };
            if items {
                prop = &mut prop["items"];
            }
            let mut schema = rule.schema();
            if rule.max_length == usize::MAX {
                schema.as_object_mut().map(|o| o.remove("maxLength"));
            }
            if let (Value::Object(into), Value::Object(from)) = (prop, schema) {
                into.extend(from);
            }
        }
    }
    doc
}

fn merge(into: &mut Value, rule: &str) {
    let Value::Object(rule) = serde_json::from_str(rule).expect("spec rules are JSON") else {
        unreachable!("spec rules are objects")
    };
    if let Value::Object(into) = into {
        into.extend(rule);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable_and_required_ones_do_not() {
        let doc = exact(json!({
            "definitions": {"User": {"properties": {"id": {"type": "integer"}, "email": {"type": "string"}}, "required": ["id"]}},
            "paths": {"/api/v1/auth/logout": {"post": {"parameters": [{"in": "body", "required": true}]}}}
        }));
        assert_eq!(
            doc["definitions"]["User"]["properties"]["email"]["x-nullable"],
            true
        );
        assert!(doc["definitions"]["User"]["properties"]["id"]
            .get("x-nullable")
            .is_none());
        assert_eq!(
            doc["paths"]["/api/v1/auth/logout"]["post"]["parameters"][0]["required"],
            false
        );
    }

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
