//! Users: checked against Portcullis' rules, matched, then created or updated.

use std::collections::BTreeSet;

use super::{Claims, Local, Outcome, SOURCE};
use crate::actors::repo::{
    ChangeUser, ChangeUserRoles, CreateImportedUser, FindUserByEmail, FindUserByName,
    FindUserByUuid, ImportedFrom, RolesOf, SetPasswordHash, TouchLastLogin,
};
use crate::admin::{Admin, AdminError};
use crate::db::models::{NewUser, User};
use crate::domain::{
    parse_avatar, parse_nickname, parse_phone, Email, Invalidation, Username, STATUS_DISABLED,
    STATUS_ENABLED,
};
use crate::repo::fba::FbaUser;
use crate::repo::{CodeChange, Guarded, UserChanges};

/// A user row checked against Portcullis' rules.
pub(super) struct Checked {
    username: String,
    /// fba's 1 or 0; anything else counts as disabled.
    status: i32,
    nickname: String,
    email: Option<String>,
    phone: Option<String>,
    avatar: Option<String>,
}

pub(super) fn check_user(u: &FbaUser) -> Result<Checked, String> {
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

impl Admin {
    pub(super) async fn import_user(
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
        // A uuid is only the row's word: it names an account only if an import made that
        // account, else a row could carry a local user's uuid and take the account over.
        if let Some(a) = &by_uuid {
            let imported = self
                .repo
                .send(ImportedFrom {
                    user_id: a.id,
                    source: SOURCE,
                })
                .await?;
            if !imported {
                let why = format!(
                    "its uuid is local user `{}`'s, which no import created",
                    a.username
                );
                return Ok((None, Outcome::Skipped(why)));
            }
        }
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
            let local = Local::New {
                superuser: u.is_superuser,
            };
            return Ok((Some(local), Outcome::Created));
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
        let created = self.repo.send(CreateImportedUser {
            new,
            source: SOURCE,
        });
        let user = match created.await {
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
        let local = Local::Imported {
            id: user.id,
            superuser: user.is_superuser,
        };
        Ok((Some(local), Outcome::Created))
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
        let was_superuser = local.is_superuser && local.is_enabled();
        let superuser_flag = changes.is_superuser.unwrap_or(local.is_superuser);
        let is_superuser =
            superuser_flag && changes.status.unwrap_or(local.status) == STATUS_ENABLED;
        let local_ref = Some(if same_account {
            Local::Imported {
                id: local.id,
                superuser: superuser_flag,
            }
        } else {
            Local::SameName(local.id)
        });
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
}
