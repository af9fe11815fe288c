//! One remote peer's protocol state: identity, handshake, keypairs, timers, cookie, endpoint.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::cookie::CookieGenerator;
use super::handshake::{Handshake, RemoteIdentity};
use super::keypair::Keypairs;
use super::keys::PublicKey;
use super::link::Link;
use super::timers::Timers;

/// Packets held per peer while a handshake is in flight (kernel MAX_STAGED_PACKETS).
pub const MAX_STAGED_PACKETS: usize = 128;

/// Stable handle of a peer within one device. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// A remote peer.
#[derive(Debug)]
pub struct Peer {
    /// Handle.
    pub id: PeerId,
    /// Public key, preshared key and precomputed static-static DH.
    pub remote: RemoteIdentity,
    /// Handshake in flight.
    pub handshake: Handshake,
    /// Sessions.
    pub keypairs: Keypairs,
    /// Deadlines.
    pub timers: Timers,
    /// mac1/mac2 for messages we send to this peer, and the cookie it gave us.
    pub cookie: CookieGenerator,
    /// Where to send; follows the newest authenticated packet (roaming).
    pub endpoint: Option<SocketAddr>,
    /// Packets waiting for a session (oldest first, bounded).
    pub staged: VecDeque<Vec<u8>>,
    /// Monotonic time we last sent an initiation (rate-limits them to one per REKEY_TIMEOUT).
    pub last_sent_handshake: Option<Duration>,
    /// Wall-clock time of the last completed handshake (Unix time).
    pub last_handshake_wall: Option<Duration>,
    /// Traffic counters, shared with the threads that move the bytes.
    pub link: Arc<Link>,
    /// Initiator already rekeyed on receive near REJECT_AFTER_TIME.
    pub sent_lastminute_handshake: bool,
    /// The deadline the device's timer heap holds for this peer (at or before its earliest
    /// armed timer), if any.
    pub scheduled: Option<Duration>,
}

impl Peer {
    /// A new peer with no endpoint and no session.
    pub fn new(id: PeerId, remote: RemoteIdentity) -> Self {
        let cookie = CookieGenerator::new(remote.public());
        let link = Arc::new(Link::new(id, remote.public()));
        Self {
            id,
            remote,
            handshake: Handshake::default(),
            keypairs: Keypairs::default(),
            timers: Timers::default(),
            cookie,
            endpoint: None,
            staged: VecDeque::new(),
            last_sent_handshake: None,
            last_handshake_wall: None,
            link,
            sent_lastminute_handshake: false,
            scheduled: None,
        }
    }

    /// Bytes received (whole datagrams, as wireguard-go counts).
    pub fn rx_bytes(&self) -> u64 {
        self.link.rx_bytes()
    }

    /// Bytes sent (whole datagrams the kernel accepted).
    pub fn tx_bytes(&self) -> u64 {
        self.link.tx_bytes()
    }

    /// The peer's public key.
    pub fn public_key(&self) -> &PublicKey {
        self.remote.public()
    }

    /// Queue a packet for after the handshake, dropping the oldest when full.
    pub fn stage(&mut self, packet: Vec<u8>) {
        if self.staged.len() >= MAX_STAGED_PACKETS {
            self.staged.pop_front();
        }
        self.staged.push_back(packet);
    }
}
