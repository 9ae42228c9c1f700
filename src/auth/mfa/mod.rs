//! Second factors: TOTP (`totp`), recovery codes (`recovery`), the secrets sealed at rest
//! (`sealing`), enrolling and removing them (`enrol`), and the ticket between the password and
//! the second factor (`ticket`).
//!
//! Every first step (password, social login) asks `Mfa::challenge` once the password is
//! right: a user with an active factor gets a ticket instead of tokens, and only
//! `Mfa::verify` turns a ticket and a code into the user the tokens are for. The ticket is
//! not a token: the gate never sees it, and nothing but `verify` reads it.

mod enrol;
pub mod passkey;
pub mod recovery;
pub mod sealing;
mod ticket;
pub mod totp;

use std::sync::Arc;

use paperclip::actix::Apiv2Schema;
use serde::Serialize;

use self::sealing::Sealer;
use self::ticket::{Purpose, Ticket};
use crate::actors::repo::{
    LoadAuthUser, RecoveryCodesLeft, RepoHandle, TotpOf, UseRecoveryCode, UseTotpStep,
};
use crate::actors::Invalidator;
use crate::clock::SharedClock;
use crate::config::{MfaSettings, MFA_REQUIRED_OF_SUPERUSERS as SUPERUSERS};
use crate::domain::Amr;
use crate::error::ApiError;
use crate::store::Store;

/// A factor a user can finish a login with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    Passkey,
    Recovery,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
            Self::Recovery => "recovery",
        }
    }

    /// As `amr` names it (RFC 8176): TOTP and recovery codes are one-time passwords; a passkey
    /// is a key an authenticator holds (`hwk`: its private key never leaves it).
    pub fn amr(self) -> Amr {
        match self {
            Self::Totp | Self::Recovery => Amr::OTP,
            Self::Passkey => Amr::HWK,
        }
    }
}

/// The answer to a right password when a second factor is needed (instead of tokens).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MfaChallenge {
    /// Always true: finish at `POST /api/v1/auth/mfa/verify`.
    pub mfa_required: bool,
    /// Single-use, short-lived (`mfa.ticket_ttl_seconds`); not an access token.
    pub mfa_ticket: String,
    /// What `verify` accepts for this user: `totp`, `passkey`, `recovery`. Empty with
    /// `enrolment_required`.
    pub factors: Vec<String>,
    /// With a `passkey` factor: the options for `navigator.credentials.get()` (WebAuthn's
    /// `{publicKey: {challenge, allowCredentials, ...}}`, binary values in base64url); the
    /// assertion goes to `verify` as `webauthn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<serde_json::Value>,
    /// The user must have a second factor (`mfa.required_for`) and has none: the ticket can
    /// only enrol one (`POST /api/v1/auth/mfa/enrol/totp`, then `.../confirm`, which signs in).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enrolment_required: bool,
}

/// What an enrolment shows, once.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TotpEnrolment {
    pub otpauth_uri: String,
    /// Base32, for typing into an authenticator app by hand.
    pub secret: String,
    /// The QR code of `otpauth_uri`: `data:image/svg+xml;base64,...`.
    pub qr: String,
}

/// A second factor that passed.
#[derive(Debug)]
pub struct Verified {
    pub uid: i64,
    pub username: String,
    pub method: String,
    pub factor: Factor,
    /// After a recovery code: how many are left.
    pub recovery_codes_left: Option<i64>,
}

impl Verified {
    /// The first step's method and this factor.
    pub fn amr(&self) -> Amr {
        Amr::first_step(&self.method).and_second(self.factor.amr())
    }
}

/// What the second step offers: a code (TOTP or recovery), or a passkey's assertion (the
/// `PublicKeyCredential` from `navigator.credentials.get()`, as JSON).
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    Code(&'a str),
    Passkey(&'a serde_json::Value),
}

/// A code that passed `check_code`.
#[derive(Debug)]
pub struct Passed {
    pub factor: Factor,
    /// After a recovery code: how many are left.
    pub recovery_codes_left: Option<i64>,
}

/// A second factor that did not pass: the one answer for every reason, and what to log.
#[derive(Debug)]
pub struct Refused {
    /// Known when the ticket was good and only the code was wrong.
    pub who: Option<(i64, String)>,
    pub factor: Option<Factor>,
}

#[derive(Clone)]
pub struct Mfa {
    repo: RepoHandle,
    /// The relying party passkeys belong to.
    webauthn: Arc<webauthn_rs::Webauthn>,
    store: Store,
    /// A factor confirmed or removed changes the user every node caches (`second_factors`).
    invalidator: Invalidator,
    sealer: Arc<Sealer>,
    settings: MfaSettings,
    clock: SharedClock,
}

fn db(e: crate::db::DbError) -> ApiError {
    ApiError::unavailable(e)
}

impl Mfa {
    pub fn new(
        repo: RepoHandle,
        webauthn: webauthn_rs::Webauthn,
        store: Store,
        invalidator: Invalidator,
        sealer: Sealer,
        settings: MfaSettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            repo,
            webauthn: Arc::new(webauthn),
            store,
            invalidator,
            sealer: Arc::new(sealer),
            settings,
            clock,
        }
    }

    /// The user's active factors (`totp`, `passkey`, and `recovery` while codes are left).
    pub async fn factors(&self, uid: i64) -> Result<Vec<Factor>, ApiError> {
        let totp = self
            .repo
            .send(TotpOf { user_id: uid })
            .await
            .map_err(db)?
            .is_some_and(|t| t.confirmed_at.is_some());
        let passkeys = !self.passkeys_of(uid).await?.is_empty();
        let mut factors: Vec<Factor> = [(totp, Factor::Totp), (passkeys, Factor::Passkey)]
            .into_iter()
            .filter_map(|(has, f)| has.then_some(f))
            .collect();
        if factors.is_empty() {
            return Ok(factors);
        }
        let left = self
            .repo
            .send(RecoveryCodesLeft { user_id: uid })
            .await
            .map_err(db)?;
        if left > 0 {
            factors.push(Factor::Recovery);
        }
        Ok(factors)
    }

    /// Whether the user has an active second factor.
    pub async fn has_factor(&self, uid: i64) -> Result<bool, ApiError> {
        Ok(!self.factors(uid).await?.is_empty())
    }

    /// Whether `mfa.required_for` names this user (a superuser, or a holder of a named role).
    async fn required_of(&self, uid: i64) -> Result<bool, ApiError> {
        let required = &self.settings.required_for;
        if required.is_empty() {
            return Ok(false);
        }
        let Some(u) = self.repo.send(LoadAuthUser { id: uid }).await.map_err(db)? else {
            return Ok(false);
        };
        Ok(required
            .iter()
            .any(|r| (r == SUPERUSERS && u.is_superuser) || u.roles.contains(r)))
    }

    /// Whether a first step alone may not sign this user in: a factor, or a policy wanting one.
    pub async fn second_step_needed(&self, uid: i64) -> Result<bool, ApiError> {
        Ok(self.has_factor(uid).await? || self.required_of(uid).await?)
    }

    /// After a right password: `None` when the user needs no second step (tokens now), else
    /// the ticket for it: for the factor, or, for a user the policy names who has none, for
    /// enrolling one.
    pub async fn challenge(
        &self,
        uid: i64,
        username: &str,
        method: &str,
    ) -> Result<Option<MfaChallenge>, ApiError> {
        let factors = self.factors(uid).await?;
        let purpose = if !factors.is_empty() {
            Purpose::SecondFactor
        } else if self.required_of(uid).await? {
            Purpose::Enrolment
        } else {
            return Ok(None);
        };
        let now = self.clock.unix();
        let t = Ticket {
            uid,
            username: username.to_owned(),
            method: method.to_owned(),
            expires: now + self.settings.ticket_ttl_seconds,
            attempts_left: self.settings.ticket_attempts,
            purpose,
        };
        let mfa_ticket = ticket::issue(&self.store, &t, now).await?;
        let webauthn = match factors.contains(&Factor::Passkey) {
            true => self.passkey_challenge(uid, &mfa_ticket).await?,
            false => None,
        };
        Ok(Some(MfaChallenge {
            mfa_required: true,
            mfa_ticket,
            factors: factors.iter().map(|f| f.as_str().to_owned()).collect(),
            webauthn,
            enrolment_required: purpose == Purpose::Enrolment,
        }))
    }

    /// A ticket and a code (TOTP or recovery): the user the tokens are for, or one refusal
    /// whatever was wrong. Each wrong code uses one of the ticket's attempts, and counts
    /// against the user (see `check_code`): a password alone buys new tickets, not more guesses.
    pub async fn verify(
        &self,
        ticket_text: &str,
        answer: Answer<'_>,
    ) -> Result<Result<Verified, Refused>, ApiError> {
        let now = self.clock.unix();
        let Some(t) = ticket::take(&self.store, ticket_text, Purpose::SecondFactor, now).await?
        else {
            return Ok(Err(Refused {
                who: None,
                factor: None,
            }));
        };
        let checked = match answer {
            Answer::Code(code) => self.check_code(t.uid, code).await?,
            Answer::Passkey(assertion) => self.check_passkey(t.uid, ticket_text, assertion).await?,
        };
        match checked {
            Ok(passed) => Ok(Ok(Verified {
                uid: t.uid,
                username: t.username,
                method: t.method,
                factor: passed.factor,
                recovery_codes_left: passed.recovery_codes_left,
            })),
            Err(factor) => {
                let who = Some((t.uid, t.username.clone()));
                ticket::put_back(&self.store, ticket_text, t, now).await?;
                Ok(Err(Refused {
                    who,
                    factor: Some(factor),
                }))
            }
        }
    }

    /// Counts one check of a second factor against the user, before it is made (checks at
    /// once each see the others'): false past `mfa.max_failures_per_user` in the window, when
    /// even a right answer fails.
    async fn may_check(&self, uid: i64) -> Result<bool, ApiError> {
        let window = self.settings.failure_window_seconds;
        let attempts = self
            .store
            .incr(&format!("mfafail:{uid}"), window, self.clock.unix())
            .await?;
        let ok = attempts <= i64::from(self.settings.max_failures_per_user);
        if !ok {
            tracing::info!(uid, "second factor refused: too many failures");
        }
        Ok(ok)
    }

    /// A right answer undoes the count.
    async fn checked_right(&self, uid: i64) -> Result<(), ApiError> {
        Ok(self
            .store
            .remove_numbers(&[format!("mfafail:{uid}")])
            .await?)
    }

    /// Whether `code` is one of the user's active factors now: a TOTP code (its step not used
    /// before) or an unused recovery code, which it then uses. Every check counts against the
    /// user (`may_check`, whatever asked: a login's ticket or a re-authentication). Refused:
    /// the factor it was read as.
    pub async fn check_code(
        &self,
        uid: i64,
        code: &str,
    ) -> Result<Result<Passed, Factor>, ApiError> {
        let (factor, passed) = if !self.may_check(uid).await? {
            (Factor::Totp, None)
        } else if recovery::looks_like(code) {
            let left = self
                .repo
                .send(UseRecoveryCode {
                    user_id: uid,
                    hash: recovery::hash(uid, code),
                    now: self.clock.naive(),
                })
                .await
                .map_err(db)?;
            (Factor::Recovery, left.map(Some))
        } else {
            let ok = self.check_totp(uid, code, None).await?;
            (Factor::Totp, ok.then_some(None))
        };
        match passed {
            Some(recovery_codes_left) => {
                self.checked_right(uid).await?;
                Ok(Ok(Passed {
                    factor,
                    recovery_codes_left,
                }))
            }
            None => Ok(Err(factor)),
        }
    }

    /// Whether `code` is the user's TOTP code now (within a step), and its step not used
    /// before; the step is then used. `confirm`: the pending factor, which it activates.
    async fn check_totp(
        &self,
        uid: i64,
        code: &str,
        confirm: Option<chrono::NaiveDateTime>,
    ) -> Result<bool, ApiError> {
        let Some(row) = self.repo.send(TotpOf { user_id: uid }).await.map_err(db)? else {
            return Ok(false);
        };
        if row.confirmed_at.is_some() == confirm.is_some() {
            return Ok(false);
        }
        let Some(secret) = self.sealer.open(uid, &row.secret) else {
            tracing::error!(
                uid,
                "a TOTP secret does not open: was mfa.encryption_key changed?"
            );
            return Ok(false);
        };
        let Some(step) = totp::matching_step(&secret, code, self.clock.unix()) else {
            return Ok(false);
        };
        self.repo
            .send(UseTotpStep {
                user_id: uid,
                step,
                confirm,
            })
            .await
            .map_err(db)
    }
}
