//! Fuzz target `datagrams`: datagrams from arbitrary sources into a configured node on a
//! virtual clock the fuzzer advances. The node (`driver::node`) runs the daemon's own batch
//! steps: the outbound and inbound packet paths and the control plane's step. Two real remote
//! nodes (peers A and C of our node B) produce valid initiations, responses and transport
//! messages with the crate's own code; the fuzzer delivers them as they are, mutated,
//! replayed, from other sources, or sends junk.
//!
//! Checked after every step: nothing panics; the internal tables stay within their bounds
//! (receiver indices at most one handshake and three keypairs per peer, staged packets, the
//! rate limiter within the sources used); every packet written to the TUN comes from a source
//! in the sending peer's AllowedIPs.

use arbitrary::{Result, Unstructured};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::rng::FuzzRng;
use crate::driver::clock::Clock;
use crate::driver::node::Node;
use crate::platform::MemNetwork;
use crate::proto::allowedips::packet_src;
use crate::proto::device::Device;
use crate::proto::keys::{PresharedKey, PrivateKey};
use crate::proto::peer::MAX_STAGED_PACKETS;
use crate::proto::time::Now;

/// Datagrams remembered for replay and mutation.
const POOL: usize = 64;
/// Steps per input.
const STEPS: usize = 96;
/// Per-source tables of the handshake gate (`proto::gate::Gate::tracked_sources`).
const GATE_TABLES: usize = 3;
/// Datagrams one step may make B send (a full staged queue flushed, plus handshakes).
const MAX_OUTPUTS_PER_STEP: usize = 2 * MAX_STAGED_PACKETS + 8;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 51820)
}

/// A UDP-in-IPv4 packet from 10.0.0.`src` to 10.0.0.`dst`.
fn packet(src: u8, dst: u8, payload_len: usize) -> Vec<u8> {
    let total = 20 + payload_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, src]);
    p[16..20].copy_from_slice(&[10, 0, 0, dst]);
    p
}

fn device(seed: u8) -> Device {
    let mut d = Device::new(Box::new(FuzzRng::new(u64::from(seed))));
    d.set_private_key(Some(PrivateKey::from_bytes([seed; 32])));
    d
}

/// Make `peer` (seed `their`, at 192.0.2.`their`, routing 10.0.0.`their`/32) a peer of `dev`.
fn link(dev: &mut Device, their: u8, psk: [u8; 32], endpoint: bool) {
    let public = PrivateKey::from_bytes([their; 32]).public_key();
    let id = dev.add_peer(public).expect("not our own key");
    dev.set_preshared_key(id, PresharedKey::from_bytes(psk))
        .expect("peer exists");
    if endpoint {
        dev.set_endpoint(id, addr(their)).expect("peer exists");
    }
    let net = format!("10.0.0.{their}/32").parse().expect("valid prefix");
    dev.add_allowed_ip(id, net).expect("peer exists");
}

/// Our node B (seed 2), remotes A (seed 1) and C (seed 3, with a preshared key; B does not
/// know C's endpoint and learns it by roaming), the held wire between them, what was taken
/// off it, and the clock.
struct World {
    wire: MemNetwork,
    clock: Clock,
    b: Node,
    remotes: [(u8, Node); 2],
    pool: Vec<(SocketAddr, Vec<u8>)>,
    to_remotes: Vec<(SocketAddr, Vec<u8>)>,
    /// Datagrams B sent in the current step.
    b_sent: usize,
    sources: HashSet<IpAddr>,
}

impl World {
    fn new() -> Self {
        let psk = [7u8; 32];
        let mut b = device(2);
        link(&mut b, 1, [0; 32], true);
        link(&mut b, 3, psk, false);
        let mut a = device(1);
        link(&mut a, 2, [0; 32], true);
        let mut c = device(3);
        link(&mut c, 2, psk, true);
        let wire = MemNetwork::held();
        let clock = Clock::manual(Now {
            mono: Duration::from_secs(1000),
            wall: Duration::from_secs(1_700_000_000),
        });
        let node = |dev, seed| Node::new(dev, &wire, addr(seed), clock.clone()).expect("bind");
        Self {
            b: node(b, 2),
            remotes: [(1, node(a, 1)), (3, node(c, 3))],
            wire,
            clock,
            pool: Vec::new(),
            to_remotes: Vec::new(),
            b_sent: 0,
            sources: HashSet::new(),
        }
    }

    /// Take what was sent off the wire: the remotes' datagrams (all addressed to B) go to the
    /// pool, B's to the queue for the remotes. What the remotes wrote to their TUNs is dropped.
    fn sort_wire(&mut self) {
        for d in self.wire.take_held() {
            if d.src == addr(2) {
                self.b_sent += 1;
                if self.to_remotes.len() < POOL {
                    self.to_remotes.push((d.dst, d.bytes));
                }
            } else {
                if self.pool.len() == POOL {
                    self.pool.remove(0);
                }
                self.pool.push((d.src, d.bytes));
            }
        }
        for (_, r) in &self.remotes {
            let _ = r.tun.collect(usize::MAX, Some(Duration::ZERO));
        }
    }

    fn deliver_to_b(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.sources.insert(from.ip());
        self.wire.deliver(from, addr(2), bytes);
        self.b.step();
    }
}

/// Runs one sequence of steps; panics when a bound or an invariant fails.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut w = World::new();
    for _ in 0..STEPS {
        w.b_sent = 0;
        if step(&mut u, &mut w).is_err() {
            break;
        }
        // B carries out what the step asked of it (configuration changes included).
        w.b.step();
        w.sort_wire();
        check(&mut w);
    }
}

fn step(u: &mut Unstructured<'_>, w: &mut World) -> Result<()> {
    match u.int_in_range(0..=8)? {
        0 => junk(u, w),
        1 | 2 => from_pool(u, w),
        3 => {
            let r = u.int_in_range(0..=1)?;
            let len = usize::from(u.int_in_range(0u16..=1500)?);
            let (seed, remote) = &mut w.remotes[r];
            remote.tun.inject(&packet(*seed, 2, len));
            remote.step();
            Ok(())
        }
        4 => {
            let dst = [1, 3, 9][u.int_in_range(0..=2)?];
            let len = usize::from(u.int_in_range(0u16..=1500)?);
            w.b.tun.inject(&packet(2, dst, len));
            Ok(())
        }
        5 => to_remotes(u, w),
        6 => advance(u, w),
        7 => {
            // The handshake queue's backlog: what puts the node under load.
            let backlog = if u.arbitrary()? { 0 } else { 1024 };
            w.b.sh.handshake_backlog.store(backlog, Ordering::Relaxed);
            Ok(())
        }
        _ => {
            let now = w.clock.now();
            w.b.dev.set_up(u.arbitrary()?, now);
            Ok(())
        }
    }
}

/// Arbitrary bytes, often with a valid type byte and an exact handshake length.
fn junk(u: &mut Unstructured<'_>, w: &mut World) -> Result<()> {
    let from = source(u)?;
    let len = usize::from(u.int_in_range(0u16..=300)?);
    let mut bytes = u.bytes(len.min(u.len()))?.to_vec();
    let kind = u.int_in_range(0u8..=4)?;
    if kind > 0 && !bytes.is_empty() {
        bytes[0] = kind;
        for b in bytes.iter_mut().skip(1).take(3) {
            *b = 0;
        }
        let exact = [0usize, 148, 92, 64, bytes.len().max(32)][usize::from(kind)];
        bytes.resize(exact, 0x5a);
    }
    w.deliver_to_b(from, &bytes);
    Ok(())
}

/// A source: one of the remotes' addresses, or one of a few strangers (other ports too).
fn source(u: &mut Unstructured<'_>) -> Result<SocketAddr> {
    let last = [1u8, 3, 50, 51, 52, 53][u.int_in_range(0..=5)?];
    let port = if u.arbitrary()? {
        51820
    } else {
        u.arbitrary()?
    };
    Ok(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
        port,
    ))
}

/// A datagram a remote sent, delivered as it is, bit-flipped, truncated, or from elsewhere.
fn from_pool(u: &mut Unstructured<'_>, w: &mut World) -> Result<()> {
    if w.pool.is_empty() {
        return Ok(());
    }
    let i = u.int_in_range(0..=w.pool.len() - 1)?;
    let keep = u.arbitrary::<bool>()?;
    let (mut from, mut bytes) = if keep {
        w.pool.remove(i)
    } else {
        w.pool[i].clone()
    };
    match u.int_in_range(0..=3)? {
        0 => {
            for _ in 0..u.int_in_range(1..=4)? {
                let at = u.int_in_range(0..=bytes.len().saturating_sub(1))?;
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= u.int_in_range(1..=255)?;
                }
            }
        }
        1 => bytes.truncate(u.int_in_range(0..=bytes.len())?),
        2 => from = source(u)?,
        _ => {}
    }
    w.deliver_to_b(from, &bytes);
    Ok(())
}

/// Deliver some of B's transmits to the remotes, and their answers to the pool.
fn to_remotes(u: &mut Unstructured<'_>, w: &mut World) -> Result<()> {
    let n = u.int_in_range(0..=w.to_remotes.len())?;
    for (to, bytes) in w.to_remotes.drain(..n) {
        // Only the remotes are bound: anything else is lost.
        w.wire.deliver(addr(2), to, &bytes);
    }
    for (_, remote) in &mut w.remotes {
        remote.step();
    }
    w.sort_wire();
    Ok(())
}

/// Advance the virtual clock a little, to the next deadline, or a lot; fire due timers.
fn advance(u: &mut Unstructured<'_>, w: &mut World) -> Result<()> {
    let step = match u.int_in_range(0..=2)? {
        0 => Duration::from_millis(u.int_in_range(0..=2000)?),
        1 => {
            let next = [w.b.poll_timeout(), w.remotes[0].1.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            next.map_or(Duration::ZERO, |t| t.saturating_sub(w.clock.now().mono))
        }
        _ => Duration::from_secs(u.int_in_range(0..=600)?),
    };
    w.clock.advance(step);
    w.b.step();
    for (_, remote) in &mut w.remotes {
        remote.step();
    }
    Ok(())
}

/// The bounds and invariants that must hold after every step.
fn check(w: &mut World) {
    assert!(
        w.b_sent <= MAX_OUTPUTS_PER_STEP,
        "{} datagrams sent in one step",
        w.b_sent
    );
    let written = w.b.tun.collect(usize::MAX, Some(Duration::ZERO));
    for p in written.expect("the TUN is not deleted") {
        let src = packet_src(&p);
        let allowed = [1, 3].map(|n| Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))));
        assert!(allowed.contains(&src), "TUN write from {src:?}");
    }
    let sizes = w.b.dev.table_sizes();
    assert_eq!(sizes.peers, 2, "peers");
    assert_eq!(sizes.allowed_ips, 2, "allowed IPs");
    assert_eq!(sizes.outbox, 0, "outbox after drain");
    assert!(
        sizes.staged <= 2 * MAX_STAGED_PACKETS,
        "staged {}",
        sizes.staged
    );
    // The gate keeps three per-source tables (cookie-less budget, whitepaper limiter, cookie
    // replies): a source has at most one entry in each.
    assert!(
        sizes.limiter <= GATE_TABLES * w.sources.len(),
        "limiter {} > {GATE_TABLES} x {} sources",
        sizes.limiter,
        w.sources.len()
    );
    // One handshake and three keypairs (previous, current, next) per peer. A simultaneous
    // initiation used to leak the handshake's old index (issue 13, defect 3; re-found by this
    // target: fuzz/artifacts/datagrams/index-leak-simultaneous-initiation, 9 indices).
    assert!(
        sizes.indices <= 4 * sizes.peers,
        "{} receiver indices for {} peers",
        sizes.indices,
        sizes.peers
    );
}
