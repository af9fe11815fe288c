//! A virtual network for simulation tests: wgrs nodes — each the daemon's own batch steps
//! (`wgrs::driver::node::Node`) over an in-memory TUN and UDP bind — joined by a held
//! `MemNetwork` this wire controls, on one manual clock that jumps to the next deadline. No
//! root, no sockets, no real time.

#![allow(dead_code, clippy::unwrap_used)] // test support: a panic is the failure report

use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::time::Duration;
use wgrs::driver::clock::Clock;
use wgrs::driver::node::Node;
use wgrs::platform::MemNetwork;
use wgrs::proto::device::Device;
use wgrs::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use wgrs::proto::peer::PeerId;
use wgrs::proto::time::Now;

/// One simulated host.
pub struct Host {
    pub node: Node,
    /// Where the host is on the wire (its datagrams come from here; a NAT in front of its
    /// bind). Change it to make the host roam.
    pub addr: SocketAddr,
    pub public: PublicKey,
    /// Packets the node wrote to its TUN.
    pub tun_rx: Vec<Vec<u8>>,
}

impl Deref for Host {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl DerefMut for Host {
    fn deref_mut(&mut self) -> &mut Node {
        &mut self.node
    }
}

/// A datagram on the wire.
#[derive(Debug, Clone)]
pub struct Wire {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Decides which datagrams the wire loses.
pub type DropFilter = Box<dyn FnMut(&Wire) -> bool>;

/// Hosts, the wire between them, and the clock.
pub struct Net {
    pub nodes: Vec<Host>,
    pub clock: Clock,
    wire: MemNetwork,
    /// Everything sent, in order (for inspection).
    pub log: Vec<Wire>,
    pub in_flight: VecDeque<Wire>,
    /// Drop datagrams for which this returns true.
    pub drop_filter: Option<DropFilter>,
}

pub fn key(seed: u8) -> PrivateKey {
    PrivateKey::from_bytes([seed; 32])
}

pub fn sock(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), port)
}

/// A minimal IPv4 packet from `src` to `dst` with `payload`.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..].copy_from_slice(payload);
    p
}

impl Net {
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            clock: Clock::manual(Now {
                mono: Duration::from_secs(1000),
                wall: Duration::from_secs(1_700_000_000),
            }),
            wire: MemNetwork::held(),
            log: Vec::new(),
            in_flight: VecDeque::new(),
            drop_filter: None,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Now {
        self.clock.now()
    }

    /// Add a host with private key `seed` listening at 192.0.2.`seed`:51820.
    pub fn add_node(&mut self, seed: u8) -> usize {
        let mut dev = Device::new(Box::new(StdRng::seed_from_u64(u64::from(seed))));
        let k = key(seed);
        let public = k.public_key();
        dev.set_private_key(Some(k));
        let addr = sock(seed, 51820);
        let node = Node::new(dev, &self.wire, addr, self.clock.clone()).unwrap();
        self.nodes.push(Host {
            node,
            addr,
            public,
            tun_rx: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Make `a` and `b` peers of each other. `a` knows `b`'s endpoint; `b` learns `a`'s by
    /// roaming unless `both_endpoints`. Each routes the other's /32 from 10.0.0.`seed`.
    pub fn link(
        &mut self,
        a: usize,
        b: usize,
        psk: Option<[u8; 32]>,
        both_endpoints: bool,
    ) -> (PeerId, PeerId) {
        let (pa, pb) = (self.nodes[a].public, self.nodes[b].public);
        let (addr_a, addr_b) = (self.nodes[a].addr, self.nodes[b].addr);
        let ida = self.nodes[a].dev.add_peer(pb).unwrap();
        let idb = self.nodes[b].dev.add_peer(pa).unwrap();
        let psk = psk.unwrap_or([0; 32]);
        self.nodes[a]
            .dev
            .set_preshared_key(ida, PresharedKey::from_bytes(psk))
            .unwrap();
        self.nodes[b]
            .dev
            .set_preshared_key(idb, PresharedKey::from_bytes(psk))
            .unwrap();
        self.nodes[a].dev.set_endpoint(ida, addr_b).unwrap();
        if both_endpoints {
            self.nodes[b].dev.set_endpoint(idb, addr_a).unwrap();
        }
        let ip = |n: &Host| {
            format!(
                "10.0.0.{}/32",
                n.addr.ip().to_string().rsplit('.').next().unwrap()
            )
        };
        let (ipa, ipb) = (ip(&self.nodes[a]), ip(&self.nodes[b]));
        self.nodes[a]
            .dev
            .add_allowed_ip(ida, ipb.parse().unwrap())
            .unwrap();
        self.nodes[b]
            .dev
            .add_allowed_ip(idb, ipa.parse().unwrap())
            .unwrap();
        (ida, idb)
    }

    /// Collect every node's outputs: datagrams onto the wire (from the sender's `addr`), TUN
    /// writes into `tun_rx`.
    pub fn collect(&mut self) {
        for n in &mut self.nodes {
            assert!(
                n.node.dev.timer_index_is_sound(),
                "an armed timer has no heap entry"
            );
            let written = n.node.tun.collect(usize::MAX, Some(Duration::ZERO));
            n.tun_rx.extend(written.unwrap());
        }
        for d in self.wire.take_held() {
            let Some(sender) = self.nodes.iter().find(|n| n.node.addr() == d.src) else {
                continue;
            };
            let w = Wire {
                from: sender.addr,
                to: d.dst,
                bytes: d.bytes,
            };
            self.log.push(w.clone());
            self.in_flight.push_back(w);
        }
    }

    /// Hand `w` to the host at `w.to` (whatever its source) and let that host run.
    pub fn deliver(&mut self, w: &Wire) {
        if let Some(n) = self.nodes.iter_mut().find(|n| n.addr == w.to) {
            self.wire.deliver(w.from, n.node.addr(), &w.bytes);
            n.node.step();
        }
    }

    /// Let every host run, then deliver everything in flight (and whatever it provokes) until
    /// the wire is quiet: each
    /// round hands every datagram in flight to its host's UDP inbox, then runs the hosts, so
    /// a host receives them as one batch.
    pub fn run(&mut self) {
        // Hosts whose configuration changed since they last ran send what that asked for.
        for n in &mut self.nodes {
            n.node.step();
        }
        for _ in 0..10_000 {
            self.collect();
            if self.in_flight.is_empty() {
                return;
            }
            let mut woken = vec![false; self.nodes.len()];
            for w in std::mem::take(&mut self.in_flight) {
                if self.drop_filter.as_mut().is_some_and(|f| f(&w)) {
                    continue;
                }
                if let Some(i) = self.nodes.iter().position(|n| n.addr == w.to) {
                    self.wire
                        .deliver(w.from, self.nodes[i].node.addr(), &w.bytes);
                    woken[i] = true;
                }
            }
            for (n, woken) in self.nodes.iter_mut().zip(woken) {
                if woken {
                    n.node.step();
                }
            }
        }
        panic!("simulation did not settle");
    }

    /// Send a packet into node `i`'s TUN and run the network.
    pub fn send(&mut self, i: usize, packet: &[u8]) {
        self.inject(i, packet);
        self.run();
    }

    /// Send a packet into node `i`'s TUN and let that node run; what it sends stays in flight
    /// (after `collect`).
    pub fn inject(&mut self, i: usize, packet: &[u8]) {
        assert!(self.nodes[i].node.tun.inject(packet), "TUN queue full");
        self.nodes[i].node.step();
    }

    /// Earliest deadline of any node.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        self.nodes
            .iter_mut()
            .filter_map(|n| n.node.poll_timeout())
            .min()
    }

    /// Advance the clock by `d`, firing every timer on the way at its own deadline.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now().mono + d;
        for _ in 0..1_000_000 {
            match self.next_deadline() {
                Some(t) if t <= end => {
                    self.clock.advance_to(t);
                    for n in &mut self.nodes {
                        n.node.step();
                    }
                    self.run();
                }
                _ => {
                    self.clock.advance_to(end);
                    return;
                }
            }
        }
        panic!("timers did not settle");
    }
}

/// Message type of a datagram on the wire.
pub fn msg_type(w: &Wire) -> u8 {
    w.bytes.first().copied().unwrap_or(0)
}

/// Datagrams of one type sent from `from`, with the virtual time they were logged at.
pub fn count_type(log: &[Wire], from: SocketAddr, t: u8) -> usize {
    log.iter()
        .filter(|w| w.from == from && msg_type(w) == t)
        .count()
}
