//! One remote peer's control-plane state: identity, handshake, sessions, timers, cookie; and
//! its [`Link`], the part the data plane shares (endpoint, counters, staged packets).

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
    /// Monotonic time we last sent an initiation (rate-limits them to one per REKEY_TIMEOUT).
    pub last_sent_handshake: Option<Duration>,
    /// Wall-clock time of the last completed handshake (Unix time).
    pub last_handshake_wall: Option<Duration>,
    /// What the data plane shares of this peer.
    pub link: Arc<Link>,
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
            last_sent_handshake: None,
            last_handshake_wall: None,
            link,
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

    /// Where to send; follows the newest authenticated packet (roaming).
    pub fn endpoint(&self) -> Option<std::net::SocketAddr> {
        self.link.endpoint()
    }

    /// The peer's public key.
    pub fn public_key(&self) -> &PublicKey {
        self.remote.public()
    }

    /// Publish the current session to the data plane (after any change of `keypairs`).
    pub fn sync_current(&self) {
        self.link.current.store(self.keypairs.current.clone());
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A session refers to its link: the link must not keep the session alive in turn.
        self.link.current.store(None);
    }
}
