//! What a user's sessions may become, decided once for both stores: which sessions a new login
//! ends, and what a refresh token does to its session (rotation, a retry inside the grace
//! window, reuse). Pure functions over the records; the caller commits the result.

use crate::crypto;
use crate::domain::{Grace, SessionRecord, SPENT_HISTORY};
use crate::store::SessionChange;

/// What the seal of a grace record is for (part of the key derivation).
const GRACE: &str = "portcullis refresh grace";

/// A refresh token: `{uid}.{sid}.{secret}`. The user and session ids let a refresh find its
/// session (in its user's hash slot) without an index; the secret is 256 random bits.
pub struct RefreshToken {
    pub uid: i64,
    pub sid: String,
    pub secret: [u8; 32],
}

impl RefreshToken {
    pub fn new(uid: i64, sid: &str) -> Self {
        Self {
            uid,
            sid: sid.to_owned(),
            secret: crypto::random_bytes(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{}.{}.{}", self.uid, self.sid, crypto::b64(&self.secret))
    }

    /// The parts of a token of the right shape; `None` for anything else.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (uid, sid, secret) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let uid_ok = (1..=19).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_digit());
        let sid_ok = sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit());
        if !uid_ok || !sid_ok || secret.len() != 43 {
            return None;
        }
        let secret: [u8; 32] = crypto::from_b64(secret)?.try_into().ok()?;
        Some(Self {
            uid: uid.parse().ok().filter(|u| *u > 0)?,
            sid: sid.to_owned(),
            secret,
        })
    }
}

/// Lifetimes a rotation applies.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub refresh_ttl: i64,
    pub grace: i64,
}

/// The next session's place in the order (after every one the user has).
pub fn next_seq(existing: &[SessionRecord]) -> i64 {
    existing.iter().map(|s| s.seq).max().map_or(1, |m| m + 1)
}

/// The changes a new login makes: expired sessions go, then every other session when the user
/// allows one login at a time, else the oldest ones beyond `max` (0: no limit). Returns the
/// changes and the ids of the live sessions it ends.
pub fn admit(
    existing: &[SessionRecord],
    mut new: SessionRecord,
    single: bool,
    max: usize,
    now: i64,
) -> (Vec<SessionChange>, Vec<String>) {
    new.seq = next_seq(existing);
    let mut changes = Vec::new();
    let mut live = Vec::new();
    for s in existing {
        if !s.is_live(now) {
            changes.push(SessionChange::Delete(s.sid.clone()));
        } else if s.client.is_none() {
            // OpenID clients' sessions are not logins: the policies count only logins.
            live.push(s.sid.clone());
        }
    }
    let excess = if single {
        live.len()
    } else if max > 0 {
        (live.len() + 1).saturating_sub(max)
    } else {
        0
    };
    let mut ended: Vec<String> = live.into_iter().take(excess).collect();
    // A login that ends goes with the clients' sessions that end with it.
    let children: Vec<String> = existing
        .iter()
        .filter(|s| s.is_live(now) && s.parent.as_ref().is_some_and(|p| ended.contains(p)))
        .map(|s| s.sid.clone())
        .collect();
    ended.extend(children);
    changes.extend(ended.iter().cloned().map(SessionChange::Delete));
    changes.push(SessionChange::Put(Box::new(new)));
    (changes, ended)
}

/// What presenting a refresh token does to its session.
#[derive(Debug, PartialEq)]
pub enum Refresh {
    /// The current token: the session moves on to `child`.
    Rotate {
        record: Box<SessionRecord>,
        child: String,
    },
    /// The immediate parent again, inside the grace window: the same child as before, from the
    /// rotation at `rotated_at`.
    Replay { child: String, rotated_at: i64 },
    /// A token that was spent before: the session must end.
    Reused,
    /// Not a token of this live session.
    Invalid,
}

/// Decides a refresh. `child` is the fresh token a rotation would issue.
pub fn refresh(
    s: &SessionRecord,
    presented: &str,
    child: &RefreshToken,
    now: i64,
    l: Lifetimes,
) -> Refresh {
    if !s.is_live(now) {
        return Refresh::Invalid;
    }
    let presented_hash = crypto::digest(presented);
    if crypto::ct_eq(presented_hash.as_bytes(), s.refresh_hash.as_bytes()) {
        let mut next = s.clone();
        next.spent.push(s.refresh_hash.clone());
        let overflow = next.spent.len().saturating_sub(SPENT_HISTORY);
        next.spent.drain(..overflow);
        let child_token = child.encode();
        next.grace = Some(Grace {
            parent_hash: s.refresh_hash.clone(),
            rotated_at: now,
            sealed_child: crypto::seal(presented, GRACE, &child.secret),
        });
        next.refresh_hash = crypto::digest(&child_token);
        next.last_refresh_at = now;
        next.refresh_expires_at = (now + l.refresh_ttl).min(s.expires_at);
        return Refresh::Rotate {
            record: Box::new(next),
            child: child_token,
        };
    }
    if let Some(g) = &s.grace {
        let in_window = now - g.rotated_at <= l.grace;
        if in_window && crypto::ct_eq(presented_hash.as_bytes(), g.parent_hash.as_bytes()) {
            // Only the parent opens the seal: the store alone holds nothing usable.
            return match crypto::unseal(presented, GRACE, &g.sealed_child) {
                Some(secret) => Refresh::Replay {
                    child: RefreshToken {
                        uid: s.uid,
                        sid: s.sid.clone(),
                        secret,
                    }
                    .encode(),
                    rotated_at: g.rotated_at,
                },
                None => Refresh::Invalid,
            };
        }
    }
    if s.spent
        .iter()
        .any(|h| crypto::ct_eq(h.as_bytes(), presented_hash.as_bytes()))
    {
        return Refresh::Reused;
    }
    // Never issued for this session: refused, but no reason to end the session (knowing a
    // session id must not let anyone end it).
    Refresh::Invalid
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Lifetimes = Lifetimes {
        refresh_ttl: 100,
        grace: 10,
    };

    fn record(sid: &str, token: &RefreshToken, created: i64) -> SessionRecord {
        SessionRecord {
            sid: sid.into(),
            uid: token.uid,
            seq: created,
            method: "password".into(),
            ip: "127.0.0.1".into(),
            user_agent: String::new(),
            os: None,
            browser: None,
            device: None,
            created_at: created,
            last_refresh_at: created,
            auth_time: created,
            amr: Default::default(),
            expires_at: created + 1000,
            refresh_expires_at: created + 100,
            refresh_hash: crypto::digest(&token.encode()),
            grace: None,
            spent: vec![],
            bindings: vec![],
            browser_hash: None,
            client: None,
            parent: None,
        }
    }

    fn sid(n: u8) -> String {
        format!("{n:032x}")
    }

    #[test]
    fn tokens_carry_their_user_and_session_and_enough_randomness() {
        let t = RefreshToken::new(42, &sid(1));
        let parsed = RefreshToken::parse(&t.encode()).unwrap();
        assert_eq!(
            (parsed.uid, parsed.sid.as_str(), parsed.secret),
            (42, sid(1).as_str(), t.secret)
        );
        assert_ne!(RefreshToken::new(42, &sid(1)).encode(), t.encode());
        let good = t.encode();
        for bad in [
            String::new(),
            "x".into(),
            "a.b.c".into(),
            format!("0.{}.{}", sid(1), "A".repeat(43)),
            format!("42.{}.{}", sid(1), "A".repeat(44)),
            format!("42.{}", sid(1)),
            good.replace('.', ""),
            format!("{good}.x"),
        ] {
            assert!(RefreshToken::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rotation_then_grace_replay_then_reuse() {
        let first = RefreshToken::new(1, &sid(1));
        let s = record(&sid(1), &first, 0);
        let child = RefreshToken::new(1, &sid(1));
        let Refresh::Rotate {
            record: s2,
            child: issued,
        } = refresh(&s, &first.encode(), &child, 5, L)
        else {
            panic!("the current token rotates");
        };
        assert_eq!(issued, child.encode());
        assert_eq!(s2.refresh_expires_at, 105);
        let stored = serde_json::to_string(&s2).unwrap();
        assert!(
            !stored.contains(&crypto::b64(&child.secret)),
            "no usable token in the store"
        );
        let other = RefreshToken::new(1, &sid(1));
        assert_eq!(
            refresh(&s2, &first.encode(), &other, 12, L),
            Refresh::Replay {
                child: issued.clone(),
                rotated_at: 5
            },
            "a retry inside the window gets the same child"
        );
        assert_eq!(
            refresh(&s2, &first.encode(), &other, 16, L),
            Refresh::Reused
        );
        let forged = RefreshToken::new(1, &sid(1)).encode();
        assert_eq!(
            refresh(&s2, &forged, &other, 12, L),
            Refresh::Invalid,
            "never issued"
        );
        assert_eq!(
            refresh(&s2, &issued, &other, 2000, L),
            Refresh::Invalid,
            "expired session"
        );
    }

    #[test]
    fn spent_history_is_bounded_and_still_catches_reuse() {
        let mut token = RefreshToken::new(1, &sid(2));
        let mut s = record(&sid(2), &token, 0);
        let first = token.encode();
        for i in 0..(SPENT_HISTORY as i64 + 5) {
            let child = RefreshToken::new(1, &sid(2));
            let Refresh::Rotate { record, .. } = refresh(&s, &token.encode(), &child, i, L) else {
                panic!("rotates");
            };
            s = *record;
            token = child;
        }
        assert_eq!(s.spent.len(), SPENT_HISTORY);
        let recent = RefreshToken::new(1, &sid(2));
        assert_eq!(
            refresh(&s, &first, &recent, 100, L),
            Refresh::Invalid,
            "beyond the history"
        );
    }

    #[test]
    fn policies_end_the_right_sessions() {
        let t = RefreshToken::new(1, &sid(9));
        let mut existing = vec![
            record(&sid(1), &t, 0),
            record(&sid(2), &t, 1),
            record(&sid(3), &t, 2),
        ];
        existing[0].refresh_expires_at = 5; // expired by now
        let new = record(&sid(4), &t, 10);
        let (_, ended) = admit(&existing, new.clone(), false, 2, 10);
        assert_eq!(ended, vec![sid(2)], "the oldest live one makes room");
        let (changes, ended) = admit(&existing, new.clone(), true, 0, 10);
        assert_eq!(ended, vec![sid(2), sid(3)]);
        assert_eq!(changes.len(), 4, "the expired one is removed too");
        let (_, ended) = admit(&existing, new, false, 0, 10);
        assert!(ended.is_empty());
    }
}
