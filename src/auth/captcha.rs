//! Image captchas: a PNG (bare base64) for the client, the answer (lower-cased) for the store.
//! A right answer uses the captcha up; a wrong one leaves it for another try (as fba keeps a
//! captcha until it is answered right, and as its frontend, which keeps showing the same image,
//! needs), up to `captcha.attempts` answers in all, so it still cannot be guessed through.

use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, Engine};
use captcha::filters::{Dots, Noise, Wave};
use captcha::Captcha;
use paperclip::actix::Apiv2Schema;
use serde::Serialize;

use crate::clock::SharedClock;
use crate::config::CaptchaSettings;
use crate::crypto;
use crate::error::ApiError;
use crate::store::{Once, Store};

/// Draws captchas. The server uses `ImageCaptcha`; a deployment (or a test) may give another.
pub trait CaptchaGenerator: Send + Sync + 'static {
    fn draw(&self, settings: &CaptchaSettings) -> Option<CaptchaImage>;
}

/// Distorted characters in a PNG, by the `captcha` crate.
pub struct ImageCaptcha;

impl CaptchaGenerator for ImageCaptcha {
    fn draw(&self, settings: &CaptchaSettings) -> Option<CaptchaImage> {
        draw(settings)
    }
}

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

/// Issues captchas and checks answers.
#[derive(Clone)]
pub struct Captchas {
    store: Store,
    settings: CaptchaSettings,
    clock: SharedClock,
    generator: Arc<dyn CaptchaGenerator>,
}

impl Captchas {
    pub fn new(
        store: Store,
        settings: CaptchaSettings,
        clock: SharedClock,
        generator: Arc<dyn CaptchaGenerator>,
    ) -> Self {
        Self {
            store,
            settings,
            clock,
            generator,
        }
    }

    /// Whether logins ask for one.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Draws a captcha (off the async threads) and keeps its answer under a new uuid.
    pub async fn issue(&self) -> Result<CaptchaData, ApiError> {
        let settings = self.settings.clone();
        let generator = self.generator.clone();
        let image = actix_web::rt::task::spawn_blocking(move || generator.draw(&settings))
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("captcha could not be drawn"))?;
        let uuid = uuid::Uuid::new_v4().to_string();
        let ttl = self.settings.ttl_seconds;
        let now = self.clock.unix();
        let stored = format!("{}:{}", now + ttl, image.answer);
        self.store
            .put_once(Once::Captcha, &uuid, &stored, ttl, now)
            .await?;
        Ok(CaptchaData {
            is_enabled: self.settings.enabled,
            expire_seconds: ttl,
            uuid,
            image: image.png_base64,
            image_type: "png".into(),
        })
    }

    /// Compares the answer. A right one uses the captcha up; a wrong one puts it back for
    /// another try unless it was the last of `captcha.attempts`.
    ///
    /// The stored answer is taken while it is compared, so two answers at once cannot both be
    /// compared against it (the second finds nothing and fails); each answer put back is counted
    /// first, so no captcha is ever compared more than `attempts` times.
    pub async fn check(&self, uuid: Option<&str>, answer: Option<&str>) -> Result<bool, ApiError> {
        let (Some(uuid), Some(answer)) = (uuid.filter(|u| u.len() <= 64), answer) else {
            return Ok(false);
        };
        let now = self.clock.unix();
        let Some(stored) = self.store.take_once(Once::Captcha, uuid, now).await? else {
            return Ok(false);
        };
        let Some((expires, expected)) = stored
            .split_once(':')
            .and_then(|(e, a)| Some((e.parse::<i64>().ok()?, a)))
        else {
            return Ok(false);
        };
        if matches(expected, answer) {
            return Ok(true);
        }
        let tries_key = format!("captcha:tries:{uuid}");
        let left = expires - now;
        if left > 0 {
            let tries = self.store.incr(&tries_key, left, now).await?;
            if tries < i64::from(self.settings.attempts) {
                self.store
                    .put_once(Once::Captcha, uuid, &stored, left, now)
                    .await?;
            }
        }
        Ok(false)
    }
}

/// Characters people confuse in a distorted image.
const AMBIGUOUS: &[char] = &[
    '0', 'O', 'o', '1', 'l', 'I', 'i', 'j', '5', 'S', 's', '2', 'Z', 'z',
];

pub struct CaptchaImage {
    /// PNG, standard base64, no `data:` prefix.
    pub png_base64: String,
    /// The expected answer, lower-cased.
    pub answer: String,
}

/// Draws one captcha. CPU work of a few milliseconds: call it off the async threads.
pub fn draw(settings: &CaptchaSettings) -> Option<CaptchaImage> {
    let mut c = Captcha::new();
    let chars: Vec<char> = c
        .supported_chars()
        .into_iter()
        // Answers compare case-insensitively, so a letter is out if either case is ambiguous.
        .filter(|ch| {
            ch.is_ascii_alphanumeric()
                && !AMBIGUOUS.contains(ch)
                && !AMBIGUOUS.contains(&ch.to_ascii_lowercase())
                && !AMBIGUOUS.contains(&ch.to_ascii_uppercase())
        })
        .collect();
    c.set_chars(&chars).add_chars(settings.length);
    match settings.noise {
        0 => {}
        1 => {
            c.apply_filter(Noise::new(0.1));
        }
        _ => {
            c.apply_filter(Noise::new(0.3));
        }
    }
    c.apply_filter(Wave::new(2.0, 8.0))
        .view(settings.width, settings.height);
    if settings.noise >= 2 {
        c.apply_filter(Dots::new(8).min_radius(2).max_radius(4));
    }
    let png = c.as_png()?;
    Some(CaptchaImage {
        png_base64: STANDARD.encode(png),
        answer: c.chars_as_string().to_lowercase(),
    })
}

/// Case-insensitive, constant-time in the content of the answers.
pub fn matches(expected_lower: &str, given: &str) -> bool {
    let given = given.trim().to_lowercase();
    crypto::ct_eq(expected_lower.as_bytes(), given.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn draws_a_png_with_the_configured_length() {
        let settings = Settings::defaults().captcha;
        for _ in 0..50 {
            let img = draw(&settings).expect("png");
            assert_eq!(img.answer.chars().count(), settings.length as usize);
            assert!(
                img.answer.chars().all(|c| !AMBIGUOUS.contains(&c)),
                "{}",
                img.answer
            );
        }
        let img = draw(&settings).expect("png");
        let png = STANDARD.decode(&img.png_base64).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn answers_compare_case_insensitively() {
        assert!(matches("ab3k", " AB3k "));
        assert!(!matches("ab3k", "ab3"));
        assert!(!matches("ab3k", ""));
    }
}
