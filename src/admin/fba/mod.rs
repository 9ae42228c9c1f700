//! `portcullis import fba`: an fba database's users, roles, permission codes and social
//! bindings brought over, idempotently.
//!
//! Roles first (matched by name; their codes become exactly the fba role's), then users
//! (matched by uuid, then username; a username or email held by another local user is a
//! conflict, reported and skipped, never overwritten), then bindings. A second run finds
//! everything as it left it and changes nothing. Passwords keep fba's bcrypt hash, which the
//! first login verifies and rehashes to Argon2id; a local password that is no longer bcrypt
//! (the user has signed in here since) is never replaced.

mod bindings;
mod users;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

pub use bindings::provider_name;
use users::check_user;

use super::roles::{check_codes, check_name};
use super::{Admin, AdminError};
use crate::actors::repo::{
    ChangeRoleCodes, CountEnabledSuperusers, CreateRole, FindRole, UpdateRole,
};
use crate::domain::{Invalidation, STATUS_DISABLED, STATUS_ENABLED};
use crate::repo::fba::{FbaDump, FbaRole};
use crate::repo::{CodeChange, RoleKey};

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

/// Imports record the users they create under this source (`imported_users`).
const SOURCE: &str = "fba";

/// A local user as the import sees it, and how it was matched: only fba's own account (one an
/// import created, matched by uuid) follows fba in what grants access, bindings included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    /// Created by this or an earlier import; `superuser` as it is after this row.
    Imported { id: i64, superuser: bool },
    /// A local account of the same name: the same person, but not fba's account.
    SameName(i64),
    /// One a dry run would create.
    New { superuser: bool },
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
}

fn note(progress: &mut dyn ImportProgress, outcome: &Outcome, what: impl FnOnce() -> String) {
    match outcome {
        Outcome::Skipped(why) => progress.report(format!("skipped {}: {why}", what())),
        Outcome::Failed(why) => progress.report(format!("failed {}: {why}", what())),
        _ => {}
    }
    progress.step();
}
