//! The one place the wall clock is read. Everything that expires takes its time from here, so
//! tests can move time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    fn naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single sanctioned read
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Every authenticated request asks this: seconds straight from the system clock, without
    /// building a calendar date first.
    #[allow(clippy::disallowed_methods)]
    fn unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or_else(|e| -(e.duration().as_secs() as i64), |d| d.as_secs() as i64)
    }
}

/// Real time plus an offset that tests move forward.
#[derive(Default)]
pub struct OffsetClock {
    offset_seconds: AtomicI64,
}

impl OffsetClock {
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_seconds.load(Ordering::SeqCst))
    }
}
