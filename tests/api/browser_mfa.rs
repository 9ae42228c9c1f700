//! The reference page's second step, in real Chromium: a user with TOTP signs in with the
//! password, then the code; a wrong code is said so and can be corrected.

use crate::browser::{
    browser, click, driver, fill, password_step, shot, text, ui_settings, until, SIGNED_IN, WAIT,
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
    password_step(&c, "tess", PASSWORD).await;
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

#[actix_web::test]
async fn a_user_turns_on_totp_on_the_account_page_and_signs_in_with_it() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user("otto").await;
    app.align_to_step();
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{}/login", app.address)).await.unwrap();
    password_step(&c, "otto", PASSWORD).await;
    until(&c, "signed in", SIGNED_IN, WAIT).await;
    until(
        &c,
        "the factors",
        "document.querySelector('#totp-enrol')",
        WAIT,
    )
    .await;
    assert!(text(&c, "#factors-status").await.contains(": off"));

    click(&c, "#totp-enrol").await;
    until(
        &c,
        "the QR code",
        "document.querySelector('#totp-qr')?.src.startsWith('data:image/svg+xml')",
        WAIT,
    )
    .await;
    shot(&c, "account-mfa-enrol").await;
    // Shown in groups of four, for typing in.
    let shown = text(&c, "#totp-secret").await;
    assert_eq!(shown.split(' ').next().map(str::len), Some(4), "{shown}");
    let secret = crate::mfa::base32_decode(&shown.replace(' ', ""));
    assert_eq!(secret.len(), 20);
    fill(&c, "#totp-code", "000000").await;
    click(&c, "#totp-confirm").await;
    until(
        &c,
        "a wrong first code is said so",
        "document.querySelector('#factors-message')?.textContent.length > 0",
        WAIT,
    )
    .await;
    fill(&c, "#totp-code", &app.code(&secret, 0)).await;
    click(&c, "#totp-confirm").await;
    until(
        &c,
        "the recovery codes",
        "document.querySelectorAll('#recovery-codes li').length === 10",
        WAIT,
    )
    .await;
    assert!(text(&c, "#factors-status").await.contains(": on"));
    let first_recovery = text(&c, "#recovery-codes li").await;
    shot(&c, "account-mfa-on").await;

    // Signed out, the password leads to the second step, and a recovery code finishes it.
    click(&c, "#sign-out").await;
    password_step(&c, "otto", PASSWORD).await;
    until(
        &c,
        "the second step",
        "document.querySelector('#mfa-form')",
        WAIT,
    )
    .await;
    fill(&c, "#mfa-code", &first_recovery).await;
    click(&c, "#mfa-submit").await;
    until(&c, "signed in", SIGNED_IN, WAIT).await;
    until(
        &c,
        "nine recovery codes left",
        "document.querySelector('#factors-status')?.textContent.includes('left: 9')",
        WAIT,
    )
    .await;

    // Turning it off: a fresh sign-in through the second step may, at once.
    click(&c, "#totp-remove").await;
    until(
        &c,
        "it is off",
        "document.querySelector('#totp-enrol')",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
    assert!(app.login("otto", PASSWORD).await["access_token"].is_string());
}

#[actix_web::test]
async fn the_console_shows_who_has_a_second_factor_and_resets_it() {
    let (s, res) = ui_settings().await;
    let app = spawn_with(s, res).await;
    app.create_user_with("root", PASSWORD, true).await;
    app.create_user("lost").await;
    app.enrol_totp("lost").await;
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{}/login", app.address)).await.unwrap();
    password_step(&c, "root", PASSWORD).await;
    until(&c, "signed in", SIGNED_IN, WAIT).await;
    c.goto(&format!("{}/admin", app.address)).await.unwrap();
    until(
        &c,
        "the reset button",
        "document.querySelector('[data-mfa-reset=\"lost\"]')",
        WAIT,
    )
    .await;
    let row = "[...document.querySelectorAll('#user-list tr')].find((r) => r.textContent.includes('lost'))";
    let two_step = format!("{row}.querySelector('td[data-label=\"Two-step\"]').textContent");
    until(&c, "lost has totp", &format!("{two_step} === 'totp'"), WAIT).await;
    click(&c, "[data-mfa-reset=\"lost\"]").await;
    until(
        &c,
        "the factor is gone",
        &format!("{two_step} === '—'"),
        WAIT,
    )
    .await;
    c.close().await.unwrap();
    assert!(app.login("lost", PASSWORD).await["access_token"].is_string());
}

#[actix_web::test]
async fn a_superuser_the_policy_names_sets_up_a_factor_before_signing_in() {
    let (mut s, res) = ui_settings().await;
    s.mfa.required_for = vec!["superusers".into()];
    let app = spawn_with(s, res).await;
    app.create_user_with("root", PASSWORD, true).await;
    app.align_to_step();
    let d = driver();
    let c = browser(&d, "en-US").await;
    c.goto(&format!("{}/login", app.address)).await.unwrap();
    password_step(&c, "root", PASSWORD).await;
    until(
        &c,
        "the enrolment",
        "document.querySelector('#mfa-enrol #totp-qr')",
        WAIT,
    )
    .await;
    let secret = crate::mfa::base32_decode(&text(&c, "#totp-secret").await.replace(' ', ""));
    fill(&c, "#totp-code", &app.code(&secret, 0)).await;
    click(&c, "#totp-confirm").await;
    until(
        &c,
        "the recovery codes",
        "document.querySelectorAll('#recovery-codes li').length === 10",
        WAIT,
    )
    .await;
    click(&c, "#mfa-continue").await;
    until(&c, "signed in", SIGNED_IN, WAIT).await;
    until(
        &c,
        "the factor is on",
        "document.querySelector('#factors-status')?.textContent.includes(': on')",
        WAIT,
    )
    .await;
    c.close().await.unwrap();
}
