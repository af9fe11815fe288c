//! A wgrs node and a boringtun `noise::Tunn` joined back to back in process (docs/ARCHITECTURE.md,
//! tier 3): the wire between them, deterministic IPv4/IPv6 packets, and what each side saw.
//! wgrs runs as the daemon's own batch steps (`wgrs::driver::node::Node`, in-memory TUN and
//! UDP) on a virtual clock; boringtun reads real time, which is fine for immediate exchanges.

#![allow(dead_code)]

use boringtun::noise::errors::WireGuardError;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use wgrs::driver::clock::Clock;
use wgrs::driver::node::Node;
use wgrs::platform::MemNetwork;
use wgrs::proto::device::Device;
use wgrs::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use wgrs::proto::peer::{Peer, PeerId};
use wgrs::proto::time::Now;

/// wgrs's UDP endpoint.
pub const WGRS_SOCK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 51820);
/// boringtun's UDP endpoint.
pub const BT_SOCK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 51821);
/// Tunnel addresses of wgrs.
pub const WGRS_V4: [u8; 4] = [10, 0, 0, 1];
pub const WGRS_V6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// Tunnel addresses of boringtun.
pub const BT_V4: [u8; 4] = [10, 0, 0, 2];
pub const BT_V6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// Tunnel MTU (wgrs's default): no generated packet is longer.
pub const MTU: usize = 1420;
/// Message types (first byte of a datagram).
pub const INIT: u8 = 1;
pub const RESP: u8 = 2;
pub const COOKIE: u8 = 3;
pub const DATA: u8 = 4;
/// boringtun's index base (it shifts it left by 8).
const BT_INDEX: u32 = 0x00ab_cdef;

/// Which way a datagram travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToBt,
    ToWgrs,
}

/// What boringtun made of one datagram (or of one flush call).
#[derive(Debug)]
pub enum BtOutcome {
    /// Consumed, nothing to send or deliver (cookie reply, keepalive, duplicate flush).
    Done,
    /// It answered with this many datagrams (after flushing its queue).
    Network(usize),
    /// It delivered an IP packet to its TUN.
    Tunnel,
    /// It refused the datagram.
    Err(WireGuardError),
}

/// What wgrs logs when it drops a datagram (`driver::inbound`, `driver::workers`, the cookie
/// check): the lines `deliver_to_wgrs` returns and `wgrs_errors` collects.
const DROP_MARKERS: [&str; 4] = ["dropped ", "invalid", "denied", "Could not decrypt"];

/// The line wgrs logs for a replayed transport message from boringtun.
pub fn replay_line() -> String {
    format!("dropped a replayed transport packet from {BT_SOCK}")
}

/// The line wgrs logs for a handshake message from boringtun it refused (`what`: initiation,
/// response).
pub fn rejected_line(what: &str) -> String {
    format!("Received invalid {what} message from {BT_SOCK}")
}

/// The line wgrs logs when it answers boringtun's handshake message with a cookie reply.
pub fn cookie_line() -> String {
    format!("Sending cookie response for denied handshake message for {BT_SOCK}")
}

/// A wgrs node and a boringtun tunnel peered with each other.
pub struct Link {
    pub node: Node,
    pub peer: PeerId,
    pub bt: Tunn,
    pub clock: Clock,
    wire: MemNetwork,
    /// Every datagram, in the order it was put on the wire.
    pub log: Vec<(Dir, Vec<u8>)>,
    pub to_bt: VecDeque<Vec<u8>>,
    pub to_wgrs: VecDeque<Vec<u8>>,
    /// Packets wgrs wrote to its TUN.
    pub wgrs_tun: Vec<Vec<u8>>,
    /// Packets boringtun handed to its TUN.
    pub bt_tun: Vec<Vec<u8>>,
    /// Why wgrs dropped datagrams: the log lines saying so.
    pub wgrs_errors: Vec<String>,
    /// Why boringtun refused datagrams or packets (`WireGuardError` is not `Clone`).
    pub bt_errors: Vec<String>,
}

pub fn wgrs_private() -> PrivateKey {
    PrivateKey::from_bytes([0x11; 32])
}

fn bt_private() -> PrivateKey {
    PrivateKey::from_bytes([0x22; 32])
}

/// boringtun's own view of its public key (computed by its x25519, not ours).
pub fn bt_public_x25519() -> x25519::PublicKey {
    x25519::PublicKey::from(&x25519::StaticSecret::from(*bt_private().as_bytes()))
}

impl Link {
    /// Peer a wgrs device with a boringtun tunnel. `psk` on both sides or neither.
    /// `bt_under_load` gives boringtun a `RateLimiter` with limit 0, so it answers every
    /// handshake message lacking a valid mac2 with a cookie reply.
    pub fn new(psk: Option<[u8; 32]>, bt_under_load: bool) -> Self {
        let mut dev = Device::new(Box::new(StdRng::seed_from_u64(0x5eed)));
        dev.set_private_key(Some(wgrs_private()));
        let bt_pub = PublicKey(*bt_public_x25519().as_bytes());
        assert_eq!(
            bt_pub,
            bt_private().public_key(),
            "wgrs and boringtun agree on X25519"
        );
        let peer = dev.add_peer(bt_pub).expect("add boringtun peer");
        if let Some(k) = psk {
            dev.set_preshared_key(peer, PresharedKey::from_bytes(k))
                .expect("psk");
        }
        dev.set_endpoint(peer, BT_SOCK).expect("endpoint");
        dev.add_allowed_ip(peer, "10.0.0.2/32".parse().expect("v4 net"))
            .expect("v4 ip");
        dev.add_allowed_ip(peer, "fd00::2/128".parse().expect("v6 net"))
            .expect("v6 ip");

        let bt_secret = x25519::StaticSecret::from(*bt_private().as_bytes());
        let wgrs_pub = x25519::PublicKey::from(*wgrs_private().public_key().as_bytes());
        let limiter = bt_under_load.then(|| Arc::new(RateLimiter::new(&bt_public_x25519(), 0)));
        let bt = Tunn::new(bt_secret, wgrs_pub, psk, None, BT_INDEX, limiter);
        let clock = Clock::manual(Now {
            mono: Duration::from_secs(1000),
            wall: Duration::from_secs(1_700_000_000),
        });
        let wire = MemNetwork::held();
        let mut node = Node::new(dev, &wire, WGRS_SOCK, clock.clone()).expect("bind");
        node.record_logs();
        Self {
            node,
            peer,
            bt,
            clock,
            wire,
            log: Vec::new(),
            to_bt: VecDeque::new(),
            to_wgrs: VecDeque::new(),
            wgrs_tun: Vec::new(),
            bt_tun: Vec::new(),
            wgrs_errors: Vec::new(),
            bt_errors: Vec::new(),
        }
    }

    /// The virtual time wgrs reads.
    pub fn now(&self) -> Now {
        self.clock.now()
    }

    /// wgrs's state for the boringtun peer.
    pub fn wgrs_peer(&self) -> &Peer {
        self.node.dev.peer(self.peer).expect("peer exists")
    }

    /// Both sides hold a confirmed session they send on.
    pub fn established(&self) -> bool {
        let p = self.wgrs_peer();
        p.keypairs.current().is_some()
            && p.last_handshake_wall.is_some()
            && self.bt.stats().0.is_some()
    }

    /// Move what wgrs sent onto the wire, what it wrote to its TUN into `wgrs_tun`, and the
    /// drops it logged into `wgrs_errors`.
    pub fn collect_wgrs(&mut self) {
        for d in self.wire.take_held() {
            assert_eq!(d.dst, BT_SOCK, "wgrs sends to boringtun's endpoint");
            self.put(Dir::ToBt, d.bytes);
        }
        let written = self.node.tun.collect(usize::MAX, Some(Duration::ZERO));
        self.wgrs_tun.extend(written.expect("TUN open"));
        let drops = self.node.take_logs().into_iter();
        let drops = drops.filter(|l| DROP_MARKERS.iter().any(|m| l.contains(m)));
        self.wgrs_errors.extend(drops);
    }

    /// Let wgrs run (configuration changes, due timers, queued packets), then collect.
    pub fn step_wgrs(&mut self) {
        self.node.step();
        self.collect_wgrs();
    }

    /// Put a datagram on the wire (logged, then queued for its receiver).
    pub fn put(&mut self, dir: Dir, bytes: Vec<u8>) {
        self.log.push((dir, bytes.clone()));
        match dir {
            Dir::ToBt => self.to_bt.push_back(bytes),
            Dir::ToWgrs => self.to_wgrs.push_back(bytes),
        }
    }

    /// An IP packet enters wgrs's TUN, and wgrs runs.
    pub fn wgrs_send(&mut self, packet: &[u8]) {
        self.wgrs_queue(packet);
        self.step_wgrs();
    }

    /// An IP packet enters wgrs's TUN; wgrs reads it with the others queued when it next runs.
    pub fn wgrs_queue(&mut self, packet: &[u8]) {
        assert!(self.node.tun.inject(packet), "TUN queue full");
    }

    /// An IP packet enters boringtun's TUN.
    pub fn bt_send(&mut self, packet: &[u8]) {
        let mut buf = vec![0u8; packet.len() + 148];
        match self.bt.encapsulate(packet, &mut buf) {
            TunnResult::WriteToNetwork(b) => {
                let b = b.to_vec();
                self.put(Dir::ToWgrs, b);
            }
            TunnResult::Done => {}
            TunnResult::Err(e) => self.bt_errors.push(format!("{e:?}")),
            other => panic!("encapsulate returned {other:?}"),
        }
    }

    /// Hand one datagram to wgrs and let it run; returns the drops it logged (none: taken).
    pub fn deliver_to_wgrs(&mut self, bytes: &[u8]) -> Vec<String> {
        self.collect_wgrs();
        let before = self.wgrs_errors.len();
        assert!(self.wire.deliver(BT_SOCK, WGRS_SOCK, bytes), "inbox full");
        self.step_wgrs();
        self.wgrs_errors[before..].to_vec()
    }

    /// Hand every datagram queued for wgrs to it at once (one receive batch) and let it run.
    fn deliver_all_to_wgrs(&mut self) {
        while let Some(b) = self.to_wgrs.pop_front() {
            assert!(self.wire.deliver(BT_SOCK, WGRS_SOCK, &b), "inbox full");
        }
        self.step_wgrs();
    }

    /// Hand one datagram to boringtun, then flush its queue as its API asks.
    pub fn deliver_to_bt(&mut self, bytes: &[u8]) -> BtOutcome {
        let mut buf = vec![0u8; 2048];
        let out = match self.bt.decapsulate(Some(WGRS_SOCK.ip()), bytes, &mut buf) {
            TunnResult::Done => BtOutcome::Done,
            TunnResult::Err(e) => BtOutcome::Err(e),
            TunnResult::WriteToTunnelV4(p, src) => {
                assert_eq!(src.octets(), WGRS_V4, "boringtun saw wgrs's IPv4 source");
                self.bt_tun.push(p.to_vec());
                BtOutcome::Tunnel
            }
            TunnResult::WriteToTunnelV6(p, src) => {
                assert_eq!(src.octets(), WGRS_V6, "boringtun saw wgrs's IPv6 source");
                self.bt_tun.push(p.to_vec());
                BtOutcome::Tunnel
            }
            TunnResult::WriteToNetwork(b) => {
                let b = b.to_vec();
                self.put(Dir::ToWgrs, b);
                BtOutcome::Network(1 + self.flush_bt())
            }
        };
        if let BtOutcome::Err(e) = &out {
            self.bt_errors.push(format!("{e:?}"));
        }
        out
    }

    /// `decapsulate(None, &[])` until Done: boringtun's queued packets go out.
    fn flush_bt(&mut self) -> usize {
        let mut n = 0;
        let mut buf = vec![0u8; 2048];
        loop {
            match self.bt.decapsulate(None, &[], &mut buf) {
                TunnResult::WriteToNetwork(b) => {
                    let b = b.to_vec();
                    self.put(Dir::ToWgrs, b);
                    n += 1;
                }
                TunnResult::Done => return n,
                other => panic!("flush returned {other:?}"),
            }
        }
    }

    /// Let wgrs run, then deliver everything in flight, and whatever it provokes, until the
    /// wire is quiet: boringtun takes datagrams one by one, wgrs all that wait as one batch.
    pub fn run(&mut self) {
        self.step_wgrs();
        for _ in 0..100_000 {
            if let Some(b) = self.to_bt.pop_front() {
                self.deliver_to_bt(&b);
            } else if !self.to_wgrs.is_empty() {
                self.deliver_all_to_wgrs();
            } else {
                return;
            }
        }
        panic!("link did not settle");
    }

    /// Advance wgrs's clock by `d`, firing its timers at their deadlines and running the wire.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now().mono + d;
        for _ in 0..100_000 {
            let Some(t) = self.node.poll_timeout().filter(|t| *t <= end) else {
                self.clock.advance_to(end);
                return;
            };
            self.clock.advance_to(t);
            self.run();
        }
        panic!("timers did not settle");
    }

    /// Datagrams logged in direction `dir`, as (type byte, length).
    pub fn shapes(&self, dir: Dir) -> Vec<(u8, usize)> {
        self.log
            .iter()
            .filter(|(d, _)| *d == dir)
            .map(|(_, b)| (b[0], b.len()))
            .collect()
    }

    /// Types of the datagrams logged in direction `dir`.
    pub fn types(&self, dir: Dir) -> Vec<u8> {
        self.shapes(dir).into_iter().map(|s| s.0).collect()
    }

    /// The `nth` datagram logged in direction `dir`.
    pub fn sent(&self, dir: Dir, nth: usize) -> &[u8] {
        let mut it = self.log.iter().filter(|(d, _)| *d == dir);
        &it.nth(nth).expect("datagram logged").1
    }

    /// Make boringtun send a new initiation now, even with one in progress (its own timers
    /// would only do so after REKEY_TIMEOUT of real time).
    pub fn bt_force_initiation(&mut self) {
        let mut buf = [0u8; 148];
        match self.bt.format_handshake_initiation(&mut buf, true) {
            TunnResult::WriteToNetwork(b) => {
                let b = b.to_vec();
                self.put(Dir::ToWgrs, b);
            }
            other => panic!("boringtun made no initiation: {other:?}"),
        }
    }

    /// Neither side dropped or refused anything.
    pub fn assert_clean(&self) {
        assert!(
            self.wgrs_errors.is_empty(),
            "wgrs dropped: {:?}",
            self.wgrs_errors
        );
        assert!(
            self.bt_errors.is_empty(),
            "boringtun refused: {:?}",
            self.bt_errors
        );
    }

    /// `n` mixed packets each way, in bursts of up to 7: all arrive byte-identical, in order.
    pub fn exchange(&mut self, n: usize, seed: u64) {
        let out = mixed_packets(seed, n, true);
        let back = mixed_packets(seed.wrapping_add(1), n, false);
        let (w0, b0) = (self.wgrs_tun.len(), self.bt_tun.len());
        for (burst_out, burst_back) in out.chunks(7).zip(back.chunks(7)) {
            // wgrs reads each burst as one batch from its TUN.
            for (p, q) in burst_out.iter().zip(burst_back) {
                self.wgrs_queue(p);
                self.bt_send(q);
            }
            self.run();
        }
        assert_delivered(&self.bt_tun[b0..], &out, "wgrs -> boringtun");
        assert_delivered(&self.wgrs_tun[w0..], &back, "boringtun -> wgrs");
        let has_v6 = |ps: &[Vec<u8>]| ps.iter().any(|p| p[0] >> 4 == 6);
        assert!(n < 100 || (has_v6(&out) && has_v6(&back)), "IPv6 exercised");
        self.assert_clean();
    }
}

/// `got` equals `want`, packet by packet (without dumping a thousand packets on failure).
pub fn assert_delivered(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of packets delivered");
    if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: packet {i} differs: sent {} bytes, got {} bytes",
            want[i].len(),
            got[i].len()
        );
    }
}

/// The last 16 bytes of a handshake message: mac2.
pub fn mac2(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - 16..]
}

/// An IPv4/UDP packet (header checksum filled in) carrying `payload`.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&u16::try_from(total).expect("fits").to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let sum: u32 = p
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    p[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv6/UDP packet carrying `payload`.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&u16::try_from(payload.len()).expect("fits").to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// `n` deterministic packets of mixed family and size (whole packet at most [`MTU`]); about
/// one in four is IPv6. `from_wgrs` picks the direction (source and destination addresses).
pub fn mixed_packets(seed: u64, n: usize, from_wgrs: bool) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (s4, d4, s6, d6) = if from_wgrs {
        (WGRS_V4, BT_V4, WGRS_V6, BT_V6)
    } else {
        (BT_V4, WGRS_V4, BT_V6, WGRS_V6)
    };
    (0..n)
        .map(|i| {
            let v6 = rng.gen_ratio(1, 4);
            let max = MTU - if v6 { 40 } else { 20 };
            // Hit the edges (empty payload, exactly MTU) as well as everything between.
            let len = match i % 50 {
                0 => 0,
                1 => max,
                _ => rng.gen_range(0..=max),
            };
            let mut payload = vec![0u8; len];
            rng.fill(&mut payload[..]);
            if v6 {
                ipv6(s6, d6, &payload)
            } else {
                ipv4(s4, d4, &payload)
            }
        })
        .collect()
}

/// A fixed-address IPv4 packet from boringtun to wgrs.
pub fn bt_to_wgrs(tag: &[u8]) -> Vec<u8> {
    ipv4(BT_V4, WGRS_V4, tag)
}

/// A fixed-address IPv4 packet from wgrs to boringtun.
pub fn wgrs_to_bt(tag: &[u8]) -> Vec<u8> {
    ipv4(WGRS_V4, BT_V4, tag)
}
