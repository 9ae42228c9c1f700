//! The OpenAPI 3 document: paperclip's conversion of the exact 2.0 document (so routes are
//! registered once and both documents come from them), given back what the conversion drops —
//! the schema keywords the 2.0 rules stated, `x-nullable` as `nullable` — and what 2.0 cannot say:
//! an HTTP bearer scheme, `servers`, the error envelope with its slugs, examples.

use paperclip::v2::models::DefaultApiRaw;
use serde_json::{json, Map, Value};

use super::answers;

/// Keywords of a 2.0 schema that paperclip's conversion leaves out of the 3.0 one.
const DROPPED: &[&str] = &[
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "additionalProperties",
];

/// The 3.0 document of the exact 2.0 one, served with `public_url` as its server.
pub fn document(v2: &Value, public_url: &str) -> Value {
    let raw: DefaultApiRaw =
        serde_json::from_value(v2.clone()).expect("paperclip reads the document it wrote"); // ok: startup, tested
    let converted = paperclip_core::v3::openapiv2_to_v3(raw);
    let mut doc = serde_json::to_value(converted).expect("an OpenAPI 3 document is JSON"); // ok: startup, tested
    carry_definitions(v2, &mut doc);
    carry_paths(v2, &mut doc);
    security(&mut doc);
    doc["servers"] = json!([{
        "url": public_url,
        "description": "This server (`server.public_url`; in development the address it listens on)",
    }]);
    answers::errors(&mut doc);
    answers::examples(&mut doc);
    doc
}

/// Copies into a converted schema what the conversion left out of its 2.0 original, down
/// through properties and items.
fn carry(from: &Value, into: &mut Value) {
    let (Value::Object(from), Value::Object(to)) = (from, &mut *into) else {
        return;
    };
    // A 2.0 schema without a type (any JSON, `null` too) comes out as an object.
    if !from.contains_key("type")
        && !from.contains_key("$ref")
        && !to.contains_key("properties")
        && to.get("type") == Some(&json!("object"))
    {
        to.remove("type");
    }
    for key in DROPPED {
        if let Some(v) = from.get(*key) {
            to.entry(*key).or_insert_with(|| v.clone());
        }
    }
    if let (Some(Value::Object(props)), Some(Value::Object(to_props))) =
        (from.get("properties"), to.get_mut("properties"))
    {
        for (name, prop) in props {
            if let Some(to_prop) = to_props.get_mut(name) {
                carry(prop, to_prop);
            }
        }
    }
    if let (Some(items), Some(to_items)) = (from.get("items"), to.get_mut("items")) {
        carry(items, to_items);
    }
    if from.get("x-nullable") == Some(&Value::Bool(true)) {
        if let Some(reference) = to.remove("$ref") {
            // In 3.0 a reference's siblings are ignored: a nullable reference is an `allOf`.
            to.insert("allOf".into(), json!([{ "$ref": reference }]));
        }
        to.insert("nullable".into(), Value::Bool(true));
    }
}

fn carry_definitions(v2: &Value, doc: &mut Value) {
    let Some(Value::Object(definitions)) = v2.get("definitions") else {
        return;
    };
    for (name, schema) in definitions {
        if let Some(into) = doc["components"]["schemas"].get_mut(name) {
            carry(schema, into);
        }
    }
}

/// Response schemas and request bodies: 2.0's `schema` is 3.0's `content.*.schema`.
fn carry_paths(v2: &Value, doc: &mut Value) {
    let Some(Value::Object(paths)) = v2.get("paths") else {
        return;
    };
    for (path, methods) in paths {
        let Value::Object(methods) = methods else {
            continue;
        };
        for (method, op) in methods {
            let Some(to) = doc["paths"].get_mut(path).and_then(|p| p.get_mut(method)) else {
                continue;
            };
            if let Some(Value::Object(responses)) = op.get("responses") {
                for (status, answer) in responses {
                    if let Some(Value::Object(content)) = to
                        .get_mut("responses")
                        .and_then(|r| r.get_mut(status))
                        .and_then(|r| r.get_mut("content"))
                    {
                        for schema in content.values_mut().filter_map(|m| m.get_mut("schema")) {
                            carry(&answer["schema"], schema);
                        }
                    }
                }
            }
            // Form fields: the conversion keeps their types, not which of them are required.
            let required: Vec<&Value> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "formData" && p["required"] == true)
                .map(|p| &p["name"])
                .collect();
            if !required.is_empty() {
                if let Some(Value::Object(body)) = to.get_mut("requestBody") {
                    body.insert("required".into(), Value::Bool(true));
                }
            }
            if let Some(Value::Object(form)) = to
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(|c| c.get_mut("application/x-www-form-urlencoded"))
                .and_then(|m| m.get_mut("schema"))
            {
                form.insert("type".into(), json!("object"));
                if !required.is_empty() {
                    form.insert("required".into(), json!(required));
                }
            }
            let body = op["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["in"] == "body"));
            if let (Some(body), Some(Value::Object(content))) = (
                body,
                to.get_mut("requestBody").and_then(|b| b.get_mut("content")),
            ) {
                for schema in content.values_mut().filter_map(|m| m.get_mut("schema")) {
                    carry(&body["schema"], schema);
                }
            }
        }
    }
}

/// 2.0's `bearer` was the OAuth2 password flow (2.0 has no bearer scheme): in 3.0 it is the
/// HTTP bearer scheme it always meant, with the password flow beside it for the Swagger UI.
fn security(doc: &mut Value) {
    let schemes = &mut doc["components"]["securitySchemes"];
    let Some(Value::Object(schemes)) = Some(schemes) else {
        return;
    };
    if let Some(mut password) = schemes.remove("bearer") {
        password["description"] = json!(
            "The Swagger UI's Authorize dialog (development only, `swagger_login.enabled`): \
             POST /api/v1/auth/login/swagger with the OAuth2 password grant; the token is then \
             sent as a bearer token"
        );
        schemes.insert("password".into(), password);
    }
    schemes.insert(
        "bearer".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The access token from POST /api/v1/auth/login or /api/v1/auth/refresh, \
                            sent as `Authorization: Bearer <access_token>`",
        }),
    );
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for op in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in op.values_mut().filter_map(Value::as_object_mut) {
            if op.get("security") == Some(&json!([{"bearer": []}])) {
                op.insert("security".into(), json!([{"bearer": []}, {"password": []}]));
            }
        }
    }
}

/// The operation at `path` and `method` of a 3.0 document.
pub(super) fn operation<'a>(
    doc: &'a mut Value,
    path: &str,
    method: &str,
) -> Option<&'a mut Map<String, Value>> {
    doc["paths"].get_mut(path)?.get_mut(method)?.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_conversion_drops_is_carried_and_optional_becomes_nullable() {
        let v2 = json!({
            "name": {"type": "string", "pattern": "^a$", "maxLength": 3, "x-nullable": true},
            "codes": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "user": {"$ref": "#/definitions/User", "x-nullable": true},
        });
        let v3 = json!({
            "name": {"type": "string"},
            "codes": {"type": "array", "items": {"type": "string"}},
            "user": {"$ref": "#/components/schemas/User"},
        });
        let (mut from, mut into) = (
            json!({"properties": v2}),
            json!({"type": "object", "properties": v3}),
        );
        carry(&from, &mut into);
        assert_eq!(
            into["properties"]["name"],
            json!({"type": "string", "pattern": "^a$", "maxLength": 3, "nullable": true})
        );
        assert_eq!(into["properties"]["codes"]["items"]["minLength"], 1);
        let mut any = json!({"type": "object"});
        carry(&json!({}), &mut any);
        assert_eq!(any, json!({}), "no type stays no type");
        assert_eq!(
            into["properties"]["user"],
            json!({"allOf": [{"$ref": "#/components/schemas/User"}], "nullable": true})
        );
        from["properties"]["name"]["pattern"] = json!("^b$");
        carry(&from, &mut into);
        assert_eq!(
            into["properties"]["name"]["pattern"], "^a$",
            "what the conversion kept is not overwritten"
        );
    }
}
