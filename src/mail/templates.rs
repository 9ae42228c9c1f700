//! The messages' words: a text template per kind and language (`{lang}/{kind}.txt`, with blocks
//! `subject`, `body` and, for a message with a link, `action`), and one HTML layout that sets the
//! body's paragraphs and the link as a button. Built in (`templates/mail/`); any file of the same
//! name in `mail.templates_dir` replaces one. Every template is compiled at start, so a broken
//! override stops the server with its name rather than failing a message later.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, Value};

use crate::error::Lang;

/// The kinds of message, each with its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A link (and a code) that proves an address: `username`, `email`, `code`, `hours`.
    VerifyEmail,
    /// A link to choose a new password: `username`, `minutes`.
    PasswordReset,
    /// `username`, `at`, `by_reset`.
    PasswordChanged,
    /// To the old address: `username`, `new_email`, `at`.
    EmailChanged,
    /// `username`, `factor`, `added`, `at`.
    FactorChanged,
    /// A refresh token was used twice: `username`, `at`.
    SessionRevoked,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::VerifyEmail,
        Kind::PasswordReset,
        Kind::PasswordChanged,
        Kind::EmailChanged,
        Kind::FactorChanged,
        Kind::SessionRevoked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::FactorChanged => "factor_changed",
            Self::SessionRevoked => "session_revoked",
        }
    }
}

const LANGS: [Lang; 2] = [Lang::En, Lang::Zh];
const LAYOUT: &str = "layout.html";

fn folder(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "en",
        Lang::Zh => "zh-CN",
    }
}

fn built_in(name: &str) -> Option<&'static str> {
    macro_rules! files {
        ($($file:literal),* $(,)?) => {
            match name {
                $($file => Some(include_str!(concat!("../../templates/mail/", $file))),)*
                _ => None,
            }
        };
    }
    files!(
        "layout.html",
        "en/verify_email.txt",
        "en/password_reset.txt",
        "en/password_changed.txt",
        "en/email_changed.txt",
        "en/factor_changed.txt",
        "en/session_revoked.txt",
        "zh-CN/verify_email.txt",
        "zh-CN/password_reset.txt",
        "zh-CN/password_changed.txt",
        "zh-CN/email_changed.txt",
        "zh-CN/factor_changed.txt",
        "zh-CN/session_revoked.txt",
    )
}

/// One message's words, ready for a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by the file of its name in `overrides` if there is
    /// one. Fails naming the template that does not compile.
    pub fn load(overrides: Option<&Path>) -> Result<Self, String> {
        let mut env = Environment::new();
        let names = std::iter::once(LAYOUT.to_owned()).chain(
            LANGS
                .iter()
                .flat_map(|l| Kind::ALL.map(|k| format!("{}/{}.txt", folder(*l), k.name()))),
        );
        for name in names {
            let own = overrides.map(|dir| dir.join(&name)).filter(|p| p.is_file());
            let source = match own {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("mail template {}: {e}", path.display()))?,
                None => built_in(&name)
                    .ok_or_else(|| format!("no built-in mail template {name}"))?
                    .to_owned(),
            };
            env.add_template_owned(name.clone(), source)
                .map_err(|e| format!("mail template {name}: {e}"))?;
        }
        let templates = Self { env };
        // Compiling is not enough: a message also needs its `subject` and `body` blocks, and a
        // template can fail only when rendered. Try each once, so a bad override stops the start.
        for lang in LANGS {
            for kind in Kind::ALL {
                templates
                    .render(
                        kind,
                        lang,
                        &BTreeMap::new(),
                        Some("https://example.invalid/"),
                    )
                    .map_err(|e| {
                        format!("mail template {}/{}.txt: {e}", folder(lang), kind.name())
                    })?;
            }
        }
        Ok(templates)
    }

    /// The message of `kind` in `lang`; `link`, when given, is the button of the HTML part.
    pub fn render(
        &self,
        kind: Kind,
        lang: Lang,
        vars: &BTreeMap<&'static str, Value>,
        link: Option<&str>,
    ) -> Result<Rendered, minijinja::Error> {
        let mut ctx: BTreeMap<String, Value> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        ctx.insert("link".into(), Value::from(link));
        let ctx = Value::from(ctx);
        let name = format!("{}/{}.txt", folder(lang), kind.name());
        let mut captured = self.env.get_template(&name)?.render_captured(ctx.clone())?;
        let mut block =
            |b: &str| captured.with_state_mut(|s| s.render_block(b).map(|t| t.trim().to_owned()));
        let subject = block("subject")?.replace(['\r', '\n'], " ");
        let text = block("body")?;
        // A message without an `action` block shows no button, link or not.
        let action = match block("action") {
            Ok(a) if link.is_some() => Some(a),
            Ok(_) => None,
            Err(e) if e.kind() == minijinja::ErrorKind::UnknownBlock => None,
            Err(e) => return Err(e),
        };
        let paragraphs: Vec<Value> = text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Value::from)
            .collect();
        let html = self.env.get_template(LAYOUT)?.render(minijinja::context! {
            lang => match lang { Lang::En => "en", Lang::Zh => "zh-CN" },
            subject => subject.clone(),
            paragraphs => paragraphs,
            link => action.as_ref().and(link),
            action => action,
            product => "Portcullis",
            .. ctx
        })?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<&'static str, Value> {
        BTreeMap::from([
            ("username", Value::from("nell<b>")),
            ("email", Value::from("nell@example.com")),
            ("code", Value::from("123456")),
            ("hours", Value::from(24)),
        ])
    }

    #[test]
    fn every_message_renders_in_both_languages_and_html_escapes_what_it_is_given() {
        let t = Templates::load(None).unwrap();
        for lang in LANGS {
            for kind in Kind::ALL {
                let r = t
                    .render(
                        kind,
                        lang,
                        &vars(),
                        Some("https://auth.example.com/x?a=1&b=2"),
                    )
                    .unwrap();
                assert!(!r.subject.is_empty() && !r.text.is_empty(), "{kind:?}");
                assert!(!r.html.contains("nell<b>"), "{kind:?}: {}", r.html);
            }
        }
        let en = t
            .render(
                Kind::VerifyEmail,
                Lang::En,
                &vars(),
                Some("https://l/v?t=1&u=2"),
            )
            .unwrap();
        assert_eq!(en.subject, "Confirm your email address");
        assert!(en.text.contains("https://l/v?t=1&u=2") && en.text.contains("123456"));
        // Escaped as an attribute (`/` too, which a browser reads back as it was).
        assert!(en.html.contains("v?t=1&amp;u=2\""), "{}", en.html);
        let zh = t
            .render(Kind::VerifyEmail, Lang::Zh, &vars(), Some("https://l/v"))
            .unwrap();
        assert_eq!(zh.subject, "请验证您的邮箱地址");
        assert!(zh.html.contains("lang=\"zh-CN\"") && zh.html.contains("验证邮箱"));
    }

    #[test]
    fn a_file_in_the_templates_folder_replaces_its_built_in_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("en")).unwrap();
        std::fs::write(
            dir.path().join("en/verify_email.txt"),
            "{% block subject %}Welcome to Acme{% endblock %}{% block action %}Go{% endblock %}\
             {% block body %}Code {{ code }}{% endblock %}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let r = t
            .render(Kind::VerifyEmail, Lang::En, &vars(), Some("https://l"))
            .unwrap();
        assert_eq!(
            (r.subject.as_str(), r.text.as_str()),
            ("Welcome to Acme", "Code 123456")
        );
        let zh = t
            .render(Kind::VerifyEmail, Lang::Zh, &vars(), Some("https://l"))
            .unwrap();
        assert_eq!(zh.subject, "请验证您的邮箱地址", "the others stay built in");

        std::fs::write(dir.path().join("layout.html"), "{% if %}").unwrap();
        let err = Templates::load(Some(dir.path())).err().unwrap();
        assert!(err.contains("layout.html"), "{err}");
        std::fs::remove_file(dir.path().join("layout.html")).unwrap();

        // One that compiles but has no subject is refused at load, not when a message is sent.
        std::fs::create_dir(dir.path().join("zh-CN")).unwrap();
        std::fs::write(
            dir.path().join("zh-CN/password_reset.txt"),
            "{% block body %}重置{% endblock %}",
        )
        .unwrap();
        let err = Templates::load(Some(dir.path())).err().unwrap();
        assert!(
            err.contains("zh-CN/password_reset.txt") && err.contains("subject"),
            "{err}"
        );
    }
}
