//! The one decision every way in shares (the bearer validator, forward-auth, introspection):
//! is this access token good, is its session alive, who is its user, and may they do this.
//!
//! Once a session's first request has filled memory, a decision costs no store call, no await
//! and no message: the token's bytes are looked up among those verified before, then the
//! session and the user in the cache actor's shared map. The character check, base64, JSON
//! and the signature check run only for bytes not seen before.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderMap};

use super::jwt::{JwtKeys, VerifiedToken};
use crate::actors::{AuthFailure, CacheHandle};
use crate::clock::SharedClock;
use crate::domain::{CachedUser, Proof};
use crate::error::{kind, ApiError};
use crate::metrics::{AuthOutcome, Metrics};

/// Our tokens are a few hundred bytes; longer ones are refused before any decoding.
const MAX_TOKEN_BYTES: usize = 4096;

/// Who passed: the decoded user and the session the token belongs to.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: Arc<CachedUser>,
    pub sid: Arc<str>,
    /// How and when the session's user proved who they are, as the token says.
    pub proof: Proof,
}

/// What introspection tells: who, and the token's times.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub who: Authenticated,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Why not, as the client sees it and as the metrics count it.
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub outcome: AuthOutcome,
}

impl Refusal {
    fn new(kind: &'static crate::error::ErrorKind, outcome: AuthOutcome) -> Self {
        Self {
            error: ApiError::new(kind),
            outcome,
        }
    }
}

impl From<AuthFailure> for Refusal {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::SessionEnded => Self::new(kind::INVALID_TOKEN, AuthOutcome::session_ended),
            AuthFailure::UserUnavailable => {
                Self::new(kind::INVALID_TOKEN, AuthOutcome::user_unavailable)
            }
            AuthFailure::Store(e) => Self {
                error: ApiError::unavailable(e),
                outcome: AuthOutcome::backend_error,
            },
            AuthFailure::Db(e) => Self {
                error: ApiError::unavailable(e),
                outcome: AuthOutcome::backend_error,
            },
        }
    }
}

/// The first half of a decision.
pub enum Step {
    Done(Result<Authenticated, Refusal>),
    /// The token is good; the session and the user are not in memory: `read_through`.
    ReadThrough(VerifiedToken),
}

/// One character of RFC 6750's b64token: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`.
/// Comparisons rather than a table, so the loop over a token can be vectorised.
#[inline(always)]
fn is_b64token_char(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// `1*b64token-char *"="`. Only ASCII passes, so the bytes are valid UTF-8 afterwards.
/// No early exit inside a block, so the compiler checks 16 or 32 bytes per step.
fn is_b64token(t: &[u8]) -> bool {
    let body_len = t.len() - t.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0
        && t[..body_len]
            .chunks(64)
            .all(|block| block.iter().fold(true, |ok, b| ok & is_b64token_char(*b)))
}

/// What the `Authorization` header holds (RFC 6750 §2.1; the scheme is case-insensitive).
pub enum Presented<'a> {
    Missing,
    Malformed,
    /// The token's characters are not checked yet.
    Bearer(&'a [u8]),
}

impl<'a> Presented<'a> {
    pub fn from_headers(headers: &'a HeaderMap) -> Self {
        let mut values = headers.get_all(header::AUTHORIZATION);
        let Some(value) = values.next() else {
            return Self::Missing;
        };
        if values.next().is_some() {
            return Self::Malformed;
        }
        let value = value.as_bytes().trim_ascii();
        let (scheme, token) = match value.iter().position(|b| *b == b' ') {
            Some(i) => (&value[..i], value[i + 1..].trim_ascii()),
            None => (value, &[][..]),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            // Another scheme is "no bearer credentials" (RFC 6750 §3.1): a plain challenge.
            // Bytes that are not even text are a malformed header, whatever the scheme.
            return if value.is_ascii() {
                Self::Missing
            } else {
                Self::Malformed
            };
        }
        Self::Bearer(token)
    }

    /// The bearer token, when it is one (its characters checked).
    pub fn token(&self) -> Option<&'a str> {
        match self {
            Self::Bearer(t) if is_b64token(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Gate {
    jwt: Arc<JwtKeys>,
    cache: CacheHandle,
    clock: SharedClock,
    metrics: Metrics,
}

impl Gate {
    pub fn new(
        jwt: Arc<JwtKeys>,
        cache: CacheHandle,
        clock: SharedClock,
        metrics: Metrics,
    ) -> Self {
        Self {
            jwt,
            cache,
            clock,
            metrics,
        }
    }

    /// Decides from the request's `Authorization` header, from memory if it can.
    pub fn check(&self, headers: &HeaderMap) -> Step {
        let refuse = |kind, outcome| Step::Done(Err(Refusal::new(kind, outcome)));
        match Presented::from_headers(headers) {
            Presented::Missing => refuse(kind::UNAUTHORIZED, AuthOutcome::missing),
            Presented::Malformed => refuse(kind::MALFORMED_AUTHORIZATION, AuthOutcome::malformed),
            Presented::Bearer(token) => self.check_bytes(token, true),
        }
    }

    /// Decides for a token given on its own (introspection), from memory if it can.
    pub fn check_token(&self, token: &str) -> Step {
        self.check_bytes(token.as_bytes(), false)
    }

    fn check_bytes(&self, presented: &[u8], from_header: bool) -> Step {
        let now = self.clock.unix();
        let refuse = |kind, outcome| Step::Done(Err(Refusal::new(kind, outcome)));
        // Bytes verified before need no character check, base64, JSON or signature check: a
        // hit means these very bytes passed all of them (expiry is still checked).
        let remembered = if presented.len() <= MAX_TOKEN_BYTES {
            self.jwt.remembered(presented, now)
        } else {
            None
        };
        let verified = match remembered {
            Some(answer) => answer,
            None => {
                if !is_b64token(presented) {
                    return if from_header {
                        refuse(kind::MALFORMED_AUTHORIZATION, AuthOutcome::malformed)
                    } else {
                        refuse(kind::INVALID_TOKEN, AuthOutcome::invalid_token)
                    };
                }
                if presented.len() > MAX_TOKEN_BYTES {
                    return refuse(kind::INVALID_TOKEN, AuthOutcome::invalid_token);
                }
                match std::str::from_utf8(presented) {
                    Ok(t) => self.jwt.verify_and_remember(t, now),
                    Err(_) => return refuse(kind::MALFORMED_AUTHORIZATION, AuthOutcome::malformed),
                }
            }
        };
        let token = match verified {
            Ok(token) => token,
            Err(why) => {
                tracing::debug!(reason = why.as_str(), "access token refused");
                return refuse(kind::INVALID_TOKEN, AuthOutcome::invalid_token);
            }
        };
        match self.cache.cached(&token.sid, token.uid, now) {
            Some(answer) => Step::Done(answer.map_err(Refusal::from).map(|user| Authenticated {
                user,
                sid: token.sid,
                proof: token.proof,
            })),
            None => Step::ReadThrough(token),
        }
    }

    /// RFC 9470 step-up: the session must have signed in with a second factor (its tokens'
    /// `amr` has `mfa`); else 401 `insufficient_user_authentication`, `data.mfa = true`.
    pub fn second_factor(who: &Authenticated) -> Result<(), ApiError> {
        match who.proof.amr.is_mfa() {
            true => Ok(()),
            false => Err(ApiError::new(kind::INSUFFICIENT_USER_AUTHENTICATION)
                .with_detail("a second factor is required")
                .with_data(serde_json::json!({ "mfa": true }))),
        }
    }

    /// The second half, when memory could not answer: through the cache actor.
    pub async fn read_through(&self, token: VerifiedToken) -> Result<Authenticated, Refusal> {
        let user = self.cache.resolve(token.sid.clone(), token.uid).await?;
        Ok(Authenticated {
            user,
            sid: token.sid,
            proof: token.proof,
        })
    }

    /// Introspection's decision for a token given on its own: active or not, with its times.
    pub async fn inspect(&self, token: &str) -> Result<Inspected, Refusal> {
        let now = self.clock.unix();
        let invalid = || Refusal::new(kind::INVALID_TOKEN, AuthOutcome::invalid_token);
        let verified = match self.jwt.remembered(token.as_bytes(), now) {
            Some(v) => v.map_err(|_| invalid()),
            None if token.len() <= MAX_TOKEN_BYTES && is_b64token(token.as_bytes()) => self
                .jwt
                .verify_and_remember(token, now)
                .map_err(|_| invalid()),
            None => Err(invalid()),
        };
        let token = match verified {
            Ok(t) => t,
            Err(refusal) => {
                self.metrics.auth(refusal.outcome);
                return Err(refusal);
            }
        };
        let (iat, nbf, exp) = (token.iat, token.nbf, token.exp);
        let who = match self.cache.cached(&token.sid, token.uid, now) {
            Some(answer) => answer.map_err(Refusal::from).map(|user| Authenticated {
                user,
                sid: token.sid,
                proof: token.proof,
            }),
            None => self.read_through(token).await,
        };
        let who = self.count(who)?;
        Ok(Inspected { who, iat, nbf, exp })
    }

    pub fn issuer(&self) -> &str {
        self.jwt.issuer()
    }

    pub fn audience(&self) -> &str {
        self.jwt.audience()
    }

    /// Both halves.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, Refusal> {
        let result = match self.check(headers) {
            Step::Done(result) => result,
            Step::ReadThrough(token) => self.read_through(token).await,
        };
        self.count(result)
    }

    /// Counts the outcome for the metrics.
    pub fn count(&self, result: Result<Authenticated, Refusal>) -> Result<Authenticated, Refusal> {
        self.metrics.auth(match &result {
            Ok(_) => AuthOutcome::ok,
            Err(r) => r.outcome,
        });
        result
    }

    /// The permission rule, the same for every way in: superusers pass every check.
    pub fn permits(user: &CachedUser, code: &str) -> Result<(), Refusal> {
        if user.holds(code) {
            Ok(())
        } else {
            Err(Refusal::new(
                kind::INSUFFICIENT_SCOPE,
                AuthOutcome::insufficient_scope,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(value: Option<&str>) -> &'static str {
        let mut req = TestRequest::default();
        if let Some(v) = value {
            req = req.insert_header((header::AUTHORIZATION, v));
        }
        let req = req.to_http_request();
        let p = Presented::from_headers(req.headers());
        match (&p, p.token()) {
            (Presented::Missing, _) => "missing",
            (Presented::Malformed, _) => "malformed",
            (Presented::Bearer(_), Some(_)) => "token",
            (Presented::Bearer(_), None) => "malformed",
        }
    }

    #[test]
    fn header_forms() {
        assert_eq!(parse(None), "missing");
        assert_eq!(parse(Some("Basic dXNlcjpwYXNz")), "missing");
        assert_eq!(parse(Some("Bearer abc.def.ghi")), "token");
        assert_eq!(parse(Some("bEaReR abc.def.ghi")), "token");
        assert_eq!(parse(Some("Bearer")), "malformed");
        assert_eq!(parse(Some("Bearer a b")), "malformed");
        assert_eq!(parse(Some("Bearer a\"b")), "malformed");
        assert_eq!(parse(Some("Bearer ===")), "malformed");
    }

    #[test]
    fn b64token_alphabet_is_exactly_rfc_6750s() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_char(b), rfc, "byte {b:#04x}");
        }
    }

    #[test]
    fn one_bad_byte_anywhere_in_a_long_token_is_caught() {
        let good = "abcXYZ019-._~+/".repeat(20);
        assert!(is_b64token(good.as_bytes()));
        assert!(is_b64token(format!("{good}==").as_bytes()));
        for at in [0, 15, 63, 64, 65, 127, 200, good.len() - 1] {
            let mut bad = good.clone().into_bytes();
            bad[at] = b'"';
            assert!(!is_b64token(&bad), "bad byte at {at}");
            bad[at] = 0xff;
            assert!(!is_b64token(&bad), "non-ASCII byte at {at}");
        }
        assert!(!is_b64token(format!("{good}=a").as_bytes()));
    }
}
