//! Invalidations: what every node (and every guard) must forget, in the order they happened.

use std::fmt;

/// Something cached elsewhere that is no longer true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A session ended.
    Session(String),
    /// A user changed, was disabled or deleted.
    User(i64),
    /// Roles or their permission codes changed: every cached user may hold other codes now.
    Roles,
    /// The signing keys changed.
    Keys,
    /// An API client was deleted or changed: its cached credentials and open feeds end.
    Client(String),
}

impl Invalidation {
    pub fn encode(&self) -> String {
        match self {
            Self::Session(sid) => format!("s:{sid}"),
            Self::User(uid) => format!("u:{uid}"),
            Self::Roles => "r:".into(),
            Self::Keys => "k:".into(),
            Self::Client(id) => format!("c:{id}"),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        match s.split_once(':')? {
            ("s", sid) if !sid.is_empty() => Some(Self::Session(sid.to_owned())),
            ("u", uid) => uid.parse().ok().map(Self::User),
            ("r", "") => Some(Self::Roles),
            ("k", "") => Some(Self::Keys),
            ("c", id) if !id.is_empty() => Some(Self::Client(id.to_owned())),
            _ => None,
        }
    }
}

/// The position of an invalidation in the log every node follows: a Redis stream id
/// (`{ms}-{seq}`), or a database row id (`{id}-0`). Ordered; printed as `a-b`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64, pub u64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

impl std::str::FromStr for EventId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (a, b) = s.trim().split_once('-').ok_or(())?;
        Ok(Self(a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidations_round_trip_and_garbage_is_ignored() {
        for inv in [
            Invalidation::Session("abc".into()),
            Invalidation::User(42),
            Invalidation::Roles,
            Invalidation::Keys,
            Invalidation::Client("orders-api".into()),
        ] {
            assert_eq!(Invalidation::decode(&inv.encode()), Some(inv));
        }
        for bad in ["", "s:", "u:x", "x:1", "nonsense", "r:1", "c:"] {
            assert_eq!(Invalidation::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_ids_order_and_parse() {
        assert!(EventId(5, 0) < EventId(5, 1) && EventId(5, 9) < EventId(6, 0));
        assert_eq!("17-3".parse::<EventId>(), Ok(EventId(17, 3)));
        assert!("x".parse::<EventId>().is_err());
        assert_eq!(EventId(1, 2).to_string(), "1-2");
    }
}
