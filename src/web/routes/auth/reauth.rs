use actix_web::web::Data;
use chrono::{DateTime, Utc};
use paperclip::actix::{api_v2_operation, web::Json, Apiv2Schema};
use serde::{Deserialize, Serialize};

use crate::auth::reauth::Reauth;
use crate::clock::SharedClock;
use crate::error::{kind, ApiError};
use crate::web::{ApiOk, CurrentUser};

#[derive(Deserialize, Apiv2Schema)]
pub struct ReauthRequest {
    pub password: String,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Reauthenticated {
    /// This session counts as signed in at this time.
    pub auth_time: DateTime<Utc>,
}

/// Confirm it is you: the password again, for this session. Sensitive changes (binding a
/// provider, setting a password) need a recent confirmation. Checks are limited per user.
#[api_v2_operation(tags(auth))]
#[tracing::instrument(skip_all, fields(uid = me.user.id))]
pub async fn reauthenticate(
    me: CurrentUser,
    body: Json<ReauthRequest>,
    reauth: Data<Reauth>,
    clock: Data<SharedClock>,
) -> Result<ApiOk<Reauthenticated>, ApiError> {
    let password = body.into_inner().password;
    if !reauth.with_password(me.user.id, &me.sid, password).await? {
        return Err(ApiError::new(kind::INVALID_CREDENTIALS));
    }
    Ok(ApiOk::new(Reauthenticated {
        auth_time: clock.now(),
    }))
}
