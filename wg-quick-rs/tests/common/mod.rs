//! Builders shared by the wg-quick-rs plan and executor tests.
#![allow(dead_code)]

use wg_quick_rs::config::{Cidr, Config, Endpoint, Key, Line, Peer};

/// `ADDR/LEN`.
pub fn cidr(s: &str) -> Cidr {
    let (a, p) = s.split_once('/').expect("ADDR/LEN");
    Cidr {
        addr: a.parse().expect("address"),
        prefix: p.parse().expect("prefix"),
    }
}

/// Several CIDRs.
pub fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|s| cidr(s)).collect()
}

/// A peer with a recognisable public key.
pub fn peer(n: u8, allowed: &[&str], endpoint: Option<(&str, u16)>) -> Peer {
    Peer {
        public_key: Key([n; 32]),
        preshared_key: None,
        allowed_ips: cidrs(allowed),
        endpoint: endpoint.map(|(host, port)| Endpoint {
            host: host.to_owned(),
            port,
        }),
        persistent_keepalive: None,
        line: Line(0),
    }
}

/// A config with a private key, the addresses and the peers.
pub fn config(addresses: &[&str], peers: Vec<Peer>) -> Config {
    let mut cfg = Config::default();
    cfg.interface.private_key = Some(Key([1; 32]));
    cfg.interface.addresses = cidrs(addresses);
    cfg.peers = peers;
    cfg
}

/// Strings from string literals.
pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
