//! The request the proxy is holding, as it reports it to forward-auth.
//!
//! A proxy passes the client's own request headers into its forward-auth request (nginx's
//! `auth_request` does), so a header the proxy does not overwrite is the client's choice. Only
//! the one header set the proxy is configured to write (`forward_auth.headers`) is read, and
//! only from a trusted proxy (`rate_limit.trusted_proxies`, or a loopback peer when that list is
//! empty); the other set is never read. A header sent twice, or not as text, is unreadable.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

use super::path::{normalise, PathRefusal};
use crate::config::{parse_cidr, ForwardedHeaders};

/// The original request, its path normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub method: String,
    pub host: Option<String>,
    pub path: String,
}

/// Why the original request cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// The peer is not a trusted proxy: what it says about the request is not believed.
    UntrustedPeer,
    Missing(&'static str),
    /// Sent twice, or not as visible ASCII.
    Garbled(&'static str),
    BadMethod,
    Path(PathRefusal),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UntrustedPeer => f.write_str("the caller is not a trusted proxy"),
            Self::Missing(h) => write!(f, "no {h} header"),
            Self::Garbled(h) => write!(f, "the {h} header is unreadable"),
            Self::BadMethod => f.write_str("the method is not an HTTP method"),
            Self::Path(why) => why.fmt(f),
        }
    }
}

/// Lower-case header names.
struct Names {
    method: &'static str,
    host: &'static str,
    uri: &'static str,
}

/// Reads the original request from the configured headers of a trusted peer.
pub struct OriginalReader {
    names: Names,
    trusted: Vec<IpNet>,
}

impl OriginalReader {
    /// Proxy entries that do not parse are refused by config validation before this is built.
    pub fn new(headers: ForwardedHeaders, trusted_proxies: &[String]) -> Self {
        let names = match headers {
            ForwardedHeaders::XOriginal => Names {
                method: "x-original-method",
                host: "x-original-host",
                uri: "x-original-uri",
            },
            ForwardedHeaders::XForwarded => Names {
                method: "x-forwarded-method",
                host: "x-forwarded-host",
                uri: "x-forwarded-uri",
            },
        };
        Self {
            names,
            trusted: trusted_proxies
                .iter()
                .filter_map(|c| parse_cidr(c))
                .collect(),
        }
    }

    /// Whether this peer's word about the original request is believed.
    pub fn trusts(&self, peer: Option<SocketAddr>) -> bool {
        let Some(ip) = peer.map(|p| p.ip()) else {
            return false;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if self.trusted.is_empty() {
            ip.is_loopback()
        } else {
            self.trusted.iter().any(|net| net.contains(&ip))
        }
    }

    /// The original request; with `need_host`, a missing host is unreadable too.
    pub fn read(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        need_host: bool,
    ) -> Result<Original, Unreadable> {
        if !self.trusts(peer) {
            return Err(Unreadable::UntrustedPeer);
        }
        let one = |name: &'static str| -> Result<Option<&str>, Unreadable> {
            let mut values = headers.get_all(name);
            let Some(value) = values.next() else {
                return Ok(None);
            };
            if values.next().is_some() {
                return Err(Unreadable::Garbled(name));
            }
            match value.to_str() {
                // nginx's `proxy_set_header X ""` sends nothing; an empty value is no value.
                Ok(v) if v.trim().is_empty() => Ok(None),
                Ok(v) => Ok(Some(v.trim())),
                Err(_) => Err(Unreadable::Garbled(name)),
            }
        };
        let method = one(self.names.method)?.ok_or(Unreadable::Missing(self.names.method))?;
        if !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') || method.len() > 32 {
            return Err(Unreadable::BadMethod);
        }
        let uri = one(self.names.uri)?.ok_or(Unreadable::Missing(self.names.uri))?;
        let host = one(self.names.host)?;
        if need_host && host.is_none() {
            return Err(Unreadable::Missing(self.names.host));
        }
        Ok(Original {
            method: method.to_ascii_uppercase(),
            host: host.map(str::to_owned),
            path: normalise(uri).map_err(Unreadable::Path)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    const LOOPBACK: Option<SocketAddr> = Some(SocketAddr::new(
        IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        4000,
    ));

    #[test]
    fn only_the_configured_set_is_read() {
        let reader = OriginalReader::new(ForwardedHeaders::XOriginal, &[]);
        let spoofed = headers(&[
            ("x-forwarded-method", b"GET"),
            ("x-forwarded-uri", b"/healthz"),
            ("x-original-method", b"DELETE"),
            ("x-original-uri", b"/orders/7"),
        ]);
        let got = reader.read(LOOPBACK, &spoofed, false).unwrap();
        assert_eq!(
            (got.method.as_str(), got.path.as_str()),
            ("DELETE", "/orders/7")
        );
        let only_other = headers(&[("x-forwarded-method", b"GET"), ("x-forwarded-uri", b"/")]);
        assert_eq!(
            reader.read(LOOPBACK, &only_other, false),
            Err(Unreadable::Missing("x-original-method"))
        );
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let outside: Option<SocketAddr> = Some("203.0.113.9:5000".parse().unwrap());
        let proxy: Option<SocketAddr> = Some("10.0.0.2:5000".parse().unwrap());
        let h = headers(&[("x-forwarded-method", b"GET"), ("x-forwarded-uri", b"/a")]);
        let loopback_only = OriginalReader::new(ForwardedHeaders::XForwarded, &[]);
        assert!(loopback_only.read(LOOPBACK, &h, false).is_ok());
        assert_eq!(
            loopback_only.read(outside, &h, false),
            Err(Unreadable::UntrustedPeer)
        );
        let listed = OriginalReader::new(ForwardedHeaders::XForwarded, &["10.0.0.0/8".into()]);
        assert!(listed.read(proxy, &h, false).is_ok());
        assert_eq!(
            listed.read(LOOPBACK, &h, false),
            Err(Unreadable::UntrustedPeer)
        );
        assert_eq!(listed.read(None, &h, false), Err(Unreadable::UntrustedPeer));
    }

    #[test]
    fn unreadable_requests_are_named() {
        let reader = OriginalReader::new(ForwardedHeaders::XOriginal, &[]);
        let read = |pairs: &[(&'static str, &[u8])], need_host| {
            reader.read(LOOPBACK, &headers(pairs), need_host)
        };
        assert_eq!(
            read(
                &[
                    ("x-original-method", b"GET"),
                    ("x-original-uri", b"/a\xffb")
                ],
                false
            ),
            Err(Unreadable::Garbled("x-original-uri"))
        );
        assert_eq!(
            read(
                &[
                    ("x-original-method", b"GET"),
                    ("x-original-uri", b"/a"),
                    ("x-original-uri", b"/b"),
                ],
                false
            ),
            Err(Unreadable::Garbled("x-original-uri"))
        );
        assert_eq!(
            read(
                &[("x-original-method", b"GET"), ("x-original-uri", b"")],
                false
            ),
            Err(Unreadable::Missing("x-original-uri"))
        );
        assert_eq!(
            read(
                &[("x-original-method", b"G T"), ("x-original-uri", b"/")],
                false
            ),
            Err(Unreadable::BadMethod)
        );
        assert_eq!(
            read(
                &[("x-original-method", b"GET"), ("x-original-uri", b"/")],
                true
            ),
            Err(Unreadable::Missing("x-original-host"))
        );
        assert_eq!(
            read(
                &[
                    ("x-original-method", b"GET"),
                    ("x-original-uri", b"/p/../a")
                ],
                false
            ),
            Err(Unreadable::Path(PathRefusal::DotSegment))
        );
    }
}
