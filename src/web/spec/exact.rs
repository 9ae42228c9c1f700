//! The Swagger 2.0 document made exact where OpenAPI 2 and paperclip fall short. Optional
//! properties may be `null` (`x-nullable`, which OpenAPI 2 lacks and tools such as schemathesis
//! read); bodies that may be left out are not required; redirects are documented.

use serde_json::{json, Value};

use super::rules::*;

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
    doc["securityDefinitions"]["client"] = json!({
        "type": "basic",
        "description": "API clients (`portcullis client create`): `Authorization: Basic base64(client_id:client_secret)`",
    });
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
        // Form fields need the form's media type (paperclip leaves `consumes` out; the 3.0
        // conversion makes a request body of the fields only under it).
        for op in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|m| m.values_mut())
        {
            let form = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "formData"));
            if form && op.get("consumes").is_none() {
                op["consumes"] = json!(["application/x-www-form-urlencoded"]);
            }
        }
        for path in CLIENT_AUTH {
            if let Some(Value::Object(methods)) = paths.get_mut(*path) {
                for op in methods.values_mut() {
                    op["security"] = json!([{"client": []}]);
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
    me_with_session(&mut doc);
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

/// `/me` answers the user with the session's `amr` and `auth_time` written in (`Prejsoned`):
/// `Me`, the user's schema and those two.
fn me_with_session(doc: &mut Value) {
    let Some(mut me) = doc["definitions"].get("AuthUser").cloned() else {
        return;
    };
    me["properties"]["amr"] = json!({
        "type": "array",
        "items": {"type": "string", "enum": crate::domain::Amr::known_names().collect::<Vec<_>>()},
        "description": "How this session's user signed in (RFC 8176 names; `fed`: a social login; `mfa`: with a second factor), as the access token's `amr`",
    });
    me["properties"]["auth_time"] = json!({
        "type": "integer",
        "format": "int64",
        "description": "When this session's user last proved who they are (Unix seconds), as the access token's `auth_time`",
    });
    me["description"] = json!("The current user, and how and when this session's user signed in");
    if let Some(Value::Array(required)) = me.get_mut("required") {
        required.extend([json!("amr"), json!("auth_time")]);
    }
    doc["definitions"]["Me"] = me;
    if let Some(data) =
        doc.pointer_mut("/paths/~1api~1v1~1sys~1users~1me/get/responses/200/schema/properties/data")
    {
        *data = json!({"$ref": "#/definitions/Me"});
    }
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
}
