//! The data plane (whitepaper §5.4.6, §6.2): what any number of packet threads read to move
//! transport data without the device's lock, and the per-packet steps they take.
//!
//! The control plane (`device`) publishes immutable snapshots here, swapped atomically (RCU
//! style, `arc-swap`): the AllowedIPs table and the peers' links as one snapshot on
//! configuration changes, and the receiver-index → session map, sharded so that a handshake
//! copies one small shard, on every session change. A packet thread loads a snapshot once per
//! batch. Per-packet state lives in the peer's [`Link`] (atomics) and [`Session`] (nonce
//! counter, replay window). What only the control plane can do (start a handshake, confirm a
//! session, re-arm its timer heap) is asked for through `want` bits on the link and a short
//! queue of peers, and a waker the driver installs. See docs/ARCHITECTURE.md.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::allowedips::{packet_dst, packet_src, AllowedIps};
use super::constants::{DEFAULT_MTU, KEEPALIVE_TIMEOUT, REKEY_ON_RECEIVE_AGE, REKEY_TIMEOUT};
use super::device::{inner_packet_len, ReceiveError, Received};
use super::keypair::Session;
use super::link::{want, Link};
use super::messages::TransportHeader;
use super::peer::PeerId;

/// Shards of the session map (a power of two; indices are random, so they spread evenly).
const SHARDS: usize = 64;

/// Permission to seal one packet for a peer: the session, its reserved nonce, the endpoint.
#[derive(Debug, Clone)]
pub struct SendTicket {
    /// Session to seal with (its `link` is the peer).
    pub session: Arc<Session>,
    /// Reserved nonce.
    pub counter: u64,
    /// Where the datagram goes.
    pub to: SocketAddr,
}

/// A transport message matched to its session, ready to be opened.
#[derive(Debug, Clone)]
pub struct ReceiveTicket {
    /// The session its receiver index names.
    pub session: Arc<Session>,
    /// The message's counter.
    pub counter: u64,
}

/// The routing snapshot a batch works with: borrowed from the published one for the batch
/// (arc-swap guards, so loading it changes no shared reference count).
pub struct View {
    routing: arc_swap::Guard<Arc<Routing>>,
}

impl View {
    /// The peer whose AllowedIPs cover the packet's destination.
    pub fn route(&self, packet: &[u8]) -> Option<&Arc<Link>> {
        self.routing.link_for(packet_dst(packet)?)
    }

    /// True when `src` is in the AllowedIPs of peer `id` (longest match), §2 cryptokey routing.
    pub fn allows(&self, id: PeerId, plain: &[u8]) -> bool {
        let link = packet_src(plain).and_then(|src| self.routing.link_for(src));
        link.is_some_and(|l| l.id == id)
    }
}

/// The published routing state, one snapshot: the AllowedIPs table with each prefix naming a
/// position in `links` rather than a peer id, so that a lookup reaches the peer's link with one
/// snapshot load and an index, with no hashing (on an idle tunnel each packet's first touch of
/// this state is a cache miss; benches/README.md, "Session 11").
struct Routing {
    table: AllowedIps<u32>,
    links: Vec<Arc<Link>>,
}

impl Routing {
    /// A table over `links`; a prefix of a peer not among them routes nowhere.
    fn new(routes: &AllowedIps<PeerId>, links: Vec<Arc<Link>>) -> Self {
        let at: HashMap<PeerId, u32> = (links.iter().enumerate())
            .filter_map(|(i, l)| Some((l.id, u32::try_from(i).ok()?)))
            .collect();
        let table = routes.map_peers(|id| at.get(&id).copied().unwrap_or(u32::MAX));
        Self { table, links }
    }

    fn link_for(&self, addr: std::net::IpAddr) -> Option<&Arc<Link>> {
        let i = self.table.lookup(addr)?;
        self.links.get(usize::try_from(i).ok()?)
    }
}

type SessionMap = HashMap<u32, Arc<Session>>;

/// The shared data-plane state of one device.
pub struct Plane {
    routing: ArcSwap<Routing>,
    sessions: Vec<ArcSwap<SessionMap>>,
    up: AtomicBool,
    mtu: AtomicUsize,
    requests: Mutex<Vec<PeerId>>,
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Plane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plane")
            .field("links", &self.routing.load().links.len())
            .finish_non_exhaustive()
    }
}

impl Default for Plane {
    fn default() -> Self {
        Self {
            routing: ArcSwap::from_pointee(Routing {
                table: AllowedIps::new(),
                links: Vec::new(),
            }),
            sessions: (0..SHARDS)
                .map(|_| ArcSwap::from_pointee(SessionMap::new()))
                .collect(),
            up: AtomicBool::new(true),
            mtu: AtomicUsize::new(DEFAULT_MTU),
            requests: Mutex::new(Vec::new()),
            waker: OnceLock::new(),
        }
    }
}

fn shard_of(index: u32) -> usize {
    index as usize & (SHARDS - 1)
}

impl Plane {
    // ---- control plane: publishing -------------------------------------------------------

    /// Publish the AllowedIPs table and the peers' links (both at once: the table names the
    /// links by position).
    pub fn publish_routing(&self, routes: &AllowedIps<PeerId>, links: Vec<Arc<Link>>) {
        self.routing.store(Arc::new(Routing::new(routes, links)));
    }

    /// Make a session reachable by its receiver index.
    pub fn add_session(&self, s: &Arc<Session>) {
        let index = s.keypair.local_index;
        self.edit_shard(index, |m| {
            m.insert(index, Arc::clone(s));
        });
    }

    /// Forget a receiver index.
    pub fn remove_session(&self, index: u32) {
        self.edit_shard(index, |m| {
            m.remove(&index);
        });
    }

    /// Copy one shard, change it, swap it in (the control plane is the only writer).
    fn edit_shard(&self, index: u32, f: impl FnOnce(&mut SessionMap)) {
        if let Some(shard) = self.sessions.get(shard_of(index)) {
            let mut m = SessionMap::clone(&shard.load());
            f(&mut m);
            shard.store(Arc::new(m));
        }
    }

    /// Interface up or down (down: the data plane drops everything).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
    }

    /// The MTU that caps padding.
    pub fn set_mtu(&self, mtu: usize) {
        self.mtu.store(mtu, Ordering::Relaxed);
    }

    /// The MTU that caps padding.
    pub fn mtu(&self) -> usize {
        self.mtu.load(Ordering::Relaxed)
    }

    /// Install the function that wakes the control plane when a request is queued.
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(waker);
    }

    /// Control plane: take the peers with pending requests.
    pub fn take_requests(&self) -> Vec<PeerId> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
    }

    // ---- data plane ----------------------------------------------------------------------

    /// Ask the control plane for `want` bits on `link` (queued and woken once per new bit).
    pub fn request(&self, link: &Link, want: u8) {
        if link.raise(want) {
            self.requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(link.id);
            if let Some(w) = self.waker.get() {
                w();
            }
        }
    }

    /// The routing snapshot for a batch.
    pub fn view(&self) -> View {
        View {
            routing: self.routing.load(),
        }
    }

    /// Reserve a nonce on the peer's current session for one packet, if it has a usable one
    /// and an endpoint. `None`: stage the packet with [`Plane::stage`].
    pub fn prepare_send(&self, link: &Link, now: Duration) -> Option<SendTicket> {
        if !self.up.load(Ordering::Acquire) {
            return None;
        }
        let to = link.endpoint()?;
        let session = link.current.load_full()?;
        if !session.keypair.can_send(now) {
            return None;
        }
        let counter = session.keypair.next_nonce()?;
        Some(SendTicket {
            session,
            counter,
            to,
        })
    }

    /// Hold a packet for the peer until a session exists, and ask for a handshake.
    pub fn stage(&self, link: &Link, packet: Vec<u8>) {
        if !self.up.load(Ordering::Acquire) {
            return;
        }
        link.stage(packet);
        self.request(link, want::HANDSHAKE);
    }

    /// After a sealed datagram went out (`data`: not a keepalive): timers (§6.2 "new
    /// handshake" after unanswered data) and the rekey check.
    pub fn note_sent(&self, t: &SendTicket, data: bool, now: Duration) {
        let link = &t.session.link;
        if link.on_sent(now, data, KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) {
            self.request(link, want::TIMERS);
        }
        if t.session.keypair.wants_rekey_on_send(now) && t.session.ask_rekey() {
            self.request(link, want::REKEY);
        }
    }

    /// Find the session a transport header names, if it may still receive.
    pub fn prepare_receive(
        &self,
        h: TransportHeader,
        now: Duration,
    ) -> Result<ReceiveTicket, ReceiveError> {
        let shard = self
            .sessions
            .get(shard_of(h.receiver))
            .ok_or(ReceiveError::UnknownIndex)?;
        let session = shard
            .load()
            .get(&h.receiver)
            .cloned()
            .ok_or(ReceiveError::UnknownIndex)?;
        if !self.up.load(Ordering::Acquire) || !session.keypair.can_receive(now) {
            return Err(ReceiveError::Expired);
        }
        Ok(ReceiveTicket {
            session,
            counter: h.counter,
        })
    }

    /// After a successful open, the one step that must run per packet before any other:
    /// false when the counter was seen before or is too old (RFC 6479 window).
    pub fn accept(&self, t: &ReceiveTicket) -> bool {
        t.session.check_replay(t.counter)
    }

    /// What accepted packets of one session from one source change: key confirmation,
    /// roaming, counters, timer stamps, the initiator's last-minute rekey. Packet threads call
    /// it once per run of such packets (`bytes`: their datagrams' total; `data`: any of them
    /// was not a keepalive), so that per-peer cache lines are written once per run.
    pub fn account_received(
        &self,
        s: &Session,
        from: SocketAddr,
        bytes: usize,
        data: bool,
        now: Duration,
    ) {
        let link = &s.link;
        if s.confirm() {
            self.request(link, want::CONFIRM);
        }
        if link.set_endpoint(from) {
            tracing::debug!("{link} - Endpoint changed to {from}");
        }
        link.add_rx(bytes);
        if link.on_received(now, data, KEEPALIVE_TIMEOUT) {
            self.request(link, want::TIMERS);
        }
        // §6.2: an initiator whose session nears REJECT_AFTER_TIME rekeys once on receive.
        if s.keypair.is_initiator
            && now.saturating_sub(s.keypair.created) >= REKEY_ON_RECEIVE_AGE
            && s.ask_lastminute()
        {
            self.request(link, want::REKEY);
        }
    }

    /// What an accepted packet's plaintext is: a keepalive, or an IP packet to deliver if its
    /// source address routes back to the sending peer (§2 cryptokey routing).
    pub fn deliverable(
        &self,
        view: &View,
        link: &Link,
        plain: &[u8],
    ) -> Result<Received, ReceiveError> {
        if plain.is_empty() {
            tracing::debug!("{link} - Receiving keepalive packet");
            return Ok(Received::Keepalive);
        }
        let len = inner_packet_len(plain).ok_or(ReceiveError::BadInnerPacket)?;
        if !view.allows(link.id, plain) {
            return Err(ReceiveError::SourceNotAllowed);
        }
        Ok(Received::Packet(len))
    }

    /// `accept`, `account_received` and `deliverable` for one packet. `plain` is the
    /// decrypted (padded) payload, `wire_len` the datagram's length.
    pub fn complete_receive(
        &self,
        view: &View,
        t: &ReceiveTicket,
        from: SocketAddr,
        plain: &[u8],
        wire_len: usize,
        now: Duration,
    ) -> Result<Received, ReceiveError> {
        if !self.accept(t) {
            return Err(ReceiveError::Replay);
        }
        self.account_received(&t.session, from, wire_len, !plain.is_empty(), now);
        self.deliverable(view, &t.session.link, plain)
    }
}
