use actix_web::web::Data;
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

use crate::auth::captcha;
use crate::error::ApiError;
use crate::routes::ApiOk;
use crate::startup::AppState;
use crate::store::Once;

#[derive(Debug, Clone, Serialize, Apiv2Schema)]
pub struct CaptchaData {
    /// Whether POST /auth/login asks for a captcha.
    pub is_enabled: bool,
    pub expire_seconds: i64,
    /// Send it back as `uuid` with the answer as `captcha`.
    pub uuid: String,
    /// The PNG, bare base64 (no `data:` prefix).
    pub image: String,
    pub image_type: String,
}

/// Draws a captcha and keeps its answer in the store under a new uuid.
pub async fn fresh(state: &AppState) -> Result<CaptchaData, ApiError> {
    let settings = state.settings.captcha.clone();
    let image = actix_web::rt::task::spawn_blocking(move || captcha::draw(&settings))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal("captcha could not be drawn"))?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let ttl = state.settings.captcha.ttl_seconds;
    state
        .store
        .put_once(Once::Captcha, &uuid, &image.answer, ttl, state.clock.unix())
        .await?;
    Ok(CaptchaData {
        is_enabled: state.settings.captcha.enabled,
        expire_seconds: ttl,
        uuid,
        image: image.png_base64,
        image_type: "png".into(),
    })
}

/// A new image captcha for the login form.
#[api_v2_operation(tags(auth))]
pub async fn captcha(state: Data<AppState>) -> Result<ApiOk<CaptchaData>, ApiError> {
    Ok(ApiOk::new(fresh(&state).await?))
}
