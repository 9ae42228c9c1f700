//! An administrator resets a user's second factors (REST and CLI): the factors go, the user's
//! sessions end on every node, and the next login needs only the password. Production mode
//! runs it across two nodes; embedded mode on the one.

use std::time::{Duration, Instant};

use portcullis::clock::{Clock, SystemClock};
use serde_json::Value;

use crate::cli::portcullis;
use crate::helpers::*;

impl TestApp {
    async fn reset_mfa(&self, access: &str, uid: i64) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/api/v1/sys/users/{uid}/mfa")))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// Signs the user in through the second step (with a recovery code), at the wall clock
    /// (another node's clock is not moved by this one's tests).
    async fn mfa_access(&self, username: &str, recovery_code: &str) -> String {
        self.clock.advance(SystemClock.unix() - self.clock.unix());
        let ticket = self.mfa_ticket(username).await;
        let res = self.mfa_verify(&ticket, recovery_code).await;
        assert_eq!(res.status(), 200);
        token(&res.json::<Value>().await.unwrap()["data"], "access_token")
    }
}

fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = portcullis(app, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[actix_web::test]
async fn mfa_an_admin_reset_removes_the_factors_and_ends_the_sessions_on_every_node() {
    let (settings, dir) = test_settings().await;
    let a = spawn_with(settings.clone(), dir.clone()).await;
    let b = match production_mode() {
        true => Some(spawn_with(settings, dir).await),
        false => None,
    };
    let other = b.as_ref().unwrap_or(&a);

    let lou = a.create_user("lou").await;
    a.create_user("clerk").await;
    a.create_user("desk").await;
    a.create_user_with("root", PASSWORD, true).await;
    cli(
        &a,
        &[
            "role",
            "create",
            "mfa-desk",
            "--permission",
            "sys:user:mfa:reset",
        ],
    );
    cli(
        &a,
        &["user", "grant", "--username", "desk", "--role", "mfa-desk"],
    );

    let e = a.enrol_totp("lou").await;
    let access = a.mfa_access("lou", &e.recovery_codes[0]).await;
    let me = other.get_auth_json("/api/v1/sys/users/me", &access).await;
    assert_eq!(me["data"]["second_factors"], serde_json::json!(["totp"]));

    // Only holders of sys:user:mfa:reset (or superusers).
    let clerk = token(&a.login("clerk", PASSWORD).await, "access_token");
    assert_error(a.reset_mfa(&clerk, lou).await, 403, "insufficient_scope").await;
    assert_eq!(other.me(&access).await.status(), 200);

    let desk = token(&a.login("desk", PASSWORD).await, "access_token");
    let res = a.reset_mfa(&desk, lou).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["removed"], true, "{body}");
    // The session lou enrolled in, and the one signed in through the second step.
    assert_eq!(body["data"]["ended_sessions"], 2, "{body}");
    let start = Instant::now();
    while other.me(&access).await.status() != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the other node still lets lou in"
        );
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }

    // The password alone signs in now, and nothing says there is a factor.
    let data = a.login("lou", PASSWORD).await;
    let fresh = token(&data, "access_token");
    let me = other.get_auth_json("/api/v1/sys/users/me", &fresh).await;
    assert_eq!(me["data"]["second_factors"], serde_json::json!([]));
    let root = token(&a.login("root", PASSWORD).await, "access_token");
    let res = a.reset_mfa(&root, lou).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["removed"], false, "nothing to remove: {body}");
    assert_eq!(other.me(&fresh).await.status(), 200, "and no session ended");
    assert_error(a.reset_mfa(&root, 999_999).await, 404, "user_not_found").await;
}

#[actix_web::test]
async fn mfa_the_cli_resets_a_users_factors() {
    let app = spawn_app().await;
    app.create_user("kim").await;
    let e = app.enrol_totp("kim").await;
    let access = app.mfa_access("kim", &e.recovery_codes[0]).await;

    let out = cli(&app, &["user", "mfa", "reset", "--username", "kim"]);
    assert_eq!(
        out.trim(),
        "removed the second factors of kim; ended 2 session(s)"
    );
    assert_eq!(app.me(&access).await.status(), 401);
    assert!(app.login("kim", PASSWORD).await["access_token"].is_string());
    let out = cli(&app, &["user", "mfa", "reset", "--username", "kim"]);
    assert_eq!(out.trim(), "kim has no second factor: nothing changed");
    let out = portcullis(
        &app,
        &["user", "mfa", "reset", "--username", "nobody"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named `nobody`"));
}

#[actix_web::test]
async fn mfa_resetting_ones_own_factors_needs_a_recent_sign_in_with_them() {
    let app = spawn_app().await;
    let root = app.create_user_with("root", PASSWORD, true).await;
    let e = app.enrol_totp("root").await;
    let access = app.mfa_access("root", &e.recovery_codes[0]).await;
    app.clock.advance(app.settings.security.reauth_seconds + 1);
    let res = app.reset_mfa(&access, root).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "insufficient_user_authentication");
    // Still there: the next login asks for it.
    assert_eq!(app.login("root", PASSWORD).await["mfa_required"], true);
}
