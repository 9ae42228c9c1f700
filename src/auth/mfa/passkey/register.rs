//! Registering a passkey: the options, then the authenticator's answer.

use serde_json::Value;
use webauthn_rs::prelude::{RegisterPublicKeyCredential, Uuid};

use super::{
    credential_key, failed, json, parsed, passkey_name, PasskeyInfo, PasskeyOptions, Registering,
    MAX_PER_USER,
};
use crate::actors::repo::{AddPasskey, RecoveryCodesLeft};
use crate::auth::mfa::{db, Mfa};
use crate::crypto;
use crate::domain::{AuthUser, Invalidation};
use crate::error::{kind, ApiError};

impl Mfa {
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
}
