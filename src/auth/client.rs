//! Who is calling: the client address and the parsed user agent, recorded with each session.

use actix_web::{http::header, HttpRequest};

use super::client_ip::ClientIpResolver;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub os: Option<String>,
    pub browser: Option<String>,
    pub device: Option<String>,
}

const MAX_UA: usize = 512;

impl ClientInfo {
    /// The address comes from the resolver (forwarding headers count only from trusted proxies).
    pub fn from_request(req: &HttpRequest, resolver: &ClientIpResolver) -> Self {
        let ip = resolver.resolve(req.peer_addr(), req.headers()).to_string();
        let ua: String = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(MAX_UA)
            .collect();
        let parsed = woothee::parser::Parser::new().parse(&ua);
        let known = |s: &str| (!s.is_empty() && s != "UNKNOWN").then(|| s.to_owned());
        let (os, browser, device) = match parsed {
            Some(p) => (
                known(p.os),
                known(&format!("{} {}", p.name, p.version).replace("UNKNOWN", ""))
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
                known(p.category),
            ),
            None => (None, None, None),
        };
        Self {
            ip,
            user_agent: ua,
            os,
            browser,
            device,
        }
    }
}
