//! What a request needs, for forward-auth: access rules from the configuration, matched on the
//! original request's method, host and path (as the proxy reports them), first match wins.
//! A rule either makes a path public or names the permission code it needs.

use globset::GlobMatcher;

use crate::config::AccessRule;

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing: no token needed.
    Public,
    /// A signed-in user, holding this code if one is named.
    User(Option<String>),
}

struct Rule {
    methods: Vec<String>,
    host: Option<String>,
    path: GlobMatcher,
    need: Need,
}

/// The compiled rules.
pub struct AccessRules {
    rules: Vec<Rule>,
}

/// A path glob: `*` within one segment, `**` across segments.
pub fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

impl AccessRules {
    /// Rules that do not compile are refused by config validation before this is built.
    pub fn new(rules: &[AccessRule]) -> Self {
        Self {
            rules: rules
                .iter()
                .filter_map(|r| {
                    Some(Rule {
                        methods: r.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                        host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                        path: glob(&r.path).ok()?,
                        need: if r.public {
                            Need::Public
                        } else {
                            Need::User(r.permission.clone())
                        },
                    })
                })
                .collect(),
        }
    }

    /// What the first rule matching this request says; a signed-in user when none matches.
    pub fn need(&self, method: Option<&str>, host: Option<&str>, path: Option<&str>) -> Need {
        let path = path.map(|p| p.split(['?', '#']).next().unwrap_or(p));
        for r in &self.rules {
            let method_ok = r.methods.is_empty()
                || method.is_some_and(|m| r.methods.iter().any(|x| x.eq_ignore_ascii_case(m)));
            let host_ok = r.host.as_deref().is_none_or(|h| {
                host.is_some_and(|given| {
                    let given = given.rsplit_once(':').map_or(given, |(name, port)| {
                        if port.bytes().all(|b| b.is_ascii_digit()) {
                            name
                        } else {
                            given
                        }
                    });
                    given.eq_ignore_ascii_case(h)
                })
            });
            let path_ok = path.is_some_and(|p| r.path.is_match(p));
            if method_ok && host_ok && path_ok {
                return r.need.clone();
            }
        }
        Need::User(None)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
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
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = AccessRules::new(&[
            rule(&[], None, "/public/**", None, true),
            rule(
                &["POST", "delete"],
                Some("api.example.com"),
                "/orders/*",
                Some("order:write"),
                false,
            ),
            rule(&[], None, "/orders/**", Some("order:read"), false),
        ]);
        let need = |m, h, p| rules.need(Some(m), Some(h), Some(p));
        assert_eq!(need("GET", "x", "/public/a/b.css"), Need::Public);
        assert_eq!(
            need("POST", "api.example.com", "/orders/7"),
            Need::User(Some("order:write".into()))
        );
        assert_eq!(
            need("DELETE", "API.example.com:443", "/orders/7?x=1"),
            Need::User(Some("order:write".into()))
        );
        assert_eq!(
            need("POST", "other.example", "/orders/7"),
            Need::User(Some("order:read".into()))
        );
        assert_eq!(
            need("GET", "api.example.com", "/orders/7/items"),
            Need::User(Some("order:read".into()))
        );
        assert_eq!(
            need("POST", "api.example.com", "/orders/7/items"),
            Need::User(Some("order:read".into())),
            "`*` stays in one segment"
        );
        assert_eq!(need("GET", "x", "/elsewhere"), Need::User(None));
        assert_eq!(rules.need(None, None, None), Need::User(None));
    }
}
