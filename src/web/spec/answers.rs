//! What the OpenAPI 3 document says about answers beyond paperclip's: every error as the
//! envelope with its slugs (from the one table of error kinds), and examples for the calls a
//! client makes first (login, refresh, `/me`), built from the types the handlers answer with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::rules::CLIENT_AUTH;
use super::v3::operation;
use crate::auth::sessions::TokenPair;
use crate::domain::AuthUser;
use crate::error::{kind::ALL_KINDS, Envelope, Lang};
use crate::web::routes::auth::login::LoginData;

/// The failure envelope for one status: the slugs of every error kind with that status.
fn error_schema(status: u16, slugs: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": format!("A {status} answer: the envelope with the error's slug"),
        "required": ["code", "msg", "data", "slug"],
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status, or a business code (40001: `captcha_invalid`)"},
            "msg": {"type": "string", "description": "For people, in the request's language (`Accept-Language`)"},
            "data": {"nullable": true, "description": "null, or more about the failure (`captcha_invalid`: a fresh captcha)"},
            "slug": {"type": "string", "enum": slugs, "description": "Stable, for programs"},
            "trace_id": {"type": "string", "description": "The request's trace id, as in the server log (also `x-trace-id`)"},
        },
    })
}

/// An API client's refusal (RFC 6749 §5.2), not the envelope.
fn client_error(slug: &str) -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "enum": [slug]}},
    })
}

/// Gives each error answer of each operation its schema: `ErrorNNN` for the status.
pub fn errors(doc: &mut Value) {
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for k in ALL_KINDS {
        by_status.entry(k.status).or_default().push(k.slug);
    }
    for (status, slugs) in &by_status {
        doc["components"]["schemas"][format!("Error{status}")] = error_schema(*status, slugs);
    }
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for (path, methods) in paths.iter_mut() {
        let client = CLIENT_AUTH.contains(&path.as_str());
        for op in methods
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            let Some(Value::Object(responses)) = op.get_mut("responses") else {
                continue;
            };
            for (code, answer) in responses.iter_mut() {
                let Ok(status) = code.parse::<u16>() else {
                    continue;
                };
                if answer.get("content").is_some() {
                    continue;
                }
                let schema = match (client, status) {
                    (true, 401) => client_error("invalid_client"),
                    (true, 429) => client_error("rate_limited"),
                    _ if by_status.contains_key(&status) => {
                        json!({"$ref": format!("#/components/schemas/Error{status}")})
                    }
                    _ => continue,
                };
                answer["content"] = json!({"application/json": {"schema": schema}});
            }
        }
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// 2026-01-01T00:00:00Z: examples are the same on every start.
const T0: i64 = 1_767_225_600;

pub(super) fn example_user() -> AuthUser {
    AuthUser {
        id: 1,
        uuid: "0b9f3a54-7c1e-4d2a-9e65-3f1d2c4b5a69".into(),
        username: "admin".into(),
        nickname: "Administrator".into(),
        email: Some("admin@example.com".into()),
        email_verified: true,
        phone: None,
        avatar: None,
        status: 1,
        is_superuser: true,
        is_staff: true,
        multi_login: true,
        has_password: true,
        password_changed_at: Some(at(T0 - 86_400)),
        last_login_at: Some(at(T0)),
        created_at: at(T0 - 30 * 86_400),
        roles: vec!["admin".into()],
        permissions: vec!["sys:user:add".into(), "sys:user:edit".into()],
        second_factors: vec!["totp".into()],
        join_time: at(T0 - 30 * 86_400),
        last_login_time: Some(at(T0)),
        is_multi_login: true,
        dept_id: None,
        dept: None,
    }
}

pub(super) fn example_pair() -> TokenPair {
    TokenPair {
        access_token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwic2Vzc2lvbl91dWlkIjoiNmUxYiJ9.3n7M0x7Wc9bYV0m5bJq8tW2zZ1yQ0sE4kR6pL8aT2uI".into(),
        access_token_expire_time: at(T0 + 900),
        refresh_token: "rt_4f9c2e7a1b3d5f60718293a4b5c6d7e8".into(),
        refresh_token_expire_time: at(T0 + 7 * 86_400),
        session_uuid: "6e1b8d2c-0f4a-4c3b-8a7e-5d9c1b2a3f40".into(),
        token_type: "Bearer".into(),
    }
}

pub(super) const LOGIN_REQUEST: &str = r#"{"username": "admin", "password": "correct horse battery staple", "uuid": "9d2f6c1e-3b4a-4e5f-8a7b-1c2d3e4f5a6b", "captcha": "x7k2p"}"#;
pub(super) const REFRESH_REQUEST: &str =
    r#"{"refresh_token": "rt_4f9c2e7a1b3d5f60718293a4b5c6d7e8"}"#;

/// The success envelope around `data`, exactly as the handlers render it.
fn envelope<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(Envelope::success(Lang::En, data)).unwrap_or_default()
}

fn example(doc: &mut Value, path: &str, method: &str, request: Option<&str>, answer: Value) {
    let Some(op) = operation(doc, path, method) else {
        return;
    };
    if let Some(request) = request {
        let request: Value = serde_json::from_str(request).unwrap_or_default();
        if let Some(Value::Object(content)) =
            op.get_mut("requestBody").and_then(|b| b.get_mut("content"))
        {
            for media in content.values_mut() {
                media["example"] = request.clone();
            }
        }
    }
    if let Some(Value::Object(content)) = op
        .get_mut("responses")
        .and_then(|r| r.get_mut("200"))
        .and_then(|r| r.get_mut("content"))
    {
        for media in content.values_mut() {
            media["example"] = answer.clone();
        }
    }
}

pub fn examples(doc: &mut Value) {
    // A client that is not a browser page: the refresh token in the body too.
    let login = LoginData::new(example_pair(), example_user(), true);
    example(
        doc,
        "/api/v1/auth/login",
        "post",
        Some(LOGIN_REQUEST),
        envelope(&login),
    );
    example(
        doc,
        "/api/v1/auth/refresh",
        "post",
        Some(REFRESH_REQUEST),
        envelope(&example_pair()),
    );
    // The session's proof, as `Prejsoned` writes it into the user.
    let mut me = serde_json::to_value(example_user()).unwrap_or_default();
    me["amr"] = json!(["pwd", "otp", "mfa"]);
    me["auth_time"] = json!(T0);
    example(doc, "/api/v1/sys/users/me", "get", None, envelope(&me));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::routes::auth::{login::LoginRequest, refresh::RefreshRequest};

    #[test]
    fn the_request_examples_are_what_the_handlers_read() {
        let login: LoginRequest = serde_json::from_str(LOGIN_REQUEST).unwrap();
        assert_eq!(login.username, "admin");
        assert!(login.captcha.is_some() && login.uuid.is_some());
        let refresh: RefreshRequest = serde_json::from_str(REFRESH_REQUEST).unwrap();
        assert_eq!(
            refresh.refresh_token.as_deref(),
            Some(example_pair().refresh_token.as_str())
        );
    }

    #[test]
    fn every_error_status_gets_its_slugs_and_client_refusals_are_not_the_envelope() {
        let mut doc = json!({"paths": {
            "/api/v1/auth/login": {"post": {"responses": {"400": {"description": "x"}, "200": {"description": "ok"}}}},
            "/api/v1/auth/introspect": {"post": {"responses": {"401": {"description": "x"}, "503": {"description": "x"}}}},
        }});
        errors(&mut doc);
        let e400 = &doc["components"]["schemas"]["Error400"];
        let slugs = e400["properties"]["slug"]["enum"].to_string();
        assert!(
            slugs.contains("invalid_credentials") && slugs.contains("captcha_invalid"),
            "{slugs}"
        );
        assert!(!slugs.contains("not_found"), "{slugs}");
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"];
        assert_eq!(
            login["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error400"
        );
        assert!(login["200"].get("content").is_none());
        let introspect = &doc["paths"]["/api/v1/auth/introspect"]["post"]["responses"];
        assert_eq!(
            introspect["401"]["content"]["application/json"]["schema"],
            client_error("invalid_client")
        );
        assert_eq!(
            introspect["503"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error503"
        );
    }
}
