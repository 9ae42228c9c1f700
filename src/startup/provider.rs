//! The OpenID provider's parts, when `oidc.enabled`: the keys that sign ID tokens (RS256, and
//! EdDSA when the access tokens use it) and the provider itself.

use std::sync::Arc;

use jsonwebtoken::{DecodingKey, EncodingKey};

use super::secrets::{previous_rsa_keys, resolve_rsa_key};
use crate::actors::{CacheHandle, RepoHandle};
use crate::auth::jwt::JwtKeys;
use crate::auth::keys::KeySet;
use crate::auth::sessions::Sessions;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::login_log::LoginLog;
use crate::oidc::backchannel::Backchannel;
use crate::oidc::tokens::IdTokenKeys;
use crate::oidc::{OidcClients, Provider};
use crate::store::Store;

/// `None` with the provider off.
pub(super) fn id_token_keys(
    settings: &Settings,
    keys: &KeySet,
) -> anyhow::Result<Option<IdTokenKeys>> {
    if !settings.oidc.enabled {
        return Ok(None);
    }
    let ed25519 = match keys {
        KeySet::Ed25519 {
            private_pem,
            current,
            ..
        } => Some((
            current.kid.clone(),
            EncodingKey::from_ed_pem(private_pem.as_bytes())?,
            DecodingKey::from_ed_components(&current.x)?,
        )),
        KeySet::Hs256 { .. } => None,
    };
    Ok(Some(IdTokenKeys {
        rsa: resolve_rsa_key(settings)?,
        previous_rsa: previous_rsa_keys(settings)?,
        ed25519,
    }))
}

/// What the provider is made of, besides its keys.
pub(super) struct Parts {
    pub(super) issuer: String,
    pub(super) store: Store,
    pub(super) repo: RepoHandle,
    pub(super) jwt: Arc<JwtKeys>,
    pub(super) sessions: Sessions,
    pub(super) cache: CacheHandle,
    pub(super) clock: SharedClock,
    pub(super) login_log: LoginLog,
    pub(super) clients: OidcClients,
}

/// The provider, with its back-channel logout notices started: every app's session that ends
/// (on this node) queues one for its app.
pub(super) fn provider(settings: &Settings, keys: IdTokenKeys, p: Parts) -> Provider {
    let clients = p.clients;
    let keys = Arc::new(keys);
    let backchannel = Backchannel::new(
        p.repo.clone(),
        clients.clone(),
        keys.clone(),
        p.issuer.clone(),
        p.clock.clone(),
    );
    backchannel.start();
    let notices = backchannel.clone();
    p.sessions
        .on_end(Box::new(move |uid, ended| notices.ended(uid, ended)));
    Provider {
        settings: settings.oidc.clone(),
        clients,
        keys,
        issuer: p.issuer,
        store: p.store,
        repo: p.repo,
        jwt: p.jwt,
        sessions: p.sessions,
        cache: p.cache,
        clock: p.clock,
        login_log: p.login_log,
    }
}
