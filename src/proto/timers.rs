//! Per-peer timers as deadlines (whitepaper §6; hooks named as in the kernel's `timers.c`).
//!
//! Hooks record what happened; [`Timers::next_deadline`] says when to wake and
//! [`Timers::take_expired`] hands back the events that are due. Nothing ticks.

use std::time::Duration;

use super::constants::*;

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

/// One peer's timer deadlines (monotonic) and counters.
#[derive(Debug, Default, Clone)]
pub struct Timers {
    retransmit_handshake: Option<Duration>,
    send_keepalive: Option<Duration>,
    new_handshake: Option<Duration>,
    zero_key_material: Option<Duration>,
    persistent_keepalive: Option<Duration>,
    /// Initiations sent since the last completed handshake (retries).
    pub handshake_attempts: u32,
    need_another_keepalive: bool,
    /// Persistent keepalive interval in seconds (0 = off).
    pub persistent_keepalive_interval: u16,
}

impl Timers {
    /// A data packet was sent: expect an answer within KEEPALIVE_TIMEOUT + REKEY_TIMEOUT.
    pub fn on_data_sent(&mut self, now: Duration, jitter: Duration) {
        if self.new_handshake.is_none() {
            self.new_handshake = Some(now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter);
        }
    }

    /// A data packet was received: answer with a keepalive if we stay silent.
    pub fn on_data_received(&mut self, now: Duration) {
        if self.send_keepalive.is_none() {
            self.send_keepalive = Some(now + KEEPALIVE_TIMEOUT);
        } else {
            self.need_another_keepalive = true;
        }
    }

    /// Any authenticated packet (data, keepalive or handshake) was sent.
    pub fn on_any_authenticated_packet_sent(&mut self) {
        self.send_keepalive = None;
    }

    /// Any authenticated packet was received.
    pub fn on_any_authenticated_packet_received(&mut self) {
        self.new_handshake = None;
    }

    /// Any authenticated packet was sent or received.
    pub fn on_any_authenticated_packet_traversal(&mut self, now: Duration) {
        if self.persistent_keepalive_interval > 0 {
            self.persistent_keepalive =
                Some(now + Duration::from_secs(u64::from(self.persistent_keepalive_interval)));
        }
    }

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

    /// Handshake attempts ran out: stop answering-keepalives and schedule key erasure.
    pub fn on_handshake_gave_up(&mut self, now: Duration) {
        self.send_keepalive = None;
        if self.zero_key_material.is_none() {
            self.zero_key_material = Some(now + REJECT_AFTER_TIME_X3);
        }
    }

    /// After a keepalive for SendKeepalive: schedule another if data arrived meanwhile.
    pub fn after_keepalive_sent(&mut self, now: Duration) {
        if self.need_another_keepalive {
            self.need_another_keepalive = false;
            self.send_keepalive = Some(now + KEEPALIVE_TIMEOUT);
        }
    }

    /// Stop every timer (peer removed or interface down).
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

    fn slots(&mut self) -> [(&mut Option<Duration>, TimerEvent); 5] {
        [
            (
                &mut self.retransmit_handshake,
                TimerEvent::RetransmitHandshake,
            ),
            (&mut self.send_keepalive, TimerEvent::SendKeepalive),
            (&mut self.new_handshake, TimerEvent::NewHandshake),
            (&mut self.zero_key_material, TimerEvent::ZeroKeyMaterial),
            (
                &mut self.persistent_keepalive,
                TimerEvent::PersistentKeepalive,
            ),
        ]
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.retransmit_handshake,
            self.send_keepalive,
            self.new_handshake,
            self.zero_key_material,
            self.persistent_keepalive,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Disarm and return the earliest timer due at `now`.
    pub fn take_expired(&mut self, now: Duration) -> Option<TimerEvent> {
        let mut best: Option<(Duration, TimerEvent)> = None;
        for (slot, ev) in self.slots() {
            if let Some(at) = *slot {
                if at <= now && best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, ev));
                }
            }
        }
        let (_, ev) = best?;
        for (slot, e) in self.slots() {
            if e == ev {
                *slot = None;
            }
        }
        Some(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn idle_peer_has_no_deadline() {
        assert_eq!(Timers::default().next_deadline(), None);
    }

    #[test]
    fn data_sent_arms_new_handshake_once_and_receive_clears_it() {
        let mut t = Timers::default();
        t.on_data_sent(S(0), Duration::ZERO);
        t.on_data_sent(S(3), Duration::ZERO);
        assert_eq!(t.next_deadline(), Some(S(15)));
        t.on_any_authenticated_packet_received();
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn keepalive_after_receive_and_cancelled_by_send() {
        let mut t = Timers::default();
        t.on_data_received(S(1));
        assert_eq!(t.next_deadline(), Some(S(11)));
        assert_eq!(t.take_expired(S(10)), None);
        t.on_data_received(S(5));
        assert_eq!(t.take_expired(S(11)), Some(TimerEvent::SendKeepalive));
        t.after_keepalive_sent(S(11));
        assert_eq!(t.next_deadline(), Some(S(21)));
        t.on_any_authenticated_packet_sent();
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn earliest_due_timer_fires_first() {
        let mut t = Timers {
            persistent_keepalive_interval: 25,
            ..Timers::default()
        };
        t.on_session_derived(S(0));
        t.on_any_authenticated_packet_traversal(S(0));
        t.on_handshake_initiated(S(0), Duration::from_millis(100));
        assert_eq!(
            t.take_expired(S(600)),
            Some(TimerEvent::RetransmitHandshake)
        );
        assert_eq!(
            t.take_expired(S(600)),
            Some(TimerEvent::PersistentKeepalive)
        );
        assert_eq!(t.take_expired(S(600)), Some(TimerEvent::ZeroKeyMaterial));
        assert_eq!(t.take_expired(S(600)), None);
        assert_eq!(MAX_TIMER_HANDSHAKES, 18);
    }
}
