//! Passkeys (WebAuthn, with `webauthn-rs`): several per user, each named; one as the second
//! factor after the password; one alone to sign in (a discoverable credential, user
//! verification required). Each ceremony's state waits in the store between its two requests,
//! single-use and short-lived (both modes); a credential's signature counter must move forward
//! (webauthn-rs refuses one that does not) and is kept after every use.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{db, Factor, Mfa, Passed};
use crate::actors::repo::{
    AddPasskey, FindUserById, PasskeyByCredential, PasskeyUsed, PasskeysOf, RecoveryCodesLeft,
};
use crate::config::WebauthnSettings;
use crate::crypto;
use crate::domain::{AuthUser, Invalidation};
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

#[derive(Serialize, Deserialize)]
struct Reauthenticating {
    uid: i64,
    state: PasskeyAuthentication,
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

    /// Starts registering a passkey named `name`: the options for the browser. Its existing
    /// passkeys are excluded (an authenticator holds one per account); the new one must be
    /// discoverable (it signs in without a username) and verify its user.
    pub async fn start_passkey_registration(
        &self,
        user: &AuthUser,
        sid: &str,
        name: &str,
    ) -> Result<PasskeyOptions, ApiError> {
        let name = passkey_name(name)?;
        let existing = self.passkeys_of(user.id).await?;
        if existing.len() >= MAX_PER_USER {
            return Err(ApiError::new(kind::CONFLICT)
                .with_detail(format!("at most {MAX_PER_USER} passkeys per user")));
        }
        let exclude = existing
            .iter()
            .map(|r| parsed(r).map(|p| p.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let uuid = Uuid::parse_str(&user.uuid).map_err(ApiError::internal)?;
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(uuid, &user.username, &user.nickname, Some(exclude))
            .map_err(ApiError::internal)?;
        let mut options = serde_json::to_value(&ccr).map_err(ApiError::internal)?;
        // A resident (discoverable) credential, so that it can sign in by itself.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
        let challenge_id = crypto::random_token();
        let value = json(&Registering {
            uid: user.id,
            sid: sid.to_owned(),
            name,
            state,
        })?;
        self.keep_state(&format!("reg:{}", crypto::digest(&challenge_id)), value)
            .await?;
        Ok(PasskeyOptions {
            challenge_id,
            options,
        })
    }

    /// Finishes a registration with the browser's answer (`navigator.credentials.create()`'s
    /// `PublicKeyCredential`, as JSON): the new passkey, and the recovery codes when it is the
    /// user's first factor. 400 `passkey_failed` for anything the ceremony does not accept (an
    /// origin not allowed, a wrong challenge, a used or expired one, another user's).
    pub async fn finish_passkey_registration(
        &self,
        uid: i64,
        sid: &str,
        challenge_id: &str,
        credential: &Value,
    ) -> Result<(PasskeyInfo, Option<Vec<String>>), ApiError> {
        let Some(value) = self
            .take_state(&format!("reg:{}", crypto::digest(challenge_id)))
            .await?
        else {
            return Err(failed("unknown, used or expired registration"));
        };
        let reg: Registering = serde_json::from_str(&value).map_err(ApiError::internal)?;
        if reg.uid != uid || reg.sid != sid {
            return Err(failed("a registration of another user or session"));
        }
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(failed)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &reg.state)
            .map_err(failed)?;
        let first = self.factors(uid).await?.is_empty();
        let now = self.clock.naive();
        let id = self
            .repo
            .send(AddPasskey {
                user_id: uid,
                credential_id: credential_key(passkey.cred_id().as_ref()),
                name: reg.name.clone(),
                passkey: json(&passkey)?,
                now,
            })
            .await
            .map_err(db)?
            .ok_or_else(|| {
                ApiError::new(kind::CONFLICT).with_detail("this passkey is registered already")
            })?;
        self.invalidator.invalidate(Invalidation::User(uid)).await?;
        let left = self
            .repo
            .send(RecoveryCodesLeft { user_id: uid })
            .await
            .map_err(db)?;
        let codes = match first && left == 0 {
            true => Some(self.new_recovery_codes(uid).await?),
            false => None,
        };
        let info = PasskeyInfo {
            id,
            name: reg.name,
            created_at: now.and_utc(),
            last_used_at: None,
        };
        Ok((info, codes))
    }

    /// The options for a second step with a passkey, bound to the login's ticket.
    pub(super) async fn passkey_challenge(
        &self,
        uid: i64,
        ticket: &str,
    ) -> Result<Value, ApiError> {
        let passkeys = self
            .passkeys_of(uid)
            .await?
            .iter()
            .map(parsed)
            .collect::<Result<Vec<_>, _>>()?;
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(ApiError::internal)?;
        self.keep_state(&format!("2fa:{}", crypto::digest(ticket)), json(&state)?)
            .await?;
        serde_json::to_value(&rcr).map_err(ApiError::internal)
    }

    /// A passkey's assertion as the second step of `ticket`'s login (counted as a code is).
    /// The options were made with the ticket, once: a refused assertion needs a new login.
    pub(super) async fn check_passkey(
        &self,
        uid: i64,
        ticket: &str,
        assertion: &Value,
    ) -> Result<Result<Passed, Factor>, ApiError> {
        let refused = Ok(Err(Factor::Passkey));
        let state = self
            .take_state(&format!("2fa:{}", crypto::digest(ticket)))
            .await?;
        if !self.may_check(uid).await? {
            return refused;
        }
        let Some(state) = state else {
            tracing::info!(uid, "no passkey options for this ticket (used, or none)");
            return refused;
        };
        let state: PasskeyAuthentication =
            serde_json::from_str(&state).map_err(ApiError::internal)?;
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(assertion.clone())
        else {
            return refused;
        };
        let result = match self
            .webauthn
            .finish_passkey_authentication(&credential, &state)
        {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(uid, error = %e, "a passkey assertion was refused");
                return refused;
            }
        };
        match self.used(uid, result).await? {
            true => {
                self.checked_right(uid).await?;
                Ok(Ok(Passed {
                    factor: Factor::Passkey,
                    recovery_codes_left: None,
                }))
            }
            false => refused,
        }
    }

    /// A passkey that passed: its counter and last use kept. False when it is not the user's.
    async fn used(
        &self,
        uid: i64,
        result: webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<bool, ApiError> {
        let key = credential_key(result.cred_id().as_ref());
        let Some(row) = self
            .repo
            .send(PasskeyByCredential { credential_id: key })
            .await
            .map_err(db)?
            .filter(|r| r.user_id == uid)
        else {
            return Ok(false);
        };
        // The options were made from the record as it was then; a use since may have moved
        // its counter on: compare with the record as it is now.
        let stored: Value = serde_json::from_str(&row.passkey).map_err(ApiError::internal)?;
        let stored_counter = stored["cred"]["counter"].as_u64().unwrap_or(0);
        let counter = u64::from(result.counter());
        if (counter > 0 || stored_counter > 0) && counter <= stored_counter {
            tracing::warn!(
                target: "security",
                event = "passkey_counter_replay",
                uid,
                passkey = row.id,
                counter,
                stored_counter,
                "a passkey's signature counter did not move forward: a cloned authenticator?"
            );
            return Ok(false);
        }
        let mut passkey = parsed(&row)?;
        let changed = passkey.update_credential(&result) == Some(true);
        // Only over the record read above: of two uses at once, one passes.
        let kept = self
            .repo
            .send(PasskeyUsed {
                id: row.id,
                was: row.passkey.clone(),
                passkey: changed.then(|| json(&passkey)).transpose()?,
                now: self.clock.naive(),
            })
            .await
            .map_err(db)?;
        Ok(kept)
    }

    /// Options for confirming it is you with a passkey (a re-authentication), for this user's
    /// passkeys; 404 without one.
    pub async fn passkey_reauth_options(&self, uid: i64) -> Result<PasskeyOptions, ApiError> {
        let passkeys = self
            .passkeys_of(uid)
            .await?
            .iter()
            .map(parsed)
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Err(ApiError::new(kind::NOT_FOUND).with_detail("no passkey"));
        }
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(ApiError::internal)?;
        let challenge_id = crypto::random_token();
        let value = json(&Reauthenticating { uid, state })?;
        self.keep_state(&format!("reauth:{}", crypto::digest(&challenge_id)), value)
            .await?;
        Ok(PasskeyOptions {
            challenge_id,
            options: serde_json::to_value(&rcr).map_err(ApiError::internal)?,
        })
    }

    /// Whether `assertion` answers this user's re-authentication options (counted against the
    /// user as a code is).
    pub async fn check_reauth_passkey(
        &self,
        uid: i64,
        challenge_id: &str,
        assertion: &Value,
    ) -> Result<bool, ApiError> {
        let state = self
            .take_state(&format!("reauth:{}", crypto::digest(challenge_id)))
            .await?;
        if !self.may_check(uid).await? {
            return Ok(false);
        }
        let Some(state) = state else {
            return Ok(false);
        };
        let r: Reauthenticating = serde_json::from_str(&state).map_err(ApiError::internal)?;
        if r.uid != uid {
            return Ok(false);
        }
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(assertion.clone())
        else {
            return Ok(false);
        };
        let Ok(result) = self
            .webauthn
            .finish_passkey_authentication(&credential, &r.state)
        else {
            return Ok(false);
        };
        let ok = self.used(uid, result).await?;
        if ok {
            self.checked_right(uid).await?;
        }
        Ok(ok)
    }

    /// Options for signing in with a passkey alone (a discoverable credential: the
    /// authenticator offers its accounts; no username is asked).
    pub async fn passkey_login_options(&self) -> Result<PasskeyOptions, ApiError> {
        let (rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(ApiError::internal)?;
        let mut options = serde_json::to_value(&rcr).map_err(ApiError::internal)?;
        // webauthn-rs asks for the autofill UI; the page chooses (autofill or a button).
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let challenge_id = crypto::random_token();
        self.keep_state(
            &format!("login:{}", crypto::digest(&challenge_id)),
            json(&state)?,
        )
        .await?;
        Ok(PasskeyOptions {
            challenge_id,
            options,
        })
    }

    /// A passkey alone: the user it belongs to (enabled or not: the caller decides), or
    /// `None` for anything not accepted (unknown, used or expired options, a credential not
    /// registered, a signature or counter that does not verify, no user verification).
    pub async fn passkey_login(
        &self,
        challenge_id: &str,
        assertion: &Value,
    ) -> Result<Option<crate::db::models::User>, ApiError> {
        let Some(state) = self
            .take_state(&format!("login:{}", crypto::digest(challenge_id)))
            .await?
        else {
            tracing::info!("unknown, used or expired passkey sign-in options");
            return Ok(None);
        };
        let state: DiscoverableAuthentication =
            serde_json::from_str(&state).map_err(ApiError::internal)?;
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(assertion.clone())
        else {
            return Ok(None);
        };
        let Ok((user_uuid, credential_id)) = self
            .webauthn
            .identify_discoverable_authentication(&credential)
        else {
            return Ok(None);
        };
        let key = credential_key(credential_id);
        let Some(row) = self
            .repo
            .send(PasskeyByCredential { credential_id: key })
            .await
            .map_err(db)?
        else {
            tracing::info!("a passkey that is not registered here");
            return Ok(None);
        };
        let Some(user) = self
            .repo
            .send(FindUserById { id: row.user_id })
            .await
            .map_err(db)?
            // Imported users' uuids may be written otherwise (upper case, no hyphens).
            .filter(|u| Uuid::parse_str(&u.uuid).ok() == Some(user_uuid))
        else {
            return Ok(None);
        };
        let passkey = parsed(&row)?;
        let result =
            match self
                .webauthn
                .finish_discoverable_authentication_v2(&credential, state, &passkey)
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::info!(uid = user.id, error = %e, "a passkey sign-in was refused");
                    return Ok(None);
                }
            };
        Ok(self.used(user.id, result).await?.then_some(user))
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
