//! The device's timer index (whitepaper §6): every peer's earliest deadline in one min-heap, so
//! the next wake-up is found without a scan of all peers, whatever their number.
//!
//! The heap is lazy. A peer whose timers change is *rescheduled*: when its earliest deadline is
//! now earlier than the wake-up the heap holds for it (`Link::scheduled`), a new entry is
//! pushed; an entry that no longer matches its peer (a timer was stopped or pushed back, or a
//! newer entry superseded it) is dropped or re-filed when it reaches the top. So every armed
//! timer has an entry at or before its deadline, and stale entries cost one pop each.
//!
//! Packet threads arm three timers through the link's stamps without the device. An arming
//! earlier than the link's wake-up raises `want::TIMERS`, which reschedules the peer; the
//! wake-up is cleared (`Link::begin_reschedule`) before the stamps are read to recompute it,
//! so an arming is never lost between the two.

use std::cmp::Reverse;
use std::time::Duration;

use super::Device;
use crate::proto::peer::{Peer, PeerId};

/// One heap entry: a peer and a deadline it had when the entry was pushed.
pub(super) type Entry = Reverse<(Duration, PeerId)>;

fn next_deadline(p: &Peer) -> Option<Duration> {
    p.timers.next_deadline(&p.link.stamps())
}

impl Device {
    /// After a peer's timers changed: make sure the heap holds its earliest deadline.
    pub(super) fn reschedule(&mut self, id: PeerId) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let Some(next) = next_deadline(p) else {
            return;
        };
        if p.link.scheduled().is_none_or(|s| next < s) {
            p.link.set_scheduled(next);
            self.deadlines.push(Reverse((next, id)));
        }
    }

    /// Drop or fix stale entries at the top of the heap, and return the first valid one: the
    /// earliest deadline of any peer.
    fn settle_top(&mut self) -> Option<(Duration, PeerId)> {
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            let Some(p) = self.peers.get(&id) else {
                self.deadlines.pop(); // peer removed
                continue;
            };
            if p.link.scheduled() != Some(at) {
                self.deadlines.pop(); // superseded by an earlier entry
                continue;
            }
            if next_deadline(p) == Some(at) {
                return Some((at, id));
            }
            // The peer's timers moved later or stopped: re-file it under its true deadline.
            self.deadlines.pop();
            p.link.begin_reschedule();
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
        if let Some(p) = self.peers.get(&id) {
            p.link.begin_reschedule();
        }
        Some(id)
    }

    /// True when every armed timer has a heap entry at or before its deadline (tests check
    /// this after every step of a simulation).
    pub fn timer_index_is_sound(&self) -> bool {
        self.peers.values().all(|p| match next_deadline(p) {
            None => true,
            Some(next) => p.link.scheduled().is_some_and(|s| {
                s <= next && self.deadlines.iter().any(|Reverse(e)| *e == (s, p.id))
            }),
        })
    }
}
