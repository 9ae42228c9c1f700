use actix_web::web::Data;
use paperclip::actix::api_v2_operation;

use crate::auth::captcha::{CaptchaData, Captchas};
use crate::error::ApiError;
use crate::web::ApiOk;

/// A new image captcha for the login form.
#[api_v2_operation(tags(auth))]
pub async fn captcha(captchas: Data<Captchas>) -> Result<ApiOk<CaptchaData>, ApiError> {
    Ok(ApiOk::new(captchas.issue().await?))
}
