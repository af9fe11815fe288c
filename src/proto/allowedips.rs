//! Cryptokey routing: the AllowedIPs table mapping IP prefixes to peers (whitepaper §2).
//!
//! Outbound, the destination of a plaintext packet picks the peer by longest-prefix match;
//! inbound, the decrypted packet's source must map back to the peer that sent it. The table
//! behaves like the kernel's `allowedips.c` and wireguard-go's `device/allowedips.go`:
//! host bits are masked off on insert (`10.0.0.1/8` is stored as `10.0.0.0/8`), inserting a
//! prefix that exists moves it to the new peer, and a peer's prefixes are listed in the order
//! they were inserted (a moved or re-inserted prefix goes to the end of its peer's list).
//!
//! Each address family has its own path-compressed multibit trie (`trie.rs`) over the
//! address as an integer, with nodes in one `Vec`: a lookup is a handful of dependent loads
//! (about 20–40 ns at 10,000 prefixes). Insertion order is kept as a sequence number stamped
//! on each entry and stored apart from it, so the hot path pays nothing for it and
//! `prefixes_of` (control plane only) sorts a peer's entries on demand.

mod key;
mod trie;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use trie::Trie;

/// Whole-table walks made on this thread so far (tests prove an operation walks nothing).
#[cfg(test)]
pub(crate) fn trie_walks() -> usize {
    trie::WALKS.with(|w| w.get())
}

/// The AllowedIPs table for IPv4 and IPv6, generic over a small copyable peer id.
#[derive(Clone)]
pub struct AllowedIps<T> {
    v4: Trie<u32, T>,
    v6: Trie<u128, T>,
    /// Global insertion sequence number, stamped on each insert: orders `prefixes_of`.
    next_seq: u64,
}

impl<T: Copy + Eq> Default for AllowedIps<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Eq + std::fmt::Debug> std::fmt::Debug for AllowedIps<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut entries: Vec<(IpNet, T, u64)> = self.entries().collect();
        entries.sort_unstable_by_key(|&(net, _, _)| net);
        let pairs = entries.into_iter().map(|(net, peer, _)| (net, peer));
        f.debug_map().entries(pairs).finish()
    }
}

impl<T: Copy + Eq> AllowedIps<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            v4: Trie::default(),
            v6: Trie::default(),
            next_seq: 0,
        }
    }

    /// Route `net` (host bits masked off) to `peer`, replacing any previous owner of exactly
    /// that prefix. The prefix becomes the last in `peer`'s insertion order.
    pub fn insert(&mut self, net: IpNet, peer: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        match net {
            IpNet::V4(n) => {
                self.v4.insert(n.addr().into(), n.prefix_len(), peer, seq);
            }
            IpNet::V6(n) => {
                self.v6.insert(n.addr().into(), n.prefix_len(), peer, seq);
            }
        }
    }

    /// Remove exactly the prefix `net` (after masking host bits); returns its peer if present.
    pub fn remove(&mut self, net: IpNet) -> Option<T> {
        match net {
            IpNet::V4(n) => self.v4.remove(n.addr().into(), n.prefix_len()),
            IpNet::V6(n) => self.v6.remove(n.addr().into(), n.prefix_len()),
        }
    }

    /// Remove exactly the prefix `net` if it is routed to `peer`; true when it was. O(prefix
    /// length), whatever the table's size (a `allowed_ip=-PREFIX` line must not walk it).
    pub fn remove_from(&mut self, net: IpNet, peer: T) -> bool {
        let owned = match net {
            IpNet::V4(n) => self.v4.get(n.addr().into(), n.prefix_len()) == Some(&peer),
            IpNet::V6(n) => self.v6.get(n.addr().into(), n.prefix_len()) == Some(&peer),
        };
        owned && self.remove(net).is_some()
    }

    /// Remove every prefix routed to `peer`.
    pub fn remove_peer(&mut self, peer: T) {
        self.v4.retain(|&p| p != peer);
        self.v6.retain(|&p| p != peer);
    }

    /// The same table with each peer replaced by `f` of it (prefixes, lengths and insertion
    /// order unchanged); O(n), a copy of the arrays.
    pub fn map_peers<U: Copy + Eq>(&self, f: impl Fn(T) -> U) -> AllowedIps<U> {
        AllowedIps {
            v4: self.v4.map_values(&f),
            v6: self.v6.map_values(&f),
            next_seq: self.next_seq,
        }
    }

    /// The peer owning the longest prefix that contains `addr`.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<T> {
        match addr {
            IpAddr::V4(a) => self.v4.lookup(a.into()).copied(),
            IpAddr::V6(a) => self.v6.lookup(a.into()).copied(),
        }
    }

    /// The prefixes routed to `peer`, in the order they were (last) inserted.
    ///
    /// Control plane only: walks the whole table, O(n + k log k).
    pub fn prefixes_of(&self, peer: T) -> Vec<IpNet> {
        let mut found: Vec<(IpNet, T, u64)> =
            self.entries().filter(|&(_, p, _)| p == peer).collect();
        found.sort_unstable_by_key(|&(_, _, seq)| seq);
        found.into_iter().map(|(net, _, _)| net).collect()
    }

    /// Every peer's prefixes, each list in insertion order, from ONE walk of the table:
    /// O(n log n). Calling `prefixes_of` for each of p peers walks it p times (a `get=1` with
    /// 10,000 peers: 10^8 entry visits under the device lock).
    pub fn prefixes_by_peer(&self) -> HashMap<T, Vec<IpNet>>
    where
        T: Hash,
    {
        let mut all: Vec<(IpNet, T, u64)> = self.entries().collect();
        all.sort_unstable_by_key(|&(_, _, seq)| seq);
        let mut by_peer: HashMap<T, Vec<IpNet>> = HashMap::new();
        for (net, peer, _) in all {
            by_peer.entry(peer).or_default().push(net);
        }
        by_peer
    }

    /// Number of prefixes in the table (both families).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when no prefix is routed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remove every prefix.
    pub fn clear(&mut self) {
        self.v4 = Trie::default();
        self.v6 = Trie::default();
    }

    /// Every (prefix, peer, insertion sequence number), in no particular order.
    fn entries(&self) -> impl Iterator<Item = (IpNet, T, u64)> + '_ {
        let v4 = self.v4.iter().filter_map(|(k, l, &p, seq)| {
            Some((IpNet::V4(Ipv4Net::new(Ipv4Addr::from(k), l).ok()?), p, seq))
        });
        let v6 = self.v6.iter().filter_map(|(k, l, &p, seq)| {
            Some((IpNet::V6(Ipv6Net::new(Ipv6Addr::from(k), l).ok()?), p, seq))
        });
        v4.chain(v6)
    }
}

/// IPv4 header: version nibble 4, at least 20 bytes; source at 12, destination at 16.
const IPV4_MIN_HEADER: usize = 20;
/// IPv6 header: version nibble 6, at least 40 bytes; source at 8, destination at 24.
const IPV6_HEADER: usize = 40;

/// Read the 4- or 16-byte address at `v4_at` / `v6_at` of a raw IP packet, by its version.
fn packet_addr(packet: &[u8], v4_at: usize, v6_at: usize) -> Option<IpAddr> {
    match packet.first()? >> 4 {
        4 if packet.len() >= IPV4_MIN_HEADER => {
            let b: [u8; 4] = packet.get(v4_at..v4_at + 4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        6 if packet.len() >= IPV6_HEADER => {
            let b: [u8; 16] = packet.get(v6_at..v6_at + 16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Source address of a raw IPv4 or IPv6 packet; `None` for anything else or too short.
pub fn packet_src(packet: &[u8]) -> Option<IpAddr> {
    packet_addr(packet, 12, 8)
}

/// Destination address of a raw IPv4 or IPv6 packet; `None` for anything else or too short.
pub fn packet_dst(packet: &[u8]) -> Option<IpAddr> {
    packet_addr(packet, 16, 24)
}

#[cfg(test)]
mod tests;
