//! Two nodes sharing PostgreSQL and Redis: what one ends, the other refuses. Production mode
//! only: embedded nodes share nothing by design.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::portcullis;
use crate::helpers::*;

async fn two_nodes() -> Option<(TestApp, TestApp)> {
    if !production_mode() {
        eprintln!("multi-node behaviour is exercised with PORTCULLIS_TEST_MODE=production");
        return None;
    }
    let (settings, dir) = test_settings().await;
    let a = spawn_with(settings.clone(), dir.clone()).await;
    let b = spawn_with(settings, dir).await;
    Some((a, b))
}

/// Polls node `b` until it refuses `token`; returns how long that took.
async fn refused_within(b: &TestApp, token: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if b.me(token).await.status() == 401 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "node B still accepts the token after {limit:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
}

#[actix_web::test]
async fn logout_on_one_node_is_refused_on_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    a.create_user("nina").await;
    let data = a.login("nina", PASSWORD).await;
    let access = token(&data, "access_token");
    // Node B has the session and the user in memory now.
    assert_eq!(b.me(&access).await.status(), 200);
    assert_eq!(b.me(&access).await.status(), 200);

    assert_eq!(
        a.post_auth("/api/v1/auth/logout", &access).await.status(),
        200
    );
    let took = refused_within(&b, &access, Duration::from_millis(500)).await;
    eprintln!("revocation reached node B in {took:?}");
}

#[actix_web::test]
async fn password_change_on_one_node_ends_sessions_on_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    a.create_user("oscar").await;
    let keep = token(&a.login("oscar", PASSWORD).await, "access_token");
    let other = token(&b.login("oscar", PASSWORD).await, "access_token");
    assert_eq!(b.me(&other).await.status(), 200);
    let res = a
        .client
        .put(a.url("/api/v1/sys/users/me/password"))
        .bearer_auth(&keep)
        .json(&json!({"old_password": PASSWORD, "new_password": "another secret 1", "confirm_password": "another secret 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    refused_within(&b, &other, Duration::from_millis(500)).await;
    assert_eq!(
        b.me(&keep).await.status(),
        200,
        "the session that changed it stays"
    );
}

#[actix_web::test]
async fn disabling_with_the_cli_is_refused_on_every_node() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    a.create_user("pia").await;
    let on_a = token(&a.login("pia", PASSWORD).await, "access_token");
    let on_b = token(&b.login("pia", PASSWORD).await, "access_token");
    assert_eq!(a.me(&on_a).await.status(), 200);
    assert_eq!(b.me(&on_b).await.status(), 200);

    let out = portcullis(&a, &["user", "disable", "--username", "pia"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ended 2 session(s)"));
    refused_within(&a, &on_a, Duration::from_millis(500)).await;
    refused_within(&b, &on_b, Duration::from_millis(500)).await;
    let res = b
        .post_login(&json!({"username": "pia", "password": PASSWORD}))
        .await;
    assert_error(res, 400, "invalid_credentials").await;

    let out = portcullis(&a, &["sessions", "revoke", "--username", "pia"], None);
    assert!(out.status.success());
    let out = portcullis(&a, &["user", "enable", "--username", "pia"], None);
    assert!(out.status.success());
    b.login("pia", PASSWORD).await;
}

#[actix_web::test]
async fn a_node_without_its_invalidation_link_reads_the_store_instead_of_memory() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let uid = a.create_user("quincy").await;
    let access = token(&a.login("quincy", PASSWORD).await, "access_token");
    assert_eq!(b.me(&access).await.status(), 200);
    // Cut the nodes' connections that follow the invalidation log. Until a node reads the log
    // again it must not answer from memory: an invalidation meanwhile would be lost to it.
    let prefix = &a.settings.redis.key_prefix;
    let cluster = !cluster_urls().is_empty();
    let mut killed = 0;
    for node in redis_nodes() {
        let client = redis::Client::open(node.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .unwrap();
        for line in clients.lines() {
            // One Redis: the readers are named. A cluster's are not: every reader of a stream.
            let ours = if cluster {
                line.contains(" cmd=xread ")
            } else {
                line.contains(&format!("name={prefix}:feed "))
            };
            if ours {
                let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
                let _: i64 = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("ID")
                    .arg(id)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                killed += 1;
            }
        }
    }
    assert!(killed >= 2, "one log reader per node, {killed} found");
    if cluster {
        // The cluster client reconnects at once and resumes reading after the last entry it
        // read: what is appended meanwhile is not missed.
        assert_eq!(
            a.post_auth("/api/v1/auth/logout", &access).await.status(),
            200
        );
        refused_within(&b, &access, Duration::from_millis(2000)).await;
        return;
    }
    // End the session in the store directly, with no invalidation at all.
    let sid = access_sid(&access);
    let key = format!("{prefix}:{{u:{uid}}}:sessions");
    let deleted: i64 = if cluster {
        let client = redis::cluster::ClusterClient::new(cluster_urls()).unwrap();
        let mut conn = client.get_async_connection().await.unwrap();
        redis::cmd("HDEL")
            .arg(&key)
            .arg(&sid)
            .query_async(&mut conn)
            .await
            .unwrap()
    } else {
        let client = redis::Client::open(REDIS_URL).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("HDEL")
            .arg(&key)
            .arg(&sid)
            .query_async(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(deleted, 1);
    refused_within(&b, &access, Duration::from_millis(2000)).await;
}

fn access_sid(access: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let payload = access.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}
