//! `[oidc]`: Portcullis as an OpenID Connect provider for other apps.

use serde::Deserialize;

use super::Profile;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Whether the provider's endpoints answer (`/oidc/...`). Off by default, on in
    /// `config/development.toml`; production needs `rsa_private_key_file` with it.
    pub enabled: bool,
    /// The RSA private key (PKCS#8 or PKCS#1 PEM, at least 2048 bits) that signs ID tokens with
    /// RS256. Empty in development: generated into `{data.dir}/oidc_rsa.pem`.
    pub rsa_private_key_file: String,
    /// Earlier RSA keys' public halves (SPKI or PKCS#1 PEM), kept in JWKS after a rotation until
    /// the ID tokens they signed have expired.
    #[serde(default)]
    pub previous_rsa_public_key_files: Vec<String>,
    /// PKCE (S256) for every client; off, only public clients must use it.
    pub require_pkce: bool,
    /// How long an authorization code may wait to be exchanged (RFC 6749 §4.1.2: at most 10
    /// minutes, 60 s recommended).
    pub code_ttl_seconds: i64,
    /// How long a sign-in or consent page may take before its request must start over.
    pub request_ttl_seconds: i64,
    /// How long an ID token is valid.
    pub id_token_ttl_seconds: i64,
}

impl OidcSettings {
    pub(super) fn problems(&self, profile: Profile) -> Vec<String> {
        let mut p = Vec::new();
        if self.enabled
            && profile == Profile::Production
            && self.rsa_private_key_file.trim().is_empty()
        {
            p.push(
                "oidc.enabled needs oidc.rsa_private_key_file in production (the key that signs \
                 ID tokens; PORTCULLIS__OIDC__RSA_PRIVATE_KEY_FILE): make one with \
                 `portcullis keys generate-rsa --out DIR`"
                    .into(),
            );
        }
        if !(1..=600).contains(&self.code_ttl_seconds) {
            p.push("oidc.code_ttl_seconds must be 1 to 600 (RFC 6749 §4.1.2)".into());
        }
        if self.request_ttl_seconds <= 0 || self.id_token_ttl_seconds <= 0 {
            p.push(
                "oidc.request_ttl_seconds and oidc.id_token_ttl_seconds must be positive".into(),
            );
        }
        p
    }
}
