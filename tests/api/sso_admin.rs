//! OpenID clients over superuser REST (`/api/v1/sys/oidc-clients`), as `portcullis oidc-client`
//! manages them: secrets shown once, every rule of a registration checked, a recent sign-in for
//! what sends users' codes somewhere or mints a secret.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::sso::{exchange, oauth_error, REDIRECT};

const CLIENTS: &str = "/api/v1/sys/oidc-clients";

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// A recent sign-in asked for.
async fn step_up(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication", "{body}");
}

async fn data(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["data"].clone()
}

#[actix_web::test]
async fn superusers_register_change_rotate_and_delete_clients_over_rest() {
    let app = spawn_app().await;
    app.create_user_with("root", PASSWORD, true).await;
    app.create_user("mallory").await;
    let root = token(&app.login("root", PASSWORD).await, "access_token");
    let mallory = token(&app.login("mallory", PASSWORD).await, "access_token");
    use reqwest::Method as M;

    // Not for anyone else.
    let res = send(&app, M::GET, CLIENTS, &mallory, None).await;
    assert_error(res, 403, "insufficient_scope").await;
    let body = json!({"client_id": "evil", "redirect_uris": ["https://evil.example/cb"]});
    let res = send(&app, M::POST, CLIENTS, &mallory, Some(body)).await;
    assert_error(res, 403, "insufficient_scope").await;
    assert!(app.oidc_clients.find("evil").await.unwrap().is_none());

    // A confidential client for itself: its secret once, working at the token endpoint.
    let body = json!({
        "client_id": "reports",
        "grant_types": ["client_credentials"],
        "scopes": ["profile", "roles"],
    });
    let made = data(send(&app, M::POST, CLIENTS, &root, Some(body)).await).await;
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(made["client"]["client_id"], "reports");
    assert_eq!(made["client"]["public"], false);
    assert_eq!(made["client"]["grant_types"], json!(["client_credentials"]));
    assert_eq!(made["client"]["id_token_signed_response_alg"], "RS256");
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(exchange(&app, "reports", &secret, &cc).await.status(), 200);

    // A public one: no secret; defaults for what was left out.
    let body =
        json!({"client_id": "phone", "public": true, "redirect_uris": ["com.example.phone:/cb"]});
    let made = data(send(&app, M::POST, CLIENTS, &root, Some(body)).await).await;
    assert!(made["client_secret"].is_null(), "{made}");
    assert_eq!(
        made["client"]["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );

    // The list shows both and no secret or its digest.
    let res = send(&app, M::GET, CLIENTS, &root, None).await;
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(&secret) && !text.contains("secret"),
        "{text}"
    );
    let list: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["phone", "reports"]);

    // Every bad registration is refused, saying why, and nothing is stored.
    for (body, status, slug) in [
        (json!({"redirect_uris": [REDIRECT]}), 400, "invalid_body"),
        (
            json!({"client_id": "Bad Id", "redirect_uris": [REDIRECT]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x1", "redirect_uris": ["http://evil.example/cb"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x2", "redirect_uris": ["https://a.example/cb#f"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x3", "redirect_uris": ["javascript:alert(1)"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x4", "redirect_uris": [REDIRECT], "scopes": ["admin"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x5", "redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x6", "redirect_uris": [REDIRECT], "grant_types": ["password"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x7", "public": true, "grant_types": ["client_credentials"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x8", "redirect_uris": [REDIRECT], "id_token_signed_response_alg": "none"}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x9", "redirect_uris": [REDIRECT], "backchannel_logout_uri": "http://evil.example/bc"}),
            400,
            "invalid_body",
        ),
        (json!({"client_id": "x10"}), 400, "invalid_body"),
        (
            json!({"client_id": "x12", "redirect_uris": [REDIRECT], "resources": ["api"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "x11", "redirect_uris": [REDIRECT], "secret": "chosen"}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": "reports", "grant_types": ["client_credentials"]}),
            409,
            "conflict",
        ),
    ] {
        let res = send(&app, M::POST, CLIENTS, &root, Some(body.clone())).await;
        let err = assert_error(res, status, slug).await;
        let msg = err["msg"].as_str().unwrap();
        assert!(msg.contains(": "), "says why: {body}: {msg}");
    }
    let ids = app.oidc_clients.list().await.unwrap().len();
    assert_eq!(ids, 2, "nothing stored by a refused request");

    // A change replaces what it may do; its secret stays; it cannot become public or be renamed.
    let path = format!("{CLIENTS}/reports");
    let body =
        json!({"grant_types": ["client_credentials"], "scopes": ["profile"], "first_party": true});
    let changed = data(send(&app, M::PUT, &path, &root, Some(body)).await).await;
    assert_eq!(changed["scopes"], json!(["profile"]));
    assert_eq!(changed["first_party"], true);
    assert_eq!(exchange(&app, "reports", &secret, &cc).await.status(), 200);
    for body in [
        // Its kind and id are not a change's to make.
        json!({"public": true, "grant_types": ["client_credentials"]}),
        json!({"client_id": "other", "grant_types": ["client_credentials"]}),
        json!({"grant_types": ["client_credentials"], "scopes": ["everything"]}),
    ] {
        let res = send(&app, M::PUT, &path, &root, Some(body)).await;
        assert_error(res, 400, "invalid_body").await;
    }
    let res = send(
        &app,
        M::PUT,
        &format!("{CLIENTS}/nobody"),
        &root,
        Some(json!({"redirect_uris": [REDIRECT]})),
    )
    .await;
    assert_error(res, 404, "not_found").await;

    // A new secret: the old one stops working at once. A public client has none to rotate.
    let rotated = data(send(&app, M::POST, &format!("{path}/secret"), &root, None).await).await;
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let res = exchange(&app, "reports", &secret, &cc).await;
    oauth_error(res, 401, "invalid_client").await;
    assert_eq!(
        exchange(&app, "reports", new_secret, &cc).await.status(),
        200
    );
    let res = send(
        &app,
        M::POST,
        &format!("{CLIENTS}/phone/secret"),
        &root,
        None,
    )
    .await;
    assert_error(res, 400, "invalid_body").await;

    // What mints a secret or moves where codes go needs a recent sign-in; deleting does not.
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let body = json!({"client_id": "late", "redirect_uris": [REDIRECT]});
    let res = send(&app, M::POST, CLIENTS, &root, Some(body)).await;
    step_up(res).await;
    let res = send(&app, M::POST, &format!("{path}/secret"), &root, None).await;
    step_up(res).await;
    let body = json!({"redirect_uris": ["https://elsewhere.example/cb"]});
    let res = send(&app, M::PUT, &format!("{CLIENTS}/phone"), &root, Some(body)).await;
    step_up(res).await;
    assert_eq!(
        exchange(&app, "reports", new_secret, &cc).await.status(),
        200
    );

    let res = send(&app, M::DELETE, &path, &root, None).await;
    assert_eq!(res.status(), 200);
    oauth_error(
        exchange(&app, "reports", new_secret, &cc).await,
        401,
        "invalid_client",
    )
    .await;
    let res = send(&app, M::DELETE, &path, &root, None).await;
    assert_error(res, 404, "not_found").await;
}
