//! A login session as the hot store keeps it. The rules that change it (rotation, the grace
//! window, the policies) live in `auth::sessions`; what "alive" means lives here, once.

use serde::{Deserialize, Serialize};

use super::{Amr, Proof};

/// How many spent refresh-token digests a session remembers: presenting one of these is
/// reuse (the session ends); presenting anything else is merely invalid.
pub const SPENT_HISTORY: usize = 32;

/// Times are Unix seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    pub sid: String,
    pub uid: i64,
    /// Order among the user's sessions (the oldest has the lowest): logins within one second
    /// still have an exact order.
    #[serde(default)]
    pub seq: i64,
    /// `password`, `swagger` or `oauth2:{provider}`.
    pub method: String,
    pub ip: String,
    pub user_agent: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
    pub created_at: i64,
    pub last_refresh_at: i64,
    /// When the user last proved who they are in this session (OIDC's `auth_time`): the login,
    /// or a later re-authentication.
    pub auth_time: i64,
    /// How the user proved who they are in this session (empty in sessions stored before
    /// it was kept: see `proof`).
    #[serde(default, skip_serializing_if = "Amr::is_empty")]
    pub amr: Amr,
    /// Absolute end of the session, whatever the refreshes.
    pub expires_at: i64,
    /// End of the current refresh token (sliding, never past `expires_at`).
    pub refresh_expires_at: i64,
    /// SHA-256 (hex) of the current refresh token.
    pub refresh_hash: String,
    /// The last rotation, for a retry with its parent inside the grace window.
    pub grace: Option<Grace>,
    /// Digests of spent refresh tokens, oldest first, at most `SPENT_HISTORY`.
    pub spent: Vec<String>,
    /// Providers bound to the account from this session (listed if it is later revoked for
    /// refresh-token reuse).
    #[serde(default)]
    pub bindings: Vec<String>,
    /// SHA-256 (hex) of the browser's single sign-on cookie, when a browser signed in with this
    /// session at the provider's pages (`None` otherwise): the cookie proves the session to
    /// `/oidc/authorize` until the session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_hash: Option<String>,
    /// The OpenID client whose tokens this session gives (`None`: Portcullis's own session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientGrant>,
    /// The browser session at the provider this client's session ends with (`None`: it
    /// outlives it, as `offline_access` asks, or it is not a client's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// What an OpenID client was granted in a session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientGrant {
    pub client_id: String,
    /// Space-separated.
    pub scope: String,
    /// The browser session at the provider its ID tokens name (`sid`), which a back-channel
    /// logout notice names too.
    #[serde(default)]
    pub browser_sid: String,
}

/// What a retry of the last rotation needs, and no more: the child refresh token's secret is
/// sealed under the parent token, which the store never holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grace {
    pub parent_hash: String,
    pub rotated_at: i64,
    pub sealed_child: String,
}

impl SessionRecord {
    /// The order sessions are listed in: oldest first.
    pub fn order(a: &Self, b: &Self) -> std::cmp::Ordering {
        (a.seq, a.created_at, &a.sid).cmp(&(b.seq, b.created_at, &b.sid))
    }

    /// The session is alive strictly before this time.
    pub fn live_until(&self) -> i64 {
        self.refresh_expires_at.min(self.expires_at)
    }

    pub fn is_live(&self, now: i64) -> bool {
        now < self.live_until()
    }

    /// What this session's tokens say of how and when its user proved who they are.
    pub fn proof(&self) -> Proof {
        Proof {
            amr: match self.amr.is_empty() {
                true => Amr::first_step(&self.method),
                false => self.amr,
            },
            auth_time: self.auth_time,
        }
    }

    /// The user's password changed after this session last proved it knew the password: the
    /// session no longer counts (whatever ended or did not end it).
    pub fn predates_password_change(&self, password_changed_at: Option<i64>) -> bool {
        password_changed_at.is_some_and(|changed| self.auth_time < changed)
    }
}
