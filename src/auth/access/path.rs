//! The original request's path as the backend will route it, before any rule is matched.
//!
//! Rules are written against decoded, canonical paths (`/orders/**`); a proxy reports the raw
//! request target (`$request_uri`). Matching the raw bytes would let `/%6Frders/7` miss
//! `/orders/**` and `/public/../admin` be judged by a public rule, while the backend routes both
//! to the protected resource. So: the query and fragment go, an absolute-form target keeps only
//! its path, percent-encoded unreserved characters are decoded, `//` collapses to `/`, path
//! parameters (`;jsessionid=…`) are dropped from each segment as Tomcat and Spring do, and what
//! backends disagree about is refused rather than guessed: dot segments (encoded ones too), an
//! encoded `/` or `\`, a raw `\`, control bytes, broken percent-encoding.

use std::fmt;

/// Why a reported path cannot be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    /// Not an origin-form or absolute-form request target.
    NotAPath,
    /// `%` not followed by two hex digits.
    BadEncoding,
    /// `%2F` or `%5C`: one segment to some backends, two to others.
    EncodedSeparator,
    /// A raw `\`, which some backends read as `/`.
    Backslash,
    /// `.` or `..` as a segment (decoded).
    DotSegment,
    /// A control byte, raw or encoded (`%00`, `%0A`, ...).
    ControlByte,
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAPath => "the path is not a request target",
            Self::BadEncoding => "the path has a broken percent-encoding",
            Self::EncodedSeparator => "the path has an encoded `/` or `\\`",
            Self::Backslash => "the path has a `\\`",
            Self::DotSegment => "the path has a `.` or `..` segment",
            Self::ControlByte => "the path has a control character",
        })
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The canonical path of a reported request target (`/a/b?q` → `/a/b`).
pub fn normalise(target: &str) -> Result<String, PathRefusal> {
    let target = target.split(['?', '#']).next().unwrap_or_default();
    // Absolute form (`GET http://host/path`): the backend routes the path part.
    let path = match target.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            match rest.find('/') {
                Some(i) => &rest[i..],
                None => "/",
            }
        }
        _ => target,
    };
    if !path.starts_with('/') {
        return Err(PathRefusal::NotAPath);
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathRefusal::BadEncoding);
                };
                let decoded = h << 4 | l;
                if decoded == b'/' || decoded == b'\\' {
                    return Err(PathRefusal::EncodedSeparator);
                }
                if decoded.is_ascii_control() {
                    return Err(PathRefusal::ControlByte);
                }
                if unreserved(decoded) {
                    out.push(decoded as char);
                } else {
                    // Kept encoded, in one spelling, so that a rule sees one form of it.
                    out.push('%');
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(h)]));
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(l)]));
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(PathRefusal::Backslash),
            b if b.is_ascii_control() || !b.is_ascii() => return Err(PathRefusal::ControlByte),
            b'/' if out.ends_with('/') => {}
            _ => out.push(b as char),
        }
        i += 1;
    }
    // Path parameters (`/admin;x/y`, `/..;/admin`): Tomcat, Jetty and Spring drop them from
    // each segment before routing, so a rule judges the path without them too.
    let mut path = String::with_capacity(out.len());
    for (i, segment) in out.split('/').enumerate() {
        let segment = segment.split(';').next().unwrap_or_default();
        if segment == "." || segment == ".." {
            return Err(PathRefusal::DotSegment);
        }
        if i > 0 && !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(segment);
    }
    if path.is_empty() {
        path.push('/');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_judged_as_the_backend_routes_them() {
        for (raw, canonical) in [
            ("/orders/7", "/orders/7"),
            ("/orders/7?page=2#top", "/orders/7"),
            ("/%6Frders/7", "/orders/7"),
            ("/%6frders/%37", "/orders/7"),
            ("//orders///7", "/orders/7"),
            ("/orders/", "/orders/"),
            ("/files/a%20b%c3%a9", "/files/a%20b%C3%A9"),
            ("/a/..b/c.", "/a/..b/c."),
            ("http://api.example.com/orders/7?x", "/orders/7"),
            ("HTTPS://api.example.com", "/"),
            ("/", "/"),
            ("/search?q=../../etc", "/search"),
            ("/admin;jsessionid=1/users", "/admin/users"),
            ("/a;x", "/a"),
            ("/a/;x/b", "/a/b"),
            ("/files/a%3Bb", "/files/a%3Bb"),
        ] {
            assert_eq!(normalise(raw).as_deref(), Ok(canonical), "{raw}");
        }
    }

    #[test]
    fn what_backends_disagree_about_is_refused() {
        use PathRefusal::*;
        for (raw, why) in [
            ("/public/../admin", DotSegment),
            ("/public/%2e%2e/admin", DotSegment),
            ("/public/.%2E/admin", DotSegment),
            ("/./admin", DotSegment),
            ("/public/..", DotSegment),
            ("/public/..;/admin", DotSegment),
            ("/public/%2e%2e;x/admin", DotSegment),
            ("/public/.;/admin", DotSegment),
            ("/public/%2Fadmin", EncodedSeparator),
            ("/public/%2fadmin", EncodedSeparator),
            ("/public/%5Cadmin", EncodedSeparator),
            ("/public\\..\\admin", Backslash),
            ("/a%00b", ControlByte),
            ("/a%0d%0aX: y", ControlByte),
            ("/a\tb", ControlByte),
            ("/a%zz", BadEncoding),
            ("/a%4", BadEncoding),
            ("orders/7", NotAPath),
            ("", NotAPath),
            ("*", NotAPath),
        ] {
            assert_eq!(normalise(raw), Err(why), "{raw}");
        }
    }
}
