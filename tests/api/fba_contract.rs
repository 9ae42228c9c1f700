//! The calls fba's frontend makes, as docs/migrating-from-fba.md lists them: paths, methods,
//! envelope fields and status codes that Portcullis serves.

use std::collections::BTreeMap;

use portcullis::config::ProviderKind;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::oauth2::provider;

fn assert_envelope(body: &Value, code: i64) {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["msg"].is_string(), "{body}");
    assert!(body.get("data").is_some(), "{body}");
}

async fn ok_json(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_envelope(&body, 200);
    body["data"].clone()
}

#[actix_web::test]
async fn the_fba_frontend_calls_get_fba_shaped_answers() {
    let (mut s, dir) = test_settings().await;
    s.captcha.enabled = true;
    let mut providers = BTreeMap::new();
    providers.insert(
        "github".to_owned(),
        provider(ProviderKind::Github, "http://127.0.0.1:1"),
    );
    s.oauth2.providers = providers;
    let app = spawn_with(s, dir).await;
    app.create_user_with("root", PASSWORD, true).await;

    // Captcha: the fields fba's login page reads.
    let (uuid, answer) = app.captcha().await;
    let captcha = ok_json(
        app.client
            .get(app.url("/api/v1/auth/captcha"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for field in ["is_enabled", "expire_seconds", "uuid", "image"] {
        assert!(captcha.get(field).is_some(), "captcha.{field}: {captcha}");
    }
    assert_eq!(captcha["is_enabled"], true);
    assert!(!captcha["image"].as_str().unwrap().starts_with("data:"));

    // A wrong captcha: fba's custom code in the body, HTTP 400.
    let res = app
        .login_with_captcha("root", PASSWORD, captcha["uuid"].as_str().unwrap(), "nope")
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_envelope(&body, 40001);
    assert!(body["trace_id"].is_string());

    // Login with captcha: the answer fba's frontend stores, and the refresh cookie.
    let res = app
        .login_with_captcha("root", PASSWORD, &uuid, &answer)
        .await;
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("HttpOnly")));
    let login = ok_json(res).await;
    for field in [
        "access_token",
        "access_token_expire_time",
        "session_uuid",
        "user",
    ] {
        assert!(login.get(field).is_some(), "login.{field}: {login}");
    }
    let access = login["access_token"].as_str().unwrap().to_owned();

    // A wrong password: 400 in the envelope, as fba's `用户名或密码有误`.
    let (uuid2, answer2) = app.captcha().await;
    let res = app
        .login_with_captcha("root", "wrong-password", &uuid2, &answer2)
        .await;
    assert_eq!(res.status(), 400);
    assert_envelope(&res.json().await.unwrap(), 400);

    // Refresh by cookie alone, as fba's frontend does (withCredentials, no Authorization).
    let refreshed = ok_json(app.post("/api/v1/auth/refresh").await).await;
    for field in ["access_token", "access_token_expire_time", "session_uuid"] {
        assert!(
            refreshed.get(field).is_some(),
            "refresh.{field}: {refreshed}"
        );
    }
    assert_eq!(refreshed["session_uuid"], login["session_uuid"]);
    let access = refreshed["access_token"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or(access);

    // The current user and its codes.
    let me = ok_json(app.get_auth("/api/v1/sys/users/me", &access).await).await;
    assert_eq!(me["username"], "root");
    assert!(me["roles"].is_array());
    assert!(me.get("password_hash").is_none() && me.get("password").is_none());
    let codes = ok_json(app.get_auth("/api/v1/auth/codes", &access).await).await;
    assert!(codes.is_array());
    let res = app
        .client
        .get(app.url("/api/v1/sys/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(www_authenticate(&res).is_some());
    assert_envelope(&res.json().await.unwrap(), 401);

    // The login log page: fba's filters and page object.
    app.login_log(&access, 1).await;
    let page = ok_json(
        app.get_auth("/api/v1/logs/login?username=root&page=1&size=10", &access)
            .await,
    )
    .await;
    for field in ["items", "total", "page", "size"] {
        assert!(page.get(field).is_some(), "page.{field}: {page}");
    }
    let res = app
        .client
        .delete(app.url("/api/v1/logs/login"))
        .bearer_auth(&access)
        .json(&json!({"pks": [page["items"][0]["id"].clone()]}))
        .send()
        .await
        .unwrap();
    ok_json(res).await;

    // The online monitor (at /monitors/online) and the social pages.
    let online = ok_json(app.get_auth("/api/v1/monitors/online", &access).await).await;
    assert!(online["items"].is_array(), "{online}");
    let url = ok_json(
        app.client
            .get(app.url("/api/v1/oauth2/github"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(url
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:1/authorize?"));
    let bindings = ok_json(app.get_auth("/api/v1/oauth2/me/bindings", &access).await).await;
    assert!(bindings.is_array() || bindings.is_object(), "{bindings}");

    // Password change: fba's three fields.
    let res = app
        .client
        .put(app.url("/api/v1/sys/users/me/password"))
        .bearer_auth(&access)
        .json(&json!({
            "old_password": PASSWORD,
            "new_password": "a brand new secret",
            "confirm_password": "a brand new secret"
        }))
        .send()
        .await
        .unwrap();
    let changed = ok_json(res).await;
    assert_eq!(changed["ended_sessions"], 0, "{changed}");

    // Logout: 200 with null data, and the cookie cleared.
    let res = app.post_auth("/api/v1/auth/logout", &access).await;
    let cleared = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("Max-Age=0"));
    assert!(cleared, "the refresh cookie is cleared");
    assert_eq!(ok_json(res).await["ended"], 1);
    assert_eq!(app.me(&access).await.status(), 401);
}

/// What fba's frontend reads where Portcullis once answered otherwise: error toasts from `msg`
/// (no `error` field, which it would show before `msg`), a mistyped captcha corrected on the
/// next try with the same image, every field of fba's `GetUserInfoDetail` on `/me`, all codes
/// for a superuser, fba's sessions path, and no refresh token in a browser's login body.
#[actix_web::test]
async fn what_fbas_frontend_reads_is_there_under_fbas_names() {
    let (mut s, dir) = test_settings().await;
    s.captcha.enabled = true;
    let app = spawn_with(s, dir).await;
    app.create_user_with("root", PASSWORD, true).await;
    let browser_login = |uuid: String, answer: String| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("origin", app.address.clone())
            .header("sec-fetch-site", "same-origin")
            .json(
                &json!({"username": "root", "password": PASSWORD, "uuid": uuid, "captcha": answer}),
            )
            .send()
    };

    // A mistyped captcha: the toast shows `msg`; the image the page still shows is still good.
    let (uuid, answer) = app.captcha().await;
    let res = browser_login(uuid.clone(), "nope".into()).await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert_envelope(&body, 40001);
    assert!(
        body.get("error").is_none(),
        "fba's frontend would show it: {body}"
    );
    assert!(
        !body["msg"].as_str().unwrap().contains('_'),
        "a sentence, not a slug: {body}"
    );
    let res = browser_login(uuid, answer).await.unwrap();
    let login = ok_json(res).await;
    assert!(
        login.get("refresh_token").is_none(),
        "a browser page's scripts never see it: {login}"
    );
    let access = login["access_token"].as_str().unwrap().to_owned();

    // Another client (CLI, mobile, server) still gets it in the body.
    let (uuid, answer) = app.captcha().await;
    let other = ok_json(
        app.login_with_captcha("root", PASSWORD, &uuid, &answer)
            .await,
    )
    .await;
    assert!(other["refresh_token"].is_string(), "{other}");

    let me = ok_json(app.get_auth("/api/v1/sys/users/me", &access).await).await;
    for field in [
        "dept_id",
        "username",
        "nickname",
        "avatar",
        "email",
        "phone",
        "id",
        "uuid",
        "status",
        "is_superuser",
        "is_staff",
        "is_multi_login",
        "join_time",
        "last_login_time",
        "dept",
        "roles",
    ] {
        assert!(me.get(field).is_some(), "me.{field}: {me}");
    }
    assert!(
        me["last_login_time"].is_string(),
        "the profile's last login: {me}"
    );
    assert_eq!(me["join_time"], me["created_at"]);
    assert_eq!(me["is_multi_login"], me["multi_login"]);

    let codes = ok_json(app.get_auth("/api/v1/auth/codes", &access).await).await;
    let codes: Vec<&str> = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in portcullis::domain::codes::BUILT_IN {
        assert!(codes.contains(code), "{code} in {codes:?}");
    }

    let sessions = ok_json(app.get_auth("/api/v1/monitors/sessions", &access).await).await;
    let mine = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_uuid"] == login["session_uuid"])
        .unwrap_or_else(|| panic!("this session: {sessions}"));
    for field in [
        "id",
        "session_uuid",
        "username",
        "nickname",
        "ip",
        "os",
        "browser",
        "device",
        "status",
        "last_login_time",
        "expire_time",
    ] {
        assert!(mine.get(field).is_some(), "session.{field}: {mine}");
    }
    assert_eq!(mine["username"], "root");
    assert_eq!(mine["status"], 1);
}
