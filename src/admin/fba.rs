//! `portcullis import fba`: an fba database's users, roles, permission codes and social
//! bindings brought over, idempotently.
//!
//! Roles first (matched by name; their codes become exactly the fba role's), then users
//! (matched by uuid, then username; a username or email held by another local user is a
//! conflict, reported and skipped, never overwritten), then bindings. A second run finds
//! everything as it left it and changes nothing. Passwords keep fba's bcrypt hash, which the
//! first login verifies and rehashes to Argon2id; a local password that is no longer bcrypt
//! (the user has signed in here since) is never replaced.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use super::roles::{check_codes, check_name};
use super::{Admin, AdminError};
use crate::actors::repo::{
    ChangeRoleCodes, ChangeUser, ChangeUserRoles, CountEnabledSuperusers, CreateRole, CreateUser,
    FindRole, FindUserByEmail, FindUserByName, FindUserBySocial, FindUserByUuid, LinkSocial,
    RolesOf, SetPasswordHash, SocialsOf, TouchLastLogin, UpdateRole,
};
use crate::db::models::{NewUser, User};
use crate::domain::{
    parse_avatar, parse_nickname, parse_phone, Email, Invalidation, Username, STATUS_DISABLED,
    STATUS_ENABLED,
};
use crate::repo::fba::{FbaDump, FbaRole, FbaSocial, FbaUser};
use crate::repo::{CodeChange, Guarded, RoleKey, UserChanges};

/// What happened to each kind of row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Conflicts, left as they are.
    pub skipped: usize,
    pub failed: usize,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} skipped, {} failed",
            self.created, self.updated, self.unchanged, self.skipped, self.failed
        )
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub users: Tally,
    pub roles: Tally,
    pub bindings: Tally,
}

impl ImportSummary {
    pub fn failed(&self) -> usize {
        self.users.failed + self.roles.failed + self.bindings.failed
    }
}

/// What the import tells its caller as it goes: one step per row, and a line per row that was
/// skipped or failed.
pub trait ImportProgress {
    fn begin(&mut self, rows: u64);
    fn step(&mut self);
    fn report(&mut self, line: String);
}

/// A local user as the import sees it: one that exists, or one a dry run would create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    Existing(i64),
    New,
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped(String),
    Failed(String),
}

impl Tally {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }
}

/// What earlier rows of this run took, so that two rows of one import that want the same email
/// or identity meet here the same way in a dry run as in a real one.
#[derive(Default)]
struct Claims {
    /// email → the fba user that took it.
    emails: HashMap<String, i64>,
    /// (provider, provider user id) → the fba user bound to it.
    identities: HashMap<(String, String), i64>,
    /// (fba user, provider): bound in this run.
    bound: HashSet<(i64, String)>,
    /// Every uuid in the dump.
    uuids: HashSet<String>,
    /// Enabled superusers after the rows so far: a change that would leave none is refused in
    /// a dry run exactly as the real run's transaction refuses it.
    superusers: i64,
}

/// A user row checked against Portcullis' rules.
struct Checked {
    username: String,
    /// fba's 1 or 0; anything else counts as disabled.
    status: i32,
    nickname: String,
    email: Option<String>,
    phone: Option<String>,
    avatar: Option<String>,
}

fn check_user(u: &FbaUser) -> Result<Checked, String> {
    let username = Username::parse(&u.username).map_err(|e| e.to_string())?;
    let nickname =
        parse_nickname(Some(&u.nickname), username.as_str()).map_err(|e| e.to_string())?;
    let email = match u.email.as_deref().map(str::trim_ascii) {
        Some(e) if !e.is_empty() => Some(Email::parse(e).map_err(|e| e.to_string())?.into_inner()),
        _ => None,
    };
    let phone = match u.phone.as_deref() {
        Some(p) => parse_phone(p).map_err(|e| e.to_string())?,
        None => None,
    };
    let avatar = match u.avatar.as_deref() {
        Some(a) => parse_avatar(a).map_err(|e| e.to_string())?,
        None => None,
    };
    if uuid::Uuid::parse_str(&u.uuid).is_err() {
        return Err(format!("uuid `{}` is not a UUID", u.uuid));
    }
    if let Some(p) = &u.password {
        if !p.starts_with("$2") {
            return Err("the password is not a bcrypt hash".into());
        }
    }
    Ok(Checked {
        status: if u.status == STATUS_ENABLED {
            STATUS_ENABLED
        } else {
            STATUS_DISABLED
        },
        username: username.as_str().to_owned(),
        nickname,
        email,
        phone,
        avatar,
    })
}

/// fba's `source` (`Github`, `Google`) as a Portcullis provider name (`github`, `google`).
pub fn provider_name(source: &str) -> String {
    source.trim_ascii().to_ascii_lowercase()
}

impl Admin {
    /// Imports what `read_fba` read. With `dry_run`, reads the local database the same way and
    /// counts the same, but writes nothing.
    pub async fn import_fba(
        &self,
        dump: &FbaDump,
        dry_run: bool,
        progress: &mut dyn ImportProgress,
    ) -> Result<ImportSummary, AdminError> {
        let mut summary = ImportSummary::default();
        progress.begin((dump.roles.len() + dump.users.len() + dump.socials.len()) as u64);

        let mut role_ids: BTreeMap<i64, Option<i64>> = BTreeMap::new();
        let mut roles_changed = false;
        for role in &dump.roles {
            let outcome = match self.import_role(role, dry_run).await? {
                Ok((id, outcome)) => {
                    role_ids.insert(role.id, id);
                    outcome
                }
                Err(why) => Outcome::Failed(why),
            };
            roles_changed |= matches!(outcome, Outcome::Created | Outcome::Updated);
            note(progress, &outcome, || format!("role `{}`", role.name));
            summary.roles.count(&outcome);
        }
        if roles_changed && !dry_run {
            self.invalidator.invalidate(Invalidation::Roles).await?;
        }

        let mut claims = Claims {
            uuids: dump.users.iter().map(|u| u.uuid.clone()).collect(),
            superusers: self.repo.send(CountEnabledSuperusers {}).await?,
            ..Claims::default()
        };
        let mut users: BTreeMap<i64, Local> = BTreeMap::new();
        for u in &dump.users {
            let wanted: Vec<Option<i64>> = dump
                .user_roles
                .get(&u.id)
                .into_iter()
                .flatten()
                .filter_map(|r| role_ids.get(r).copied())
                .collect();
            let outcome = match check_user(u) {
                Err(why) => Outcome::Failed(why),
                Ok(checked) => {
                    let (local, outcome) = self
                        .import_user(u, checked, &wanted, &mut claims, dry_run)
                        .await?;
                    if let Some(local) = local {
                        users.insert(u.id, local);
                    }
                    outcome
                }
            };
            note(progress, &outcome, || {
                format!("user `{}` (fba id {})", u.username, u.id)
            });
            summary.users.count(&outcome);
        }

        for s in &dump.socials {
            let outcome = match users.get(&s.user_id) {
                None => Outcome::Skipped("its user was not imported".into()),
                Some(local) => self.import_binding(s, *local, &mut claims, dry_run).await?,
            };
            note(progress, &outcome, || {
                format!("{} binding of fba user {}", s.source, s.user_id)
            });
            summary.bindings.count(&outcome);
        }
        Ok(summary)
    }

    /// The role's local id (`None` for one a dry run would create) and what happened.
    async fn import_role(
        &self,
        role: &FbaRole,
        dry_run: bool,
    ) -> Result<Result<(Option<i64>, Outcome), String>, AdminError> {
        let name = match check_name(&role.name) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let wanted: Vec<String> = role.codes.iter().cloned().collect();
        let codes = match check_codes(&wanted) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let status = if role.status == STATUS_ENABLED {
            STATUS_ENABLED
        } else {
            STATUS_DISABLED
        };
        let existing = self
            .repo
            .send(FindRole {
                key: RoleKey::Name(name.clone()),
            })
            .await?;
        let Some(local) = existing else {
            if dry_run {
                return Ok(Ok((None, Outcome::Created)));
            }
            let now = self.clock.naive();
            let id = self.repo.send(CreateRole { name, codes, now }).await?;
            if status != STATUS_ENABLED {
                self.repo
                    .send(UpdateRole {
                        id,
                        name: None,
                        status: Some(status),
                    })
                    .await?;
            }
            return Ok(Ok((Some(id), Outcome::Created)));
        };
        let have: BTreeSet<&String> = local.codes.iter().collect();
        let want: BTreeSet<&String> = codes.iter().collect();
        let add: Vec<String> = want.difference(&have).map(|c| (*c).clone()).collect();
        let remove: Vec<String> = have.difference(&want).map(|c| (*c).clone()).collect();
        if add.is_empty() && remove.is_empty() && local.status == status {
            return Ok(Ok((Some(local.id), Outcome::Unchanged)));
        }
        if !dry_run {
            if local.status != status {
                self.repo
                    .send(UpdateRole {
                        id: local.id,
                        name: None,
                        status: Some(status),
                    })
                    .await?;
            }
            for (change, codes) in [(CodeChange::Add, add), (CodeChange::Remove, remove)] {
                if !codes.is_empty() {
                    self.repo
                        .send(ChangeRoleCodes {
                            id: local.id,
                            change,
                            codes,
                        })
                        .await?;
                }
            }
        }
        Ok(Ok((Some(local.id), Outcome::Updated)))
    }

    async fn import_user(
        &self,
        u: &FbaUser,
        c: Checked,
        roles: &[Option<i64>],
        claims: &mut Claims,
        dry_run: bool,
    ) -> Result<(Option<Local>, Outcome), AdminError> {
        if let Some(other) = c.email.as_ref().and_then(|e| claims.emails.get(e)) {
            let why = format!("fba user {other} of this import has the same email");
            return Ok((None, Outcome::Skipped(why)));
        }
        let by_uuid = self
            .repo
            .send(FindUserByUuid {
                uuid: u.uuid.clone(),
            })
            .await?;
        let by_name = self
            .repo
            .send(FindUserByName {
                username: c.username.clone(),
            })
            .await?;
        let matched = match (by_uuid, by_name) {
            (Some(a), Some(b)) if a.id != b.id => {
                let why = format!(
                    "its uuid is local user `{}`'s, its username another local user's",
                    a.username
                );
                return Ok((None, Outcome::Skipped(why)));
            }
            (Some(a), _) => Some(a),
            // The same name, another uuid: the same person, unless that local user is another
            // row of this import (fba renamed one user and gave the name to another).
            (None, Some(b)) if b.uuid != u.uuid && claims.uuids.contains(&b.uuid) => {
                let why = format!(
                    "local user `{}` is another fba user (uuid {}) of this import",
                    b.username, b.uuid
                );
                return Ok((None, Outcome::Skipped(why)));
            }
            (None, b) => b,
        };
        if let Some(email) = &c.email {
            let holder = self
                .repo
                .send(FindUserByEmail {
                    email: email.clone(),
                })
                .await?;
            if let Some(h) = holder.filter(|h| matched.as_ref().is_none_or(|m| m.id != h.id)) {
                let why = format!("email {email} belongs to local user `{}`", h.username);
                return Ok((None, Outcome::Skipped(why)));
            }
        }
        let email = c.email.clone();
        let result = match matched {
            None => self.create_imported(u, c, roles, claims, dry_run).await?,
            Some(local) => {
                self.update_imported(u, c, &local, roles, claims, dry_run)
                    .await?
            }
        };
        if let (Some(email), Some(_)) = (email, &result.0) {
            claims.emails.insert(email, u.id);
        }
        Ok(result)
    }

    async fn create_imported(
        &self,
        u: &FbaUser,
        c: Checked,
        roles: &[Option<i64>],
        claims: &mut Claims,
        dry_run: bool,
    ) -> Result<(Option<Local>, Outcome), AdminError> {
        let superuser = u.is_superuser && c.status == STATUS_ENABLED;
        if dry_run {
            claims.superusers += i64::from(superuser);
            return Ok((Some(Local::New), Outcome::Created));
        }
        let now = self.clock.naive();
        let new = NewUser {
            uuid: u.uuid.clone(),
            username: c.username,
            nickname: c.nickname,
            password_hash: u.password.clone(),
            email: c.email,
            email_verified: false,
            phone: c.phone,
            avatar: c.avatar,
            status: c.status,
            is_superuser: u.is_superuser,
            is_staff: u.is_staff,
            multi_login: u.is_multi_login,
            password_changed_at: u.last_password_changed_time.or(Some(now)),
            created_at: u.join_time.unwrap_or(now),
            updated_at: now,
        };
        let user = match self.repo.send(CreateUser { new }).await {
            Ok(user) => user,
            Err(e) if e.is_unique_violation() => {
                let why = "its username or email was taken meanwhile".to_owned();
                return Ok((None, Outcome::Skipped(why)));
            }
            Err(e) => return Err(e.into()),
        };
        claims.superusers += i64::from(superuser);
        if let Some(at) = u.last_login_time {
            self.repo
                .send(TouchLastLogin {
                    user_id: user.id,
                    at,
                })
                .await?;
        }
        let role_ids: Vec<i64> = roles.iter().flatten().copied().collect();
        if !role_ids.is_empty() {
            self.repo
                .send(ChangeUserRoles {
                    user_id: user.id,
                    change: CodeChange::Add,
                    role_ids,
                })
                .await?;
        }
        Ok((Some(Local::Existing(user.id)), Outcome::Created))
    }

    async fn update_imported(
        &self,
        u: &FbaUser,
        c: Checked,
        local: &User,
        roles: &[Option<i64>],
        claims: &mut Claims,
        dry_run: bool,
    ) -> Result<(Option<Local>, Outcome), AdminError> {
        fn differs<T: PartialEq + Clone>(have: &T, want: &T) -> Option<T> {
            (have != want).then(|| want.clone())
        }
        // Matched by uuid, the account is fba's: it follows fba in everything. Matched by name
        // only, it is a local account of the same name: its profile follows fba, but nothing
        // that grants access does (no password, no superuser or staff flag, never enabled).
        let same_account = local.uuid == u.uuid;
        let status = if same_account || c.status == STATUS_DISABLED {
            differs(&local.status, &c.status)
        } else {
            None
        };
        let mut changes = UserChanges {
            nickname: differs(&local.nickname, &c.nickname),
            email: differs(&local.email, &c.email),
            phone: differs(&local.phone, &c.phone),
            avatar: differs(&local.avatar, &c.avatar),
            status,
            is_superuser: differs(&local.is_superuser, &u.is_superuser).filter(|_| same_account),
            is_staff: differs(&local.is_staff, &u.is_staff).filter(|_| same_account),
            multi_login: differs(&local.multi_login, &u.is_multi_login),
            ..UserChanges::default()
        };
        if changes.email.is_some() {
            changes.email_verified = Some(false);
        }
        // Only a password that is still fba's (bcrypt, never used here) follows fba's.
        let password = u.password.as_ref().filter(|want| {
            same_account
                && local.password_hash.as_ref() != Some(*want)
                && local
                    .password_hash
                    .as_ref()
                    .is_none_or(|h| h.starts_with("$2"))
        });
        let have: BTreeSet<i64> = self
            .repo
            .send(RolesOf { user_id: local.id })
            .await?
            .iter()
            .map(|r| r.id)
            .collect();
        let roles = if same_account { roles } else { &[] };
        let new_roles: Vec<i64> = roles
            .iter()
            .flatten()
            .filter(|id| !have.contains(id))
            .copied()
            .collect();
        // A role a dry run would create is one more the user would get.
        let planned_roles = roles.iter().any(Option::is_none);
        let profile = changes.nickname.is_some()
            || changes.email.is_some()
            || changes.phone.is_some()
            || changes.avatar.is_some()
            || changes.status.is_some()
            || changes.is_superuser.is_some()
            || changes.is_staff.is_some()
            || changes.multi_login.is_some();
        let local_ref = Some(Local::Existing(local.id));
        let was_superuser = local.is_superuser && local.is_enabled();
        let is_superuser = changes.is_superuser.unwrap_or(local.is_superuser)
            && changes.status.unwrap_or(local.status) == STATUS_ENABLED;
        if was_superuser && !is_superuser && claims.superusers <= 1 {
            let why = AdminError::LastSuperuser.to_string();
            return Ok((local_ref, Outcome::Failed(why)));
        }
        if !profile && password.is_none() && new_roles.is_empty() && !planned_roles {
            return Ok((local_ref, Outcome::Unchanged));
        }
        let superusers = claims.superusers + i64::from(is_superuser) - i64::from(was_superuser);
        if dry_run {
            claims.superusers = superusers;
            return Ok((local_ref, Outcome::Updated));
        }
        let now = self.clock.naive();
        if profile {
            changes.updated_at = Some(now);
            match self
                .repo
                .send(ChangeUser {
                    id: local.id,
                    changes: changes.clone(),
                })
                .await?
            {
                Guarded::Done(_) => {}
                Guarded::NoSuchUser => {
                    return Ok((None, Outcome::Skipped("deleted meanwhile".into())));
                }
                Guarded::LastSuperuser => {
                    let why = AdminError::LastSuperuser.to_string();
                    return Ok((local_ref, Outcome::Failed(why)));
                }
            }
        }
        if let Some(hash) = password {
            self.repo
                .send(SetPasswordHash {
                    user_id: local.id,
                    hash: hash.clone(),
                    changed_at: u.last_password_changed_time.or(Some(now)),
                    now,
                })
                .await?;
        }
        if !new_roles.is_empty() {
            self.repo
                .send(ChangeUserRoles {
                    user_id: local.id,
                    change: CodeChange::Add,
                    role_ids: new_roles,
                })
                .await?;
        }
        claims.superusers = superusers;
        let disabled = changes.status.is_some_and(|s| s != STATUS_ENABLED);
        if disabled || password.is_some() {
            // As an administrator's change would: the old sessions end on every node.
            self.revoke_sessions(local.id).await?;
        } else {
            self.invalidator
                .invalidate(Invalidation::User(local.id))
                .await?;
        }
        Ok((local_ref, Outcome::Updated))
    }

    async fn import_binding(
        &self,
        s: &FbaSocial,
        local: Local,
        claims: &mut Claims,
        dry_run: bool,
    ) -> Result<Outcome, AdminError> {
        let provider = provider_name(&s.source);
        if provider.is_empty() || s.sid.trim_ascii().is_empty() {
            return Ok(Outcome::Failed("no source or no sid".into()));
        }
        let identity = (provider.clone(), s.sid.clone());
        if let Some(other) = claims.identities.get(&identity) {
            let outcome = if *other == s.user_id {
                Outcome::Unchanged
            } else {
                Outcome::Skipped(format!("fba user {other} of this import has this identity"))
            };
            return Ok(outcome);
        }
        if claims.bound.contains(&(s.user_id, provider.clone())) {
            let why =
                format!("another {provider} identity of this user comes first in this import");
            return Ok(Outcome::Skipped(why));
        }
        let outcome = self.bind_imported(s, &provider, local, dry_run).await?;
        if matches!(outcome, Outcome::Created | Outcome::Unchanged) {
            claims.identities.insert(identity, s.user_id);
            claims.bound.insert((s.user_id, provider));
        }
        Ok(outcome)
    }

    async fn bind_imported(
        &self,
        s: &FbaSocial,
        provider: &str,
        local: Local,
        dry_run: bool,
    ) -> Result<Outcome, AdminError> {
        let provider = provider.to_owned();
        let owner = self
            .repo
            .send(FindUserBySocial {
                provider: provider.clone(),
                provider_user_id: s.sid.clone(),
            })
            .await?;
        match (owner, local) {
            (Some(o), Local::Existing(id)) if o.id == id => return Ok(Outcome::Unchanged),
            (Some(o), _) => {
                let why = format!("this identity is bound to local user `{}`", o.username);
                return Ok(Outcome::Skipped(why));
            }
            (None, Local::New) => return Ok(Outcome::Created),
            (None, Local::Existing(_)) => {}
        }
        let Local::Existing(user_id) = local else {
            unreachable!("handled above")
        };
        let bound = self.repo.send(SocialsOf { user_id }).await?;
        if let Some((_, other, _)) = bound.iter().find(|(p, _, _)| *p == provider) {
            let why = format!("the local user is bound to another {provider} identity ({other})");
            return Ok(Outcome::Skipped(why));
        }
        if !dry_run {
            let now = self.clock.naive();
            self.repo
                .send(LinkSocial {
                    user_id,
                    provider,
                    provider_user_id: s.sid.clone(),
                    now,
                })
                .await?;
        }
        Ok(Outcome::Created)
    }
}

fn note(progress: &mut dyn ImportProgress, outcome: &Outcome, what: impl FnOnce() -> String) {
    match outcome {
        Outcome::Skipped(why) => progress.report(format!("skipped {}: {why}", what())),
        Outcome::Failed(why) => progress.report(format!("failed {}: {why}", what())),
        _ => {}
    }
    progress.step();
}
