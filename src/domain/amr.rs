//! How a session's user proved who they are: the `amr` claim (RFC 8176's method values, plus
//! `fed` for a social login, as Microsoft's identity platform writes it). Kept by the session,
//! copied into every access token of it, so the hot path reads it from the verified token.

use std::fmt;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A set of methods; printed and serialized as their names, in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Amr(u8);

const NAMES: [(Amr, &str); 6] = [
    (Amr::PWD, "pwd"),
    (Amr::FED, "fed"),
    (Amr::OTP, "otp"),
    (Amr::HWK, "hwk"),
    (Amr::SWK, "swk"),
    (Amr::MFA, "mfa"),
];

impl Amr {
    /// A password.
    pub const PWD: Self = Self(1);
    /// A social (OAuth 2.0) provider's sign-in.
    pub const FED: Self = Self(2);
    /// A one-time password: a TOTP code or a recovery code.
    pub const OTP: Self = Self(4);
    /// A hardware-bound key (a passkey in a security key or platform authenticator).
    pub const HWK: Self = Self(8);
    /// A software-bound key.
    pub const SWK: Self = Self(16);
    /// More than one factor.
    pub const MFA: Self = Self(32);

    /// The first step a session began with (`password`, `swagger`, `oauth2:{provider}`); also
    /// what sessions stored before `amr` existed are taken to have.
    pub fn first_step(method: &str) -> Self {
        if method.starts_with("oauth2:") {
            Self::FED
        } else if method == "passkey" {
            Self::passkey_alone()
        } else {
            Self::PWD
        }
    }

    /// A passkey alone (`method = "passkey"`), its user verified: two factors in one key (the
    /// authenticator and the PIN or biometric that unlocks it), as NIST SP 800-63B counts a
    /// multi-factor cryptographic authenticator.
    pub fn passkey_alone() -> Self {
        Self(Self::HWK.0 | Self::MFA.0)
    }

    /// This set and a second factor after it.
    pub fn and_second(self, factor: Self) -> Self {
        Self(self.0 | factor.0 | Self::MFA.0)
    }

    /// A second factor proved on its own, in a session that proved the first (an enrolment's
    /// first code).
    pub fn second(factor: Self) -> Self {
        Self(factor.0 | Self::MFA.0)
    }

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    // By reference: serde's `skip_serializing_if` passes one.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Whether the user passed more than one factor.
    pub fn is_mfa(self) -> bool {
        self.contains(Self::MFA)
    }

    /// Every name a set can hold, in order (for the API's documents).
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        NAMES.into_iter().map(|(_, n)| n)
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        NAMES
            .into_iter()
            .filter(move |(m, _)| self.contains(*m))
            .map(|(_, n)| n)
    }

    /// The names, comma-separated (forward-auth's `Remote-Amr`): one string per set, made
    /// once, so an answer copies nothing.
    pub fn joined(self) -> &'static str {
        &Self::spelled(self).0
    }

    /// The names as a JSON array (`["pwd","otp","mfa"]`), made once per set like `joined`.
    pub fn json_array(self) -> &'static str {
        &Self::spelled(self).1
    }

    fn spelled(self) -> &'static (String, String) {
        static SPELLED: std::sync::LazyLock<Vec<(String, String)>> =
            std::sync::LazyLock::new(|| {
                (0..=u8::MAX >> 2)
                    .map(|bits| {
                        let names: Vec<&str> = Amr(bits).names().collect();
                        let json = serde_json::to_string(&names).unwrap_or_default();
                        (names.join(","), json)
                    })
                    .collect()
            });
        &SPELLED[usize::from(self.0)]
    }

    /// Names this server does not know are ignored (a token never carries one).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        names.into_iter().fold(Self::default(), |acc, n| {
            match NAMES.iter().find(|(_, name)| *name == n) {
                Some((m, _)) => Self(acc.0 | m.0),
                None => acc,
            }
        })
    }
}

/// How and when a session's user last proved who they are, as its tokens say (`amr`,
/// `auth_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof {
    pub amr: Amr,
    /// Unix seconds.
    pub auth_time: i64,
}

impl Proof {
    /// A password, just now.
    pub fn password(now: i64) -> Self {
        Self {
            amr: Amr::PWD,
            auth_time: now,
        }
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.names().collect();
        f.write_str(&names.join(" "))
    }
}

impl Serialize for Amr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for n in self.names() {
            seq.serialize_element(n)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Amr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> Visitor<'de> for Names {
            type Value = Amr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of authentication method names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Amr, A::Error> {
                let mut amr = Amr::default();
                while let Some(n) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    amr = Amr(amr.0 | Amr::from_names([n.as_ref()]).0);
                }
                Ok(amr)
            }
        }
        d.deserialize_seq(Names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_combine_print_and_read_back() {
        let pwd = Amr::first_step("password");
        assert_eq!(pwd, Amr::PWD);
        assert_eq!(Amr::first_step("oauth2:github"), Amr::FED);
        let both = pwd.and_second(Amr::OTP);
        assert!(both.is_mfa() && both.contains(Amr::PWD) && !pwd.is_mfa());
        assert_eq!(both.to_string(), "pwd otp mfa");
        assert_eq!(both.joined(), "pwd,otp,mfa");
        assert_eq!(Amr::default().joined(), "");
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(json, r#"["pwd","otp","mfa"]"#);
        assert_eq!(both.json_array(), json);
        assert_eq!(Amr::second(Amr::OTP).json_array(), r#"["otp","mfa"]"#);
        assert_eq!(Amr::default().json_array(), "[]");
        assert_eq!(serde_json::from_str::<Amr>(&json).unwrap(), both);
        assert_eq!(
            serde_json::from_str::<Amr>(r#"["hwk","made-up"]"#).unwrap(),
            Amr::HWK
        );
        assert!(serde_json::from_str::<Amr>(r#""pwd""#).is_err());
    }
}
