//! A deterministic randomness source for fuzz targets: BLAKE2s over a seed and a counter, so a
//! crash input replays to the same keys, indices and jitter every time. Not secret, not for use
//! outside fuzzing.

use rand_core::{CryptoRng, RngCore};

use crate::proto::crypto::hash;

/// Deterministic bytes from `seed`.
pub(crate) struct FuzzRng {
    seed: u64,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl FuzzRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl RngCore for FuzzRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            if self.used == self.block.len() {
                self.counter += 1;
                self.block = hash(&[&self.seed.to_le_bytes(), &self.counter.to_le_bytes()]);
                self.used = 0;
            }
            *d = self.block[self.used];
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Deterministic on purpose: fuzzing wants replayable runs, not unpredictable keys.
impl CryptoRng for FuzzRng {}
