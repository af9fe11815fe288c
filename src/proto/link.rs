//! What the control plane and the data plane share of one peer (whitepaper §3: a peer's
//! transport state): its traffic counters, updated by whichever thread moved the bytes.
//! See docs/ARCHITECTURE.md for which plane writes what.

use std::sync::atomic::{AtomicU64, Ordering};

use super::keys::PublicKey;
use super::peer::PeerId;

/// `peer(` + the first four and the last four significant characters of the base64 key + `)`,
/// wireguard-go's `Peer.String`.
pub fn peer_name(public: &PublicKey) -> String {
    let b64 = public.to_base64();
    let head = b64.get(..4).unwrap_or("");
    let tail = b64.get(39..43).unwrap_or("");
    format!("peer({head}…{tail})")
}

/// One peer's shared traffic state.
#[derive(Debug)]
pub struct Link {
    /// The peer.
    pub id: PeerId,
    /// How logs name it: `peer(AbCd…WxYz)`, as wireguard-go does.
    pub name: String,
    rx_bytes: AtomicU64,
    tx_bytes: AtomicU64,
}

impl Link {
    /// A peer's link with zero counters.
    pub fn new(id: PeerId, public: &PublicKey) -> Self {
        Self {
            id,
            name: peer_name(public),
            rx_bytes: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
        }
    }

    /// Count `n` bytes received (whole authenticated datagrams, as wireguard-go counts).
    pub fn add_rx(&self, n: usize) {
        self.rx_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Count `n` bytes the kernel accepted for sending (a failed send counts nothing).
    pub fn add_tx(&self, n: usize) {
        self.tx_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Bytes received.
    pub fn rx_bytes(&self) -> u64 {
        self.rx_bytes.load(Ordering::Relaxed)
    }

    /// Bytes sent.
    pub fn tx_bytes(&self) -> u64 {
        self.tx_bytes.load(Ordering::Relaxed)
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Link {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Link {}
