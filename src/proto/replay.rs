//! Replay protection for transport counters: an RFC 6479 sliding window of 8192 bits (§5.4.6).
//!
//! Same algorithm as the kernel's `counter_validate` (`receive.c`) and wireguard-go's
//! `replay.Filter`: a ring of 128 64-bit blocks. The newest counter seen is `last`; a counter is
//! accepted when it is below `REJECT_AFTER_MESSAGES`, at most `REPLAY_WINDOW_USABLE` (8128)
//! behind `last`, and not seen before. Moving the window forward clears whole blocks, so one
//! block of the ring is always "in the future" and the usable window is 8192 - 64 bits.
//!
//! The check must run after the packet authenticated (and, with parallel decryption, after the
//! per-peer order was restored): an unauthenticated counter would let anyone slide the window.

use super::constants::{
    REJECT_AFTER_MESSAGES, REPLAY_BLOCK_BITS, REPLAY_WINDOW_BITS, REPLAY_WINDOW_USABLE,
};

/// Number of 64-bit blocks in the ring (128).
const RING_BLOCKS: usize = (REPLAY_WINDOW_BITS / REPLAY_BLOCK_BITS) as usize;
/// `log2(REPLAY_BLOCK_BITS)`: counter >> this = block number.
const BLOCK_SHIFT: u32 = REPLAY_BLOCK_BITS.trailing_zeros();
/// Mask taking a block number to its slot in the ring.
const RING_MASK: u64 = RING_BLOCKS as u64 - 1;
/// Mask taking a counter to its bit inside its block.
const BIT_MASK: u64 = REPLAY_BLOCK_BITS - 1;

// The ring arithmetic below relies on powers of two.
const _: () = assert!(REPLAY_BLOCK_BITS.is_power_of_two() && RING_BLOCKS.is_power_of_two());
const _: () = assert!(REPLAY_WINDOW_USABLE == (RING_BLOCKS as u64 - 1) * REPLAY_BLOCK_BITS);

/// Sliding window of received transport counters for one keypair. 1 KiB, no heap.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest counter accepted so far (0 before any packet, which is harmless: bit 0 of
    /// block 0 is still clear, so counter 0 is accepted once).
    last: u64,
    /// Bitmap ring: bit `c % 64` of block `(c / 64) % 128` records counter `c`.
    ring: [u64; RING_BLOCKS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// An empty window: every counter below `REJECT_AFTER_MESSAGES` is acceptable.
    pub const fn new() -> Self {
        Self {
            last: 0,
            ring: [0; RING_BLOCKS],
        }
    }

    /// Forget everything (a new keypair starts from counter 0).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Accept `counter` (returning true and recording it) unless it is at or past
    /// `REJECT_AFTER_MESSAGES`, more than `REPLAY_WINDOW_USABLE` behind the newest counter
    /// accepted, or already seen. Constant time in the size of any jump; never allocates.
    pub fn check_and_update(&mut self, counter: u64) -> bool {
        if counter >= REJECT_AFTER_MESSAGES {
            return false;
        }
        let block = counter >> BLOCK_SHIFT;
        if counter > self.last {
            // Move the window forward, clearing the blocks we step into (at most the whole ring).
            let current = self.last >> BLOCK_SHIFT;
            let steps = (block - current).min(RING_BLOCKS as u64);
            for i in 1..=steps {
                self.ring[((current + i) & RING_MASK) as usize] = 0;
            }
            self.last = counter;
        } else if self.last - counter > REPLAY_WINDOW_USABLE {
            return false;
        }
        // `& RING_MASK` keeps the index below RING_BLOCKS: this indexing cannot panic.
        let slot = &mut self.ring[(block & RING_MASK) as usize];
        let bit = 1u64 << (counter & BIT_MASK);
        let fresh = *slot & bit == 0;
        *slot |= bit;
        fresh
    }

    /// The highest counter accepted so far (0 when none).
    pub fn last(&self) -> u64 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel selftest's `T_LIM`: one past the usable window.
    const T_LIM: u64 = REPLAY_WINDOW_USABLE + 1;
    const RAM: u64 = REJECT_AFTER_MESSAGES;

    /// Numbered cases after `drivers/net/wireguard/selftest/counter.c`, plus a few of our own.
    /// Each runs in order on one window.
    const CASES: &[(u32, u64, bool)] = &[
        (1, 0, true),
        (2, 1, true),
        (3, 1, false),
        (4, 9, true),
        (5, 8, true),
        (6, 7, true),
        (7, 7, false),
        (8, T_LIM, true),
        (9, T_LIM - 1, true),
        (10, T_LIM - 1, false),
        (11, T_LIM - 2, true),
        (12, 2, true),
        (13, 2, false),
        (14, T_LIM + 16, true),
        (15, 3, false),
        (16, T_LIM + 16, false),
        (17, T_LIM * 4, true),
        // Exactly 8128 behind the max: the oldest counter still inside the window.
        (18, T_LIM * 4 - (T_LIM - 1), true),
        (19, 10, false),
        // 8129 behind the max: just outside.
        (20, T_LIM * 4 - T_LIM, false),
        (21, T_LIM * 4 - (T_LIM + 1), false),
        (22, T_LIM * 4 - (T_LIM - 2), true),
        (23, T_LIM * 4 + 1 - T_LIM, false),
        (24, 0, false),
        (25, RAM, false),
        (26, RAM - 1, true),
        (27, RAM, false),
        (28, RAM - 1, false),
        (29, RAM - 2, true),
        (30, RAM + 1, false),
        (31, RAM + 2, false),
        (32, RAM - 2, false),
        (33, RAM - 3, true),
        (34, 0, false),
        (35, u64::MAX, false),
    ];

    #[test]
    fn kernel_selftest_table() {
        let mut w = ReplayWindow::new();
        for &(n, counter, want) in CASES {
            assert_eq!(
                w.check_and_update(counter),
                want,
                "case {n}: counter {counter}"
            );
        }
    }

    /// Cases on a fresh window: (number, counters fed first, probe, expected).
    #[test]
    fn window_edges_and_jumps() {
        let cases: &[(u32, &[u64], u64, bool)] = &[
            (1, &[8128], 0, true),
            (2, &[8129], 0, false),
            (3, &[8129], 1, true),
            (4, &[100_000], 100_000 - 8128, true),
            (5, &[100_000], 100_000 - 8129, false),
            (6, &[100_000, 100_000 - 8128], 100_000 - 8128, false),
            // Huge jump: the whole ring is cleared, old bits must not leak into new blocks.
            (7, &[5, 1 << 40], (1 << 40) + 5, true),
            (8, &[5, 1 << 40], (1 << 40) - 64, true),
            (9, &[5, 1 << 40], (1 << 40) - 8129, false),
            (10, &[0, 64, 128 * 64], 64, false),
            (11, &[0, 64, 128 * 64], 65, true),
            (12, &[0, 64, 128 * 64], 0, false),
            // A jump of exactly the ring size lands on the same slot: it must be cleared.
            (13, &[3], 3 + 128 * 64, true),
            (14, &[3, 3 + 128 * 64], 3 + 64 * 64, true),
            (15, &[1 << 50], (1 << 50) + 1, true),
            (16, &[RAM - 1], RAM - 1 - 8128, true),
            (17, &[RAM - 1], RAM - 1 - 8129, false),
        ];
        for &(n, feed, probe, want) in cases {
            let mut w = ReplayWindow::new();
            for &c in feed {
                assert!(w.check_and_update(c), "case {n}: feeding {c}");
            }
            assert_eq!(w.check_and_update(probe), want, "case {n}: probe {probe}");
        }
    }

    #[test]
    fn out_of_order_within_window() {
        let mut w = ReplayWindow::new();
        let order = [10u64, 3, 7, 8000, 4, 9000, 2000, 1000, 8999, 9001, 900, 873];
        for c in order {
            assert!(w.check_and_update(c), "first sight of {c}");
        }
        for c in order {
            assert!(!w.check_and_update(c), "replay of {c}");
        }
        // 873 was exactly 8128 behind 9001; 872 is one too far.
        assert!(!w.check_and_update(872));
        assert!(w.check_and_update(874));
        assert_eq!(w.last(), 9001);
    }

    #[test]
    fn bulk_in_order_then_replayed() {
        let mut w = ReplayWindow::new();
        for i in 1..=REPLAY_WINDOW_USABLE {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(0));
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in 2..=REPLAY_WINDOW_USABLE + 1 {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(1));
        assert!(!w.check_and_update(0));
    }

    #[test]
    fn bulk_reverse_order() {
        let mut w = ReplayWindow::new();
        for i in (0..=REPLAY_WINDOW_USABLE).rev() {
            assert!(w.check_and_update(i), "{i}");
        }

        let mut w = ReplayWindow::new();
        for i in (1..=REPLAY_WINDOW_USABLE + 1).rev() {
            assert!(w.check_and_update(i), "{i}");
        }
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in (1..=REPLAY_WINDOW_USABLE).rev() {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(REPLAY_WINDOW_USABLE + 1));
        assert!(!w.check_and_update(0));

        let mut w = ReplayWindow::new();
        for i in (1..=REPLAY_WINDOW_USABLE).rev() {
            assert!(w.check_and_update(i));
        }
        assert!(w.check_and_update(0));
        assert!(w.check_and_update(REPLAY_WINDOW_USABLE + 1));
    }

    #[test]
    fn long_in_order_run_wraps_the_ring_many_times() {
        let mut w = ReplayWindow::new();
        for i in 0..100_000u64 {
            assert!(w.check_and_update(i));
            if i >= 50 {
                assert!(!w.check_and_update(i - 50));
            }
        }
    }

    #[test]
    fn reset_forgets_everything() {
        let mut w = ReplayWindow::default();
        assert!(w.check_and_update(0));
        assert!(w.check_and_update(1 << 20));
        w.reset();
        assert_eq!(w, ReplayWindow::new());
        assert!(w.check_and_update(0));
        assert!(w.check_and_update(1));
        assert!(w.check_and_update(1 << 20));
    }

    #[test]
    fn matches_a_naive_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(6479);
        let mut w = ReplayWindow::new();
        let mut seen = std::collections::HashSet::new();
        let mut max: Option<u64> = None;
        let mut base = 0u64;
        for _ in 0..200_000 {
            if rng.gen_ratio(1, 5000) {
                base += rng.gen_range(0..20_000);
            }
            let c = base + rng.gen_range(0..10_000);
            let too_old = max.is_some_and(|m| m > c && m - c > REPLAY_WINDOW_USABLE);
            let want = !too_old && !seen.contains(&c);
            assert_eq!(w.check_and_update(c), want, "counter {c}, max {max:?}");
            if want {
                seen.insert(c);
                max = Some(max.map_or(c, |m| m.max(c)));
            }
        }
    }
}
