//! What an API client is told by introspection: its claim set, parsed once.

use std::fmt;

/// A claim an API client may be granted in introspection answers (`active` is always there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    Sub,
    Username,
    Sid,
    Exp,
    Iat,
    Nbf,
    Iss,
    Aud,
    TokenType,
    Scope,
    /// The address, only when verified.
    Email,
    EmailVerified,
    /// The whole user object (phone, superuser, last login, …): what the guard crate caches.
    User,
    /// How the session's user signed in (`pwd`, `otp`, `mfa`, …).
    Amr,
    /// When the session's user last proved who they are.
    AuthTime,
}

const ALL: [(Claim, &str); 15] = [
    (Claim::Sub, "sub"),
    (Claim::Username, "username"),
    (Claim::Sid, "sid"),
    (Claim::Exp, "exp"),
    (Claim::Iat, "iat"),
    (Claim::Nbf, "nbf"),
    (Claim::Iss, "iss"),
    (Claim::Aud, "aud"),
    (Claim::TokenType, "token_type"),
    (Claim::Scope, "scope"),
    (Claim::Email, "email"),
    (Claim::EmailVerified, "email_verified"),
    (Claim::User, "user"),
    (Claim::Amr, "amr"),
    (Claim::AuthTime, "auth_time"),
];

/// Every claim's name, space-separated.
fn names() -> String {
    ALL.map(|(_, n)| n).join(" ")
}

impl Claim {
    pub fn name(self) -> &'static str {
        ALL.iter().find(|(c, _)| *c == self).map_or("", |(_, n)| n)
    }
}

/// The claims one client is given. Stored space-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSet(Vec<Claim>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown claim `{0}`; claims are: {list}", list = names())]
pub struct UnknownClaim(pub String);

impl ClaimSet {
    /// What a client gets unless it is created with others.
    pub fn standard() -> Self {
        Self(vec![Claim::Sub, Claim::Username, Claim::Exp, Claim::Scope])
    }

    /// Every claim (what clients made before claim sets existed were migrated to).
    pub fn all() -> Self {
        Self(ALL.iter().map(|(c, _)| *c).collect())
    }

    /// Names separated by commas or white space; duplicates are dropped.
    pub fn parse(s: &str) -> Result<Self, UnknownClaim> {
        let mut claims = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|n| !n.is_empty())
            .map(|n| {
                ALL.iter()
                    .find(|(_, name)| *name == n)
                    .map(|(c, _)| *c)
                    .ok_or_else(|| UnknownClaim(n.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        claims.sort();
        claims.dedup();
        Ok(Self(claims))
    }

    pub fn has(&self, claim: Claim) -> bool {
        self.0.contains(&claim)
    }
}

impl fmt::Display for ClaimSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|c| c.name()).collect();
        f.write_str(&names.join(" "))
    }
}

/// An API client as authentication needs it: the digest its secret must match, and what its
/// introspection answers hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: String,
    pub secret_hash: String,
    pub claims: ClaimSet,
    /// When set, only tokens for this audience are active for the client.
    pub audience: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_sets_parse_print_and_refuse_unknown_names() {
        let set = ClaimSet::parse("user, sid scope,,sub sub").unwrap();
        assert_eq!(set.to_string(), "sub sid scope user");
        assert!(set.has(Claim::User) && !set.has(Claim::Email));
        assert_eq!(
            ClaimSet::parse(&ClaimSet::all().to_string()),
            Ok(ClaimSet::all())
        );
        assert_eq!(ClaimSet::standard().to_string(), "sub username exp scope");
        assert_eq!(
            ClaimSet::parse("sub,phone"),
            Err(UnknownClaim("phone".into()))
        );
        let told = UnknownClaim("phone".into()).to_string();
        assert!(
            told.ends_with("email_verified user amr auth_time"),
            "{told}"
        );
    }
}
