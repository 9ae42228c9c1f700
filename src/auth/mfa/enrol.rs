//! Enrolling, confirming and removing factors, and new recovery codes.

use super::ticket::{self, Purpose};
use super::{db, recovery, totp, Factor, Mfa, Refused, TotpEnrolment, Verified};
use crate::actors::repo::{DeleteTotp, PutPendingTotp, RecoveryCodesLeft, ReplaceRecoveryCodes};
use crate::domain::Invalidation;
use crate::error::{kind, ApiError};

impl Mfa {
    /// A new TOTP secret for the user, pending until confirmed. 409 while one is active.
    pub async fn enrol_totp(&self, uid: i64, username: &str) -> Result<TotpEnrolment, ApiError> {
        let secret = totp::new_secret();
        let issuer = &self.settings.issuer;
        let (Some(otpauth_uri), Some(sealed)) = (
            totp::otpauth_uri(&secret, issuer, username),
            self.sealer.seal(uid, &secret),
        ) else {
            return Err(ApiError::internal("cannot make a TOTP enrolment"));
        };
        let qr = totp::qr_svg_data_uri(&otpauth_uri)
            .ok_or_else(|| ApiError::internal("cannot render the QR code"))?;
        let stored = self
            .repo
            .send(PutPendingTotp {
                user_id: uid,
                secret: sealed,
                now: self.clock.naive(),
            })
            .await
            .map_err(db)?;
        if !stored {
            return Err(ApiError::new(kind::CONFLICT).with_detail("TOTP is active already"));
        }
        Ok(TotpEnrolment {
            otpauth_uri,
            secret: totp::base32(&secret),
            qr,
        })
    }

    /// Activates the pending TOTP factor with its first code. The recovery codes when it is
    /// the user's first factor (none were made before).
    pub async fn confirm_totp(
        &self,
        uid: i64,
        code: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        if !self.check_totp(uid, code, Some(self.clock.naive())).await? {
            return Err(ApiError::new(kind::INVALID_MFA_CODE));
        }
        self.invalidator.invalidate(Invalidation::User(uid)).await?;
        let left = self
            .repo
            .send(RecoveryCodesLeft { user_id: uid })
            .await
            .map_err(db)?;
        if left > 0 {
            return Ok(None);
        }
        Ok(Some(self.new_recovery_codes(uid).await?))
    }

    /// Removes the TOTP factor, and the recovery codes with it (no factor is left). 404 when
    /// there was none, pending or active.
    pub async fn remove_totp(&self, uid: i64) -> Result<(), ApiError> {
        match self
            .repo
            .send(DeleteTotp { user_id: uid })
            .await
            .map_err(db)?
        {
            0 => Err(ApiError::new(kind::NOT_FOUND).with_detail("no TOTP factor")),
            _ => Ok(self.invalidator.invalidate(Invalidation::User(uid)).await?),
        }
    }

    /// Unused recovery codes.
    pub async fn recovery_codes_left(&self, uid: i64) -> Result<i64, ApiError> {
        self.repo
            .send(RecoveryCodesLeft { user_id: uid })
            .await
            .map_err(db)
    }

    /// A new set of recovery codes; the old set is void. 404 without an active factor.
    pub async fn regenerate_recovery_codes(&self, uid: i64) -> Result<Vec<String>, ApiError> {
        if self.factors(uid).await?.is_empty() {
            return Err(ApiError::new(kind::NOT_FOUND).with_detail("no second factor"));
        }
        self.new_recovery_codes(uid).await
    }

    pub(super) async fn new_recovery_codes(&self, uid: i64) -> Result<Vec<String>, ApiError> {
        let (codes, hashes) = recovery::generate(uid);
        self.repo
            .send(ReplaceRecoveryCodes {
                user_id: uid,
                hashes,
                now: self.clock.naive(),
            })
            .await
            .map_err(db)?;
        Ok(codes)
    }

    /// An enrolment ticket's first step: a TOTP secret for its user, as `enrol_totp`; the
    /// ticket stays for the confirmation. `None`: no such ticket (unknown, used, expired, or
    /// one for a second factor).
    pub async fn enrol_totp_with_ticket(
        &self,
        text: &str,
    ) -> Result<Option<TotpEnrolment>, ApiError> {
        let now = self.clock.unix();
        let Some(t) = ticket::take(&self.store, text, Purpose::Enrolment, now).await? else {
            return Ok(None);
        };
        // A factor enrolled since the ticket was issued: the password alone enrols nothing.
        if !self.factors(t.uid).await?.is_empty() {
            return Ok(None);
        }
        let enrolment = self.enrol_totp(t.uid, &t.username).await;
        ticket::keep(&self.store, text, &t, now).await?;
        enrolment.map(Some)
    }

    /// An enrolment ticket's confirmation: the first code activates the factor, and the
    /// login finishes as after a second factor (with the recovery codes). A wrong code uses one
    /// of the ticket's attempts.
    pub async fn confirm_totp_with_ticket(
        &self,
        text: &str,
        code: &str,
    ) -> Result<Result<(Verified, Option<Vec<String>>), Refused>, ApiError> {
        let now = self.clock.unix();
        let Some(t) = ticket::take(&self.store, text, Purpose::Enrolment, now).await? else {
            return Ok(Err(Refused {
                who: None,
                factor: None,
            }));
        };
        if !self.factors(t.uid).await?.is_empty() {
            return Ok(Err(Refused {
                who: Some((t.uid, t.username)),
                factor: None,
            }));
        }
        match self.confirm_totp(t.uid, code).await {
            Ok(recovery_codes) => Ok(Ok((
                Verified {
                    uid: t.uid,
                    username: t.username,
                    method: t.method,
                    factor: Factor::Totp,
                    recovery_codes_left: None,
                },
                recovery_codes,
            ))),
            Err(e) if e.kind.slug == kind::INVALID_MFA_CODE.slug => {
                let who = Some((t.uid, t.username.clone()));
                ticket::put_back(&self.store, text, t, now).await?;
                Ok(Err(Refused {
                    who,
                    factor: Some(Factor::Totp),
                }))
            }
            Err(e) => {
                ticket::keep(&self.store, text, &t, now).await?;
                Err(e)
            }
        }
    }
}
