//! The client's address. The socket peer, unless the peer is a trusted proxy: then the
//! right-most hop of `Forwarded` / `X-Forwarded-For` (or `X-Real-IP`) that is not itself trusted.
//! Headers from anyone else are ignored, so a client cannot choose its own rate-limit key.
//! (Never `realip_remote_addr()`: it believes whatever the client sends.)

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// Forwarding entries looked at, from the right; a longer chain is cut, not parsed.
const MAX_HOPS: usize = 32;

pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
}

impl ClientIpResolver {
    /// Entries that do not parse are refused by config validation before this is built.
    pub fn new(cidrs: &[String]) -> Self {
        Self {
            trusted: cidrs.iter().filter_map(|c| parse_cidr(c)).collect(),
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
        let hops = forwarded_hops(headers);
        // Right to left: the first hop our proxies did not add is the client.
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusted(ip) => continue,
                Some(ip) => return *ip,
                // Garbage where an address should be: stop trusting the chain here.
                None => return peer,
            }
        }
        if hops.is_empty() {
            if let Some(ip) = headers
                .get("x-real-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
            {
                return canonical(ip);
            }
        }
        // Every hop was a trusted proxy: the left-most is as far as we can see.
        hops.first().copied().flatten().unwrap_or(peer)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The last `MAX_HOPS` hops, left to right: `Forwarded: for=` if present, else X-Forwarded-For.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let joined = |name: &str| -> Option<String> {
        let values: Vec<&str> = headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined("forwarded") {
        let elements: Vec<&str> = forwarded.rsplit(',').take(MAX_HOPS).collect();
        return elements
            .into_iter()
            .rev()
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v))
            })
            .collect();
    }
    if let Some(xff) = joined("x-forwarded-for") {
        let items: Vec<&str> = xff.rsplit(',').take(MAX_HOPS).collect();
        return items.into_iter().rev().map(parse_node).collect();
    }
    Vec::new()
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
    use actix_web::http::header::{HeaderName, HeaderValue};

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

    #[test]
    fn untrusted_peers_are_taken_as_they_are() {
        let r = ClientIpResolver::new(&["10.0.0.0/8".into()]);
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(
            r.resolve(peer("9.9.9.9"), &h),
            "9.9.9.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let r = ClientIpResolver::new(&["10.0.0.0/8".into(), "192.168.1.1".into()]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 5.5.5.5, 10.1.1.1")]);
        assert_eq!(
            r.resolve(peer("192.168.1.1"), &h),
            "5.5.5.5".parse::<IpAddr>().unwrap()
        );
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::1]:443\";proto=https",
        )]);
        assert_eq!(
            r.resolve(peer("10.0.0.2"), &h),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        let h = headers(&[("x-real-ip", "7.7.7.7")]);
        assert_eq!(
            r.resolve(peer("10.0.0.2"), &h),
            "7.7.7.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn garbage_and_huge_chains_fall_back_safely() {
        let r = ClientIpResolver::new(&["127.0.0.0/8".into()]);
        let h = headers(&[("x-forwarded-for", "not an ip")]);
        assert_eq!(
            r.resolve(peer("127.0.0.1"), &h),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        let long = (0..1000)
            .map(|i| format!("1.2.{}.{}", i / 256, i % 256))
            .collect::<Vec<_>>()
            .join(",");
        let h = headers(&[("x-forwarded-for", &long)]);
        assert_eq!(
            r.resolve(peer("127.0.0.1"), &h),
            "1.2.3.231".parse::<IpAddr>().unwrap()
        );
        let h = headers(&[("x-forwarded-for", "1.1.1.1, garbage")]);
        assert_eq!(
            r.resolve(peer("127.0.0.1"), &h),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let r = ClientIpResolver::new(&["127.0.0.1".into()]);
        let h = headers(&[("x-forwarded-for", "8.8.8.8")]);
        assert_eq!(
            r.resolve(peer("::ffff:127.0.0.1"), &h),
            "8.8.8.8".parse::<IpAddr>().unwrap()
        );
    }
}
