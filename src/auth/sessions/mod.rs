//! Session lifecycle: start (with the multi-login and max-sessions policies), refresh with
//! rotation and a grace window, re-authentication, and ending one or all sessions. Every change
//! to a user's sessions is read, decided by `rules`, and committed with a compare-and-swap; an
//! ended session is invalidated here at once and on every other node before the call returns.

mod clients;
mod rules;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

pub use rules::RefreshToken;
use rules::{Lifetimes, Refresh};

use super::client::ClientInfo;
use super::jwt::JwtKeys;
use crate::actors::repo::{FindUserById, RepoHandle};
use crate::actors::{AuthFailure, CacheHandle, Invalidator};
use crate::clock::SharedClock;
use crate::config::SessionSettings;
use crate::crypto;
use crate::domain::{Amr, ClientGrant, Invalidation, Proof, SessionRecord};
use crate::error::{kind, ApiError};
use crate::store::{SessionChange, Store, StoreError, UserSessions};

/// A new token pair, as login and refresh return it.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct TokenPair {
    pub access_token: String,
    pub access_token_expire_time: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expire_time: DateTime<Utc>,
    pub session_uuid: String,
    pub token_type: String,
}

/// What a rotation gave.
struct Rotated {
    uid: i64,
    sid: String,
    refresh: String,
    expires: i64,
    /// When the access token that goes with it was (or is) issued.
    at: i64,
    proof: Proof,
    client: Option<ClientGrant>,
}

/// `sid` and the sessions of OpenID clients that end with it.
fn with_children(sessions: &[SessionRecord], sid: &str) -> Vec<String> {
    sessions
        .iter()
        .filter(|s| s.sid == sid || s.parent.as_deref() == Some(sid))
        .map(|s| s.sid.clone())
        .collect()
}

/// Compare-and-swap attempts before giving up (each lost one means another change came first).
const TRIES: usize = 16;

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// A decision over a user's sessions: what to change, which live sessions that ends, and what
/// the caller gets.
struct Plan<T> {
    changes: Vec<SessionChange>,
    ended: Vec<String>,
    out: T,
}

impl<T> Plan<T> {
    fn nothing(out: T) -> Self {
        Self {
            changes: Vec::new(),
            ended: Vec::new(),
            out,
        }
    }
}

#[derive(Clone)]
pub struct Sessions {
    store: Store,
    invalidator: Invalidator,
    jwt: Arc<JwtKeys>,
    repo: RepoHandle,
    settings: SessionSettings,
    clock: SharedClock,
    /// Told the user id when a spent refresh token ends its session (the security notice).
    on_reuse: Arc<std::sync::OnceLock<ReuseHook>>,
    /// Told the OpenID clients' sessions that ended (back-channel logout).
    on_end: Arc<std::sync::OnceLock<EndHook>>,
    /// Where a refresh reads its user: the node's cache of decoded users when there is one (the
    /// server), so a refresh needs no database work while memory answers; the database
    /// otherwise (the command line).
    users: Option<CacheHandle>,
}

/// What hears of a refresh token's reuse; set once, by the composition root.
pub type ReuseHook = Box<dyn Fn(i64) + Send + Sync>;

/// What hears of ended sessions of OpenID clients (with the user's id); set once, by the
/// composition root.
pub type EndHook = Box<dyn Fn(i64, Vec<SessionRecord>) + Send + Sync>;

impl Sessions {
    pub fn new(
        store: Store,
        invalidator: Invalidator,
        jwt: Arc<JwtKeys>,
        repo: RepoHandle,
        settings: SessionSettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            invalidator,
            jwt,
            repo,
            settings,
            clock,
            on_reuse: Arc::default(),
            on_end: Arc::default(),
            users: None,
        }
    }

    /// Reads the users that refresh from `cache` (kept fresh by invalidations) rather than
    /// from the database.
    pub fn with_user_cache(mut self, cache: CacheHandle) -> Self {
        self.users = Some(cache);
        self
    }

    /// Whether the session's user may refresh, and when its password last changed (Unix
    /// seconds): from memory when it answers, through the cache (which fills it) or the database
    /// otherwise. `None`: the user is gone or disabled, or the session ended.
    async fn refreshing_user(&self, uid: i64, sid: &str) -> Result<Option<Option<i64>>, ApiError> {
        let Some(cache) = &self.users else {
            let user = self
                .repo
                .send(FindUserById { id: uid })
                .await
                .map_err(ApiError::unavailable)?;
            return Ok(user
                .filter(|u| u.is_enabled())
                .map(|u| u.password_changed_at.map(|t| t.and_utc().timestamp())));
        };
        let found = match cache.cached(sid, uid, self.clock.unix()) {
            Some(answer) => answer,
            None => cache.resolve(Arc::from(sid), uid).await,
        };
        match found {
            Ok(u) if u.user.is_enabled() => {
                Ok(Some(u.user.password_changed_at.map(|t| t.timestamp())))
            }
            Ok(_) | Err(AuthFailure::SessionEnded | AuthFailure::UserUnavailable) => Ok(None),
            Err(AuthFailure::Store(e)) => Err(ApiError::unavailable(e)),
            Err(AuthFailure::Db(e)) => Err(ApiError::unavailable(e)),
        }
    }

    /// Calls `hook` with the user's id whenever a refresh token's reuse ends a session (every
    /// clone of these sessions shares it). Only the first call sets it.
    pub fn on_reuse(&self, hook: ReuseHook) {
        let _ = self.on_reuse.set(hook);
    }

    /// Calls `hook` with the ended sessions of OpenID clients whenever a change ends some
    /// (every clone of these sessions shares it). Only the first call sets it.
    pub fn on_end(&self, hook: EndHook) {
        let _ = self.on_end.set(hook);
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// Reads the user's sessions, decides, commits; again if another change came first.
    async fn change<T>(
        &self,
        uid: i64,
        mut decide: impl FnMut(&UserSessions, i64) -> Result<Plan<T>, ApiError>,
    ) -> Result<T, ApiError> {
        for _ in 0..TRIES {
            let now = self.clock.unix();
            let current = self.store.sessions_of(uid).await?;
            let plan = decide(&current, now)?;
            if !plan.changes.is_empty() {
                let commit = current.commit(plan.changes);
                if !self.store.commit_sessions(uid, &commit, now).await? {
                    continue;
                }
            }
            for sid in &plan.ended {
                self.invalidator
                    .invalidate(Invalidation::Session(sid.clone()))
                    .await?;
            }
            if let Some(hook) = self.on_end.get() {
                let apps: Vec<SessionRecord> = current
                    .sessions
                    .into_iter()
                    .filter(|s| s.client.is_some() && plan.ended.contains(&s.sid))
                    .collect();
                if !apps.is_empty() {
                    hook(uid, apps);
                }
            }
            return Ok(plan.out);
        }
        Err(ApiError::unavailable(StoreError::Unavailable(format!(
            "user {uid}'s sessions kept changing under {TRIES} attempts"
        ))))
    }

    /// A pair: with `issued_at`, the access token that goes with this refresh token, the same
    /// each time it is asked for (a retried refresh gets what it missed).
    fn pair(
        &self,
        uid: i64,
        sid: &str,
        proof: Proof,
        refresh: String,
        refresh_exp: i64,
        issued_at: Option<i64>,
    ) -> Result<TokenPair, ApiError> {
        let (access, access_exp) = match issued_at {
            Some(at) => self.jwt.issue_as(
                uid,
                sid,
                proof,
                at,
                &crypto::digest_parts(&["jti", &refresh])[..32],
            ),
            None => self.jwt.issue(uid, sid, proof, self.clock.unix()),
        }
        .map_err(ApiError::internal)?;
        Ok(TokenPair {
            access_token: access,
            access_token_expire_time: at(access_exp),
            refresh_token: refresh,
            refresh_token_expire_time: at(refresh_exp),
            session_uuid: sid.to_owned(),
            token_type: "Bearer".into(),
        })
    }

    /// Starts a session for a user who has just proved who they are, by `amr` (and whose
    /// last login time is already stored).
    pub async fn start(
        &self,
        uid: i64,
        multi_login: bool,
        client: &ClientInfo,
        method: &str,
        amr: Amr,
    ) -> Result<TokenPair, ApiError> {
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let token = RefreshToken::new(uid, &sid).encode();
        let s = &self.settings;
        let record = self
            .change(uid, |current, now| {
                let expires_at = now + s.absolute_ttl_seconds;
                let record = SessionRecord {
                    sid: sid.clone(),
                    uid,
                    seq: 0,
                    method: method.to_owned(),
                    ip: client.ip.clone(),
                    user_agent: client.user_agent.clone(),
                    os: client.os.clone(),
                    browser: client.browser.clone(),
                    device: client.device.clone(),
                    created_at: now,
                    last_refresh_at: now,
                    auth_time: now,
                    amr,
                    expires_at,
                    refresh_expires_at: (now + s.refresh_ttl_seconds).min(expires_at),
                    refresh_hash: crypto::digest(&token),
                    grace: None,
                    spent: Vec::new(),
                    bindings: Vec::new(),
                    browser_hash: None,
                    client: None,
                    parent: None,
                };
                let (changes, ended) = rules::admit(
                    &current.sessions,
                    record.clone(),
                    !multi_login,
                    s.max_sessions_per_user,
                    now,
                );
                Ok(Plan {
                    changes,
                    ended,
                    out: record,
                })
            })
            .await?;
        // A login changes the user (its last login time): cached copies go, on every node.
        self.invalidator.invalidate(Invalidation::User(uid)).await?;
        let proof = record.proof();
        self.pair(uid, &sid, proof, token, record.refresh_expires_at, None)
    }

    /// Rotates a refresh token of Portcullis's own sessions (an OpenID client's are refused:
    /// they must not mint Portcullis's tokens). A retry with the immediate parent inside the
    /// grace window gets the same new token; any other reuse ends the whole session. A disabled
    /// user, or a session that predates the user's last password change, cannot refresh.
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair, ApiError> {
        let r = self.rotate(presented, None).await?;
        self.pair(r.uid, &r.sid, r.proof, r.refresh, r.expires, Some(r.at))
    }

    /// The rotation itself, for the sessions of `client` (`None`: Portcullis's own).
    async fn rotate(&self, presented: &str, client: Option<&str>) -> Result<Rotated, ApiError> {
        let invalid = || ApiError::new(kind::REFRESH_INVALID);
        let token = RefreshToken::parse(presented).ok_or_else(invalid)?;
        let (uid, sid) = (token.uid, token.sid);
        let changed = self.refreshing_user(uid, &sid).await?.ok_or_else(invalid)?;
        let child = RefreshToken::new(uid, &sid);
        let lifetimes = Lifetimes {
            refresh_ttl: self.settings.refresh_ttl_seconds,
            grace: self.settings.refresh_grace_seconds,
        };
        enum Outcome {
            Issue(Rotated),
            Reused { bindings: Vec<String> },
        }
        let outcome = self
            .change(uid, |current, now| {
                let Some(s) = current.sessions.iter().find(|s| s.sid == sid) else {
                    return Err(invalid());
                };
                if s.predates_password_change(changed)
                    || s.client.as_ref().map(|c| c.client_id.as_str()) != client
                {
                    return Err(invalid());
                }
                // A client's session that ends with the browser's: not once that one has.
                if let Some(parent) = &s.parent {
                    if !current
                        .sessions
                        .iter()
                        .any(|p| p.sid == *parent && p.is_live(now))
                    {
                        return Err(invalid());
                    }
                }
                let issue = |refresh: String, r: &SessionRecord, at: i64| Rotated {
                    uid,
                    sid: sid.clone(),
                    refresh,
                    expires: r.refresh_expires_at,
                    at,
                    proof: r.proof(),
                    client: r.client.clone(),
                };
                Ok(match rules::refresh(s, presented, &child, now, lifetimes) {
                    Refresh::Rotate { record, child } => Plan {
                        out: Outcome::Issue(issue(child, &record, now)),
                        changes: vec![SessionChange::Put(record)],
                        ended: Vec::new(),
                    },
                    Refresh::Replay { child, rotated_at } => {
                        Plan::nothing(Outcome::Issue(issue(child, s, rotated_at)))
                    }
                    Refresh::Reused => {
                        let ended = with_children(&current.sessions, &sid);
                        Plan {
                            changes: ended.iter().cloned().map(SessionChange::Delete).collect(),
                            ended,
                            out: Outcome::Reused {
                                bindings: s.bindings.clone(),
                            },
                        }
                    }
                    Refresh::Invalid => return Err(invalid()),
                })
            })
            .await?;
        match outcome {
            Outcome::Issue(rotated) => Ok(rotated),
            Outcome::Reused { bindings } => {
                tracing::warn!(
                    target: "security",
                    event = "refresh_token_reuse",
                    uid,
                    sid,
                    client,
                    bindings_made_in_session = ?bindings,
                    "a spent refresh token was presented again; the session is revoked"
                );
                if let Some(hook) = self.on_reuse.get() {
                    hook(uid);
                }
                Err(invalid())
            }
        }
    }

    /// The session a refresh token belongs to, if it is the current token of a live session.
    pub async fn session_of_refresh(
        &self,
        presented: &str,
    ) -> Result<Option<SessionRecord>, ApiError> {
        self.session_holding(presented, |s| Some(s.refresh_hash.as_str()))
            .await
    }

    /// A browser's single sign-on cookie for this live session (`{uid}.{sid}.{secret}`, as a
    /// refresh token reads); a new one each call, and the previous one stops working. `None`
    /// when the session has ended.
    pub async fn browser_cookie(&self, uid: i64, sid: &str) -> Result<Option<String>, ApiError> {
        let token = RefreshToken::new(uid, sid).encode();
        let hash = crypto::digest(&token);
        let set = self
            .edit(uid, sid, |s, _| s.browser_hash = Some(hash.clone()))
            .await?;
        Ok(set.then_some(token))
    }

    /// The live session a browser's single sign-on cookie proves.
    pub async fn session_of_browser(
        &self,
        presented: &str,
    ) -> Result<Option<SessionRecord>, ApiError> {
        self.session_holding(presented, |s| s.browser_hash.as_deref())
            .await
    }

    /// The live session whose digest `kept` is `presented`'s (a `{uid}.{sid}.{secret}`
    /// token: a refresh token, a browser's cookie).
    async fn session_holding(
        &self,
        presented: &str,
        kept: impl Fn(&SessionRecord) -> Option<&str>,
    ) -> Result<Option<SessionRecord>, ApiError> {
        let Some(token) = RefreshToken::parse(presented) else {
            return Ok(None);
        };
        let now = self.clock.unix();
        let session = self.store.session(token.uid, &token.sid).await?;
        let digest = crypto::digest(presented);
        Ok(session.filter(|s| {
            s.is_live(now)
                && kept(s).is_some_and(|h| crypto::ct_eq(h.as_bytes(), digest.as_bytes()))
        }))
    }

    /// The live session, if it is one of the user's.
    pub async fn get(&self, uid: i64, sid: &str) -> Result<Option<SessionRecord>, ApiError> {
        let now = self.clock.unix();
        Ok(self
            .store
            .session(uid, sid)
            .await?
            .filter(|s| s.is_live(now)))
    }

    /// Applies `edit` to one live session (re-authentication, a binding made from it).
    async fn edit(
        &self,
        uid: i64,
        sid: &str,
        edit: impl Fn(&mut SessionRecord, i64),
    ) -> Result<bool, ApiError> {
        self.change(uid, |current, now| {
            let Some(s) = current
                .sessions
                .iter()
                .find(|s| s.sid == sid && s.is_live(now))
            else {
                return Ok(Plan::nothing(false));
            };
            let mut s = s.clone();
            edit(&mut s, now);
            Ok(Plan {
                changes: vec![SessionChange::Put(Box::new(s))],
                ended: Vec::new(),
                out: true,
            })
        })
        .await
    }

    /// The user proved who they are again in this session (`auth_time` is now), by `amr`:
    /// with a second factor the session is multi-factor from now on (with what it had); a
    /// single factor is all it says from now on (a fresh `auth_time` must not vouch for a second
    /// factor proved long ago). Its tokens say so from the next refresh.
    pub async fn reauthenticated(&self, uid: i64, sid: &str, amr: Amr) -> Result<bool, ApiError> {
        self.edit(uid, sid, |s, now| {
            s.auth_time = now;
            let had = s.proof().amr;
            s.amr = match amr.is_mfa() {
                true => had.and_second(amr),
                false => amr,
            };
        })
        .await
    }

    /// The session's user changed the password just now, in this session (which proved what
    /// the change needed): it stays signed in past the change (`auth_time` is now), saying what
    /// it said of how.
    pub async fn password_changed_here(&self, uid: i64, sid: &str) -> Result<bool, ApiError> {
        self.edit(uid, sid, |s, now| {
            // Read before `auth_time` moves: a session from before `amr` existed is taken to
            // have its first step's.
            s.amr = s.proof().amr;
            s.auth_time = now;
        })
        .await
    }

    /// Notes a provider bound from this session (listed if the session is later revoked).
    pub async fn record_binding(
        &self,
        uid: i64,
        sid: &str,
        provider: &str,
    ) -> Result<bool, ApiError> {
        self.edit(uid, sid, |s, _| s.bindings.push(provider.to_owned()))
            .await
    }

    /// Ends one session; true when it was live.
    pub async fn end(&self, uid: i64, sid: &str) -> Result<bool, ApiError> {
        let existed = self
            .change(uid, |current, _| {
                Ok(match current.sessions.iter().find(|s| s.sid == sid) {
                    Some(_) => {
                        // The OpenID clients' sessions that end with it go with it.
                        let ended = with_children(&current.sessions, sid);
                        Plan {
                            changes: ended.iter().cloned().map(SessionChange::Delete).collect(),
                            ended,
                            out: true,
                        }
                    }
                    None => Plan::nothing(false),
                })
            })
            .await?;
        // Told even when it was gone already: a node may still hold it.
        if !existed {
            self.invalidator
                .invalidate(Invalidation::Session(sid.to_owned()))
                .await?;
        }
        Ok(existed)
    }

    /// Ends every session of the user but `except`; returns how many live ones ended.
    pub async fn end_all(&self, uid: i64, except: Option<&str>) -> Result<usize, ApiError> {
        self.end_where(uid, |s| Some(s.sid.as_str()) != except)
            .await
    }

    /// Ends the user's sessions that `gone` picks; returns how many live ones ended.
    async fn end_where(
        &self,
        uid: i64,
        gone: impl Fn(&SessionRecord) -> bool,
    ) -> Result<usize, ApiError> {
        self.change(uid, |current, now| {
            let gone: Vec<&SessionRecord> = current.sessions.iter().filter(|s| gone(s)).collect();
            let ended: Vec<String> = gone
                .iter()
                .filter(|s| s.is_live(now))
                .map(|s| s.sid.clone())
                .collect();
            Ok(Plan {
                changes: gone
                    .iter()
                    .map(|s| SessionChange::Delete(s.sid.clone()))
                    .collect(),
                out: ended.len(),
                ended,
            })
        })
        .await
    }

    /// The user's live sessions, oldest first.
    pub async fn list(&self, uid: i64) -> Result<Vec<SessionRecord>, ApiError> {
        let now = self.clock.unix();
        let mut sessions = self.store.sessions_of(uid).await?.sessions;
        sessions.retain(|s| s.is_live(now));
        Ok(sessions)
    }

    /// One page of the users with live sessions (by id), each with those sessions, and how
    /// many users are online. Read from the per-user session indexes, never a key scan.
    pub async fn online(
        &self,
        page: usize,
        size: usize,
    ) -> Result<(Vec<(i64, Vec<SessionRecord>)>, usize), ApiError> {
        let now = self.clock.unix();
        let (ids, total) = self
            .store
            .online_users(now, (page - 1).saturating_mul(size), size)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for uid in ids {
            let live = self.list(uid).await?;
            if !live.is_empty() {
                out.push((uid, live));
            }
        }
        Ok((out, total))
    }
}
