use super::*;
use crate::config::Settings;
use crate::domain::AuthUser;

fn user(id: i64) -> Arc<CachedUser> {
    let u = AuthUser {
        id,
        uuid: "u".into(),
        username: "n".into(),
        nickname: "n".into(),
        email: None,
        email_verified: false,
        phone: None,
        avatar: None,
        status: 1,
        is_superuser: false,
        is_staff: false,
        multi_login: true,
        has_password: true,
        password_changed_at: None,
        last_login_at: None,
        created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        roles: vec![],
        permissions: vec![],
        second_factors: vec![],
        join_time: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        last_login_time: None,
        is_multi_login: true,
        dept_id: None,
        dept: None,
    };
    Arc::new(CachedUser::new(u).unwrap())
}

fn alive(sid: &str, uid: i64, now: i64) -> Fill {
    Fill::Alive {
        sid: sid.into(),
        uid,
        until: now + 100,
        user: user(uid),
        fetched: now,
        now,
    }
}

pub(super) fn cache() -> AuthCache {
    let c = AuthCache::new(&Settings::defaults().cache, 60, Metrics::default());
    c.set_link(true);
    c
}

#[test]
fn a_fill_that_began_before_an_invalidation_is_dropped() {
    let c = cache();
    // A read-through starts and finds the session alive in the store...
    let began = c.begin_fill();
    // ...meanwhile another worker ends the session...
    c.apply(&Invalidation::Session("s1".into()), 10);
    // ...and then the read-through tries to store what it found.
    assert!(!c.fill(began, alive("s1", 7, 10)));
    assert!(matches!(
        c.lookup("s1", 7, 11),
        Some(Err(AuthFailure::SessionEnded))
    ));
    // A fill that began after it lands.
    let began = c.begin_fill();
    assert!(c.fill(began, alive("s2", 7, 10)));
    assert!(matches!(c.lookup("s2", 7, 11), Some(Ok(_))));
    assert!(
        matches!(c.lookup("s2", 8, 11), Some(Err(_))),
        "another user's session"
    );
}

#[test]
fn without_the_link_memory_is_emptied_and_not_consulted() {
    let c = cache();
    let began = c.begin_fill();
    assert!(c.fill(began, alive("s1", 7, 10)));
    c.set_link(false);
    assert!(c.lookup("s1", 7, 11).is_none());
    let began = c.begin_fill();
    assert!(
        !c.fill(began, alive("s1", 7, 10)),
        "no fills while the link is down"
    );
    c.set_link(true);
    assert!(
        c.lookup("s1", 7, 11).is_none(),
        "what was there before is gone"
    );
}

#[test]
fn role_changes_drop_every_cached_user_but_not_sessions() {
    let c = cache();
    let began = c.begin_fill();
    assert!(c.fill(began, alive("s1", 7, 10)));
    c.apply(&Invalidation::Roles, 10);
    assert!(
        c.lookup("s1", 7, 11).is_none(),
        "the user must be read again"
    );
}

#[test]
fn a_reused_user_keeps_the_time_it_was_read_so_it_still_expires() {
    let c = cache();
    let ttl = Settings::defaults().cache.ttl_seconds;
    assert!(c.fill(c.begin_fill(), alive("s1", 7, 1000)));
    let (u, fetched) = c.fresh_user(7, 1000 + ttl - 1).expect("fresh");
    assert_eq!(fetched, 1000);
    // A second session of the user, filled later with the cached user, does not renew it.
    let later = Fill::Alive {
        sid: "s2".into(),
        uid: 7,
        until: 1000 + ttl + 100,
        user: u,
        fetched,
        now: 1000 + ttl - 1,
    };
    assert!(c.fill(c.begin_fill(), later));
    assert!(
        c.fresh_user(7, 1000 + ttl).is_none(),
        "read again after the ttl"
    );
    c.apply(&Invalidation::User(7), 1001);
    assert!(c.fresh_user(7, 1001).is_none(), "an invalidation drops it");
}
