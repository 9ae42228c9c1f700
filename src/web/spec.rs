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

/// Rules the handlers enforce, stated where OpenAPI can say them: (definition, property, schema).
const PROPERTY_RULES: &[(&str, &str, &str)] = &[
    ("NewRole", "name", ROLE_NAME),
    ("RoleUpdate", "name", ROLE_NAME),
    ("RoleUpdate", "status", r#"{"enum": [0, 1]}"#),
    ("NewRole", "codes", CODES),
    ("Codes", "codes", CODES),
];

/// Rules on query parameters: (path, parameter, schema).
const QUERY_RULES: &[(&str, &str, &str)] = &[
    ("/api/v1/logs/login", "page", r#"{"minimum": 1}"#),
    (
        "/api/v1/logs/login",
        "size",
        r#"{"minimum": 1, "maximum": 200}"#,
    ),
    (
        "/api/v1/logs/login",
        "status",
        r#"{"enum": ["", "success", "failure"]}"#,
    ),
];

/// 1 to 64 characters, no control characters or commas, not only spaces.
const ROLE_NAME: &str = r#"{"maxLength": 64,
    "pattern": "^[^,\\u0000-\\u001f\\u007f-\\u009f]*[^\\s,\\u0000-\\u001f\\u007f-\\u009f][^,\\u0000-\\u001f\\u007f-\\u009f]*$"}"#;

/// Up to 128 characters, no spaces (but around), control characters or commas.
const CODES: &str = r#"{"items": {"type": "string", "maxLength": 128,
    "pattern": "^\\s*[^\\s,\\u0000-\\u001f\\u007f-\\u009f]+\\s*$"}}"#;

/// The forward-auth endpoint answers every method; its 200 has headers and no body.
const VERIFY: &str = "/api/v1/auth/verify";

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
        for (definition, property, rule) in PROPERTY_RULES {
            if let Some(prop) = definitions
                .get_mut(*definition)
                .and_then(|d| d["properties"].get_mut(*property))
            {
                merge(prop, rule);
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

    #[test]
    fn the_stated_patterns_match_what_the_handlers_accept() {
        let pattern = |rule: &str| {
            let v: Value = serde_json::from_str(rule).unwrap();
            let p = v.get("items").unwrap_or(&v)["pattern"]
                .as_str()
                .unwrap()
                .to_owned();
            regex::Regex::new(&p).unwrap()
        };
        let (name, code) = (pattern(ROLE_NAME), pattern(CODES));
        for ok in ["editors", " a b ", "审计"] {
            assert!(name.is_match(ok), "{ok:?}");
        }
        for bad in ["", "  ", "a,b", "x\u{7}y", "x\u{85}"] {
            assert!(!name.is_match(bad), "{bad:?}");
        }
        for ok in ["sys:user:add", " order:create "] {
            assert!(code.is_match(ok), "{ok:?}");
        }
        for bad in ["", "a b", "a,b", "x\u{1}"] {
            assert!(!code.is_match(bad), "{bad:?}");
        }
    }
}
