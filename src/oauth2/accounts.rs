//! From a provider's identity to a local user: a known identity logs its user in; an unknown
//! one attaches to an existing account only with `link_by_verified_email` on, when the provider
//! says the email is verified AND the local account's email is verified too, and never to a
//! superuser; otherwise a new user is created (no password, default roles).

use chrono::NaiveDateTime;

use super::{Identity, OAuthError};
use crate::actors::repo::{
    CreateSocialUser, FindUserByEmail, FindUserBySocial, LinkSocial, RepoHandle,
};
use crate::config::OAuth2Settings;
use crate::db::models::{NewUser, User, STATUS_ENABLED};
use crate::db::DbError;

/// A local username from what the provider offers: letters, digits, `_ . -`, starting with a
/// letter or digit, 3 to 32 characters.
pub fn base_username(identity: &Identity, provider: &str) -> String {
    let source = identity
        .login
        .clone()
        .or_else(|| {
            identity
                .email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .map(str::to_owned)
        })
        .or_else(|| identity.name.clone())
        .unwrap_or_default();
    let mut name: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    if name.len() < 3 {
        name = format!("{provider}_{name}")
            .trim_end_matches('_')
            .to_owned();
        name = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(32)
            .collect();
        if name.len() < 3 {
            name = format!("user_{name}");
        }
    }
    name
}

fn candidate(base: &str, attempt: usize) -> String {
    if attempt == 0 {
        return base.to_owned();
    }
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let head: String = base.chars().take(32 - 7).collect();
    format!("{head}_{suffix}")
}

fn db(e: DbError) -> OAuthError {
    tracing::error!(error = %e, "database error during social login");
    OAuthError::Internal
}

/// The user this identity is bound to, if any.
async fn owner(
    repo: &RepoHandle,
    provider: &str,
    identity: &Identity,
) -> Result<Option<User>, OAuthError> {
    repo.send(FindUserBySocial {
        provider: provider.to_owned(),
        provider_user_id: identity.provider_user_id.clone(),
    })
    .await
    .map_err(db)
}

/// The user this identity logs in as (found, linked or created). Disabled users are refused.
pub async fn login(
    repo: &RepoHandle,
    settings: &OAuth2Settings,
    provider: &str,
    identity: &Identity,
    now: NaiveDateTime,
) -> Result<User, OAuthError> {
    let user = match owner(repo, provider, identity).await? {
        Some(u) => u,
        None => match link_by_email(repo, settings, provider, identity, now).await? {
            Some(u) => u,
            None => create(repo, settings, provider, identity, now).await?,
        },
    };
    if !user.is_enabled() {
        return Err(OAuthError::AccountDisabled);
    }
    Ok(user)
}

async fn link_by_email(
    repo: &RepoHandle,
    settings: &OAuth2Settings,
    provider: &str,
    identity: &Identity,
    now: NaiveDateTime,
) -> Result<Option<User>, OAuthError> {
    let Some(email) = identity.email.clone().filter(|_| identity.email_verified) else {
        return Ok(None);
    };
    if !settings.link_by_verified_email {
        return Ok(None);
    }
    let Some(user) = repo
        .send(FindUserByEmail {
            email: email.to_ascii_lowercase(),
        })
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    // The local address must be proven too (else anyone could pre-register a victim's address
    // and wait for them to sign in), and a superuser is never taken over by a provider's word.
    if !user.email_verified || user.is_superuser {
        tracing::info!(
            uid = user.id,
            "not linking by email: the local address is unverified or the account is a superuser"
        );
        return Ok(None);
    }
    let link = LinkSocial {
        user_id: user.id,
        provider: provider.to_owned(),
        provider_user_id: identity.provider_user_id.clone(),
        now,
    };
    match repo.send(link).await {
        Ok(()) => Ok(Some(user)),
        // The account already has another identity at this provider: do not take it over.
        Err(e) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(db(e)),
    }
}

async fn create(
    repo: &RepoHandle,
    settings: &OAuth2Settings,
    provider: &str,
    identity: &Identity,
    now: NaiveDateTime,
) -> Result<User, OAuthError> {
    // The address is kept only if no one has it (emails are unique), and marked verified only
    // when the provider says so.
    let email = match identity.email.clone().map(|e| e.to_ascii_lowercase()) {
        Some(e) if crate::domain::Email::parse(&e).is_ok() => {
            let taken = repo
                .send(FindUserByEmail { email: e.clone() })
                .await
                .map_err(db)?
                .is_some();
            (!taken).then_some(e)
        }
        _ => None,
    };
    let base = base_username(identity, provider);
    let nickname: String = identity
        .name
        .clone()
        .or_else(|| identity.login.clone())
        .unwrap_or_else(|| base.clone())
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    for attempt in 0..8 {
        let new = NewUser {
            uuid: uuid::Uuid::new_v4().to_string(),
            username: candidate(&base, attempt),
            nickname: nickname.clone(),
            password_hash: None,
            email_verified: identity.email_verified && email.is_some(),
            email: email.clone(),
            phone: None,
            avatar: identity.avatar.clone().filter(|a| a.len() <= 2048),
            status: STATUS_ENABLED,
            is_superuser: false,
            is_staff: false,
            multi_login: true,
            password_changed_at: None,
            created_at: now,
            updated_at: now,
        };
        let create = CreateSocialUser {
            new,
            provider: provider.to_owned(),
            provider_user_id: identity.provider_user_id.clone(),
            roles: settings.default_roles.clone(),
        };
        match repo.send(create).await {
            Ok(user) => return Ok(user),
            Err(e) if e.is_unique_violation() => {
                // Another callback for the same identity may have won the race.
                if let Some(u) = owner(repo, provider, identity).await? {
                    return Ok(u);
                }
            }
            Err(e) => return Err(db(e)),
        }
    }
    tracing::error!(base, "no free username after 8 tries");
    Err(OAuthError::Internal)
}

/// Binds the identity to a logged-in user.
pub async fn bind(
    repo: &RepoHandle,
    user_id: i64,
    provider: &str,
    identity: &Identity,
    now: NaiveDateTime,
) -> Result<(), OAuthError> {
    if let Some(owner) = owner(repo, provider, identity).await? {
        return Err(if owner.id == user_id {
            OAuthError::AlreadyBound
        } else {
            OAuthError::IdentityTaken
        });
    }
    let link = LinkSocial {
        user_id,
        provider: provider.to_owned(),
        provider_user_id: identity.provider_user_id.clone(),
        now,
    };
    match repo.send(link).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_unique_violation() => Err(OAuthError::AlreadyBound),
        Err(e) => Err(db(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(login: Option<&str>, email: Option<&str>, name: Option<&str>) -> Identity {
        Identity {
            provider_user_id: "1".into(),
            login: login.map(Into::into),
            name: name.map(Into::into),
            email: email.map(Into::into),
            email_verified: false,
            avatar: None,
        }
    }

    #[test]
    fn usernames_are_derived_and_valid() {
        let cases = [
            (identity(Some("octocat"), None, None), "octocat"),
            (identity(None, Some("jane.doe@x.io"), None), "jane.doe"),
            (identity(None, None, Some("Zoë Smith")), "Zo__Smith"),
            (identity(Some("_-x"), None, None), "github_x"),
            (identity(None, None, None), "github"),
        ];
        for (id, expected) in cases {
            let name = base_username(&id, "github");
            assert_eq!(name, expected);
            assert!(crate::domain::Username::parse(&name).is_ok(), "{name}");
        }
        let long = base_username(&identity(Some(&"a".repeat(100)), None, None), "github");
        assert_eq!(long.len(), 32);
        let c = candidate(&long, 3);
        assert!(
            c.len() <= 32 && crate::domain::Username::parse(&c).is_ok(),
            "{c}"
        );
    }
}
