//! The account's life on the reference page, in real Chromium, with the messages from a real
//! SMTP server: sign up, open the mailed link, sign in; forget the password, open the reset link,
//! choose a new one, sign in with it.

use crate::browser::{
    browser, click, driver, fill, shot, sign_in, text, ui_settings, until, ON_LOGIN, WAIT,
};
use crate::helpers::*;
use crate::mail::Smtp;

#[actix_web::test]
async fn on_the_page_a_user_signs_up_verifies_forgets_the_password_and_resets_it() {
    let smtp = Smtp::start();
    let (mut s, res) = ui_settings().await;
    s.mail.smtp_url = smtp.url();
    s.mail.per_address_per_hour = 100;
    s.registration.enabled = true;
    let app = spawn_with(s, res).await;
    let base = app.address.clone();
    let d = driver();
    let c = browser(&d, "en-US").await;

    c.goto(&format!("{base}/login")).await.unwrap();
    until(
        &c,
        "the sign-up link",
        "document.querySelector('#signup-link')",
        WAIT,
    )
    .await;
    click(&c, "#signup-link").await;
    until(
        &c,
        "the sign-up form",
        "document.querySelector('#signup-form')",
        WAIT,
    )
    .await;
    fill(&c, "#username", "ines").await;
    fill(&c, "#email", "ines@example.com").await;
    fill(&c, "#password", PASSWORD).await;
    click(&c, "#signup-submit").await;
    until(
        &c,
        "sign-up done",
        "document.querySelector('#signup-done')",
        WAIT,
    )
    .await;
    assert!(text(&c, "#signup-done").await.contains("ines@example.com"));
    shot(&c, "signup-done").await;

    let mail = smtp.last_to("ines@example.com", 1).await;
    let token = mail.token("/verify-email");
    c.goto(&format!("{base}/verify-email?token={token}"))
        .await
        .unwrap();
    until(
        &c,
        "the address verified",
        "document.querySelector('#verify-status')?.textContent.includes('verified')",
        WAIT,
    )
    .await;
    let url = c.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("token"),
        "the token left the address bar: {url}"
    );
    sign_in(&c, &base, "ines", PASSWORD).await;
    assert!(text(&c, "#email-current").await.contains("verified"));

    click(&c, "#sign-out").await;
    until(&c, "the login page", ON_LOGIN, WAIT).await;
    until(
        &c,
        "the forgot link",
        "document.querySelector('#forgot-link')",
        WAIT,
    )
    .await;
    click(&c, "#forgot-link").await;
    until(
        &c,
        "the forgot form",
        "document.querySelector('#forgot-form')",
        WAIT,
    )
    .await;
    fill(&c, "#username_or_email", "ines@example.com").await;
    click(&c, "#forgot-submit").await;
    until(
        &c,
        "forgot done",
        "document.querySelector('#forgot-done')",
        WAIT,
    )
    .await;

    let mail = smtp.last_to("ines@example.com", 2).await;
    assert_eq!(mail.subject, "Reset your password");
    c.goto(&format!("{base}/reset?token={}", mail.token("/reset")))
        .await
        .unwrap();
    until(
        &c,
        "the reset form",
        "document.querySelector('#reset-form')",
        WAIT,
    )
    .await;
    fill(&c, "#new_password", "password123").await;
    fill(&c, "#confirm_password", "password123").await;
    click(&c, "#reset-submit").await;
    until(
        &c,
        "a weak password is refused",
        "document.querySelector('#reset-error')?.textContent.length > 0",
        WAIT,
    )
    .await;
    assert!(text(&c, "#reset-error").await.contains("guess"));
    fill(&c, "#new_password", "a fresh start 2026").await;
    fill(&c, "#confirm_password", "a fresh start 2026").await;
    click(&c, "#reset-submit").await;
    until(
        &c,
        "reset done",
        "document.querySelector('#reset-done')",
        WAIT,
    )
    .await;
    shot(&c, "password-reset-done").await;
    sign_in(&c, &base, "ines", "a fresh start 2026").await;
}
