//! Image captchas: a PNG (bare base64) for the client, the answer (lower-cased) for the store.

use base64::{engine::general_purpose::STANDARD, Engine};
use captcha::filters::{Dots, Noise, Wave};
use captcha::Captcha;
use subtle::ConstantTimeEq;

use crate::config::CaptchaSettings;

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
    bool::from(expected_lower.as_bytes().ct_eq(given.as_bytes()))
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
