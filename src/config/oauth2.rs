//! Social login: where the browser lands, and the providers.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    pub frontend_login_url: String,
    pub frontend_error_url: String,
    pub frontend_bind_url: String,
    pub allowed_redirects: Vec<String>,
    pub state_ttl_seconds: i64,
    pub code_ttl_seconds: i64,
    pub link_by_verified_email: bool,
    pub default_roles: Vec<String>,
    pub providers: std::collections::BTreeMap<String, ProviderSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Github,
    Google,
    Oidc,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub userinfo_url: Option<String>,
    #[serde(default)]
    pub emails_url: Option<String>,
    /// The name a login page shows (default: GitHub, Google, or the configured name).
    #[serde(default)]
    pub display_name: Option<String>,
}

impl ProviderSettings {
    pub fn display_name(&self, name: &str) -> String {
        match (&self.display_name, self.kind) {
            (Some(d), _) => d.clone(),
            (None, ProviderKind::Github) => "GitHub".into(),
            (None, ProviderKind::Google) => "Google".into(),
            (None, ProviderKind::Oidc) => {
                let mut chars = name.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_uppercase().chain(chars).collect::<String>()
                })
            }
        }
    }
}
