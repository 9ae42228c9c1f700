//! Who is calling: recorded with each session and login.

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    /// The address rate limits and lockouts count by (an IPv6 client's network).
    pub key: String,
    pub user_agent: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}
