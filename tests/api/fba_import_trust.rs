//! What an fba row may take over: nothing. Bindings go only onto fba's own accounts (made by an
//! import, matched by uuid) and never onto a superuser; a uuid names a local account only if an
//! import made it.

use crate::fba_import::{fba_hash, import, login_status, summary, FbaDb};
use crate::helpers::*;

/// The provider identities bound to a local user.
async fn bindings(app: &TestApp, username: &str) -> Vec<(String, String)> {
    let user = app.repo.user_by_username(username).await.unwrap().unwrap();
    app.repo
        .socials_of(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(provider, id, _)| (provider, id))
        .collect()
}

#[actix_web::test]
async fn social_logins_go_only_onto_fba_accounts_and_never_onto_a_superuser() {
    let app = spawn_app().await;
    // A local superuser of the same name as fba's, and a local user of another fba name.
    app.create_user_with("admin", PASSWORD, true).await;
    app.create_user("gina").await;
    let fba = FbaDb::create().await;
    let hash = fba_hash("fba-admin-pass");
    fba.exec(&format!(
        "INSERT INTO sys_user (id, uuid, username, nickname, password, status, is_superuser,
                               is_staff, is_multi_login, join_time)
         VALUES
          (1, '11111111-1111-4111-8111-111111111101', 'admin', 'fba admin', '{hash}', 1, true, true, true, now()),
          (2, '11111111-1111-4111-8111-111111111102', 'gina', 'Gina', NULL, 1, false, false, true, now()),
          (3, '11111111-1111-4111-8111-111111111103', 'root', 'fba root', '{hash}', 1, true, true, true, now()),
          (4, '11111111-1111-4111-8111-111111111104', 'hugo', 'Hugo', NULL, 1, false, false, true, now());
         INSERT INTO sys_user_social (sid, source, user_id) VALUES
          ('7001', 'Github', 1), ('7002', 'Github', 2), ('7003', 'Github', 3), ('7004', 'Github', 4);",
    ))
    .await;

    let expected = [
        "users:    2 created, 2 updated, 0 unchanged, 0 skipped, 0 failed",
        "roles:    0 created, 0 updated, 0 unchanged, 0 skipped, 0 failed",
        "bindings: 1 created, 0 updated, 0 unchanged, 3 skipped, 0 failed",
    ];
    for dry_run in [true, false] {
        let (ok, stdout, stderr) = import(&app, &fba, dry_run);
        assert!(ok, "{stderr}");
        assert_eq!(summary(&stdout), expected, "dry run: {dry_run}");
        for (fba_id, why) in [
            (1, "its user matched a local account by username only"),
            (2, "its user matched a local account by username only"),
            (3, "a superuser's social logins are not imported"),
        ] {
            let line = format!("skipped Github binding of fba user {fba_id}: {why}");
            assert!(stderr.contains(&line), "{line}: {stderr}");
        }
    }
    assert!(
        bindings(&app, "admin").await.is_empty(),
        "the local superuser"
    );
    assert!(bindings(&app, "gina").await.is_empty(), "a name-only match");
    assert!(bindings(&app, "root").await.is_empty(), "fba's superuser");
    assert_eq!(
        bindings(&app, "hugo").await,
        [("github".to_owned(), "7004".to_owned())],
        "fba's own, ordinary account"
    );
    // The local admin keeps its own password; fba's does not sign in as it.
    assert_eq!(login_status(&app, "admin", "fba-admin-pass").await, 400);
    assert_eq!(login_status(&app, "admin", PASSWORD).await, 200);
}

#[actix_web::test]
async fn a_row_carrying_a_local_users_uuid_does_not_take_the_account() {
    let app = spawn_app().await;
    let id = app.create_user("ivy").await;
    let ivy = app.repo.user_by_id(id).await.unwrap().unwrap();
    let fba = FbaDb::create().await;
    let hash = fba_hash("mallory-pass-1");
    fba.exec(&format!(
        "INSERT INTO sys_user (id, uuid, username, nickname, password, status, is_superuser,
                               is_staff, is_multi_login, join_time)
         VALUES (1, '{}', 'mallory', 'Mallory', '{hash}', 1, true, true, true, now());
         INSERT INTO sys_user_social (sid, source, user_id) VALUES ('7100', 'Github', 1);",
        ivy.uuid
    ))
    .await;
    for dry_run in [true, false] {
        let (_, stdout, stderr) = import(&app, &fba, dry_run);
        assert_eq!(
            summary(&stdout)[0],
            "users:    0 created, 0 updated, 0 unchanged, 1 skipped, 0 failed",
            "dry run: {dry_run}"
        );
        assert!(
            stderr.contains("its uuid is local user `ivy`'s, which no import created"),
            "{stderr}"
        );
    }
    let after = app.repo.user_by_id(id).await.unwrap().unwrap();
    assert_eq!(after.username, "ivy");
    assert!(!after.is_superuser, "no flag came over");
    assert_eq!(after.password_hash, ivy.password_hash, "no hash came over");
    assert!(bindings(&app, "ivy").await.is_empty());
    assert_eq!(login_status(&app, "mallory", "mallory-pass-1").await, 400);
    assert_eq!(login_status(&app, "ivy", "mallory-pass-1").await, 400);
}
