//! The device's timer index (whitepaper §6): every peer's earliest deadline in one min-heap, so
//! the next wake-up is found without a scan of all peers, whatever their number.
//!
//! The heap is lazy. A peer whose timers change is *rescheduled*: when its earliest deadline is
//! now earlier than the one the heap holds for it (`Peer::scheduled`), a new entry is pushed;
//! an entry that no longer matches its peer (a timer was stopped or pushed back, or a newer
//! entry superseded it) is dropped or re-pushed when it reaches the top. So every armed timer
//! has an entry at or before its deadline, and stale entries cost one pop each.

use std::cmp::Reverse;
use std::time::Duration;

use super::Device;
use crate::proto::peer::PeerId;

/// One heap entry: a peer and a deadline it had when the entry was pushed.
pub(super) type Entry = Reverse<(Duration, PeerId)>;

impl Device {
    /// After a peer's timers changed: make sure the heap holds its earliest deadline.
    pub(super) fn reschedule(&mut self, id: PeerId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(next) = p.timers.next_deadline() else {
            return;
        };
        if p.scheduled.is_none_or(|s| next < s) {
            p.scheduled = Some(next);
            self.deadlines.push(Reverse((next, id)));
        }
    }

    /// Drop or fix stale entries at the top of the heap, and return the first valid one: the
    /// earliest deadline of any peer.
    fn settle_top(&mut self) -> Option<(Duration, PeerId)> {
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            let Some(p) = self.peers.get_mut(&id) else {
                self.deadlines.pop(); // peer removed
                continue;
            };
            if p.scheduled != Some(at) {
                self.deadlines.pop(); // superseded by an earlier entry
                continue;
            }
            if p.timers.next_deadline() == Some(at) {
                return Some((at, id));
            }
            // The peer's timers moved later or stopped: re-file it under its true deadline.
            self.deadlines.pop();
            p.scheduled = None;
            self.reschedule(id);
        }
        None
    }

    /// When [`Device::handle_timeout`] must next be called; `None` when no timer is armed.
    pub fn poll_timeout(&mut self) -> Option<Duration> {
        self.settle_top().map(|(at, _)| at)
    }

    /// The peer whose deadline is due at `now`, taken off the heap (it is rescheduled after
    /// its timers fire).
    pub(super) fn pop_due(&mut self, now: Duration) -> Option<PeerId> {
        let (at, id) = self.settle_top()?;
        if at > now {
            return None;
        }
        self.deadlines.pop();
        if let Some(p) = self.peers.get_mut(&id) {
            p.scheduled = None;
        }
        Some(id)
    }

    /// True when every armed timer has a heap entry at or before its deadline (tests check
    /// this after every step of a simulation).
    pub fn timer_index_is_sound(&self) -> bool {
        self.peers.values().all(|p| match p.timers.next_deadline() {
            None => true,
            Some(next) => p.scheduled.is_some_and(|s| {
                s <= next && self.deadlines.iter().any(|Reverse(e)| *e == (s, p.id))
            }),
        })
    }
}
