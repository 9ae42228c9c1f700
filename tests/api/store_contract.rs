//! The hot store's contract: the same cases against the store of the mode under test (the
//! embedded store on a fresh SQLite file; Redis on a throwaway database number and prefix).
//! The session rules are decided above the store; here only the primitives are checked.

use std::sync::Arc;

use portcullis::db::{self, Db};
use portcullis::domain::{EventId, Invalidation, SessionRecord};
use portcullis::metrics::Metrics;
use portcullis::store::{EmbeddedStore, Once, RedisStore, SessionChange, Store, UserSessions};

use crate::helpers::*;

struct Subject {
    store: Store,
    /// Redis: the prefix to clean up.
    prefix: Option<String>,
    _dir: tempfile::TempDir,
}

const CONTRACT_REDIS: &str = "redis://127.0.0.1:6379/9";

async fn subject() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    if production_mode() {
        let prefix = format!("contract:{}", uuid::Uuid::new_v4().simple());
        let deadline = std::time::Duration::from_secs(5);
        let cluster = cluster_urls();
        let url = if cluster.is_empty() {
            CONTRACT_REDIS
        } else {
            ""
        };
        let redis = RedisStore::connect(url, &cluster, &prefix, 8, deadline)
            .await
            .unwrap();
        Subject {
            store: Store::redis(redis, Metrics::default(), deadline),
            prefix: Some(prefix),
            _dir: dir,
        }
    } else {
        let kind = portcullis::config::DatabaseKind::Sqlite(dir.path().join("store.db"));
        db::migrate(&kind).await.unwrap();
        let pool = Db::open(&kind, 4, std::time::Duration::from_secs(5)).unwrap();
        Subject {
            store: Store::embedded(
                EmbeddedStore::new(pool),
                Metrics::default(),
                std::time::Duration::from_secs(5),
            ),
            prefix: None,
            _dir: dir,
        }
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        let Some(prefix) = self.prefix.take() else {
            return;
        };
        let nodes = match cluster_urls() {
            c if c.is_empty() => vec![CONTRACT_REDIS.to_owned()],
            c => c,
        };
        for node in nodes {
            delete_keys(&node, &format!("{prefix}:*"));
        }
    }
}

fn record(uid: i64, n: i64, now: i64) -> SessionRecord {
    SessionRecord {
        sid: format!("{n:032x}"),
        uid,
        seq: n,
        method: "password".into(),
        ip: "127.0.0.1".into(),
        user_agent: String::new(),
        os: None,
        browser: None,
        device: None,
        created_at: now,
        last_refresh_at: now,
        auth_time: now,
        amr: Default::default(),
        expires_at: now + 1000,
        refresh_expires_at: now + 100,
        refresh_hash: format!("h{n}"),
        grace: None,
        spent: vec![],
        bindings: vec![],
        browser_hash: None,
        client: None,
        parent: None,
    }
}

fn put(r: &SessionRecord) -> SessionChange {
    SessionChange::Put(Box::new(r.clone()))
}

const NOW: i64 = 1_000_000;

#[actix_web::test]
async fn sessions_change_only_from_the_version_they_were_read_at() {
    let s = subject().await;
    let store = &s.store;
    let empty = store.sessions_of(7).await.unwrap();
    assert_eq!(empty, UserSessions::default());

    let (a, b) = (record(7, 1, NOW), record(7, 2, NOW));
    assert!(store
        .commit_sessions(7, &empty.commit(vec![put(&b), put(&a)]), NOW)
        .await
        .unwrap());
    let read = store.sessions_of(7).await.unwrap();
    assert_eq!(read.sessions, vec![a.clone(), b.clone()], "oldest first");
    assert!(read.version > 0);
    assert_eq!(store.session(7, &a.sid).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.session(8, &a.sid).await.unwrap(),
        None,
        "another user's id finds nothing"
    );

    // A change decided from an old read is refused and applies nothing.
    let stale = empty.commit(vec![SessionChange::Delete(a.sid.clone())]);
    assert!(!store.commit_sessions(7, &stale, NOW).await.unwrap());
    assert_eq!(store.sessions_of(7).await.unwrap().sessions.len(), 2);

    // Updating and deleting from the current version.
    let mut a2 = a.clone();
    a2.refresh_hash = "h1-next".into();
    let commit = read.commit(vec![put(&a2), SessionChange::Delete(b.sid.clone())]);
    assert!(store.commit_sessions(7, &commit, NOW).await.unwrap());
    let read = store.sessions_of(7).await.unwrap();
    assert_eq!(read.sessions, vec![a2.clone()]);

    // Removing the last one leaves nothing behind.
    let commit = read.commit(vec![SessionChange::Delete(a2.sid.clone())]);
    assert_eq!(commit.keep_until, None);
    assert!(store.commit_sessions(7, &commit, NOW).await.unwrap());
    assert!(store.sessions_of(7).await.unwrap().sessions.is_empty());
}

#[actix_web::test]
async fn of_many_concurrent_changes_from_one_read_exactly_one_lands() {
    let s = subject().await;
    let store = Arc::new(s.store.clone());
    let read = store.sessions_of(9).await.unwrap();
    let attempts = (0..20).map(|i| {
        let store = store.clone();
        let commit = read.commit(vec![put(&record(9, 100 + i, NOW))]);
        async move { store.commit_sessions(9, &commit, NOW).await.unwrap() }
    });
    let won = futures_util::future::join_all(attempts).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1);
    assert_eq!(store.sessions_of(9).await.unwrap().sessions.len(), 1);
}

#[actix_web::test]
async fn single_use_values_are_taken_once_and_expire() {
    let s = subject().await;
    let store = &s.store;
    store
        .put_once(Once::Captcha, "c1", "ab3k", 60, NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .take_once(Once::Captcha, "c1", NOW)
            .await
            .unwrap()
            .as_deref(),
        Some("ab3k")
    );
    assert_eq!(
        store.take_once(Once::Captcha, "c1", NOW).await.unwrap(),
        None,
        "used up"
    );
    store
        .put_once(Once::OAuthState, "s1", "x", 60, NOW)
        .await
        .unwrap();
    assert_eq!(
        store.take_once(Once::Captcha, "s1", NOW).await.unwrap(),
        None,
        "namespaces apart"
    );
    assert_eq!(
        store
            .take_once(Once::OAuthState, "s1", NOW + 61)
            .await
            .unwrap(),
        None,
        "expired"
    );
}

#[actix_web::test]
async fn counters_count_and_expire() {
    let s = subject().await;
    let store = &s.store;
    assert_eq!(store.get_number("k", NOW).await.unwrap(), None);
    for expected in 1..=3 {
        assert_eq!(store.incr("k", 60, NOW).await.unwrap(), expected);
    }
    store.set_number("lock", NOW + 300, 300, NOW).await.unwrap();
    assert_eq!(
        store.get_number("lock", NOW).await.unwrap(),
        Some(NOW + 300)
    );
    store
        .remove_numbers(&["k".into(), "lock".into()])
        .await
        .unwrap();
    assert_eq!(store.get_number("k", NOW).await.unwrap(), None);
    assert_eq!(store.get_number("lock", NOW).await.unwrap(), None);
}

#[actix_web::test]
async fn the_invalidation_log_is_read_in_order_from_any_position() {
    let s = subject().await;
    let store = &s.store;
    let mut feed = store.feed().await.unwrap();
    let start = feed.head().await.unwrap();
    let first = store
        .append(&Invalidation::Session("s1".into()), NOW)
        .await
        .unwrap();
    let second = store.append(&Invalidation::User(5), NOW).await.unwrap();
    let third = store.append(&Invalidation::Roles, NOW).await.unwrap();
    assert!(start < first && first < second && second < third);
    let batch = feed.next(start).await.unwrap();
    assert!(!batch.gap);
    let got: Vec<(EventId, Invalidation)> = batch.events;
    assert_eq!(
        got,
        vec![
            (first, Invalidation::Session("s1".into())),
            (second, Invalidation::User(5)),
            (third, Invalidation::Roles)
        ]
    );
    // A reader that was away resumes after what it read.
    let mut other = store.feed().await.unwrap();
    let batch = other.next(first).await.unwrap();
    assert_eq!(
        batch.events.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![second, third]
    );
    // Nothing new: an empty answer within the block time, which proves the link.
    let started = std::time::Instant::now();
    assert!(feed.next(third).await.unwrap().events.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[actix_web::test]
async fn users_with_live_sessions_are_listed_without_a_scan() {
    let s = subject().await;
    let store = &s.store;
    for uid in [3, 1, 2] {
        let read = store.sessions_of(uid).await.unwrap();
        let commit = read.commit(vec![put(&record(uid, uid, NOW))]);
        assert!(store.commit_sessions(uid, &commit, NOW).await.unwrap());
    }
    let (page, total) = store.online_users(NOW, 0, 2).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.len(), 2);
    let (rest, _) = store.online_users(NOW, 2, 2).await.unwrap();
    let mut all: Vec<i64> = page.into_iter().chain(rest).collect();
    all.sort();
    assert_eq!(all, vec![1, 2, 3]);
    let (later, total) = store.online_users(NOW + 200, 0, 10).await.unwrap();
    assert!(
        later.is_empty() && total == 0,
        "sessions past their end are not online"
    );
}

/// The node's log reader gives up on a log that does not answer in time; a read it gives up on
/// must not take the process down (diesel-async panics when a SQLite call is dropped half-way on
/// a single-threaded runtime) and the log must read as before afterwards.
#[actix_web::test]
async fn a_log_read_given_up_half_way_leaves_the_log_readable() {
    let s = subject().await;
    let mut feed = s.store.feed().await.unwrap();
    let head = feed.head().await.unwrap();
    for _ in 0..20 {
        // Polled once (the query starts), then dropped.
        let _ = tokio::time::timeout(std::time::Duration::ZERO, feed.next(head)).await;
        let _ = tokio::time::timeout(std::time::Duration::ZERO, feed.head()).await;
    }
    s.store.append(&Invalidation::User(7), 0).await.unwrap();
    let batch = feed.next(head).await.unwrap();
    assert_eq!(
        batch.events.iter().map(|(_, inv)| inv).collect::<Vec<_>>(),
        [&Invalidation::User(7)]
    );
}
