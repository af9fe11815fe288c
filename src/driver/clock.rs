//! The driver's clock: the one place that reads monotonic and wall time for the core. A
//! manual clock, whose time a test sets, stands in for both in simulations (`driver::node`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::proto::time::Now;

/// Reads both clocks; monotonic time counts from the daemon's start. Clones of a manual clock
/// share its time.
#[derive(Debug, Clone)]
pub struct Clock {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The OS clocks.
    Real { origin: Instant },
    /// Virtual time: `start`, moved on by `elapsed` nanoseconds.
    Manual { start: Now, elapsed: Arc<AtomicU64> },
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            source: Source::Real {
                origin: Instant::now(),
            },
        }
    }
}

impl Clock {
    /// A virtual clock that reads `start` until it is advanced. Wall time moves with monotonic
    /// time, so TAI64N timestamps keep increasing.
    pub fn manual(start: Now) -> Self {
        Self {
            source: Source::Manual {
                start,
                elapsed: Arc::new(AtomicU64::new(0)),
            },
        }
    }

    /// Both clocks now.
    pub fn now(&self) -> Now {
        match &self.source {
            Source::Real { origin } => Now {
                mono: origin.elapsed(),
                wall: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
            },
            Source::Manual { start, elapsed } => {
                start.after(Duration::from_nanos(elapsed.load(Ordering::SeqCst)))
            }
        }
    }

    /// Monotonic time alone: what the packet paths need, one clock read instead of two.
    pub fn mono(&self) -> Duration {
        match &self.source {
            Source::Real { origin } => origin.elapsed(),
            // Virtual time reads no clock: the pair costs nothing more.
            Source::Manual { .. } => self.now().mono,
        }
    }

    /// Move a manual clock on by `d` (saturating); a real clock cannot be moved: false.
    pub fn advance(&self, d: Duration) -> bool {
        let Source::Manual { elapsed, .. } = &self.source else {
            return false;
        };
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let add = |e: u64| Some(e.saturating_add(d));
        let _ = elapsed.fetch_update(Ordering::SeqCst, Ordering::SeqCst, add);
        true
    }

    /// Move a manual clock on to monotonic time `mono`; earlier times leave it where it is (it
    /// never runs backwards). False for a real clock.
    pub fn advance_to(&self, mono: Duration) -> bool {
        let d = mono.saturating_sub(self.now().mono);
        self.advance(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = Now {
            mono: Duration::from_secs(1000),
            wall: Duration::from_secs(1_700_000_000),
        };
        let c = Clock::manual(start);
        let c2 = c.clone();
        assert_eq!(c.now(), start);
        assert!(c.advance(Duration::from_millis(1500)));
        let later = c2.now();
        assert_eq!(later.mono, Duration::from_millis(1_001_500));
        assert_eq!(later.wall, Duration::from_millis(1_700_000_001_500));
        assert!(c2.advance_to(Duration::from_secs(999)), "no way back");
        assert_eq!(c.now(), later);
        assert!(c2.advance_to(Duration::from_secs(1010)));
        assert_eq!(c.now().mono, Duration::from_secs(1010));
        assert_eq!(c.mono(), c.now().mono);
        assert!(!Clock::default().advance(Duration::from_secs(1)));
    }

    #[test]
    fn mono_alone_reads_the_same_monotonic_clock() {
        let c = Clock::default();
        let a = c.now().mono;
        let b = c.mono();
        let d = c.now().mono;
        assert!(a <= b && b <= d, "{a:?} {b:?} {d:?}");
    }
}
