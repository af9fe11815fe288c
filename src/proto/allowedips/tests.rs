//! AllowedIPs tests: longest-prefix match, insertion order and removal against a naive model.

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
        (0u128..4, any::<u128>())
            .prop_map(|(hi, lo)| IpAddr::V6(Ipv6Addr::from(((0xfd00 + hi) << 112) | (lo >> 16)))),
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
        // The published copy names peers differently but routes the same.
        let mapped = t.map_peers(|p| p * 10 + 1);
        prop_assert_eq!(mapped.len(), m.0.len());
        for a in probes.into_iter().chain(touched) {
            prop_assert_eq!(t.lookup(a), m.lookup(a), "lookup {}", a);
            prop_assert_eq!(mapped.lookup(a), m.lookup(a).map(|p| p * 10 + 1), "mapped {}", a);
        }
        for p in 0..6 {
            prop_assert_eq!(mapped.prefixes_of(p * 10 + 1), m.prefixes_of(p), "mapped order {}", p);
        }
        let mut by_peer = t.prefixes_by_peer();
        for p in 0..6 {
            prop_assert_eq!(t.prefixes_of(p), m.prefixes_of(p), "prefixes_of {}", p);
            let listed = by_peer.remove(&p).unwrap_or_default();
            prop_assert_eq!(listed, m.prefixes_of(p), "prefixes_by_peer {}", p);
        }
        prop_assert!(by_peer.is_empty(), "no other peers: {:?}", by_peer);
    }
}
