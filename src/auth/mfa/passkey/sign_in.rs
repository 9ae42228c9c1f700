//! Using a passkey: the second step of a login, a re-authentication, a sign-in alone; and
//! what a use leaves (its counter, its last use).

use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PublicKeyCredential, Uuid,
};

use super::{credential_key, json, parsed, reauth_key, PasskeyOptions};
use crate::actors::repo::{FindUserById, PasskeyByCredential, PasskeyUsed};
use crate::auth::mfa::{db, Factor, Mfa, Passed};
use crate::crypto;
use crate::error::{kind, ApiError};

impl Mfa {
    /// Options for this user's passkeys (`navigator.credentials.get()`), the state kept under
    /// `key`; `None` when the user has none.
    async fn user_passkey_options(&self, uid: i64, key: &str) -> Result<Option<Value>, ApiError> {
        let passkeys = self
            .passkeys_of(uid)
            .await?
            .iter()
            .map(parsed)
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Ok(None);
        }
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(ApiError::internal)?;
        self.keep_state(key, json(&state)?).await?;
        Ok(Some(
            serde_json::to_value(&rcr).map_err(ApiError::internal)?,
        ))
    }

    /// Whether `assertion` answers the options kept under `key` with one of this user's
    /// passkeys; counted against the user as a code is. The options are used either way.
    async fn answers_user_passkey(
        &self,
        uid: i64,
        key: &str,
        assertion: &Value,
    ) -> Result<bool, ApiError> {
        let state = self.take_state(key).await?;
        if !self.may_check(uid).await? {
            return Ok(false);
        }
        let Some(state) = state else {
            tracing::info!(uid, "no passkey options to answer (used, expired, or none)");
            return Ok(false);
        };
        let state: PasskeyAuthentication =
            serde_json::from_str(&state).map_err(ApiError::internal)?;
        let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(assertion.clone())
        else {
            return Ok(false);
        };
        let result = match self
            .webauthn
            .finish_passkey_authentication(&credential, &state)
        {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(uid, error = %e, "a passkey assertion was refused");
                return Ok(false);
            }
        };
        let ok = self.used(uid, result).await?;
        if ok {
            self.checked_right(uid).await?;
        }
        Ok(ok)
    }

    /// The options for a second step with a passkey, bound to the login's ticket.
    pub(in crate::auth::mfa) async fn passkey_challenge(
        &self,
        uid: i64,
        ticket: &str,
    ) -> Result<Option<Value>, ApiError> {
        let key = format!("2fa:{}", crypto::digest(ticket));
        self.user_passkey_options(uid, &key).await
    }

    /// A passkey's assertion as the second step of `ticket`'s login. The options were made
    /// with the ticket, once: a refused assertion needs a new login.
    pub(in crate::auth::mfa) async fn check_passkey(
        &self,
        uid: i64,
        ticket: &str,
        assertion: &Value,
    ) -> Result<Result<Passed, Factor>, ApiError> {
        let key = format!("2fa:{}", crypto::digest(ticket));
        Ok(
            match self.answers_user_passkey(uid, &key, assertion).await? {
                true => Ok(Passed {
                    factor: Factor::Passkey,
                    recovery_codes_left: None,
                }),
                false => Err(Factor::Passkey),
            },
        )
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
        let challenge_id = crypto::random_token();
        let options = self
            .user_passkey_options(uid, &reauth_key(uid, &challenge_id))
            .await?
            .ok_or_else(|| ApiError::new(kind::NOT_FOUND).with_detail("no passkey"))?;
        Ok(PasskeyOptions {
            challenge_id,
            options,
        })
    }

    /// Whether `assertion` answers this user's re-authentication options.
    pub async fn check_reauth_passkey(
        &self,
        uid: i64,
        challenge_id: &str,
        assertion: &Value,
    ) -> Result<bool, ApiError> {
        self.answers_user_passkey(uid, &reauth_key(uid, challenge_id), assertion)
            .await
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
}
