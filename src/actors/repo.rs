//! The repository actor: the one owner of the database pool. Handlers, the CLI and the
//! start-up bootstrap send it typed messages, one per query or unit of work, each with its own
//! result; no closure crosses the mailbox.
//!
//! It runs on an arbiter (a thread) of its own: database I/O and result decoding never run on
//! an actix worker, and a stalled database stalls this thread's futures, not request handling.
//! Each message runs as its own future there, so one slow query does not hold up the others.

use actix::{Actor, Addr, Arbiter, Context, Handler, Message, ResponseFuture};
use chrono::NaiveDateTime;

use crate::db::models::{ApiClientRow, LoginLogRow, NewLoginLog, NewUser, RoleRow, User};
use crate::db::DbError;
use crate::domain::{ApiClient, AuthUser};
use crate::repo::{
    CodeChange, Guarded, LoginLogFilter, PasskeyRow, Repo, RoleKey, TotpRow, UserChanges,
    UserFilter,
};

pub struct RepoActor {
    repo: Repo,
}

impl Actor for RepoActor {
    type Context = Context<Self>;
}

/// Declares each message: its fields, its answer, and the `Repo` call that answers it.
macro_rules! messages {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($field:ident : $ty:ty),* $(,)? } -> $out:ty = |$repo:ident, $msg:pat_param| $body:expr;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name { $(pub $field: $ty),* }

        impl Message for $name {
            type Result = Result<$out, DbError>;
        }

        impl Handler<$name> for RepoActor {
            type Result = ResponseFuture<Result<$out, DbError>>;

            fn handle(&mut self, msg: $name, _: &mut Context<Self>) -> Self::Result {
                let $repo = self.repo.clone();
                let $msg = msg;
                Box::pin(async move { $body })
            }
        }
    )*};
}

messages! {
    /// The database answers.
    Ping {} -> () = |repo, _| repo.ping().await;
    CountUsers {} -> i64 = |repo, _| repo.count_users().await;
    CountEnabledSuperusers {} -> i64 = |repo, _| repo.count_enabled_superusers().await;
    FindUserByName { username: String } -> Option<User> =
        |repo, m| repo.user_by_username(&m.username).await;
    FindUserByUuid { uuid: String } -> Option<User> = |repo, m| repo.user_by_uuid(&m.uuid).await;
    FindUserById { id: i64 } -> Option<User> = |repo, m| repo.user_by_id(m.id).await;
    FindUsersByIds { ids: Vec<i64> } -> Vec<User> = |repo, m| repo.users_by_ids(&m.ids).await;
    FindUserByEmail { email: String } -> Option<User> =
        |repo, m| repo.user_by_email(&m.email).await;
    /// The user as the API shows it, with roles and permission codes.
    LoadAuthUser { id: i64 } -> Option<AuthUser> = |repo, m| repo.auth_user(m.id).await;
    CreateUser { new: NewUser } -> User = |repo, m| repo.create_user(m.new).await;
    /// A user, recorded as made by the import from `source`.
    CreateImportedUser { new: NewUser, source: &'static str } -> User =
        |repo, m| repo.create_imported_user(m.new, m.source).await;
    /// Whether the import from `source` made this user.
    ImportedFrom { user_id: i64, source: &'static str } -> bool =
        |repo, m| repo.imported_from(m.user_id, m.source).await;
    /// A new hash; `changed_at` set for a password change, left alone for a rehash.
    SetPasswordHash { user_id: i64, hash: String, changed_at: Option<NaiveDateTime>, now: NaiveDateTime } -> () =
        |repo, m| repo.set_password_hash(m.user_id, &m.hash, m.changed_at, m.now).await;
    TouchLastLogin { user_id: i64, at: NaiveDateTime } -> () =
        |repo, m| repo.touch_last_login(m.user_id, m.at).await;
    /// Creates the role if needed, with these codes, and gives it to the user.
    GrantRole { user_id: i64, role: String, codes: Vec<String>, now: NaiveDateTime } -> () =
        |repo, m| {
            let codes: Vec<&str> = m.codes.iter().map(String::as_str).collect();
            repo.grant_role(m.user_id, &m.role, &codes, m.now).await
        };
    /// One page of users as the API shows them, and how many match.
    ListUsers { filter: UserFilter, page: i64, size: i64 } -> (Vec<AuthUser>, i64) =
        |repo, m| {
            let (rows, total) = repo.list_users(&m.filter, m.page, m.size).await?;
            Ok((repo.auth_users(&rows).await?, total))
        };
    /// Refused (rolled back) if it takes away the last enabled superuser.
    ChangeUser { id: i64, changes: UserChanges } -> Guarded<User> =
        |repo, m| repo.change_user(m.id, &m.changes).await;
    DeleteUser { id: i64 } -> Guarded<()> = |repo, m| repo.delete_user(m.id).await;
    RecordLogins { rows: Vec<NewLoginLog> } -> () = |repo, m| repo.insert_login_logs(m.rows).await;
    DeleteLoginLogs { ids: Vec<i64> } -> usize = |repo, m| repo.delete_login_logs(&m.ids).await;
    /// Older than `before`, or all.
    PruneLoginLogs { before: Option<NaiveDateTime> } -> usize =
        |repo, m| repo.prune_login_logs(m.before).await;
    ListLoginLogs { filter: LoginLogFilter, page: i64, size: i64 } -> (Vec<LoginLogRow>, i64) =
        |repo, m| repo.list_login_logs(&m.filter, m.page, m.size).await;
    FindUserBySocial { provider: String, provider_user_id: String } -> Option<User> =
        |repo, m| repo.user_by_social(&m.provider, &m.provider_user_id).await;
    /// A user with a social identity and the named roles (those that exist), at once.
    CreateSocialUser { new: NewUser, provider: String, provider_user_id: String, roles: Vec<String> } -> User =
        |repo, m| repo.create_social_user(m.new, &m.provider, &m.provider_user_id, &m.roles).await;
    LinkSocial { user_id: i64, provider: String, provider_user_id: String, now: NaiveDateTime } -> () =
        |repo, m| repo.link_social(m.user_id, &m.provider, &m.provider_user_id, m.now).await;
    /// The user's bound identities: (provider, provider user id, bound at).
    SocialsOf { user_id: i64 } -> Vec<(String, String, NaiveDateTime)> =
        |repo, m| repo.socials_of(m.user_id).await;
    UnlinkSocial { user_id: i64, provider: String } -> usize =
        |repo, m| repo.unlink_social(m.user_id, &m.provider).await;
    ListRoles {} -> Vec<RoleRow> = |repo, _| repo.list_roles().await;
    FindRole { key: RoleKey } -> Option<RoleRow> = |repo, m| repo.find_role(&m.key).await;
    /// A new role; a unique violation means the name is taken.
    CreateRole { name: String, codes: Vec<String>, now: NaiveDateTime } -> i64 =
        |repo, m| repo.create_role(&m.name, &m.codes, m.now).await;
    UpdateRole { id: i64, name: Option<String>, status: Option<i32> } -> usize =
        |repo, m| repo.update_role(m.id, m.name, m.status).await;
    DeleteRole { id: i64 } -> usize = |repo, m| repo.delete_role(m.id).await;
    ChangeRoleCodes { id: i64, change: CodeChange, codes: Vec<String> } -> () =
        |repo, m| repo.change_role_codes(m.id, m.change, &m.codes).await;
    RolesOf { user_id: i64 } -> Vec<RoleRow> = |repo, m| repo.roles_of(m.user_id).await;
    ChangeUserRoles { user_id: i64, change: CodeChange, role_ids: Vec<i64> } -> () =
        |repo, m| repo.change_user_roles(m.user_id, m.change, &m.role_ids).await;
    /// A new API client; a unique violation means the id is taken.
    CreateClient { client: ApiClient, now: NaiveDateTime } -> () =
        |repo, m| repo.create_client(&m.client, m.now).await;
    FindClient { id: String } -> Option<ApiClient> = |repo, m| repo.find_client(&m.id).await;
    ListClients {} -> Vec<ApiClientRow> = |repo, _| repo.list_clients().await;
    DeleteClient { id: String } -> usize = |repo, m| repo.delete_client(&m.id).await;
    /// A new OpenID client; a unique violation means the id is taken.
    CreateOidcClient { client: crate::domain::OidcClient, now: NaiveDateTime } -> () =
        |repo, m| repo.create_oidc_client(&m.client, m.now).await;
    /// Rows changed (0: no such client).
    UpdateOidcClient { client: crate::domain::OidcClient, now: NaiveDateTime } -> usize =
        |repo, m| repo.update_oidc_client(&m.client, m.now).await;
    FindOidcClient { id: String } -> Option<crate::domain::OidcClient> =
        |repo, m| repo.find_oidc_client(&m.id).await;
    ListOidcClients {} -> Vec<crate::domain::OidcClient> = |repo, _| repo.list_oidc_clients().await;
    DeleteOidcClient { id: String } -> usize = |repo, m| repo.delete_oidc_client(&m.id).await;
    /// The scopes the user let the client have, space-separated.
    ConsentOf { user_id: i64, client_id: String } -> Option<String> =
        |repo, m| repo.consent(m.user_id, &m.client_id).await;
    ConsentsOf { user_id: i64 } -> Vec<(String, String, NaiveDateTime)> =
        |repo, m| repo.consents_of(m.user_id).await;
    DeleteConsent { user_id: i64, client_id: String } -> usize =
        |repo, m| repo.delete_consent(m.user_id, &m.client_id).await;
    PutConsent { user_id: i64, client_id: String, scopes: String, now: NaiveDateTime } -> () =
        |repo, m| repo.put_consent(m.user_id, &m.client_id, &m.scopes, m.now).await;
    /// Back-channel logout notices `(client_id, sub, sid)`, each queued once.
    QueueLogouts { notices: Vec<(String, String, String)>, now: i64 } -> () =
        |repo, m| repo.queue_logouts(&m.notices, m.now).await;
    DueLogouts { now: i64, limit: i64 } -> Vec<crate::repo::LogoutNotice> =
        |repo, m| repo.due_logouts(m.now, m.limit).await;
    /// True when this caller took the notice for one try.
    ClaimLogout { id: i64, seen: i64, until: i64 } -> bool =
        |repo, m| repo.claim_logout(m.id, m.seen, m.until).await;
    DeleteLogout { id: i64 } -> () = |repo, m| repo.delete_logout(m.id).await;
    TotpOf { user_id: i64 } -> Option<TotpRow> = |repo, m| repo.totp_of(m.user_id).await;
    /// False when the user has an active TOTP factor already.
    PutPendingTotp { user_id: i64, secret: String, now: NaiveDateTime } -> bool =
        |repo, m| repo.put_pending_totp(m.user_id, &m.secret, m.now).await;
    /// True once per step (and only for later steps); `confirm` activates a pending factor.
    UseTotpStep { user_id: i64, step: i64, confirm: Option<NaiveDateTime> } -> bool =
        |repo, m| repo.use_totp_step(m.user_id, m.step, m.confirm).await;
    DeleteTotp { user_id: i64 } -> usize = |repo, m| repo.delete_totp(m.user_id).await;
    RecoveryCodesLeft { user_id: i64 } -> i64 =
        |repo, m| repo.recovery_codes_left(m.user_id).await;
    ReplaceRecoveryCodes { user_id: i64, hashes: Vec<String>, now: NaiveDateTime } -> () =
        |repo, m| repo.replace_recovery_codes(m.user_id, &m.hashes, m.now).await;
    /// How many are left, or `None` for a code that is not an unused one of this user.
    UseRecoveryCode { user_id: i64, hash: String, now: NaiveDateTime } -> Option<i64> =
        |repo, m| repo.use_recovery_code(m.user_id, &m.hash, m.now).await;
    /// Every factor and the recovery codes (an administrator's reset): how many factors.
    DeleteFactors { user_id: i64 } -> usize = |repo, m| repo.delete_factors(m.user_id).await;
    PasskeysOf { user_id: i64 } -> Vec<PasskeyRow> = |repo, m| repo.passkeys_of(m.user_id).await;
    PasskeyByCredential { credential_id: String } -> Option<PasskeyRow> =
        |repo, m| repo.passkey_by_credential(&m.credential_id).await;
    /// `None` when the credential is registered already.
    AddPasskey { user_id: i64, credential_id: String, name: String, passkey: String, now: NaiveDateTime } -> Option<i64> =
        |repo, m| repo.add_passkey(m.user_id, &m.credential_id, &m.name, &m.passkey, m.now).await;
    /// False when the record is no longer `was` (another use got there first).
    PasskeyUsed { id: i64, was: String, passkey: Option<String>, now: NaiveDateTime } -> bool =
        |repo, m| repo.passkey_used(m.id, &m.was, m.passkey.as_deref(), m.now).await;
    DeletePasskey { user_id: i64, id: i64 } -> usize =
        |repo, m| repo.delete_passkey(m.user_id, m.id).await;
}

/// What the rest of the server holds: a cheap, cloneable address.
#[derive(Clone)]
pub struct RepoHandle {
    addr: Addr<RepoActor>,
}

impl RepoHandle {
    /// Starts the actor on a new arbiter (its own thread).
    pub fn start(repo: Repo) -> Self {
        let arbiter = Arbiter::new();
        let addr = RepoActor::start_in_arbiter(&arbiter.handle(), |_| RepoActor { repo });
        Self { addr }
    }

    /// Sends one message and waits for its answer.
    pub async fn send<M, T>(&self, msg: M) -> Result<T, DbError>
    where
        M: Message<Result = Result<T, DbError>> + Send + 'static,
        T: Send + 'static,
        RepoActor: Handler<M>,
    {
        self.addr
            .send(msg)
            .await
            .map_err(|e| DbError::Pool(format!("repository actor is gone: {e}")))?
    }
}
