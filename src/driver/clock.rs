//! The driver's clock: the one place that reads monotonic and wall time for the core.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::proto::time::Now;

/// Reads both clocks; monotonic time counts from the daemon's start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock {
    /// Both clocks now.
    pub fn now(&self) -> Now {
        Now {
            mono: self.origin.elapsed(),
            wall: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// The `Instant` a monotonic core time corresponds to.
    pub fn instant_at(&self, mono: Duration) -> Instant {
        self.origin + mono
    }
}
