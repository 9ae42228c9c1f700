//! Passkeys (WebAuthn, with `webauthn-rs`): several per user, each named; one as the second
//! factor after the password; one alone to sign in (a discoverable credential, user
//! verification required). Each ceremony's state waits in the store between its two requests,
//! single-use and short-lived (both modes); a credential's signature counter must move forward
//! (webauthn-rs refuses one that does not) and is kept after every use.
//!
//! Here: the relying party, what the API shows, the ceremony state and the list; registering
//! in `register`, every use (second step, re-authentication, sign-in alone) in `sign_in`.

mod register;
mod sign_in;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, Url, Webauthn, WebauthnBuilder};

use super::{db, Mfa};
use crate::actors::repo::PasskeysOf;
use crate::config::WebauthnSettings;
use crate::crypto;
use crate::domain::Invalidation;
use crate::error::{kind, ApiError};
use crate::repo::PasskeyRow;
use crate::store::Once;

/// Most passkeys one user may have.
pub const MAX_PER_USER: usize = 20;

/// The relying party: `[webauthn]`, or what `server.public_url` implies (its host, or
/// `localhost` for an address, which browsers never bind passkeys to).
pub fn relying_party(settings: &WebauthnSettings, public_url: &str) -> Result<Webauthn, String> {
    let public = Url::parse(public_url).map_err(|e| format!("server.public_url: {e}"))?;
    let rp_id = match settings.rp_id.trim() {
        "" => public.domain().unwrap_or("localhost").to_owned(),
        id => id.to_owned(),
    };
    let mut origins = settings
        .origins
        .iter()
        .map(|o| Url::parse(o.trim()).map_err(|e| format!("webauthn.origins `{o}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if origins.is_empty() {
        let mut origin = public.clone();
        origin.set_path("");
        if origin.domain().is_none() {
            origin
                .set_host(Some("localhost"))
                .map_err(|e| format!("server.public_url: {e}"))?;
        }
        origins.push(origin);
    }
    for o in &origins {
        let on_rp = o
            .domain()
            .is_some_and(|d| d == rp_id || d.ends_with(&format!(".{rp_id}")));
        if !on_rp {
            return Err(format!(
                "webauthn: the origin {o} is not on the relying party id `{rp_id}` (set \
                 webauthn.rp_id to its domain or a parent of it, or webauthn.origins)"
            ));
        }
    }
    let mut builder = WebauthnBuilder::new(&rp_id, &origins[0])
        .map_err(|e| format!("webauthn: {e}"))?
        .rp_name(&settings.rp_name);
    for o in &origins[1..] {
        builder = builder.append_allowed_origin(o);
    }
    builder.build().map_err(|e| format!("webauthn: {e}"))
}

/// A ceremony's options for the browser, and the id its answer comes back with.
#[derive(Debug, Serialize, paperclip::actix::Apiv2Schema)]
pub struct PasskeyOptions {
    /// Send it back with the authenticator's answer.
    pub challenge_id: String,
    /// For `navigator.credentials.create()` / `.get()`: `{publicKey: {...}}`, binary values in
    /// base64url.
    pub options: Value,
}

/// A passkey as its owner sees it.
#[derive(Debug, Serialize, paperclip::actix::Apiv2Schema)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&PasskeyRow> for PasskeyInfo {
    fn from(r: &PasskeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            created_at: r.created_at.and_utc(),
            last_used_at: r.last_used_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Registering {
    uid: i64,
    /// The session that started it: only that one finishes it (and counts as multi-factor).
    sid: String,
    name: String,
    state: PasskeyRegistration,
}

/// Where a re-authentication's options wait: under the user, so only that user's answer finds
/// them.
fn reauth_key(uid: i64, challenge_id: &str) -> String {
    format!("reauth:{uid}:{}", crypto::digest(challenge_id))
}

/// A passkey's name: what the user typed, trimmed, 1 to 64 characters, no control characters.
fn passkey_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let ok = (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    match ok {
        true => Ok(name.to_owned()),
        false => Err(ApiError::new(kind::INVALID_BODY)
            .with_detail("a passkey's name is 1 to 64 characters, without control characters")),
    }
}

fn failed(why: impl std::fmt::Display) -> ApiError {
    tracing::info!(why = %why, "a passkey was not accepted");
    ApiError::new(kind::PASSKEY_FAILED)
}

/// A credential id as stored: base64url without padding, as webauthn-rs writes it.
fn credential_key(id: &[u8]) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(id)
}

fn parsed(row: &PasskeyRow) -> Result<Passkey, ApiError> {
    serde_json::from_str(&row.passkey).map_err(ApiError::internal)
}

fn json<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(ApiError::internal)
}

impl Mfa {
    fn ceremony_ttl(&self) -> i64 {
        self.settings.ticket_ttl_seconds
    }

    async fn keep_state(&self, id: &str, value: String) -> Result<(), ApiError> {
        let now = self.clock.unix();
        Ok(self
            .store
            .put_once(Once::Webauthn, id, &value, self.ceremony_ttl(), now)
            .await?)
    }

    async fn take_state(&self, id: &str) -> Result<Option<String>, ApiError> {
        let now = self.clock.unix();
        Ok(self.store.take_once(Once::Webauthn, id, now).await?)
    }

    pub(super) async fn passkeys_of(&self, uid: i64) -> Result<Vec<PasskeyRow>, ApiError> {
        self.repo
            .send(PasskeysOf { user_id: uid })
            .await
            .map_err(db)
    }

    /// The user's passkeys, as they see them.
    pub async fn passkeys(&self, uid: i64) -> Result<Vec<PasskeyInfo>, ApiError> {
        Ok(self
            .passkeys_of(uid)
            .await?
            .iter()
            .map(Into::into)
            .collect())
    }

    /// Removes one of the user's passkeys (404 when it is not theirs); the recovery codes go
    /// when no factor is left.
    pub async fn remove_passkey(&self, uid: i64, id: i64) -> Result<(), ApiError> {
        let n = self
            .repo
            .send(crate::actors::repo::DeletePasskey { user_id: uid, id })
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(ApiError::new(kind::NOT_FOUND).with_detail("no such passkey"));
        }
        Ok(self.invalidator.invalidate(Invalidation::User(uid)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rp_id: &str, origins: &[&str]) -> WebauthnSettings {
        WebauthnSettings {
            rp_id: rp_id.into(),
            rp_name: "Portcullis".into(),
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    fn origins(w: &Webauthn) -> Vec<String> {
        w.get_allowed_origins()
            .iter()
            .map(|u| u.origin().ascii_serialization())
            .collect()
    }

    #[test]
    fn the_relying_party_follows_the_public_url_and_never_an_address() {
        let dev = relying_party(&settings("", &[]), "http://127.0.0.1:8000").unwrap();
        assert_eq!(origins(&dev), ["http://localhost:8000"]);
        let prod = relying_party(&settings("", &[]), "https://auth.example.com").unwrap();
        assert_eq!(origins(&prod), ["https://auth.example.com"]);
        let parent = relying_party(
            &settings(
                "example.com",
                &["https://auth.example.com", "https://app.example.com"],
            ),
            "https://auth.example.com",
        )
        .unwrap();
        assert_eq!(
            origins(&parent),
            ["https://auth.example.com", "https://app.example.com"]
        );
        let err = relying_party(
            &settings("example.com", &["https://example.org"]),
            "https://auth.example.com",
        )
        .unwrap_err();
        assert!(err.contains("not on the relying party id"), "{err}");
    }

    #[test]
    fn a_passkey_name_is_short_text() {
        assert_eq!(passkey_name("  Laptop ").unwrap(), "Laptop");
        assert!(passkey_name("").is_err());
        assert!(passkey_name(&"x".repeat(65)).is_err());
        assert!(passkey_name("a\u{7}b").is_err());
    }
}
