//! Time as the core sees it: passed in by the driver, never read from the OS (house rule 1).

use std::time::Duration;

/// The driver's reading of both clocks at one moment.
///
/// `mono` is a monotonic time since an arbitrary origin (deadlines, ages, rate limits);
/// `wall` is the time since the Unix epoch (TAI64N timestamps, `last_handshake_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Monotonic time since an arbitrary origin.
    pub mono: Duration,
    /// Wall-clock time since 1970-01-01T00:00:00Z.
    pub wall: Duration,
}

impl Now {
    /// Both clocks advanced by `d`.
    pub fn after(self, d: Duration) -> Self {
        Self {
            mono: self.mono + d,
            wall: self.wall + d,
        }
    }
}
