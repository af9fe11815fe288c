//! Property tests: a node (the daemon's receive path and control plane) given arbitrary bytes,
//! or mutated valid messages, never panics, sends and delivers nothing, and changes no
//! session state (handshake, keypairs, endpoint, counters).

mod common;
use common::sim::*;
use proptest::prelude::*;
use wgrs::proto::device::Device;

type PeerSnapshot = (
    String,
    Option<u32>,
    Vec<(u32, u32, u64)>,
    Option<std::net::SocketAddr>,
    u64,
    u64,
    Option<std::time::Duration>,
    usize,
);

fn snapshot(d: &Device) -> Vec<PeerSnapshot> {
    d.peers()
        .map(|p| {
            let kps = [&p.keypairs.previous, &p.keypairs.current, &p.keypairs.next]
                .into_iter()
                .map(|s| {
                    s.as_ref().map_or((0, 0, 0), |s| {
                        (
                            s.keypair.local_index,
                            s.keypair.remote_index,
                            s.keypair.nonces_used(),
                        )
                    })
                })
                .collect();
            (
                format!("{:?}", p.handshake.state()),
                p.handshake.local_index(),
                kps,
                p.endpoint(),
                p.rx_bytes(),
                p.tx_bytes(),
                p.last_handshake_wall,
                p.link.staged_len(),
            )
        })
        .collect()
}

/// Two linked devices after a handshake and some data, plus every datagram that crossed.
fn established() -> (Net, usize, usize) {
    let mut net = Net::new();
    let a = net.add_node(1);
    let b = net.add_node(2);
    net.link(a, b, Some([9; 32]), true);
    net.send(a, &ipv4([10, 0, 0, 1], [10, 0, 0, 2], &[1; 100]));
    net.send(b, &ipv4([10, 0, 0, 2], [10, 0, 0, 1], &[2; 700]));
    (net, a, b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_change_nothing(bytes in prop::collection::vec(any::<u8>(), 0..300), kind in 0u8..6) {
        let (mut net, _a, b) = established();
        let mut bytes = bytes;
        // Steer some inputs to valid type bytes and exact lengths so deeper code runs.
        if kind > 0 && !bytes.is_empty() {
            bytes[0] = kind.min(4);
            for r in bytes.iter_mut().skip(1).take(3) { *r = 0; }
            let want = [0usize, 148, 92, 64, bytes.len().max(32), bytes.len()][usize::from(kind)];
            bytes.resize(want, 0x5a);
        }
        let before = snapshot(&net.nodes[b].dev);
        let to = net.nodes[b].addr;
        net.deliver(&Wire { from: sock(50, 5000), to, bytes });
        net.collect();
        prop_assert_eq!(snapshot(&net.nodes[b].dev), before);
        prop_assert!(net.in_flight.is_empty(), "an answer was sent");
        prop_assert!(net.nodes[b].tun_rx.len() == 1, "a packet was delivered");
    }

    #[test]
    fn mutated_valid_messages_change_nothing(pick in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (mut net, a, b) = established();
        let to_b: Vec<Wire> = net.log.iter().filter(|w| w.to == net.nodes[b].addr).cloned().collect();
        let w = pick.get(&to_b).clone();
        let mut bytes = w.bytes.clone();
        let i = pos.index(bytes.len());
        bytes[i] ^= flip;
        let before = snapshot(&net.nodes[b].dev);
        let first = bytes.first().copied();
        net.deliver(&Wire { from: w.from, to: w.to, bytes });
        net.collect();
        prop_assert_eq!(snapshot(&net.nodes[b].dev), before, "mutated {:?} at {} accepted", first, i);
        prop_assert!(net.in_flight.is_empty(), "mutated {:?} at {} answered", first, i);
        prop_assert!(net.nodes[b].tun_rx.len() == 1, "mutated {:?} at {} delivered", first, i);
        let _ = a;
    }
}
