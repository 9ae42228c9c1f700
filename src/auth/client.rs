//! Who is calling, read from a request: the client address (and the key rate limits count it
//! by) and the parsed user agent.

use actix_web::{http::header, HttpRequest};

use super::client_ip::ClientIpResolver;
pub use crate::domain::ClientInfo;

const MAX_UA: usize = 512;

/// The address comes from the resolver (forwarding headers count only from trusted proxies).
pub fn client_info(req: &HttpRequest, resolver: &ClientIpResolver) -> ClientInfo {
    let ip = resolver.resolve(req.peer_addr(), req.headers());
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
    ClientInfo {
        key: resolver.key(ip).to_string(),
        ip: ip.to_string(),
        user_agent: ua,
        os,
        browser,
        device,
    }
}
