//! Receiver-index table (whitepaper §5.4.1): maps our random 32-bit indices to their peer.

use rand_core::CryptoRngCore;
use std::collections::HashMap;

use super::peer::PeerId;

/// What an index names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// A handshake in flight.
    Handshake,
    /// An established keypair.
    Keypair,
}

/// Our indices in use, each unique and random.
#[derive(Debug, Default)]
pub struct IndexTable {
    map: HashMap<u32, (PeerId, IndexKind)>,
}

impl IndexTable {
    /// Pick a fresh random index for `peer` and record it.
    pub fn allocate(&mut self, peer: PeerId, kind: IndexKind, rng: &mut impl CryptoRngCore) -> u32 {
        loop {
            let i = rng.next_u32();
            if let std::collections::hash_map::Entry::Vacant(e) = self.map.entry(i) {
                e.insert((peer, kind));
                return i;
            }
        }
    }
    /// Look up an index.
    pub fn get(&self, index: u32) -> Option<(PeerId, IndexKind)> {
        self.map.get(&index).copied()
    }
    /// Relabel an index (a handshake's index becomes its keypair's).
    pub fn set_kind(&mut self, index: u32, kind: IndexKind) {
        if let Some(e) = self.map.get_mut(&index) {
            e.1 = kind;
        }
    }
    /// Forget an index.
    pub fn remove(&mut self, index: u32) {
        self.map.remove(&index);
    }
    /// Forget every index of `peer`.
    pub fn remove_peer(&mut self, peer: PeerId) {
        self.map.retain(|_, (p, _)| *p != peer);
    }
    /// Number of indices in use.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
