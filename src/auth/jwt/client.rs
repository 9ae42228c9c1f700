//! The access tokens of OpenID clients (RFC 9068): a user's, for the client or an API it was
//! registered for (RFC 8707 `resource`), and a client's own `client_credentials` token. They
//! carry `client_id` and `scope`, and no check for Portcullis's own tokens takes them.

use jsonwebtoken::encode;

use super::{AccessClaims, JwtKeys, TokenRejection};
use crate::domain::Proof;

/// Whom an app's token is for: the client it was issued to, the audience it may be shown to
/// (the client itself, or one of its registered resources) and the scopes granted.
#[derive(Debug, Clone, Copy)]
pub struct ForClient<'a> {
    pub client_id: &'a str,
    pub audience: &'a str,
    pub scope: &'a str,
}

impl JwtKeys {
    /// A user's token for an OpenID client: `client_id` names the client, `aud` the audience,
    /// `scope` what it was granted; the session is the client's session of the user's, so
    /// ending it refuses the token at once.
    pub fn issue_for_client(
        &self,
        user_id: i64,
        sid: &str,
        proof: Proof,
        to: ForClient<'_>,
        now: i64,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let jti = uuid::Uuid::new_v4().simple().to_string();
        self.issue_to_client(&user_id.to_string(), sid, Some(proof), to, &jti, now)
    }

    /// A `client_credentials` token (RFC 9068 §2.2): the client acting for itself, so `sub`
    /// and `client_id` name it, and no session or user stands behind it. Its `jti` begins with
    /// `stamp` (of the client's secret), so a new secret ends the tokens of the old.
    pub fn issue_client_credentials(
        &self,
        to: ForClient<'_>,
        stamp: &str,
        now: i64,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let jti = format!("{stamp}.{}", uuid::Uuid::new_v4().simple());
        self.issue_to_client(to.client_id, "", None, to, &jti, now)
    }

    fn issue_to_client(
        &self,
        sub: &str,
        sid: &str,
        proof: Option<Proof>,
        to: ForClient<'_>,
        jti: &str,
        now: i64,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: to.audience.to_owned(),
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            jti: jti.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.ttl,
            amr: proof.map(|p| p.amr).unwrap_or_default(),
            auth_time: proof.map(|p| p.auth_time),
            client_id: Some(to.client_id.to_owned()),
            scope: Some(to.scope.to_owned()),
        };
        Ok((encode(&self.header, &claims, &self.encoding)?, claims.exp))
    }

    /// A token from `issue_client_credentials`: signature, type and times as `verify` checks
    /// them; `sub` and `client_id` the same client; no session.
    pub fn verify_client_credentials(
        &self,
        token: &str,
        now: i64,
    ) -> Result<AccessClaims, TokenRejection> {
        let c = self.signed_and_in_time(token, now, &self.client_validation)?;
        match &c.client_id {
            Some(id) if *id == c.sub && c.sid.is_empty() => Ok(c),
            _ => Err(TokenRejection::WrongType),
        }
    }

    /// A user's token issued to an OpenID client (`verify`'s checks, for the client's audience
    /// rather than Portcullis's own).
    pub fn verify_client_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<AccessClaims, TokenRejection> {
        let c = self.check(token, now, &self.client_validation)?;
        match &c.client_id {
            Some(_) => Ok(c),
            None => Err(TokenRejection::WrongType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(&Settings::defaults().jwt, &[7u8; 32], 16)
    }

    fn own(client: &str) -> ForClient<'_> {
        ForClient {
            client_id: client,
            audience: client,
            scope: "profile",
        }
    }

    #[test]
    fn a_client_acting_for_itself_passes_only_its_own_check() {
        let k = keys();
        // A client named like a user id still has no session behind its token.
        for client in ["svc", "7"] {
            let (t, _) = k
                .issue_client_credentials(own(client), "st", 1_000)
                .unwrap();
            assert!(k.verify(&t, 1_000).is_err(), "{client}");
            assert!(k.verify_client_token(&t, 1_000).is_err(), "{client}");
            assert!(k.verify_and_remember(&t, 1_000).is_err());
            let c = k.verify_client_credentials(&t, 1_000).unwrap();
            assert_eq!((c.sub.as_str(), c.aud.as_str()), (client, client));
            assert_eq!(c.scope.as_deref(), Some("profile"));
            assert!(c.jti.starts_with("st."), "{}", c.jti);
            assert!(k.verify_client_credentials(&t, c.exp + 31).is_err());
        }
        let (for_user, _) = k
            .issue_for_client(5, "s", Proof::password(1_000), own("svc"), 1_000)
            .unwrap();
        assert!(k.verify_client_token(&for_user, 1_000).is_ok());
        assert_eq!(
            k.verify_client_credentials(&for_user, 1_000),
            Err(TokenRejection::WrongType)
        );
        let (own, _) = k.issue(5, "s", Proof::password(1_000), 1_000).unwrap();
        assert!(k.verify_client_credentials(&own, 1_000).is_err());
    }

    #[test]
    fn a_token_for_a_resource_names_it_as_audience_and_still_its_client() {
        let k = keys();
        let to = ForClient {
            client_id: "wiki",
            audience: "https://api.example.com",
            scope: "openid",
        };
        let (t, _) = k
            .issue_for_client(5, "s", Proof::password(1_000), to, 1_000)
            .unwrap();
        let c = k.verify_client_token(&t, 1_000).unwrap();
        assert_eq!(c.aud, "https://api.example.com");
        assert_eq!(c.client_id.as_deref(), Some("wiki"));
        assert!(
            k.verify(&t, 1_000).is_err(),
            "never one of Portcullis's own"
        );
        let (cc, _) = k.issue_client_credentials(to, "st", 1_000).unwrap();
        let c = k.verify_client_credentials(&cc, 1_000).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.aud.as_str()),
            ("wiki", "https://api.example.com")
        );
    }
}
