//! `portcullis import fba` against a real fba schema in PostgreSQL (tests/fixtures/fba), with
//! real bcrypt hashes at fba's cost, then logins over HTTP as the imported users.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::Value;

use crate::cli::portcullis;
use crate::helpers::*;

/// A throwaway fba database, dropped with the test.
pub struct FbaDb {
    name: String,
    url: String,
}

impl FbaDb {
    pub async fn create() -> Self {
        let name = format!("fba_fixture_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(PG_ADMIN_URL).await.unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        conn.batch_execute(include_str!("../fixtures/fba/schema.sql"))
            .await
            .unwrap();
        Self { name, url }
    }

    pub async fn exec(&self, sql: &str) {
        let mut conn = AsyncPgConnection::establish(&self.url).await.unwrap();
        conn.batch_execute(sql).await.unwrap();
    }
}

impl Drop for FbaDb {
    fn drop(&mut self) {
        drop_database(self.name.clone());
    }
}

/// fba hashes with bcrypt at cost 12 (passlib's default there); `$2b$`.
pub fn fba_hash(password: &str) -> String {
    bcrypt::hash(password, 12).unwrap()
}

const ALICE_UUID: &str = "0b9f1c2e-7a55-4d0e-9d4c-3f0b6a1e2d01";

async fn fixture() -> FbaDb {
    let db = FbaDb::create().await;
    let (alice, bob, carol, erin, frank) = (
        fba_hash("alice-pass-1"),
        fba_hash("bob-pass-22"),
        fba_hash("carol-pass-3"),
        fba_hash("erin-pass-44"),
        fba_hash("frank-pass-5"),
    );
    db.exec(&format!(
        "INSERT INTO sys_user (id, uuid, username, nickname, password, email, phone, status,
                               is_superuser, is_staff, is_multi_login, join_time, last_login_time)
         VALUES
          (1, '{ALICE_UUID}', 'alice', 'Alice', '{alice}', 'alice@example.com', '13800000001', 1,
              true, true, true, '2024-03-01 08:00:00+08', '2026-11-01 10:00:00+08'),
          (2, '5c3e0d7a-1f42-4a8b-a1d9-6b2f4e8c9d02', 'bob', 'Bob', '{bob}', 'bob@example.com', NULL, 1,
              false, true, false, '2024-04-01 08:00:00+08', NULL),
          (3, 'a7d2e4f1-3b6c-4e9a-8f10-2c5d7e9b1a03', 'carol', 'Carol', '{carol}', NULL, NULL, 0,
              false, false, false, now(), NULL),
          (4, 'e1f3a5c7-9b2d-4f6e-8a0c-4d6f8b0e2c04', 'dave', 'Dave', NULL, 'dave@example.com', NULL, 1,
              false, false, true, now(), NULL),
          (5, '3f5b7d9e-1a2c-4e6f-9b8d-0c2e4a6b8d05', 'erin', 'Erin', '{erin}', 'taken@example.com', NULL, 1,
              false, false, false, now(), NULL),
          (6, '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c06', 'frank', 'Frank from fba', '{frank}', NULL, NULL, 1,
              false, false, false, now(), NULL),
          (7, '6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b07', 'bad name!', 'Bad', NULL, NULL, NULL, 1,
              false, false, false, now(), NULL),
          (8, '2b4d6f80-1a3c-4e5f-8a7b-9c0d1e2f3a08', 'alicia', 'Alicia', NULL, 'ALICE@example.com', NULL, 1,
              false, false, false, now(), NULL);
         INSERT INTO sys_role (id, name, status) VALUES (1, 'ops', 1), (2, 'auditor', 1), (3, 'retired', 0);
         INSERT INTO sys_menu (id, title, name, type, perms, status) VALUES
          (1, 'Users', 'SysUser', 1, 'sys:user:add,sys:user:edit', 1),
          (2, 'Login log', 'LoginLog', 2, 'log:login:del', 1),
          (3, 'Secrets', 'Secrets', 2, 'sys:secret:read', 0),
          (4, 'Dashboard', 'Dashboard', 0, NULL, 1),
          (5, 'Audit', 'Audit', 2, 'log:login:view', 1),
          (6, 'Refunds', 'Refunds', 2, 'order:refund', 1);
         INSERT INTO sys_role_menu (role_id, menu_id) VALUES
          (1, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 2), (3, 6);
         INSERT INTO sys_user_role (user_id, role_id) VALUES
          (1, 1), (2, 1), (2, 2), (2, 3), (3, 2);
         INSERT INTO sys_user_social (sid, source, user_id) VALUES ('9001', 'Github', 4);"
    ))
    .await;
    db
}

/// The summary lines (users, roles, bindings) of an import's standard output.
pub fn summary(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            ["users:", "roles:", "bindings:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

pub fn import(app: &TestApp, fba: &FbaDb, dry_run: bool) -> (bool, String, String) {
    let mut args = vec!["import", "fba", "--database-url", &fba.url];
    if dry_run {
        args.push("--dry-run");
    }
    let out = portcullis(app, &args, None);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!(
        "--- import{}:\n{stdout}{stderr}",
        if dry_run { " --dry-run" } else { "" }
    );
    (out.status.success(), stdout, stderr)
}

pub async fn login_status(app: &TestApp, username: &str, password: &str) -> u16 {
    app.post_login(&serde_json::json!({"username": username, "password": password}))
        .await
        .status()
        .as_u16()
}

#[actix_web::test]
async fn an_fba_database_moves_over_and_a_second_run_changes_nothing() {
    let app = spawn_app().await;
    let fba = fixture().await;
    // Local users that meet the fba rows: erin's email is someone else's here; frank is the
    // same person (matched by username).
    app.create_user_full("localerin", PASSWORD, Some("taken@example.com"), false)
        .await;
    app.create_user("frank").await;

    let expected = [
        "users:    4 created, 1 updated, 0 unchanged, 2 skipped, 1 failed",
        "roles:    3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed",
        "bindings: 1 created, 0 updated, 0 unchanged, 0 skipped, 0 failed",
    ];
    let (ok, stdout, stderr) = import(&app, &fba, true);
    assert!(!ok, "a failed row fails the command");
    assert!(stdout.contains("dry run: nothing was written"), "{stdout}");
    assert_eq!(summary(&stdout), expected);
    assert!(
        stderr.contains("skipped user `erin` (fba id 5): email taken@example.com belongs to local user `localerin`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("failed user `bad name!` (fba id 7)"),
        "{stderr}"
    );
    // Emails are compared as Portcullis stores them (lower-case): two fba rows meet here.
    assert!(
        stderr.contains(
            "skipped user `alicia` (fba id 8): fba user 1 of this import has the same email"
        ),
        "{stderr}"
    );
    assert_eq!(
        login_status(&app, "alice", "alice-pass-1").await,
        400,
        "a dry run writes nothing"
    );

    let (ok, stdout, _) = import(&app, &fba, false);
    assert!(!ok);
    assert_eq!(summary(&stdout), expected, "the dry run counted the same");

    // The bcrypt password works (and is rehashed); a superuser stays one.
    let alice = app.login("alice", "alice-pass-1").await;
    assert_eq!(alice["user"]["is_superuser"], true);
    assert_eq!(alice["user"]["uuid"], ALICE_UUID);
    assert_eq!(alice["user"]["email"], "alice@example.com");
    let joined = alice["user"]["created_at"].as_str().unwrap();
    assert!(
        joined.starts_with("2024-03-01T00:00:00"),
        "fba's join time, in UTC: {joined}"
    );
    app.login("alice", "alice-pass-1").await;

    // Codes: those of the user's enabled roles' enabled menus.
    let bob = token(&app.login("bob", "bob-pass-22").await, "access_token");
    let codes: Value = app.get_auth_json("/api/v1/auth/codes", &bob).await;
    assert_eq!(
        codes["data"],
        serde_json::json!([
            "log:login:del",
            "log:login:view",
            "sys:user:add",
            "sys:user:edit"
        ])
    );
    let me = app.get_auth_json("/api/v1/sys/users/me", &bob).await;
    let mut roles: Vec<&str> = me["data"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    roles.sort_unstable();
    assert_eq!(roles, ["auditor", "ops"], "a disabled role is not shown");

    // A disabled fba user cannot log in: the same answer as a wrong password.
    let wrong = login_status(&app, "bob", "not-bobs-password").await;
    assert_eq!(login_status(&app, "carol", "carol-pass-3").await, wrong);
    // A social-only user has no password here either.
    assert_eq!(login_status(&app, "dave", "anything-at-all").await, wrong);
    // A conflict was left alone: erin was not created, localerin keeps the email.
    assert_eq!(login_status(&app, "erin", "erin-pass-44").await, wrong);
    // frank is the local frank, updated from fba; his local password stays.
    let frank = token(&app.login("frank", PASSWORD).await, "access_token");
    let me = app.get_auth_json("/api/v1/sys/users/me", &frank).await;
    assert_eq!(me["data"]["nickname"], "Frank from fba");

    // A second run changes nothing, though alice's password is Argon2id now.
    let (_, stdout, _) = import(&app, &fba, false);
    assert_eq!(
        summary(&stdout),
        [
            "users:    0 created, 0 updated, 5 unchanged, 2 skipped, 1 failed",
            "roles:    0 created, 0 updated, 3 unchanged, 0 skipped, 0 failed",
            "bindings: 0 created, 0 updated, 1 unchanged, 0 skipped, 0 failed",
        ]
    );
    app.login("alice", "alice-pass-1").await;

    // A change in fba follows on the next run: bob is disabled there (his session ends here),
    // renamed, and a new fba user takes the name `bob`: that one is not given bob's account.
    fba.exec(
        "UPDATE sys_user SET status = 0, username = 'robert' WHERE id = 2;
         INSERT INTO sys_user (id, uuid, username, nickname, password, status)
         VALUES (9, '7e6d5c4b-3a2f-4e1d-8c0b-a9f8e7d6c509', 'bob', 'New Bob', NULL, 1);
         INSERT INTO sys_user_role (user_id, role_id) VALUES (9, 1);",
    )
    .await;
    let (_, stdout, stderr) = import(&app, &fba, false);
    assert_eq!(
        summary(&stdout)[0],
        "users:    0 created, 1 updated, 4 unchanged, 3 skipped, 1 failed"
    );
    assert!(
        stderr.contains("skipped user `bob` (fba id 9): local user `bob` is another fba user"),
        "{stderr}"
    );
    // The command line's change reaches the running server through the invalidation log.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while app.me(&bob).await.status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "bob's session outlived the import"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // alice is the only enabled superuser here: fba demoting her is refused, and a dry run
    // says so as the real run does.
    fba.exec("UPDATE sys_user SET is_superuser = false WHERE id = 1")
        .await;
    let refused = "users:    0 created, 0 updated, 4 unchanged, 3 skipped, 2 failed";
    let (_, stdout, stderr) = import(&app, &fba, true);
    assert_eq!(summary(&stdout)[0], refused);
    assert!(
        stderr.contains("failed user `alice` (fba id 1): this would leave no enabled superuser"),
        "{stderr}"
    );
    let (_, stdout, _) = import(&app, &fba, false);
    assert_eq!(summary(&stdout)[0], refused);
    let alice = app.login("alice", "alice-pass-1").await;
    assert_eq!(alice["user"]["is_superuser"], true);
}

#[actix_web::test]
async fn an_unreachable_fba_database_is_a_clear_error() {
    let app = spawn_app().await;
    let out = portcullis(
        &app,
        &[
            "import",
            "fba",
            "--database-url",
            "postgres://postgres:hunter2@127.0.0.1:1/fba",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot read the fba database"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the password is not shown: {stderr}"
    );
}
