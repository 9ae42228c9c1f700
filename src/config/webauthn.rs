//! `[webauthn]`: where passkeys belong (the relying party) and the pages that may use them.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct WebauthnSettings {
    /// The relying party id: the domain passkeys are bound to (`example.com` also serves
    /// `auth.example.com`). Empty: the host of `server.public_url`, or `localhost` when that
    /// host is an address (browsers bind passkeys to names, never to IP addresses).
    pub rp_id: String,
    /// The name an authenticator shows beside the account.
    pub rp_name: String,
    /// The origins (scheme, host and port, exactly) whose pages may register and use passkeys.
    /// Empty: `server.public_url`, and `http://localhost:{port}` when that names an address.
    pub origins: Vec<String>,
}

impl WebauthnSettings {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.rp_id.contains(['/', ':']) {
            p.push(format!(
                "webauthn.rp_id `{}` must be a domain name (no scheme, no port), e.g. `example.com`",
                self.rp_id
            ));
        }
        for o in &self.origins {
            if url::Url::parse(o).map_or(true, |u| u.domain().is_none()) {
                p.push(format!(
                    "webauthn.origins: `{o}` is not an origin with a domain name, e.g. \
                     `https://auth.example.com` (PORTCULLIS__WEBAUTHN__ORIGINS, comma-separated)"
                ));
            }
        }
        p
    }
}
