//! The client's address. The socket peer, unless the peer is a trusted proxy: then the
//! right-most entry, not itself a trusted proxy, of the one header the proxies write
//! (`rate_limit.client_ip_header`, `X-Forwarded-For` by default). Every other forwarding header
//! is ignored: nginx, cloud load balancers and Cloudflare append to `X-Forwarded-For` and pass
//! a client's own `Forwarded` through untouched, so believing that one would let any client
//! pick its address. (Never `realip_remote_addr()`: it believes whatever the client sends.)
//!
//! Rate limits and lockouts key a client by `key`: its IPv4 address, or its IPv6 network
//! (`/64` by default), since one IPv6 host usually holds a whole /64.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::config::parse_cidr;

/// Forwarding entries looked at, from the right; a longer chain is cut, not parsed.
const MAX_HOPS: usize = 32;

#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
    header: HeaderName,
    ipv6_prefix: u8,
}

impl Default for ClientIpResolver {
    fn default() -> Self {
        Self::new(&[], "x-forwarded-for", 64)
    }
}

impl ClientIpResolver {
    /// Entries and names that do not parse are refused by config validation before this is
    /// built; here they are skipped.
    pub fn new(cidrs: &[String], header: &str, ipv6_prefix: u8) -> Self {
        Self {
            trusted: cidrs.iter().filter_map(|c| parse_cidr(c)).collect(),
            header: HeaderName::from_bytes(header.trim().to_ascii_lowercase().as_bytes())
                .unwrap_or(HeaderName::from_static("x-forwarded-for")),
            ipv6_prefix: ipv6_prefix.min(128),
        }
    }

    fn trusted(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    pub fn resolve(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer.map(|p| canonical(p.ip())) else {
            return IpAddr::from([0, 0, 0, 0]);
        };
        if !self.trusted(&peer) {
            return peer;
        }
        let hops = self.hops(headers);
        // Right to left: the first hop our proxies did not add is the client.
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusted(ip) => continue,
                Some(ip) => return *ip,
                // Garbage where an address should be: stop trusting the chain here.
                None => return peer,
            }
        }
        // Every hop was a trusted proxy: the left-most is as far as we can see.
        hops.first().copied().flatten().unwrap_or(peer)
    }

    /// What rate limits and lockouts count by: the address, or an IPv6 address's network.
    pub fn key(&self, ip: IpAddr) -> IpAddr {
        match canonical(ip) {
            IpAddr::V6(v6) if self.ipv6_prefix < 128 => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
            other => other,
        }
    }

    /// The last `MAX_HOPS` entries of the configured header, left to right.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let values: Vec<&str> = headers
            .get_all(&self.header)
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Vec::new();
        }
        let joined = values.join(",");
        let forwarded = self.header.as_str() == "forwarded";
        let items: Vec<&str> = joined.rsplit(',').take(MAX_HOPS).collect();
        items
            .into_iter()
            .rev()
            .map(|item| {
                if forwarded {
                    item.split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| parse_node(v))
                } else {
                    parse_node(item)
                }
            })
            .collect()
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// An address as forwarding headers write it: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    let inner = s.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 4000))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(trusted: &[&str]) -> ClientIpResolver {
        let t: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        ClientIpResolver::new(&t, "X-Forwarded-For", 64)
    }

    #[test]
    fn untrusted_peers_are_taken_as_they_are() {
        let r = xff(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(r.resolve(peer("9.9.9.9"), &h), ip("9.9.9.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let r = xff(&["10.0.0.0/8", "192.168.1.1"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 5.5.5.5, 10.1.1.1")]);
        assert_eq!(r.resolve(peer("192.168.1.1"), &h), ip("5.5.5.5"));
    }

    #[test]
    fn only_the_configured_header_counts() {
        let r = xff(&["10.0.0.0/8"]);
        // A client-sent `Forwarded` passes nginx untouched; nginx appends the real peer to XFF.
        let h = headers(&[
            ("forwarded", "for=203.0.113.77"),
            ("x-real-ip", "203.0.113.78"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(r.resolve(peer("10.0.0.2"), &h), ip("198.51.100.7"));
        let h = headers(&[("forwarded", "for=203.0.113.77")]);
        assert_eq!(r.resolve(peer("10.0.0.2"), &h), ip("10.0.0.2"));
        let fwd = ClientIpResolver::new(&["10.0.0.0/8".into()], "Forwarded", 64);
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::1]:443\";proto=https",
        )]);
        assert_eq!(fwd.resolve(peer("10.0.0.2"), &h), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_and_huge_chains_fall_back_safely() {
        let r = xff(&["127.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "not an ip")]);
        assert_eq!(r.resolve(peer("127.0.0.1"), &h), ip("127.0.0.1"));
        let long = (0..1000)
            .map(|i| format!("1.2.{}.{}", i / 256, i % 256))
            .collect::<Vec<_>>()
            .join(",");
        let h = headers(&[("x-forwarded-for", &long)]);
        assert_eq!(r.resolve(peer("127.0.0.1"), &h), ip("1.2.3.231"));
        let h = headers(&[("x-forwarded-for", "1.1.1.1, garbage")]);
        assert_eq!(r.resolve(peer("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn mapped_ipv6_is_ipv4_and_ipv6_clients_are_keyed_by_network() {
        let r = xff(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "8.8.8.8")]);
        assert_eq!(r.resolve(peer("::ffff:127.0.0.1"), &h), ip("8.8.8.8"));
        assert_eq!(r.key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(r.key(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_eq!(r.key(ip("192.0.2.1")), ip("192.0.2.1"));
        let exact = ClientIpResolver::new(&[], "X-Forwarded-For", 128);
        assert_eq!(exact.key(ip("2001:db8::1")), ip("2001:db8::1"));
    }
}
