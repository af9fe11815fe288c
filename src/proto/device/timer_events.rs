//! Timer expiry at device level (whitepaper §6.1–§6.5; kernel `timers.c` expiry handlers).
//! Each handler moves what made its timer due (a stamp or a deadline), so a due timer fires
//! once.

use std::sync::Arc;

use super::Device;
use crate::proto::constants::{KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME_X3, REKEY_TIMEOUT};
use crate::proto::link::Stamps;
use crate::proto::peer::PeerId;
use crate::proto::time::Now;
use crate::proto::timers::{TimerEvent, MAX_TIMER_HANDSHAKES};

/// Events handled per due peer and call at most (five timers; a bound, not a limit in use).
const MAX_EVENTS: usize = 8;

impl Device {
    /// Fire every timer due at `now`. Call when [`Device::poll_timeout`] has passed. Only the
    /// peers that are due are visited (`schedule.rs`).
    pub fn handle_timeout(&mut self, now: Now) {
        self.poll_requests(now);
        while let Some(id) = self.pop_due(now.mono) {
            for _ in 0..MAX_EVENTS {
                let Some(p) = self.peers.get_mut(&id) else {
                    break;
                };
                let st = p.link.stamps();
                let Some(ev) = p.timers.take_expired(now.mono, &st) else {
                    break;
                };
                self.on_timer(id, ev, st, now);
            }
            self.reschedule(id);
        }
        self.poll_requests(now);
    }

    fn on_timer(&mut self, id: PeerId, ev: TimerEvent, st: Stamps, now: Now) {
        let Some(link) = self.peers.get(&id).map(|p| Arc::clone(&p.link)) else {
            return;
        };
        match ev {
            TimerEvent::RetransmitHandshake => self.on_retransmit_handshake(id, now),
            TimerEvent::SendKeepalive => {
                link.clear_keepalive();
                self.send_keepalive(id, now);
                // Data that arrived while this keepalive was pending wants another one later
                // (kernel `need_another_keepalive`).
                if st.data_received > st.data_received_unanswered {
                    link.rearm_keepalive(now.mono);
                }
            }
            TimerEvent::NewHandshake => {
                tracing::debug!(
                    "{link} - Retrying handshake because we stopped hearing back after {} seconds",
                    (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT).as_secs()
                );
                link.clear_data_sent_unanswered();
                let jitter = self.jitter();
                if let Some(p) = self.peers.get_mut(&id) {
                    p.timers.new_handshake_jitter = jitter;
                }
                self.send_initiation(id, false, now);
            }
            TimerEvent::ZeroKeyMaterial => {
                tracing::debug!(
                    "{link} - Removing all keys, since we haven't received a new one in {} seconds",
                    REJECT_AFTER_TIME_X3.as_secs()
                );
                self.zero_peer(id);
            }
            TimerEvent::PersistentKeepalive => {
                if self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.timers.persistent_keepalive_interval > 0)
                {
                    self.send_keepalive(id, now);
                }
            }
        }
    }

    fn on_retransmit_handshake(&mut self, id: PeerId, now: Now) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if p.timers.handshake_attempts > MAX_TIMER_HANDSHAKES {
            tracing::debug!(
                "{} - Handshake did not complete after {} attempts, giving up",
                p.link,
                MAX_TIMER_HANDSHAKES + 2
            );
            p.timers.on_handshake_gave_up(now.mono);
            p.link.clear_keepalive();
            p.link.clear_staged();
            return;
        }
        p.timers.handshake_attempts += 1;
        tracing::debug!(
            "{} - Handshake did not complete after {} seconds, retrying (try {})",
            p.link,
            REKEY_TIMEOUT.as_secs(),
            p.timers.handshake_attempts + 1
        );
        self.send_initiation(id, true, now);
    }
}
