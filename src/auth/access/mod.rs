//! What a request needs, for forward-auth: access rules from the configuration, matched on the
//! original request's method, host and path (as a trusted proxy reports them, see `original`),
//! first match wins. A rule either makes a path public or names the permission code it needs;
//! what no rule matches needs `forward_auth.default`.

mod original;
mod path;

use globset::GlobMatcher;

pub use original::{Original, OriginalReader, Unreadable};
pub use path::{normalise, PathRefusal};

use actix_web::http::header::HeaderMap;

use crate::config::{AccessRule, DefaultAccess, ForwardAuthSettings};

/// Forward-auth's question: what does the request the proxy holds need?
pub struct ForwardAuth {
    rules: AccessRules,
    reader: OriginalReader,
}

impl ForwardAuth {
    pub fn new(settings: &ForwardAuthSettings, trusted_proxies: &[String]) -> Self {
        Self {
            rules: AccessRules::new(&settings.rules, settings.default),
            reader: OriginalReader::new(settings.headers, trusted_proxies),
        }
    }

    /// What the original request needs. Without rules nothing about it is read: the default
    /// decides. With rules, a request that cannot be read is never "no rule matched".
    pub fn need(
        &self,
        peer: Option<std::net::SocketAddr>,
        headers: &HeaderMap,
    ) -> Result<Need, Unreadable> {
        if self.rules.is_empty() {
            return Ok(self.rules.default.clone());
        }
        let original = self.reader.read(peer, headers, self.rules.names_hosts())?;
        Ok(self.rules.need(&original))
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing: no token needed.
    Public,
    /// A signed-in user, holding this code if one is named, and signed in with a second
    /// factor when `mfa`.
    User {
        permission: Option<String>,
        mfa: bool,
    },
    /// Nothing gets through (no rule matched and the default is `deny`).
    Denied,
}

struct Rule {
    methods: Vec<String>,
    host: Option<String>,
    path: GlobMatcher,
    /// `/x/**` also covers `/x`: a rule over a subtree covers its root.
    root: Option<String>,
    need: Need,
}

/// The compiled rules.
pub struct AccessRules {
    rules: Vec<Rule>,
    default: Need,
}

/// A path glob: `*` within one segment, `**` across segments.
pub fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

/// A host as rules compare it: lower case, no port, no trailing dot.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = match host.rsplit_once(':') {
        // `[::1]:8080` or `name:443`; a bare IPv6 address has no brackets and several colons.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl AccessRules {
    /// Rules that do not compile are refused by config validation before this is built.
    pub fn new(rules: &[AccessRule], default: DefaultAccess) -> Self {
        Self {
            rules: rules
                .iter()
                .filter_map(|r| {
                    Some(Rule {
                        methods: r.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                        host: r.host.as_deref().map(host_name),
                        path: glob(&r.path).ok()?,
                        root: r
                            .path
                            .strip_suffix("/**")
                            .map(|root| if root.is_empty() { "/" } else { root }.to_owned()),
                        need: if r.public {
                            Need::Public
                        } else {
                            Need::User {
                                permission: r.permission.clone(),
                                mfa: r.mfa,
                            }
                        },
                    })
                })
                .collect(),
            default: match default {
                DefaultAccess::User => Need::User {
                    permission: None,
                    mfa: false,
                },
                DefaultAccess::Deny => Need::Denied,
            },
        }
    }

    /// What the first rule matching this request says; the default when none matches.
    pub fn need(&self, req: &Original) -> Need {
        let host = req.host.as_deref().map(host_name);
        for r in &self.rules {
            let method_ok = r.methods.is_empty()
                || r.methods
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&req.method));
            let host_ok = r.host.as_deref().is_none_or(|h| host.as_deref() == Some(h));
            let path_ok = r.path.is_match(&req.path)
                || r.root.as_deref().is_some_and(|root| {
                    req.path
                        .strip_prefix(root)
                        .is_some_and(|rest| rest.is_empty() || rest == "/")
                });
            if method_ok && host_ok && path_ok {
                return r.need.clone();
            }
        }
        self.default.clone()
    }

    /// Whether deciding needs the original request at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule names a host, so that a request without one cannot be judged.
    pub fn names_hosts(&self) -> bool {
        self.rules.iter().any(|r| r.host.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        methods: &[&str],
        host: Option<&str>,
        path: &str,
        permission: Option<&str>,
        public: bool,
    ) -> AccessRule {
        AccessRule {
            methods: methods.iter().map(|m| m.to_string()).collect(),
            host: host.map(Into::into),
            path: path.into(),
            permission: permission.map(Into::into),
            public,
            mfa: false,
        }
    }

    fn user(code: &str) -> Need {
        Need::User {
            permission: Some(code.into()),
            mfa: false,
        }
    }

    fn anyone() -> Need {
        Need::User {
            permission: None,
            mfa: false,
        }
    }

    fn original(method: &str, host: &str, path: &str) -> Original {
        Original {
            method: method.into(),
            host: Some(host.into()),
            path: normalise(path).unwrap(),
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = AccessRules::new(
            &[
                rule(&[], None, "/public/**", None, true),
                rule(
                    &["POST", "delete"],
                    Some("api.example.com"),
                    "/orders/*",
                    Some("order:write"),
                    false,
                ),
                rule(&[], None, "/orders/**", Some("order:read"), false),
            ],
            DefaultAccess::User,
        );
        let need = |m, h, p| rules.need(&original(m, h, p));
        assert_eq!(need("GET", "x", "/public/a/b.css"), Need::Public);
        assert_eq!(
            need("POST", "api.example.com", "/orders/7"),
            user("order:write")
        );
        assert_eq!(
            need("DELETE", "API.example.com.:443", "/orders/7?x=1"),
            user("order:write")
        );
        assert_eq!(
            need("POST", "other.example", "/orders/7"),
            user("order:read")
        );
        assert_eq!(
            need("GET", "api.example.com", "/orders/7/items"),
            user("order:read")
        );
        assert_eq!(
            need("POST", "api.example.com", "/orders/7/items"),
            user("order:read"),
            "`*` stays in one segment"
        );
        assert_eq!(need("GET", "x", "/elsewhere"), anyone());
    }

    #[test]
    fn a_subtree_rule_covers_its_root_and_encoded_spellings() {
        let rules = AccessRules::new(
            &[
                rule(&["POST"], None, "/orders/**", Some("order:write"), false),
                rule(&[], None, "/public/**", None, true),
                rule(&[], None, "/**", Some("all"), false),
            ],
            DefaultAccess::User,
        );
        let need = |m, p| rules.need(&original(m, "h", p));
        let write = user("order:write");
        assert_eq!(need("POST", "/orders"), write, "the docs' own example");
        assert_eq!(need("POST", "/orders/"), write);
        assert_eq!(need("POST", "/%6Frders/7"), write);
        assert_eq!(need("POST", "//orders//7"), write);
        assert_eq!(need("post", "/orders/7"), write);
        assert_eq!(need("GET", "/public"), Need::Public);
        assert_eq!(need("GET", "/publicity"), user("all"));
        assert_eq!(need("GET", "/"), user("all"));
    }

    #[test]
    fn a_rule_can_demand_a_second_factor() {
        let mut admin = rule(&[], None, "/admin/**", Some("sys:admin"), false);
        admin.mfa = true;
        let rules = AccessRules::new(&[admin], DefaultAccess::User);
        assert_eq!(
            rules.need(&original("GET", "h", "/admin/users")),
            Need::User {
                permission: Some("sys:admin".into()),
                mfa: true
            }
        );
        assert_eq!(rules.need(&original("GET", "h", "/orders")), anyone());
    }

    #[test]
    fn what_no_rule_matches_gets_the_default() {
        let rules = AccessRules::new(
            &[rule(&[], None, "/public/**", None, true)],
            DefaultAccess::Deny,
        );
        assert_eq!(rules.need(&original("GET", "h", "/other")), Need::Denied);
        assert_eq!(rules.need(&original("GET", "h", "/public/x")), Need::Public);
    }

    #[test]
    fn hosts_compare_without_port_case_or_trailing_dot() {
        assert_eq!(host_name("API.Example.com:8443"), "api.example.com");
        assert_eq!(host_name("api.example.com."), "api.example.com");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }
}
