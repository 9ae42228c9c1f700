//! The ticket between the first step (the password) and the second factor: 256 random bits,
//! kept in the store under its digest (single-use values, both modes), with the user, how the
//! first step was made, its end and the wrong codes it may still take. Taking it removes it;
//! a wrong code puts it back with one attempt fewer, until none is left. A ticket is for one
//! purpose: the second factor (`verify`), or, for a user whom `mfa.required_for` names and who
//! has none, enrolling one and nothing else.

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::store::{Once, Store, StoreError};

/// What a ticket can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Finish the login with a factor the user has.
    #[default]
    SecondFactor,
    /// Enrol a first factor; confirming it finishes the login.
    Enrolment,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub uid: i64,
    pub username: String,
    /// The first step's login method (`password`, `swagger`).
    pub method: String,
    pub expires: i64,
    pub attempts_left: u32,
    #[serde(default)]
    pub purpose: Purpose,
}

/// Issues a ticket; the answer is the text the client holds.
pub async fn issue(store: &Store, t: &Ticket, now: i64) -> Result<String, StoreError> {
    let text = crypto::random_token();
    let value = serde_json::to_string(t).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .put_once(
            Once::MfaTicket,
            &crypto::digest(&text),
            &value,
            t.expires - now,
            now,
        )
        .await?;
    Ok(text)
}

/// Takes the ticket out of the store: `None` for an unknown, used or expired one, and for one
/// of another purpose (which stays as it was).
pub async fn take(
    store: &Store,
    text: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Ticket>, StoreError> {
    if text.is_empty() || text.len() > 128 {
        return Ok(None);
    }
    let Some(value) = store
        .take_once(Once::MfaTicket, &crypto::digest(text), now)
        .await?
    else {
        return Ok(None);
    };
    let Some(t) = serde_json::from_str::<Ticket>(&value)
        .ok()
        .filter(|t| t.expires > now)
    else {
        return Ok(None);
    };
    if t.purpose != purpose {
        keep(store, text, &t, now).await?;
        return Ok(None);
    }
    Ok(Some(t))
}

/// Back in the store as it was (a step that spent no attempt).
pub async fn keep(store: &Store, text: &str, t: &Ticket, now: i64) -> Result<(), StoreError> {
    if t.expires <= now {
        return Ok(());
    }
    let value = serde_json::to_string(t).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .put_once(
            Once::MfaTicket,
            &crypto::digest(text),
            &value,
            t.expires - now,
            now,
        )
        .await
}

/// After a wrong code: back in the store with one attempt fewer, or gone with the last.
pub async fn put_back(
    store: &Store,
    text: &str,
    mut t: Ticket,
    now: i64,
) -> Result<(), StoreError> {
    t.attempts_left = t.attempts_left.saturating_sub(1);
    if t.attempts_left == 0 {
        return Ok(());
    }
    keep(store, text, &t, now).await
}
