//! Timer expiry at device level (whitepaper §6.1–§6.5; kernel `timers.c` expiry handlers).

use super::Device;
use crate::proto::peer::PeerId;
use crate::proto::time::Now;
use crate::proto::timers::{TimerEvent, MAX_TIMER_HANDSHAKES};

impl Device {
    /// Fire every timer due at `now`. Call when [`Device::poll_timeout`] has passed. Only the
    /// peers that are due are visited (`schedule.rs`).
    pub fn handle_timeout(&mut self, now: Now) {
        while let Some(id) = self.pop_due(now.mono) {
            while let Some(ev) = self
                .peers
                .get_mut(&id)
                .and_then(|p| p.timers.take_expired(now.mono))
            {
                self.on_timer(id, ev, now);
            }
            self.reschedule(id);
        }
    }

    fn on_timer(&mut self, id: PeerId, ev: TimerEvent, now: Now) {
        match ev {
            TimerEvent::RetransmitHandshake => self.on_retransmit_handshake(id, now),
            TimerEvent::SendKeepalive => {
                self.send_keepalive(id, now);
                if let Some(p) = self.peers.get_mut(&id) {
                    p.timers.after_keepalive_sent(now.mono);
                }
            }
            TimerEvent::NewHandshake => self.send_initiation(id, false, now),
            TimerEvent::ZeroKeyMaterial => self.zero_peer(id),
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
            p.timers.on_handshake_gave_up(now.mono);
            p.staged.clear();
            return;
        }
        p.timers.handshake_attempts += 1;
        self.send_initiation(id, true, now);
    }
}
