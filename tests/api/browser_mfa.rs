//! The reference page's second step, in real Chromium: a user with TOTP signs in with the
//! password, then the code; a wrong code is said so and can be corrected.

use crate::browser::{
    browser, click, driver, fill, shot, text, ui_settings, until, ON_LOGIN, SIGNED_IN, WAIT,
};
use crate::helpers::*;

#[actix_web::test]
async fn a_user_with_totp_signs_in_with_the_code_on_the_page() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user("tess").await;
    let enrolled = app.enrol_totp("tess").await;
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{}/login", app.address)).await.unwrap();
    until(&c, "the login page", ON_LOGIN, WAIT).await;
    fill(&c, "#username", "tess").await;
    fill(&c, "#password", PASSWORD).await;
    click(&c, "#login-submit").await;
    until(
        &c,
        "the second step",
        "document.querySelector('#mfa-form')",
        WAIT,
    )
    .await;

    fill(&c, "#mfa-code", "12345").await;
    click(&c, "#mfa-submit").await;
    until(
        &c,
        "a wrong code is said so",
        "document.querySelector('#mfa-error')?.textContent.length > 0",
        WAIT,
    )
    .await;
    assert!(
        !text(&c, "#mfa-error").await.contains('_'),
        "a sentence, not a slug"
    );
    shot(&c, "login-mfa").await;

    // The step after the confirming code's (that one is used).
    app.clock.advance(30);
    fill(&c, "#mfa-code", &app.code(&enrolled.secret, 0)).await;
    click(&c, "#mfa-submit").await;
    until(&c, "signed in", SIGNED_IN, WAIT).await;
    c.close().await.unwrap();
}
