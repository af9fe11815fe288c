//! Per-peer timers as deadlines (whitepaper §6; events named as in the kernel's `timers.c`).
//!
//! The two timers only the control plane arms (handshake retransmission, key erasure) are
//! deadlines held here. The three that traffic arms (keepalive after unanswered data, new
//! handshake after unanswered data, persistent keepalive) are derived from the link's time
//! stamps, which the packet threads write without any lock: [`Timers::next_deadline`] reads
//! both and [`Timers::take_expired`] hands back the events that are due. Nothing ticks.

use std::time::Duration;

use super::constants::*;
use super::link::Stamps;

/// A timer that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerEvent {
    /// No response to our initiation within REKEY_TIMEOUT (+ jitter).
    RetransmitHandshake,
    /// We received data and have sent nothing for KEEPALIVE_TIMEOUT.
    SendKeepalive,
    /// We sent data and have received nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
    NewHandshake,
    /// Nothing new for 3 × REJECT_AFTER_TIME: erase all keys.
    ZeroKeyMaterial,
    /// The persistent keepalive interval passed without authenticated traffic.
    PersistentKeepalive,
}

/// Handshake retries before giving up (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT).
pub const MAX_TIMER_HANDSHAKES: u32 =
    (REKEY_ATTEMPT_TIME.as_secs() / REKEY_TIMEOUT.as_secs()) as u32;

/// One peer's control-plane deadlines (monotonic) and counters.
#[derive(Debug, Default, Clone)]
pub struct Timers {
    retransmit_handshake: Option<Duration>,
    zero_key_material: Option<Duration>,
    /// When the persistent keepalive last fired (it counts from the later of this and the
    /// last authenticated packet).
    persistent_fired: Option<Duration>,
    /// Jitter added to the new-handshake deadline, drawn again each time it fires.
    pub new_handshake_jitter: Duration,
    /// Initiations sent since the last completed handshake (retries).
    pub handshake_attempts: u32,
    /// Persistent keepalive interval in seconds (0 = off).
    pub persistent_keepalive_interval: u16,
}

impl Timers {
    /// We sent an initiation.
    pub fn on_handshake_initiated(&mut self, now: Duration, jitter: Duration) {
        self.retransmit_handshake = Some(now + REKEY_TIMEOUT + jitter);
    }

    /// A handshake completed (response consumed, or responder's session confirmed).
    pub fn on_handshake_complete(&mut self) {
        self.retransmit_handshake = None;
        self.handshake_attempts = 0;
    }

    /// New session keys were derived: erase everything 3 × REJECT_AFTER_TIME later.
    pub fn on_session_derived(&mut self, now: Duration) {
        self.zero_key_material = Some(now + REJECT_AFTER_TIME_X3);
    }

    /// Handshake attempts ran out: schedule key erasure (the caller drops the keepalive).
    pub fn on_handshake_gave_up(&mut self, now: Duration) {
        if self.zero_key_material.is_none() {
            self.zero_key_material = Some(now + REJECT_AFTER_TIME_X3);
        }
    }

    /// The persistent keepalive fired at `now`.
    pub fn on_persistent_keepalive(&mut self, now: Duration) {
        self.persistent_fired = Some(now);
    }

    /// Stop every timer (interface down); the caller clears the link's stamps.
    pub fn stop_all(&mut self) {
        let interval = self.persistent_keepalive_interval;
        *self = Self {
            persistent_keepalive_interval: interval,
            ..Self::default()
        };
    }

    /// Whether the retransmit timer is armed (a handshake is in flight).
    pub fn handshake_pending(&self) -> bool {
        self.retransmit_handshake.is_some()
    }

    fn deadlines(&self, st: &Stamps) -> [(Option<Duration>, TimerEvent); 5] {
        let traversal = st.sent.max(st.received);
        let persistent = (self.persistent_keepalive_interval > 0)
            .then(|| traversal.max(self.persistent_fired))
            .flatten()
            .map(|t| t + Duration::from_secs(u64::from(self.persistent_keepalive_interval)));
        [
            (self.retransmit_handshake, TimerEvent::RetransmitHandshake),
            (
                st.data_received_unanswered.map(|t| t + KEEPALIVE_TIMEOUT),
                TimerEvent::SendKeepalive,
            ),
            (
                st.data_sent_unanswered
                    .map(|t| t + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + self.new_handshake_jitter),
                TimerEvent::NewHandshake,
            ),
            (self.zero_key_material, TimerEvent::ZeroKeyMaterial),
            (persistent, TimerEvent::PersistentKeepalive),
        ]
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self, st: &Stamps) -> Option<Duration> {
        self.deadlines(st).into_iter().filter_map(|(d, _)| d).min()
    }

    /// The earliest timer due at `now`. The control plane's own deadlines are disarmed here;
    /// the caller's handling of the other events moves their stamps (see `device`).
    pub fn take_expired(&mut self, now: Duration, st: &Stamps) -> Option<TimerEvent> {
        let (_, ev) = self
            .deadlines(st)
            .into_iter()
            .filter_map(|(d, ev)| Some((d?, ev)))
            .filter(|&(d, _)| d <= now)
            .min_by_key(|&(d, _)| d)?;
        match ev {
            TimerEvent::RetransmitHandshake => self.retransmit_handshake = None,
            TimerEvent::ZeroKeyMaterial => self.zero_key_material = None,
            TimerEvent::PersistentKeepalive => self.persistent_fired = Some(now),
            TimerEvent::SendKeepalive | TimerEvent::NewHandshake => {}
        }
        Some(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn at(s: u64) -> Option<Duration> {
        Some(S(s))
    }

    #[test]
    fn idle_peer_has_no_deadline() {
        assert_eq!(Timers::default().next_deadline(&Stamps::default()), None);
    }

    #[test]
    fn unanswered_data_sent_arms_new_handshake() {
        let t = Timers::default();
        let st = Stamps {
            data_sent_unanswered: at(0),
            ..Stamps::default()
        };
        assert_eq!(t.next_deadline(&st), Some(S(15)));
        assert_eq!(t.next_deadline(&Stamps::default()), None);
    }

    #[test]
    fn unanswered_data_received_arms_keepalive() {
        let mut t = Timers::default();
        let st = Stamps {
            data_received_unanswered: at(1),
            ..Stamps::default()
        };
        assert_eq!(t.next_deadline(&st), Some(S(11)));
        assert_eq!(t.take_expired(S(10), &st), None);
        assert_eq!(t.take_expired(S(11), &st), Some(TimerEvent::SendKeepalive));
    }

    #[test]
    fn persistent_keepalive_counts_from_the_last_traversal_or_firing() {
        let mut t = Timers {
            persistent_keepalive_interval: 25,
            ..Timers::default()
        };
        assert_eq!(t.next_deadline(&Stamps::default()), None, "no traffic yet");
        let st = Stamps {
            sent: at(3),
            received: at(7),
            ..Stamps::default()
        };
        assert_eq!(t.next_deadline(&st), Some(S(32)));
        assert_eq!(
            t.take_expired(S(32), &st),
            Some(TimerEvent::PersistentKeepalive)
        );
        // Nothing was sent (say no session yet): the next one is an interval later anyway.
        assert_eq!(t.next_deadline(&st), Some(S(57)));
    }

    #[test]
    fn earliest_due_timer_fires_first() {
        let mut t = Timers {
            persistent_keepalive_interval: 25,
            ..Timers::default()
        };
        let st = Stamps {
            sent: at(0),
            ..Stamps::default()
        };
        t.on_session_derived(S(0));
        t.on_handshake_initiated(S(0), Duration::from_millis(100));
        assert_eq!(
            t.take_expired(S(600), &st),
            Some(TimerEvent::RetransmitHandshake)
        );
        assert_eq!(
            t.take_expired(S(600), &st),
            Some(TimerEvent::PersistentKeepalive)
        );
        assert_eq!(
            t.take_expired(S(600), &st),
            Some(TimerEvent::ZeroKeyMaterial)
        );
        assert_eq!(t.take_expired(S(600), &st), None);
        assert_eq!(MAX_TIMER_HANDSHAKES, 18);
    }
}
