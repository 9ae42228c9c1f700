//! Username and password, checked the same way for every login method: the lockout reservation
//! first (no hashing while locked), then exactly one hash whatever the user's state, then one
//! uniform answer. Every outcome goes to the login log.

use crate::auth::client::ClientInfo;
use crate::db::models::User;
use crate::error::{kind, ApiError};
use crate::login_log::{entry, Method, Reason};
use crate::startup::AppState;
use crate::store::{Attempt, AttemptKeys};

/// Longest username or password looked at; anything longer cannot match.
const MAX_CREDENTIAL: usize = 1024;

pub async fn check(
    state: &AppState,
    client: &ClientInfo,
    username: &str,
    password: String,
    method: Method,
) -> Result<User, ApiError> {
    let at = state.clock.naive();
    let log = |user_id: Option<i64>, reason: Reason| {
        state.login_log.record(entry(
            username,
            user_id,
            reason,
            method.as_str(),
            client,
            at,
        ));
    };
    let refused = || ApiError::new(kind::INVALID_CREDENTIALS);

    let user = if username.len() <= MAX_CREDENTIAL {
        let name = username.to_owned();
        state
            .repo
            .run(move |r| async move { r.user_by_username(&name).await })
            .await
            .map_err(ApiError::unavailable)?
    } else {
        None
    };
    let user_id = user.as_ref().map(|u| u.id);

    let keys = AttemptKeys::new(username, &client.ip);
    let attempt = state
        .store
        .login_attempt(&keys, state.clock.unix(), &state.settings.lockout)
        .await?;
    if let Attempt::Locked { until } = attempt {
        // Answer in the time a hash would take: a lock must look like a wrong password.
        actix_web::rt::time::sleep(state.hasher.typical_verify()).await;
        tracing::info!(ip = %client.ip, until, "login refused: locked");
        log(user_id, Reason::Locked);
        return Err(refused());
    }

    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = if password.len() <= MAX_CREDENTIAL {
        password
    } else {
        String::new()
    };
    let verified = state
        .hasher
        .verify(password.clone(), stored)
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        None => {
            log(None, Reason::UnknownUser);
            return Err(refused());
        }
        Some(_) if !verified.ok => {
            log(user_id, Reason::BadPassword);
            return Err(refused());
        }
        Some(u) if !u.is_enabled() => {
            log(user_id, Reason::Disabled);
            return Err(refused());
        }
        Some(u) => u,
    };

    state.store.login_succeeded(&keys).await?;
    let uid = user.id;
    let now = state.clock.naive();
    if verified.needs_rehash {
        let hash = state
            .hasher
            .hash(password)
            .await
            .map_err(ApiError::internal)?;
        state
            .repo
            .run(move |r| async move { r.set_password_hash(uid, &hash, None, now).await })
            .await
            .map_err(ApiError::unavailable)?;
        tracing::info!(uid, "rehashed a bcrypt password to Argon2id");
    }
    state
        .repo
        .run(move |r| async move { r.touch_last_login(uid, now).await })
        .await
        .map_err(ApiError::unavailable)?;
    log(Some(uid), Reason::Success);
    Ok(user)
}
