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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test prefix")
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn longest_prefix_wins_v4_and_v6() {
        let mut t = AllowedIps::new();
        t.insert(net("0.0.0.0/0"), 0u32);
        t.insert(net("10.0.0.0/8"), 1);
        t.insert(net("10.1.0.0/16"), 2);
        t.insert(net("10.1.1.1/32"), 3);
        t.insert(net("::/0"), 10);
        t.insert(net("fd00::/8"), 11);
        t.insert(net("fd00:1::/32"), 12);
        t.insert(net("fd00:1::1/128"), 13);
        let cases = [
            ("8.8.8.8", Some(0)),
            ("10.200.0.1", Some(1)),
            ("10.1.2.3", Some(2)),
            ("10.1.1.1", Some(3)),
            ("10.1.1.2", Some(2)),
            ("2001:db8::1", Some(10)),
            ("fd01::1", Some(11)),
            ("fd00:1:2::", Some(12)),
            ("fd00:1::1", Some(13)),
        ];
        for (a, want) in cases {
            assert_eq!(t.lookup(ip(a)), want, "{a}");
        }
        assert_eq!(t.len(), 8);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.lookup(ip("10.1.1.1")), None);
    }

    #[test]
    fn families_do_not_mix() {
        let mut t = AllowedIps::new();
        t.insert(net("0.0.0.0/0"), 1u8);
        assert_eq!(t.lookup(ip("::1")), None);
        assert_eq!(t.lookup(ip("::ffff:10.0.0.1")), None);
        t.insert(net("::/0"), 2);
        assert_eq!(t.lookup(ip("::ffff:10.0.0.1")), Some(2));
        assert_eq!(t.lookup(ip("10.0.0.1")), Some(1));
    }

    #[test]
    fn host_bits_are_masked() {
        let mut t = AllowedIps::new();
        t.insert(net("10.0.0.1/8"), 1u8);
        t.insert(net("fd00::1234/16"), 2);
        assert_eq!(t.prefixes_of(1), vec![net("10.0.0.0/8")]);
        assert_eq!(t.prefixes_of(2), vec![net("fd00::/16")]);
        assert_eq!(t.lookup(ip("10.9.9.9")), Some(1));
        // Remove also masks: any host bits name the same prefix.
        assert_eq!(t.remove(net("10.255.0.0/8")), Some(1));
        assert_eq!(t.remove(net("10.0.0.0/8")), None);
        assert_eq!(t.remove(net("fd00:ffff::/16")), Some(2));
        assert!(t.is_empty());
    }

    #[test]
    fn reinsert_moves_prefix_to_new_peer() {
        let mut t = AllowedIps::new();
        t.insert(net("10.0.0.0/24"), 1u8);
        t.insert(net("10.0.1.0/24"), 1);
        t.insert(net("10.0.0.7/24"), 2);
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(ip("10.0.0.1")), Some(2));
        assert_eq!(t.prefixes_of(1), vec![net("10.0.1.0/24")]);
        assert_eq!(t.prefixes_of(2), vec![net("10.0.0.0/24")]);
    }

    #[test]
    fn remove_exact_prefix_only() {
        let mut t = AllowedIps::new();
        t.insert(net("10.0.0.0/8"), 1u8);
        t.insert(net("10.0.0.0/16"), 2);
        assert_eq!(t.remove(net("10.0.0.0/12")), None);
        assert_eq!(t.remove(net("10.0.0.0/16")), Some(2));
        assert_eq!(t.lookup(ip("10.0.0.1")), Some(1));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn remove_peer_removes_all_its_prefixes() {
        let mut t = AllowedIps::new();
        t.insert(net("10.0.0.0/8"), 1u8);
        t.insert(net("10.1.0.0/16"), 2);
        t.insert(net("10.1.1.0/24"), 1);
        t.insert(net("fd00::/8"), 1);
        t.insert(net("fd00:1::/32"), 2);
        t.remove_peer(1);
        assert_eq!(t.prefixes_of(1), Vec::<IpNet>::new());
        assert_eq!(t.lookup(ip("10.1.1.1")), Some(2));
        assert_eq!(t.lookup(ip("10.2.0.0")), None);
        assert_eq!(t.lookup(ip("fd00:1::1")), Some(2));
        assert_eq!(t.lookup(ip("fd00:2::1")), None);
        assert_eq!(t.len(), 2);
        t.remove_peer(3);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn prefixes_of_keeps_insertion_order() {
        let mut t = AllowedIps::new();
        let order = [
            "192.168.4.0/24",
            "fd00::/64",
            "10.0.0.0/8",
            "::/0",
            "0.0.0.0/0",
            "1.2.3.4/32",
        ];
        for n in order {
            t.insert(net(n), 7u16);
        }
        t.insert(net("172.16.0.0/12"), 8);
        let want: Vec<IpNet> = order.iter().map(|n| net(n)).collect();
        assert_eq!(t.prefixes_of(7), want);
        // Moving a prefix to another peer appends it to that peer's list.
        t.insert(net("10.0.0.0/8"), 8);
        assert_eq!(
            t.prefixes_of(8),
            vec![net("172.16.0.0/12"), net("10.0.0.0/8")]
        );
        // Re-inserting for the same peer moves it to the end too (as wireguard-go does).
        t.insert(net("192.168.4.0/24"), 7);
        let want: Vec<IpNet> = [
            "fd00::/64",
            "::/0",
            "0.0.0.0/0",
            "1.2.3.4/32",
            "192.168.4.0/24",
        ]
        .map(net)
        .to_vec();
        assert_eq!(t.prefixes_of(7), want);
        // Removing and re-adding also goes to the end.
        t.remove(net("fd00::/64"));
        t.insert(net("fd00::/64"), 7);
        assert_eq!(t.prefixes_of(7).last(), Some(&net("fd00::/64")));
    }

    #[test]
    fn packet_addresses() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(packet_src(&v4), Some(ip("10.0.0.1")));
        assert_eq!(packet_dst(&v4), Some(ip("10.0.0.2")));
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[8..24].copy_from_slice(&ip6_bytes("fd00::1"));
        v6[24..40].copy_from_slice(&ip6_bytes("fd00::2"));
        assert_eq!(packet_src(&v6), Some(ip("fd00::1")));
        assert_eq!(packet_dst(&v6), Some(ip("fd00::2")));
        // Truncated: every shorter prefix is refused.
        for n in 0..20 {
            assert_eq!(packet_src(&v4[..n]), None);
            assert_eq!(packet_dst(&v4[..n]), None);
        }
        for n in 0..40 {
            assert_eq!(packet_src(&v6[..n]), None);
            assert_eq!(packet_dst(&v6[..n]), None);
        }
        // Wrong version nibbles, including a v6 nibble on a 20-byte packet.
        for first in [0x00, 0x55, 0x75, 0xf0, 0x65] {
            let mut p = v4;
            p[0] = first;
            assert_eq!(packet_dst(&p), None, "{first:#x}");
        }
        let mut p = v6;
        p[0] = 0x45;
        assert_eq!(packet_dst(&p), Some(ip("0.0.0.0")));
    }

    fn ip6_bytes(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().expect("test address").octets()
    }

    proptest! {
        #[test]
        fn packet_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = packet_src(&bytes);
            let _ = packet_dst(&bytes);
        }
    }

    /// The naive model: a list of (masked prefix, peer), last insertion wins per prefix.
    #[derive(Default)]
    struct Model(Vec<(IpNet, u8)>);

    impl Model {
        fn insert(&mut self, n: IpNet, p: u8) {
            let n = n.trunc();
            self.0.retain(|(m, _)| *m != n);
            self.0.push((n, p));
        }
        fn remove(&mut self, n: IpNet) {
            let n = n.trunc();
            self.0.retain(|(m, _)| *m != n);
        }
        fn lookup(&self, a: IpAddr) -> Option<u8> {
            self.0
                .iter()
                .filter(|(n, _)| n.contains(&a))
                .max_by_key(|(n, _)| n.prefix_len())
                .map(|(_, p)| *p)
        }
        fn prefixes_of(&self, p: u8) -> Vec<IpNet> {
            self.0
                .iter()
                .filter(|(_, q)| *q == p)
                .map(|(n, _)| *n)
                .collect()
        }
    }

    /// Addresses crowded into a few /8s (v4) and /16s (v6) so that prefixes overlap often.
    fn arb_addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            (0u32..4, any::<u32>())
                .prop_map(|(hi, lo)| IpAddr::V4(Ipv4Addr::from(((10 + hi) << 24) | (lo >> 8)))),
            (0u128..4, any::<u128>()).prop_map(|(hi, lo)| IpAddr::V6(Ipv6Addr::from(
                ((0xfd00 + hi) << 112) | (lo >> 16)
            ))),
        ]
    }

    #[test]
    fn removing_one_prefix_walks_nothing_and_respects_its_owner() {
        let mut t = AllowedIps::new();
        for i in 0..2000u32 {
            let net = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).unwrap());
            t.insert(net, (i % 7) as u8);
        }
        let net: IpNet = "10.0.5.77/24".parse().unwrap(); // 10.0.5.0/24 belongs to 5 % 7 = 5
        let before = trie::WALKS.with(|w| w.get());
        assert!(
            !t.remove_from(net, 4),
            "another peer's prefix is left alone"
        );
        assert_eq!(t.lookup("10.0.5.1".parse().unwrap()), Some(5));
        assert!(t.remove_from(net, 5));
        assert_eq!(t.lookup("10.0.5.1".parse().unwrap()), None);
        assert!(!t.remove_from(net, 5), "already gone");
        assert_eq!(trie::WALKS.with(|w| w.get()), before, "no whole-table walk");
        assert_eq!(t.len(), 1999);
    }

    fn arb_net() -> impl Strategy<Value = IpNet> {
        (arb_addr(), any::<u8>()).prop_map(|(a, l)| {
            let len = match a {
                IpAddr::V4(_) => l % 33,
                IpAddr::V6(_) => l % 129,
            };
            IpNet::new(a, len).unwrap_or_default()
        })
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(IpNet, u8),
        Remove(IpNet),
        RemoveFrom(IpNet, u8),
        RemovePeer(u8),
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (arb_net(), 0u8..6).prop_map(|(n, p)| Op::Insert(n, p)),
            2 => arb_net().prop_map(Op::Remove),
            2 => (arb_net(), 0u8..6).prop_map(|(n, p)| Op::RemoveFrom(n, p)),
            1 => (0u8..6).prop_map(Op::RemovePeer),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn lookup_matches_naive_model(
            ops in proptest::collection::vec(arb_op(), 0..120),
            probes in proptest::collection::vec(arb_addr(), 0..60),
        ) {
            let mut t = AllowedIps::new();
            let mut m = Model::default();
            let mut touched = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(n, p) => { t.insert(n, p); m.insert(n, p); touched.push(n.addr()); }
                    Op::Remove(n) => { let _ = t.remove(n); m.remove(n); }
                    Op::RemoveFrom(n, p) => {
                        let owned = m.0.contains(&(n.trunc(), p));
                        prop_assert_eq!(t.remove_from(n, p), owned);
                        if owned { m.remove(n); }
                    }
                    Op::RemovePeer(p) => { t.remove_peer(p); m.0.retain(|(_, q)| *q != p); }
                }
            }
            prop_assert_eq!(t.len(), m.0.len());
            for a in probes.into_iter().chain(touched) {
                prop_assert_eq!(t.lookup(a), m.lookup(a), "lookup {}", a);
            }
            for p in 0..6 {
                prop_assert_eq!(t.prefixes_of(p), m.prefixes_of(p), "prefixes_of {}", p);
            }
        }
    }
}
