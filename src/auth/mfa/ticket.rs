//! The ticket between the first step (the password) and the second factor: 256 random bits,
//! kept in the store under its digest (single-use values, both modes), with the user, how the
//! first step was made, its end and the wrong codes it may still take. Taking it removes it;
//! a wrong code puts it back with one attempt fewer, until none is left.

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::store::{Once, Store, StoreError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub uid: i64,
    pub username: String,
    /// The first step's login method (`password`, `swagger`).
    pub method: String,
    pub expires: i64,
    pub attempts_left: u32,
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

/// Takes the ticket out of the store: `None` for an unknown, used or expired one.
pub async fn take(store: &Store, text: &str, now: i64) -> Result<Option<Ticket>, StoreError> {
    if text.is_empty() || text.len() > 128 {
        return Ok(None);
    }
    let Some(value) = store
        .take_once(Once::MfaTicket, &crypto::digest(text), now)
        .await?
    else {
        return Ok(None);
    };
    Ok(serde_json::from_str::<Ticket>(&value)
        .ok()
        .filter(|t| t.expires > now))
}

/// After a wrong code: back in the store with one attempt fewer, or gone with the last.
pub async fn put_back(
    store: &Store,
    text: &str,
    mut t: Ticket,
    now: i64,
) -> Result<(), StoreError> {
    t.attempts_left = t.attempts_left.saturating_sub(1);
    if t.attempts_left == 0 || t.expires <= now {
        return Ok(());
    }
    let value = serde_json::to_string(&t).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
