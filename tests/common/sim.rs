//! A virtual network for simulation tests: wgrs devices joined by an in-memory "wire", on a
//! virtual clock that jumps to the next deadline. No root, no sockets, no real time.

#![allow(dead_code, clippy::unwrap_used)] // test support: a panic is the failure report

use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use wgrs::proto::device::{Device, Output};
use wgrs::proto::keys::{PresharedKey, PrivateKey, PublicKey};
use wgrs::proto::peer::PeerId;
use wgrs::proto::time::Now;

/// One simulated host.
pub struct Node {
    pub dev: Device,
    pub addr: SocketAddr,
    pub public: PublicKey,
    /// Packets the device wrote to its TUN.
    pub tun_rx: Vec<Vec<u8>>,
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

/// Devices, the wire between them, and the clock.
pub struct Net {
    pub nodes: Vec<Node>,
    pub now: Now,
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
            now: Now {
                mono: Duration::from_secs(1000),
                wall: Duration::from_secs(1_700_000_000),
            },
            log: Vec::new(),
            in_flight: VecDeque::new(),
            drop_filter: None,
        }
    }

    /// Add a device with private key `seed` listening at 192.0.2.`seed`:51820.
    pub fn add_node(&mut self, seed: u8) -> usize {
        let mut dev = Device::new(Box::new(StdRng::seed_from_u64(u64::from(seed))));
        let k = key(seed);
        let public = k.public_key();
        dev.set_private_key(Some(k));
        self.nodes.push(Node {
            dev,
            addr: sock(seed, 51820),
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
        let ip = |n: &Node| {
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

    /// Collect every node's outputs: datagrams onto the wire, TUN writes into `tun_rx`.
    pub fn collect(&mut self) {
        for n in &mut self.nodes {
            assert!(
                n.dev.timer_index_is_sound(),
                "an armed timer has no heap entry"
            );
            let outs: Vec<Output> = n.dev.drain_outputs().collect();
            for o in outs {
                match o {
                    Output::Transmit { to, bytes, link } => {
                        // The wire takes every datagram: count it as the driver does.
                        if let Some(l) = &link {
                            l.add_tx(bytes.len());
                        }
                        let w = Wire {
                            from: n.addr,
                            to,
                            bytes,
                        };
                        self.log.push(w.clone());
                        self.in_flight.push_back(w);
                    }
                    Output::TunWrite(p) => n.tun_rx.push(p),
                }
            }
        }
    }

    /// Deliver everything in flight (and whatever it provokes) until the wire is quiet.
    pub fn run(&mut self) {
        for _ in 0..10_000 {
            self.collect();
            let Some(w) = self.in_flight.pop_front() else {
                return;
            };
            if let Some(f) = self.drop_filter.as_mut() {
                if f(&w) {
                    continue;
                }
            }
            let now = self.now;
            if let Some(n) = self.nodes.iter_mut().find(|n| n.addr == w.to) {
                let _ = n.dev.handle_datagram(w.from, &w.bytes, now);
            }
        }
        panic!("simulation did not settle");
    }

    /// Send a packet into node `i`'s TUN and run the network.
    pub fn send(&mut self, i: usize, packet: &[u8]) {
        let now = self.now;
        self.nodes[i].dev.handle_tun_packet(packet, now);
        self.run();
    }

    /// Earliest deadline of any node.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        self.nodes
            .iter_mut()
            .filter_map(|n| n.dev.poll_timeout())
            .min()
    }

    /// Advance the clock by `d`, firing every timer on the way at its own deadline.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now.mono + d;
        for _ in 0..1_000_000 {
            match self.next_deadline() {
                Some(t) if t <= end => {
                    let step = t.saturating_sub(self.now.mono);
                    self.now = self.now.after(step);
                    let now = self.now;
                    for n in &mut self.nodes {
                        n.dev.handle_timeout(now);
                    }
                    self.run();
                }
                _ => {
                    let step = end.saturating_sub(self.now.mono);
                    self.now = self.now.after(step);
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
