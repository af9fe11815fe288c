//! The control plane (whitepaper §3, §5, §6): configuration, handshakes, cookies, the rate
//! limiter, timers and the outbox, owned by one thread at a time. Sans-IO: the driver feeds
//! handshake datagrams, requests and time in, and carries out what [`Device::poll_output`]
//! returns. What transport packets need is published to the [`Plane`], which packet threads
//! use without this state's lock (docs/ARCHITECTURE.md).

mod handshakes;
mod recv;
mod schedule;
mod send;
mod timer_events;

use ipnet::IpNet;
use rand_core::CryptoRngCore;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::allowedips::AllowedIps;
use super::constants::REKEY_TIMEOUT_JITTER_MAX_MS;
use super::gate::Gate;
use super::handshake::{RemoteIdentity, StaticIdentity};
use super::index::{IndexKind, IndexTable};
use super::keypair::{Keypair, Session};
use super::keys::{PresharedKey, PrivateKey, PublicKey};
use super::link::{want, Link};
use super::peer::{Peer, PeerId};
use super::plane::Plane;
use super::time::Now;

pub use handshakes::HandshakeDrop;
pub use recv::{inner_packet_len, ReceiveError, Received};

pub use super::gate::UNDER_LOAD_QUEUE_LEN;

/// Something the driver must do for the control plane. Transport data moves through the
/// [`Plane`] on the packet threads, never through here, except for what the control plane
/// itself sends: keepalives and packets that waited for a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a UDP datagram.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// Datagram bytes.
        bytes: Vec<u8>,
        /// The peer whose `tx_bytes` count it once the kernel takes it (none for cookie
        /// replies, which belong to no peer).
        link: Option<Arc<Link>>,
    },
}

/// Why a configuration change was refused. The device is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// No such peer.
    NoSuchPeer,
}

/// How many entries the device's internal tables hold: read-only, for bound checks in tests
/// and fuzz targets (`src/fuzzing/datagrams.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSizes {
    /// Peers.
    pub peers: usize,
    /// Live receiver indices (handshakes and keypairs).
    pub indices: usize,
    /// Sources the handshake rate limiter tracks.
    pub limiter: usize,
    /// AllowedIPs prefixes.
    pub allowed_ips: usize,
    /// Pending outputs.
    pub outbox: usize,
    /// Packets staged for a handshake, all peers together.
    pub staged: usize,
}

/// The boxed randomness source the device draws from.
pub type DynRng = Box<dyn CryptoRngCore + Send>;

/// A WireGuard interface's protocol state.
pub struct Device {
    identity: Option<StaticIdentity>,
    peers: BTreeMap<PeerId, Peer>,
    by_key: HashMap<PublicKey, PeerId>,
    next_peer_id: u32,
    allowed_ips: AllowedIps<PeerId>,
    indices: IndexTable,
    /// Every peer's earliest timer deadline (`schedule.rs`).
    deadlines: BinaryHeap<schedule::Entry>,
    /// mac1, cookies and rate limits, shared with the packet thread that admits handshake
    /// messages before they are queued (`gate.rs`). Held for microseconds, never across a
    /// Noise step.
    gate: Arc<Mutex<Gate>>,
    up: bool,
    outbox: VecDeque<Output>,
    rng: DynRng,
    jitter_state: u64,
    plane: Arc<Plane>,
    /// The AllowedIPs table changed, or peers were added or removed, since the routing
    /// snapshot was last published.
    routing_dirty: bool,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("public_key", &self.identity.as_ref().map(|i| *i.public()))
            .field("peers", &self.peers.len())
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// An interface with no key and no peers, up, drawing randomness from `rng`.
    pub fn new(mut rng: DynRng) -> Self {
        let jitter_state = rng.next_u64() | 1; // xorshift needs a non-zero state
        Self {
            identity: None,
            peers: BTreeMap::new(),
            by_key: HashMap::new(),
            next_peer_id: 0,
            allowed_ips: AllowedIps::new(),
            indices: IndexTable::default(),
            deadlines: BinaryHeap::new(),
            gate: Arc::new(Mutex::new(Gate::new(&PublicKey::default()))),
            up: true,
            outbox: VecDeque::new(),
            rng,
            jitter_state,
            plane: Arc::new(Plane::default()),
            routing_dirty: false,
        }
    }

    /// The data plane this device publishes to.
    pub fn plane(&self) -> &Arc<Plane> {
        &self.plane
    }

    /// Publish what changed since the last call (AllowedIPs, peers) to the data plane. Cheap
    /// when nothing changed; the driver calls it after every control-plane step.
    pub fn publish(&mut self) {
        if self.routing_dirty {
            self.routing_dirty = false;
            let links = self.peers.values().map(|p| Arc::clone(&p.link)).collect();
            self.plane.publish_routing(&self.allowed_ips, links);
        }
    }

    /// Carry out what the data plane asked for (handshakes for staged packets, session
    /// confirmations, rekeys, timers it armed).
    pub fn poll_requests(&mut self, now: Now) {
        for id in self.plane.take_requests() {
            let Some(wants) = self.peers.get(&id).map(|p| p.link.take_pending()) else {
                continue;
            };
            if wants & want::CONFIRM != 0 {
                self.confirm_session(id, now);
            }
            if wants & want::HANDSHAKE != 0 {
                self.send_staged(id, now);
            }
            if wants & want::REKEY != 0 {
                self.send_initiation(id, false, now);
            }
            self.reschedule(id);
        }
    }

    /// The private key, if set.
    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.identity.as_ref().map(|i| i.private())
    }

    /// The public key, if a private key is set.
    pub fn public_key(&self) -> Option<PublicKey> {
        self.identity.as_ref().map(|i| *i.public())
    }

    /// Set or clear the private key. A peer with the matching public key is removed (it would
    /// be ourselves); every session is dropped since it was made with the old key.
    pub fn set_private_key(&mut self, key: Option<PrivateKey>) {
        if key.as_ref() == self.private_key() {
            return;
        }
        self.identity = key.filter(|k| !k.is_zero()).map(StaticIdentity::new);
        let public = self.public_key();
        if let Some(pk) = public {
            self.remove_peer(&pk);
        }
        self.gate().set_local_public(&public.unwrap_or_default());
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.zero_peer(id);
            if let Some(p) = self.peers.get_mut(&id) {
                p.remote.rekey_local(self.identity.as_ref());
            }
        }
    }

    /// Add a peer (or return the existing one with this key). Adding our own key is refused
    /// silently, as wireguard-go does, by returning `None`.
    pub fn add_peer(&mut self, public: PublicKey) -> Option<PeerId> {
        if Some(public) == self.public_key() {
            return None;
        }
        if let Some(id) = self.by_key.get(&public) {
            return Some(*id);
        }
        let id = PeerId(self.next_peer_id);
        self.next_peer_id += 1;
        let remote = RemoteIdentity::new(self.identity.as_ref(), public, PresharedKey::default());
        self.peers.insert(id, Peer::new(id, remote));
        self.by_key.insert(public, id);
        self.routing_dirty = true;
        Some(id)
    }

    /// Remove a peer with all its state, allowed IPs and indices.
    pub fn remove_peer(&mut self, public: &PublicKey) -> bool {
        let Some(id) = self.by_key.get(public).copied() else {
            return false;
        };
        self.zero_peer(id);
        self.by_key.remove(public);
        self.peers.remove(&id);
        self.allowed_ips.remove_peer(id);
        self.indices.remove_peer(id);
        self.routing_dirty = true;
        true
    }

    /// Remove every peer.
    pub fn clear_peers(&mut self) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.zero_peer(id);
        }
        self.peers.clear();
        self.by_key.clear();
        self.allowed_ips.clear();
        self.indices = IndexTable::default();
        self.deadlines.clear();
        self.routing_dirty = true;
    }

    /// The peer with this public key.
    pub fn peer_id(&self, public: &PublicKey) -> Option<PeerId> {
        self.by_key.get(public).copied()
    }

    /// A peer's state.
    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(&id)
    }

    /// All peers, oldest first.
    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    fn peer_mut(&mut self, id: PeerId) -> Result<&mut Peer, ConfigError> {
        self.peers.get_mut(&id).ok_or(ConfigError::NoSuchPeer)
    }

    /// Set a peer's preshared key (all zeros = none).
    pub fn set_preshared_key(&mut self, id: PeerId, psk: PresharedKey) -> Result<(), ConfigError> {
        self.peer_mut(id)?.remote.set_psk(psk);
        Ok(())
    }

    /// Set a peer's endpoint.
    pub fn set_endpoint(&mut self, id: PeerId, endpoint: SocketAddr) -> Result<(), ConfigError> {
        self.peer_mut(id)?.link.set_endpoint(endpoint);
        Ok(())
    }

    /// Set the persistent keepalive interval; turning it on sends a keepalive at once.
    pub fn set_persistent_keepalive(
        &mut self,
        id: PeerId,
        secs: u16,
        now: Now,
    ) -> Result<(), ConfigError> {
        let p = self.peer_mut(id)?;
        let was = p.timers.persistent_keepalive_interval;
        p.timers.persistent_keepalive_interval = secs;
        if secs > 0 && was == 0 && self.up {
            self.send_keepalive(id, now);
        }
        self.reschedule(id);
        Ok(())
    }

    /// Route `net` to the peer (moving it from any other peer).
    pub fn add_allowed_ip(&mut self, id: PeerId, net: IpNet) -> Result<(), ConfigError> {
        self.peer_mut(id)?;
        self.allowed_ips.insert(net, id);
        self.routing_dirty = true;
        Ok(())
    }

    /// Stop routing `net` to the peer (no-op when it routes elsewhere).
    pub fn remove_allowed_ip(&mut self, id: PeerId, net: IpNet) -> Result<(), ConfigError> {
        self.peer_mut(id)?;
        self.routing_dirty |= self.allowed_ips.remove_from(net, id);
        Ok(())
    }

    /// Remove all of a peer's allowed IPs.
    pub fn clear_allowed_ips(&mut self, id: PeerId) -> Result<(), ConfigError> {
        self.peer_mut(id)?;
        self.allowed_ips.remove_peer(id);
        self.routing_dirty = true;
        Ok(())
    }

    /// A peer's allowed IPs, in the order they were added.
    pub fn allowed_ips_of(&self, id: PeerId) -> Vec<IpNet> {
        self.allowed_ips.prefixes_of(id)
    }

    /// Every peer's allowed IPs from one walk of the table (what `get=1` needs; calling
    /// `allowed_ips_of` per peer would walk it once per peer).
    pub fn allowed_ips_by_peer(&self) -> HashMap<PeerId, Vec<IpNet>> {
        self.allowed_ips.prefixes_by_peer()
    }

    /// The tunnel MTU used to cap padding.
    pub fn set_mtu(&mut self, mtu: usize) {
        self.plane.set_mtu(mtu);
    }

    /// Interface up or down. Going down stops all timers and erases all sessions; coming up
    /// sends a keepalive to peers with persistent keepalive (wireguard-go `upLocked`).
    pub fn set_up(&mut self, up: bool, now: Now) {
        if up == self.up {
            return;
        }
        self.up = up;
        self.plane.set_up(up);
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            if up {
                if self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.timers.persistent_keepalive_interval > 0)
                {
                    self.send_keepalive(id, now);
                }
            } else {
                self.zero_peer(id);
                if let Some(p) = self.peers.get_mut(&id) {
                    p.timers.stop_all();
                    p.link.clear_staged();
                    p.link.clear_stamps();
                }
            }
            self.reschedule(id);
        }
    }

    /// The handshake gate, for the thread that admits handshake messages before queueing.
    pub fn shared_gate(&self) -> Arc<Mutex<Gate>> {
        Arc::clone(&self.gate)
    }

    /// The gate, locked (a poisoned lock still guards consistent state: every update is one
    /// call that cannot panic halfway).
    pub(super) fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Erase a peer's handshake and sessions and forget their indices.
    fn zero_peer(&mut self, id: PeerId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some(i) = p.handshake.local_index() {
            self.indices.remove(i);
        }
        p.handshake.clear();
        let retired = p.keypairs.clear();
        p.sync_current();
        let link = Arc::clone(&p.link);
        for i in retired {
            self.retire(&link, i);
        }
    }

    /// Forget a session's receiver index, in both planes.
    fn retire(&mut self, link: &Link, index: u32) {
        tracing::debug!("{link} - Keypair {index:08x} destroyed");
        self.indices.remove(index);
        self.plane.remove_session(index);
    }

    /// Install freshly derived keys as a session of peer `id` (an initiator's becomes current,
    /// a responder's waits in `next` for confirmation) and publish it.
    fn install_session(&mut self, id: PeerId, keys: &super::handshake::SessionKeys, now: Now) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let session = Arc::new(Session::new(
            Keypair::new(keys, now.mono),
            Arc::clone(&p.link),
        ));
        self.indices.set_kind(keys.local_index, IndexKind::Keypair);
        self.plane.add_session(&session);
        tracing::debug!("{} - Keypair {:08x} created", p.link, keys.local_index);
        let retired = p.keypairs.insert(session);
        p.sync_current();
        let link = Arc::clone(&p.link);
        for i in retired {
            self.retire(&link, i);
        }
    }

    /// The responder's `next` session was confirmed by the data plane: make it current.
    fn confirm_session(&mut self, id: PeerId, now: Now) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(index) = p
            .keypairs
            .next
            .as_ref()
            .filter(|n| n.is_confirmed())
            .map(|n| n.local_index)
        else {
            return;
        };
        let (confirmed, retired) = p.keypairs.received_with(index);
        if !confirmed {
            return;
        }
        p.sync_current();
        p.last_handshake_wall = Some(now.wall);
        p.timers.on_handshake_complete();
        let link = Arc::clone(&p.link);
        if let Some(i) = retired {
            self.retire(&link, i);
        }
        self.send_staged(id, now);
    }

    /// The sizes of the internal tables (see [`TableSizes`]).
    pub fn table_sizes(&self) -> TableSizes {
        TableSizes {
            peers: self.peers.len(),
            indices: self.indices.len(),
            limiter: self.gate().tracked_sources(),
            allowed_ips: self.allowed_ips.len(),
            outbox: self.outbox.len(),
            staged: self.peers.values().map(|p| p.link.staged_len()).sum(),
        }
    }

    /// Next action the driver must take, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop_front()
    }

    /// All pending actions.
    pub fn drain_outputs(&mut self) -> std::collections::vec_deque::Drain<'_, Output> {
        self.outbox.drain(..)
    }

    /// Timer jitter in 0..334 ms. Jitter only has to decorrelate peers, not resist an
    /// attacker (the kernel and wireguard-go use non-cryptographic generators too), so it comes
    /// from a xorshift generator seeded once from the injected RNG: the data path must not pay
    /// a `getrandom` syscall per packet.
    fn jitter(&mut self) -> Duration {
        let mut x = self.jitter_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter_state = x;
        Duration::from_millis(x % REKEY_TIMEOUT_JITTER_MAX_MS)
    }

    fn transmit(&mut self, id: PeerId, bytes: Vec<u8>) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let Some(to) = p.link.endpoint() else { return };
        let link = Some(Arc::clone(&p.link));
        self.outbox.push_back(Output::Transmit { to, bytes, link });
    }
}

#[cfg(test)]
mod tests;
