//! Social bindings: fba's `sys_user_social` rows as Portcullis identities.

use super::{Claims, Local, Outcome};
use crate::actors::repo::{FindUserBySocial, LinkSocial, SocialsOf};
use crate::admin::{Admin, AdminError};
use crate::repo::fba::FbaSocial;

/// fba's `source` (`Github`, `Google`) as a Portcullis provider name (`github`, `google`).
pub fn provider_name(source: &str) -> String {
    source.trim_ascii().to_ascii_lowercase()
}

impl Admin {
    pub(super) async fn import_binding(
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
        let user_id = match (owner, local) {
            (Some(o), Local::Imported { id, .. } | Local::SameName(id)) if o.id == id => {
                return Ok(Outcome::Unchanged)
            }
            (Some(o), _) => {
                let why = format!("this identity is bound to local user `{}`", o.username);
                return Ok(Outcome::Skipped(why));
            }
            // A name-only match is the same person perhaps, but not fba's account: a binding
            // would let fba's user sign in as it.
            (None, Local::SameName(_)) => {
                let why = "its user matched a local account by username only; \
                           the owner can bind it by signing in";
                return Ok(Outcome::Skipped(why.into()));
            }
            (
                None,
                Local::Imported {
                    superuser: true, ..
                }
                | Local::New { superuser: true },
            ) => {
                let why = "a superuser's social logins are not imported; \
                           the owner can bind them by signing in";
                return Ok(Outcome::Skipped(why.into()));
            }
            (None, Local::New { .. }) => return Ok(Outcome::Created),
            (None, Local::Imported { id, .. }) => id,
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
