//! API clients (issue 20, items 6, 9, 10, 12): what introspection tells each client, how its
//! credentials are kept and limited, and what the event feed costs and caps. Every mode.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::cli::portcullis;
use crate::helpers::*;

fn cli_ok(app: &TestApp, args: &[&str]) {
    let out = portcullis(app, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestApp {
    async fn events(&self, client: (&str, &str)) -> reqwest::Response {
        self.client
            .get(self.url("/api/v1/auth/events"))
            .basic_auth(client.0, Some(client.1))
            .send()
            .await
            .unwrap()
    }
}

/// The fields of an answer, sorted.
fn fields(body: &Value) -> Vec<String> {
    let mut f: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    f.sort();
    f
}

#[actix_web::test]
async fn introspection_tells_each_client_only_the_claims_it_was_granted() {
    let app = spawn_app().await;
    app.create_user_full("uma", PASSWORD, Some("uma@example.com"), false)
        .await;
    let t = token(&app.login("uma", PASSWORD).await, "access_token");

    let plain = app.api_client_with("plain-api", &[]);
    let body: Value = app
        .introspect(("plain-api", &plain), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        fields(&body),
        [
            "active",
            "exp",
            "portcullis_log_position",
            "scope",
            "sub",
            "username"
        ],
        "the default set: {body}"
    );

    // Item 10: an address nobody verified is not passed on, not even inside `user`.
    let mail = app.api_client_with("mail-api", &["--claims", "email,email_verified,user"]);
    let body: Value = app
        .introspect(("mail-api", &mail), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["email_verified"], false, "{body}");
    assert!(body.get("email").is_none(), "{body}");
    assert!(body["user"]["email"].is_null(), "{body}");
    assert_eq!(body["user"]["username"], "uma");
    assert!(body.get("sub").is_none(), "not granted: {body}");

    let (id, verified_user) = (
        app.create_user_full("vic", PASSWORD, Some("vic@example.com"), false)
            .await,
        "vic",
    );
    app.repo.set_email_verified(id, true).await.unwrap();
    let t = token(&app.login(verified_user, PASSWORD).await, "access_token");
    let body: Value = app
        .introspect(("mail-api", &mail), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["email"], "vic@example.com", "{body}");
    assert_eq!(body["email_verified"], true);
    assert_eq!(body["user"]["email"], "vic@example.com");

    let out = portcullis(
        &app,
        &["client", "create", "--id", "bad-api", "--claims", "phone"],
        None,
    );
    assert!(!out.status.success(), "an unknown claim is refused");
}

#[actix_web::test]
async fn a_client_registered_for_an_audience_sees_only_tokens_for_it() {
    let app = spawn_app().await;
    app.create_user("ada").await;
    let t = token(&app.login("ada", PASSWORD).await, "access_token");
    let other = app.api_client_with("other-api", &["--audience", "billing"]);
    let body: Value = app
        .introspect(("other-api", &other), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, serde_json::json!({"active": false}));
    let ours = app.api_client_with("ours-api", &["--audience", &app.settings.jwt.audience]);
    let body: Value = app
        .introspect(("ours-api", &ours), &t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true, "{body}");
}

#[actix_web::test]
async fn verified_client_credentials_are_kept_until_the_log_says_the_client_is_gone() {
    let app = spawn_app().await;
    app.wait_for_invalidation_link().await;
    let secret = app.api_client_with("kept-api", &[]);
    let client = ("kept-api", secret.as_str());
    assert_eq!(app.introspect(client, "-").await.status(), 200);
    // Removed behind the server's back (no invalidation): memory still answers, so the
    // database was not read for this call.
    assert_eq!(app.repo.delete_client("kept-api").await.unwrap(), 1);
    assert_eq!(app.introspect(client, "-").await.status(), 200);

    // Made again and deleted with the CLI, which says so in the log: refused at once.
    let secret = app.api_client_with("gone-api", &[]);
    let client = ("gone-api", secret.as_str());
    assert_eq!(app.introspect(client, "-").await.status(), 200);
    cli_ok(&app, &["client", "delete", "--id", "gone-api"]);
    let started = Instant::now();
    while app.introspect(client, "-").await.status() == 200 {
        assert!(started.elapsed() < Duration::from_secs(3), "still let in");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.introspect(client, "-").await.status(), 401);
}

#[actix_web::test]
async fn failed_client_authentications_are_limited_per_id_and_per_address() {
    let (mut s, res) = test_settings().await;
    s.api_clients.max_failures = 3;
    s.api_clients.failure_window_seconds = 60;
    let app = spawn_with(s, res).await;
    app.wait_for_invalidation_link().await;
    let secret = app.api_client_with("busy-api", &[]);
    let good = ("busy-api", secret.as_str());
    assert_eq!(
        app.introspect(good, "-").await.status(),
        200,
        "now in memory"
    );
    for _ in 0..3 {
        assert_eq!(
            app.introspect(("busy-api", "guess"), "-").await.status(),
            401
        );
    }
    let res = app.introspect(("busy-api", "guess"), "-").await;
    assert_eq!(res.status(), 429);
    let wait: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        app.introspect(good, "-").await.status(),
        200,
        "someone guessing its id does not lock a client out"
    );
    // The address is spent too: another client, not in memory yet, is not even looked up.
    let other = app.api_client_with("idle-api", &[]);
    assert_eq!(
        app.introspect(("idle-api", &other), "-").await.status(),
        429
    );
    app.clock.advance(61);
    assert_eq!(
        app.introspect(("idle-api", &other), "-").await.status(),
        200
    );
}

/// Reads the stream until an event of this kind, at most `limit`.
async fn until_event(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Unpin),
    kind: &str,
    limit: Duration,
) -> bool {
    let mut seen = String::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match tokio::time::timeout(deadline - Instant::now(), body.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
        if seen.contains(&format!("event: {kind}")) {
            return true;
        }
    }
    false
}

#[actix_web::test]
async fn event_streams_are_capped_per_client_and_in_all() {
    let (mut s, res) = test_settings().await;
    s.events.max_streams_per_client = 2;
    s.events.max_streams = 3;
    let app = spawn_with(s, res).await;
    app.wait_for_invalidation_link().await;
    let a = app.api_client_with("feed-a", &[]);
    let b = app.api_client_with("feed-b", &[]);
    let a1 = app.events(("feed-a", &a)).await;
    let a2 = app.events(("feed-a", &a)).await;
    assert_eq!((a1.status().as_u16(), a2.status().as_u16()), (200, 200));
    let res = app.events(("feed-a", &a)).await;
    assert_eq!(res.status(), 503, "a third of one client");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.events(("feed-b", &b)).await.status(), 200);
    let _b1 = app.events(("feed-b", &b)).await;
    let res = app.events(("feed-b", &b)).await;
    assert_eq!(res.status(), 503, "a fourth in all");
    // A stream that ends gives its place back (the server sees the hang-up when a heartbeat's
    // write fails, and the stream's task at its next send: a few seconds on a loaded machine).
    drop(a1);
    let started = Instant::now();
    loop {
        let res = app.events(("feed-a", &a)).await;
        if res.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the place never came back"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    drop(a2);
}

#[actix_web::test]
async fn a_deleted_clients_open_streams_end() {
    let app = spawn_app().await;
    app.wait_for_invalidation_link().await;
    let secret = app.api_client_with("doomed-api", &[]);
    let mut stream = app.events(("doomed-api", &secret)).await.bytes_stream();
    assert!(until_event(&mut stream, "ready", Duration::from_secs(3)).await);
    cli_ok(&app, &["client", "delete", "--id", "doomed-api"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let ended = loop {
        match tokio::time::timeout(deadline - Instant::now(), stream.next()).await {
            Ok(None) | Ok(Some(Err(_))) => break true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => break false,
        }
    };
    assert!(ended, "the stream of a deleted client goes on");
}

#[actix_web::test]
async fn every_event_stream_is_fed_by_the_nodes_one_log_reader() {
    let app = spawn_app().await;
    app.wait_for_invalidation_link().await;
    app.create_user("lea").await;
    let secret = app.api_client_with("many-api", &["--claims", "sub"]);
    let mut streams = Vec::new();
    for _ in 0..12 {
        let mut body = app.events(("many-api", &secret)).await.bytes_stream();
        assert!(until_event(&mut body, "ready", Duration::from_secs(3)).await);
        streams.push(body);
    }
    if production_mode() && cluster_urls().is_empty() {
        // Each reader of the log names its Redis connection `{prefix}:feed`.
        let mut conn = redis::Client::open(app.settings.redis.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .unwrap();
        let name = format!("name={}:feed ", app.settings.redis.key_prefix);
        let readers = list.lines().filter(|l| l.contains(&name)).count();
        assert_eq!(readers, 1, "one log reader for 12 streams:\n{list}");
    }
    // And each of them hears a logout.
    let data = app.login("lea", PASSWORD).await;
    let t = token(&data, "access_token");
    assert_eq!(app.post_auth("/api/v1/auth/logout", &t).await.status(), 200);
    for body in &mut streams {
        assert!(until_event(body, "invalidation", Duration::from_secs(3)).await);
    }
}
