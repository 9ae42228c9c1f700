use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::*;

/// Runs the real binary against the test app's database and store.
pub fn portcullis(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
        .env("PORTCULLIS__DATA__DIR", &app.settings.data.dir)
        .env("PORTCULLIS__DATABASE__URL", &app.settings.database.url)
        .env("PORTCULLIS__REDIS__URL", &app.settings.redis.url)
        .env(
            "PORTCULLIS__REDIS__CLUSTER_URLS",
            app.settings.redis.cluster_urls.join(","),
        )
        .env(
            "PORTCULLIS__REDIS__KEY_PREFIX",
            &app.settings.redis.key_prefix,
        )
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("portcullis binary");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn user_import_reports_bad_rows_by_line_and_imports_the_rest() {
    let app = spawn_app().await;
    app.create_user("existing").await;
    let csv = "username,password,email,nickname,superuser\n\
               alice1,alice-password-1,alice@example.com,Alice,false\n\
               bobby2,short,,,\n\
               carol1,carol-password-1,not-an-email,,\n\
               dave1,dave-password-1,,Dave,yes\n\
               existing,whatever-password,,,\n\
               erin1,erin-password-1,,,maybe\n";
    let file = app.settings.data.dir.join("users.csv");
    std::fs::write(&file, csv).unwrap();
    let out = portcullis(&app, &["user", "import", file.to_str().unwrap()], None);
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "bad rows make the exit code non-zero"
    );
    assert!(
        stdout.contains("imported 2 user(s); 1 already existed; 3 row(s) with errors"),
        "{stdout}\n{stderr}"
    );
    for line in [
        "line 3: password",
        "line 4: email",
        "line 6: `existing` already exists",
        "line 7: superuser",
    ] {
        assert!(stderr.contains(line), "missing `{line}` in:\n{stderr}");
    }
    app.login("alice1", "alice-password-1").await;
    let dave = app.login("dave1", "dave-password-1").await;
    assert_eq!(dave["user"]["is_superuser"], true);
    assert!(app.repo.user_by_username("bobby2").await.unwrap().is_none());

    let jsonl =
        "{\"username\":\"frank1\",\"password\":\"frank-password-1\"}\n{\"username\":\"x\"\n";
    let file = app.settings.data.dir.join("users.jsonl");
    std::fs::write(&file, jsonl).unwrap();
    let out = portcullis(&app, &["user", "import", file.to_str().unwrap()], None);
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("imported 1 user(s)"), "{stdout}");
    assert!(stderr.contains("line 2:"), "{stderr}");
    app.login("frank1", "frank-password-1").await;
}

#[actix_web::test]
async fn user_create_reads_the_password_from_stdin_and_validates() {
    let app = spawn_app().await;
    let out = portcullis(
        &app,
        &["user", "create", "--username", "gina", "--password-stdin"],
        Some("gina-password-1\n"),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(text(&out).1, "", "nothing on standard error but problems");
    app.login("gina", "gina-password-1").await;

    // A refusal, said once, on one line.
    let out = portcullis(
        &app,
        &["user", "create", "--username", "hugo", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    let stderr = text(&out).1;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("password must be").count(), 1, "{stderr}");

    let out = portcullis(
        &app,
        &["user", "create", "--username", "h", "--password-stdin"],
        Some("long-enough-1\n"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("username must be"),
        "{:?}",
        text(&out)
    );

    let out = portcullis(
        &app,
        &[
            "user",
            "set-password",
            "--username",
            "gina",
            "--password-stdin",
        ],
        Some("gina-password-2\n"),
    );
    assert!(out.status.success(), "{:?}", text(&out));
    app.login("gina", "gina-password-2").await;

    let out = portcullis(&app, &["user", "disable", "--username", "nobody"], None);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("no user named `nobody`"));
}

#[actix_web::test]
async fn config_check_names_the_key_and_the_fix() {
    let app = spawn_app().await;
    let out = portcullis(&app, &["config", "check"], None);
    assert!(out.status.success(), "{:?}", text(&out));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    let out = cmd
        .env_clear()
        .env("PORTCULLIS_PROFILE", "production")
        .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
        .env("PORTCULLIS__JWT__SECRET", "too-short")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PORTCULLIS__JWT__SECRET")
            && stderr.contains("PORTCULLIS__REDIS__URL")
            && stderr.contains("PORTCULLIS__MFA__ENCRYPTION_KEY"),
        "{stderr}"
    );
    // Production names PostgreSQL: an empty database URL is not quietly SQLite.
    assert!(stderr.contains("PORTCULLIS__DATABASE__URL"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .env_clear()
        .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
        .env("PORTCULLIS__SERVER__PROT", "1")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("prot"));
}

#[actix_web::test]
async fn config_check_connect_reports_each_dependency() {
    let app = spawn_app().await;
    let out = portcullis(&app, &["config", "check", "--connect"], None);
    assert!(out.status.success(), "{:?}", text(&out));
    let stdout = text(&out).0;
    assert!(stdout.contains("database: reachable"), "{stdout}");
    if production_mode() {
        assert!(stdout.contains("store:    reachable"), "{stdout}");
    }

    // A database that is not there: named, and the exit status says so.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    let out = cmd
        .env_clear()
        .env("PORTCULLIS_CONFIG_DIR", "/nonexistent")
        .env(
            "PORTCULLIS__DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/nowhere",
        )
        .env("PORTCULLIS__DATABASE__STATEMENT_TIMEOUT_MS", "2000")
        .args(["config", "check", "--connect"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).0.contains("database: NOT reachable"),
        "{:?}",
        text(&out)
    );
}
