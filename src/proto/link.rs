//! What the control plane and the data plane share of one peer (whitepaper §3, §6): the
//! session it sends on, its endpoint, traffic counters, the time stamps its timers are derived
//! from, packets staged behind a handshake, and the requests the data plane leaves for the
//! control plane. Everything here is atomic or behind a lock of this one peer: the transport
//! path never takes a device-wide lock. See docs/ARCHITECTURE.md for which plane writes what.

use arc_swap::ArcSwapOption;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::keypair::Session;
use super::keys::PublicKey;
use super::peer::{PeerId, MAX_STAGED_PACKETS};

/// `peer(` + the first four and the last four significant characters of the base64 key + `)`,
/// wireguard-go's `Peer.String`.
pub fn peer_name(public: &PublicKey) -> String {
    let b64 = public.to_base64();
    let head = b64.get(..4).unwrap_or("");
    let tail = b64.get(39..43).unwrap_or("");
    format!("peer({head}…{tail})")
}

/// Requests the data plane leaves for the control plane (bits of `Link::pending`).
pub mod want {
    /// Packets are staged and there is no usable session: start a handshake.
    pub const HANDSHAKE: u8 = 1;
    /// The responder's unconfirmed session received its first packet: make it current.
    pub const CONFIRM: u8 = 2;
    /// The session is old or worn (§6.2): start a new handshake.
    pub const REKEY: u8 = 4;
    /// A timer was armed earlier than the control plane's wake-up for this peer.
    pub const TIMERS: u8 = 8;
}

/// Monotonic nanoseconds as stamps hold them (0 means "none": real stamps are at least 1).
pub fn stamp(t: Duration) -> u64 {
    u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// A stamp back as a duration (`None` for 0).
pub fn unstamp(s: u64) -> Option<Duration> {
    (s != 0).then(|| Duration::from_nanos(s))
}

/// One peer's timer-relevant events, as plain values read from the stamps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    /// Last authenticated packet sent.
    pub sent: Option<Duration>,
    /// Last authenticated packet received.
    pub received: Option<Duration>,
    /// First data packet sent since the last authenticated receive (arms "new handshake").
    pub data_sent_unanswered: Option<Duration>,
    /// First data packet received since the last authenticated send (arms "keepalive").
    pub data_received_unanswered: Option<Duration>,
    /// Last data packet received.
    pub data_received: Option<Duration>,
}

/// One peer's shared state.
#[derive(Debug)]
pub struct Link {
    /// The peer.
    pub id: PeerId,
    /// How logs name it: `peer(AbCd…WxYz)`, as wireguard-go does.
    pub name: String,
    rx_bytes: AtomicU64,
    tx_bytes: AtomicU64,
    endpoint: ArcSwapOption<SocketAddr>,
    /// The session to send on (the control plane's `Keypairs::current`).
    pub current: ArcSwapOption<Session>,
    sent: AtomicU64,
    received: AtomicU64,
    data_sent_unanswered: AtomicU64,
    data_received_unanswered: AtomicU64,
    data_received: AtomicU64,
    /// `want::*` bits not yet taken by the control plane.
    pending: AtomicU8,
    /// The control plane's next wake-up for this peer (stamp), `u64::MAX` when it has none.
    scheduled: AtomicU64,
    staged: Mutex<VecDeque<Vec<u8>>>,
}

impl Link {
    /// A peer's link: no endpoint, no session, zero counters.
    pub fn new(id: PeerId, public: &PublicKey) -> Self {
        Self {
            id,
            name: peer_name(public),
            rx_bytes: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
            endpoint: ArcSwapOption::empty(),
            current: ArcSwapOption::empty(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            data_sent_unanswered: AtomicU64::new(0),
            data_received_unanswered: AtomicU64::new(0),
            data_received: AtomicU64::new(0),
            pending: AtomicU8::new(0),
            scheduled: AtomicU64::new(u64::MAX),
            staged: Mutex::new(VecDeque::new()),
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

    /// Where to send.
    pub fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint.load().as_deref().copied()
    }

    /// Set the endpoint (configuration, or roaming); true when it changed.
    pub fn set_endpoint(&self, to: SocketAddr) -> bool {
        if self.endpoint() == Some(to) {
            return false;
        }
        self.endpoint.store(Some(Arc::new(to)));
        true
    }

    /// An authenticated packet was sent at `now` (`data`: not a keepalive or handshake).
    /// Returns true when this armed the "new handshake" timer earlier than the control plane's
    /// wake-up for the peer (the caller then asks for `want::TIMERS`).
    pub fn on_sent(&self, now: Duration, data: bool, arms_after: Duration) -> bool {
        let t = stamp(now);
        self.sent.store(t, Ordering::Relaxed);
        if self.data_received_unanswered.load(Ordering::Relaxed) != 0 {
            self.data_received_unanswered.store(0, Ordering::Relaxed);
        }
        data && self.arm(&self.data_sent_unanswered, t, arms_after)
    }

    /// An authenticated packet was received at `now`. Returns true as `on_sent` does (for the
    /// keepalive timer).
    pub fn on_received(&self, now: Duration, data: bool, arms_after: Duration) -> bool {
        let t = stamp(now);
        self.received.store(t, Ordering::Relaxed);
        if self.data_sent_unanswered.load(Ordering::Relaxed) != 0 {
            self.data_sent_unanswered.store(0, Ordering::Relaxed);
        }
        if !data {
            return false;
        }
        self.data_received.store(t, Ordering::Relaxed);
        self.arm(&self.data_received_unanswered, t, arms_after)
    }

    /// Set `slot` to `t` if it is unset; true when that made a deadline (`t + after`) earlier
    /// than the control plane's wake-up. The stamp is written before the wake-up is read, and
    /// the control plane clears its wake-up before it reads stamps (`begin_reschedule`), so
    /// one of the two always sees the other.
    fn arm(&self, slot: &AtomicU64, t: u64, after: Duration) -> bool {
        if slot.load(Ordering::Relaxed) != 0 {
            return false;
        }
        if slot
            .compare_exchange(0, t, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let deadline = t.saturating_add(stamp(after));
        self.scheduled.load(Ordering::SeqCst) > deadline
    }

    /// The stamps as values.
    pub fn stamps(&self) -> Stamps {
        let get = |a: &AtomicU64| unstamp(a.load(Ordering::SeqCst));
        Stamps {
            sent: get(&self.sent),
            received: get(&self.received),
            data_sent_unanswered: get(&self.data_sent_unanswered),
            data_received_unanswered: get(&self.data_received_unanswered),
            data_received: get(&self.data_received),
        }
    }

    /// Control plane: the keepalive timer fired (or handshakes gave up); disarm it.
    pub fn clear_keepalive(&self) {
        self.data_received_unanswered.store(0, Ordering::SeqCst);
    }

    /// Control plane: the "new handshake" timer fired; disarm it.
    pub fn clear_data_sent_unanswered(&self) {
        self.data_sent_unanswered.store(0, Ordering::SeqCst);
    }

    /// Control plane: re-arm the keepalive timer from `now` (data arrived while the last one
    /// was pending, kernel `need_another_keepalive`).
    pub fn rearm_keepalive(&self, now: Duration) {
        self.data_received_unanswered
            .store(stamp(now), Ordering::SeqCst);
    }

    /// Control plane: forget every stamp (interface down, peer reset).
    pub fn clear_stamps(&self) {
        for a in [
            &self.sent,
            &self.received,
            &self.data_sent_unanswered,
            &self.data_received_unanswered,
            &self.data_received,
        ] {
            a.store(0, Ordering::SeqCst);
        }
    }

    /// Control plane: it is about to recompute this peer's wake-up; until it stores one, every
    /// arming asks for `want::TIMERS`.
    pub fn begin_reschedule(&self) {
        self.scheduled.store(u64::MAX, Ordering::SeqCst);
    }

    /// Control plane: its wake-up for this peer.
    pub fn scheduled(&self) -> Option<Duration> {
        let s = self.scheduled.load(Ordering::SeqCst);
        (s != u64::MAX).then(|| Duration::from_nanos(s))
    }

    /// Control plane: record its wake-up for this peer.
    pub fn set_scheduled(&self, at: Duration) {
        self.scheduled.store(stamp(at), Ordering::SeqCst);
    }

    /// Raise `want` bits; true when one of them was not pending yet (the caller then queues
    /// the peer for the control plane).
    pub fn raise(&self, want: u8) -> bool {
        self.pending.fetch_or(want, Ordering::SeqCst) & want != want
    }

    /// Control plane: take every pending request.
    pub fn take_pending(&self) -> u8 {
        self.pending.swap(0, Ordering::SeqCst)
    }

    fn staged(&self) -> std::sync::MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hold a packet until a session exists, dropping the oldest beyond MAX_STAGED_PACKETS.
    pub fn stage(&self, packet: Vec<u8>) {
        let mut q = self.staged();
        if q.len() >= MAX_STAGED_PACKETS {
            q.pop_front();
        }
        q.push_back(packet);
    }

    /// Take the oldest staged packet.
    pub fn unstage(&self) -> Option<Vec<u8>> {
        self.staged().pop_front()
    }

    /// Put a packet back in front (no session after all).
    pub fn restage(&self, packet: Vec<u8>) {
        self.staged().push_front(packet);
    }

    /// Packets staged.
    pub fn staged_len(&self) -> usize {
        self.staged().len()
    }

    /// Drop every staged packet.
    pub fn clear_staged(&self) {
        self.staged().clear();
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
